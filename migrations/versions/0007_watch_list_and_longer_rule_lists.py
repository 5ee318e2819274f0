"""the watch list (临界关注), and room for the hit rules of locally set rule lists

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'watch',
        sa.Column('year', sa.Integer()),
        sa.Column('seq', sa.BigInteger()),
        sa.Column('id_number', sa.String(length=18)),
        sa.Column('name', sa.Text()),
        sa.Column('village_code', sa.String(length=12)),
        sa.Column('identity_type', sa.String(length=32)),
        sa.Column('alert_type', sa.String(length=8)),
        sa.Column('measure', sa.BigInteger()),
        sa.Column('threshold', sa.BigInteger()),
        sa.Column('rule', sa.String(length=64)),
        sa.Column('rule_measure', sa.BigInteger()),
        sa.Column('ratio', sa.BigInteger()),
    )
    op.create_index('ix_watch_year', 'watch', ['year', 'id_number'], unique=False)
    with op.batch_alter_table('alerts') as batch:  # SQLite copies the table (a year's alerts: seconds at most)
        batch.alter_column('rules', type_=sa.String(length=255), existing_type=sa.String(length=64))


def downgrade() -> None:
    with op.batch_alter_table('alerts') as batch:
        batch.alter_column('rules', type_=sa.String(length=64), existing_type=sa.String(length=255))
    op.drop_index('ix_watch_year', table_name='watch')
    op.drop_table('watch')
