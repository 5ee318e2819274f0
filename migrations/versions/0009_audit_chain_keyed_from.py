"""audit chain keyed with a secret (HMAC) from the first entry written after this revision

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: no keyed entry yet. The next entry written sets it to its own id (monitor/security/audit.py), so the
    # entries before keep their plain SHA-256 and the migration needs no key.
    with op.batch_alter_table('audit_chain', schema=None) as batch_op:
        batch_op.add_column(sa.Column('keyed_from_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_chain', schema=None) as batch_op:
        batch_op.drop_column('keyed_from_id')
