"""drop the settlement-ID index, which no query uses

Loads check settlement IDs against the stored settlements in memory (from their columnar copies on SQLite, through
ADBC on PostgreSQL), and no page looks a settlement up by its ID; the index only cost a full load's time and space
(8.5 M settlements at 1.5 M residents: about 5 s and 300 MB).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_settlements_sid', table_name='settlements')


def downgrade() -> None:
    op.create_index('ix_settlements_sid', 'settlements', ['settlement_id'], unique=False)
