"""the big sources move to the lake: Parquet files listed in lake_files (monitor/storage/lake.py)

The rows of population, deaths, enrollment, identities and settlements are written to the lake (settlements one file
per run, each snapshot one file under the last run's id), recorded in lake_files, and the tables are dropped, all in
the migration's transaction: a migration that fails leaves the tables, and files that nothing records, which the
next load sweeps away.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

MOVED = ('population', 'deaths', 'enrollment', 'identities', 'settlements')


def upgrade() -> None:
    from monitor.storage import lake
    from monitor.storage.database import database_file
    from monitor.storage.frames import read_table
    from monitor.storage.schema_lake import LAKE_TABLES

    op.create_table(
        'lake_files',
        sa.Column('path', sa.String(length=200), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=True),
        sa.Column('run_id', sa.Integer(), nullable=True),
        sa.Column('rows', sa.BigInteger(), nullable=True),
        sa.Column('bytes', sa.BigInteger(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('path'),
    )
    op.create_index('ix_lake_files_source', 'lake_files', ['source'], unique=False)
    conn = op.get_bind()
    last_run = conn.execute(sa.text("SELECT max(id) FROM runs WHERE status = 'ok'")).scalar() or 0
    written = []
    try:
        for source in MOVED:
            rows = read_table(conn, LAKE_TABLES[source])
            if rows.empty:  # nothing loaded yet (a new database is migrated through here too): no file
                continue
            parts = rows.groupby('run_id', sort=True) if source == 'settlements' else [(last_run, rows)]
            for run_id, part in parts:
                item = lake.write(conn, source, int(run_id), part)
                if item is not None:
                    written.append(item)
                    lake.record(conn, [item])
    except BaseException:
        lake.discard(conn, written)
        raise
    for source in MOVED:
        op.drop_table(source)
    # the columnar copies these tables had beside a SQLite file (monitor/storage/table_copies.py before the lake)
    old = ("copy_population", "copy_enrollment", "copy_identities")
    conn.execute(sa.text("DELETE FROM meta WHERE key LIKE 'copy_settlements-%' OR key IN " + str(old)))
    database = database_file(conn.engine)
    copies = database.with_name(database.name + '.copies') if database else None
    for stale in copies.glob('*') if copies and copies.is_dir() else []:
        if stale.name.startswith(('settlements-', 'population.', 'enrollment.', 'identities.')):
            stale.unlink(missing_ok=True)


def downgrade() -> None:
    raise NotImplementedError('the lake is not moved back into tables; restore the backup taken before upgrading')
