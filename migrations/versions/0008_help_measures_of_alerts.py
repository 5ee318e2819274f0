"""help measures (帮扶措施) recorded for verified alerts

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'alert_measures',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('year', sa.Integer()),
        sa.Column('id_number', sa.String(length=18)),
        sa.Column('kind', sa.String(length=16)),
        sa.Column('taken_on', sa.String(length=10)),
        sa.Column('amount', sa.BigInteger()),
        sa.Column('department', sa.String(length=32)),
        sa.Column('recorded_at', sa.String(length=19)),
        sa.Column('recorded_by', sa.String(length=64)),
        sa.Column('source', sa.String(length=64)),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_alert_measures_year', 'alert_measures', ['year', 'id_number'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_alert_measures_year', table_name='alert_measures')
    op.drop_table('alert_measures')
