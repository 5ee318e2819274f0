"""indexes for the alert list's workflow columns and the map's alert counts

The 预警 page reads the workflow state of each alert of the year beside the alert list. Through the primary key's
index SQLite looked every row up in the table (a city's 99,000 states: 0.45 s); an index holding the columns the list
shows is read alone (0.18 s), and the list reads only the states a case has moved (cases.alert_case.alert_list).

The map counts each division's alerts; grouped by the database from an index on (year, village_code) instead of
reading every alert's village, a city's map of its districts took 0.05 s instead of 0.45.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

STATE_COLUMNS = ['year', 'id_number', 'state', 'upgraded', 'batch_no', 'department', 'result']


def upgrade() -> None:
    op.create_index('ix_alert_states_list', 'alert_states', STATE_COLUMNS, unique=False)
    op.create_index('ix_alerts_village', 'alerts', ['year', 'village_code'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_alerts_village', table_name='alerts')
    op.drop_index('ix_alert_states_list', table_name='alert_states')
