"""Storage: the database schema and every read and write of stored data (SQLAlchemy Core, portable)."""

from __future__ import annotations

import atexit
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

metadata = sa.MetaData()
S = sa.String
BIG = sa.BigInteger


def _cols(*spec: tuple[str, type]) -> list[sa.Column]:
    return [sa.Column(name, kind() if isinstance(kind, type) else kind) for name, kind in spec]


meta = sa.Table("meta", metadata, sa.Column("key", S(64), primary_key=True), sa.Column("value", sa.Text))

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", S(19)), sa.Column("finished_at", S(19)), sa.Column("status", S(16)),
    sa.Column("message", sa.Text), sa.Column("year", sa.Integer), sa.Column("as_of", S(10)),
    sa.Column("root", S(12)), sa.Column("inbox", sa.Text), sa.Column("trigger", S(32)),
    sa.Column("archived_to", sa.Text),
)
# One row per lock held (the single-load lock is "load"); a row that exists is a lock taken.
locks = sa.Table(
    "locks", metadata,
    sa.Column("name", S(32), primary_key=True), sa.Column("holder", sa.Text), sa.Column("host", S(255)),
    sa.Column("pid", sa.Integer), sa.Column("acquired_at", S(19)),
)

run_files = sa.Table(
    "run_files", metadata,
    sa.Column("run_id", sa.Integer, index=True), sa.Column("source", S(16)), sa.Column("file", sa.Text),
    sa.Column("checksum", S(64)), sa.Column("rows_read", BIG), sa.Column("rows_loaded", BIG),
    sa.Column("rows_rejected", BIG),
)

rejects = sa.Table(
    "rejects", metadata,
    sa.Column("run_id", sa.Integer, index=True), sa.Column("seq", BIG), sa.Column("source", S(16)),
    sa.Column("file", sa.Text), sa.Column("row", BIG), sa.Column("reason", S(32)), sa.Column("column", S(32)),
    sa.Column("original", sa.Text),
)

divisions = sa.Table("divisions", metadata, *_cols(("code", S(12)), ("name", sa.Text), ("urban_rural", S(3)),
                                                   ("level", S(8))))
population = sa.Table("population", metadata, *_cols(
    ("id_number", S(18)), ("name", sa.Text), ("village_code", S(12)), ("household_id", sa.Text),
    ("birth_date", S(10)), ("stated_birth_date", S(10)), ("status", S(8)), ("status_date", S(10)), ("phone", sa.Text),
    ("address", sa.Text)),
    sa.Index("ix_population_id", "id_number"))
deaths = sa.Table("deaths", metadata, *_cols(("id_number", S(18)), ("name", sa.Text), ("death_date", S(10))))
enrollment = sa.Table("enrollment", metadata, *_cols(
    ("id_number", S(18)), ("name", sa.Text), ("scheme", S(8)), ("year", sa.Integer), ("status", S(8)),
    ("insured_place", S(12)), ("paid_date", S(10)), ("subsidy_type", sa.Text), ("subsidy_amount", BIG)),
    sa.Index("ix_enrollment_id", "id_number"))
identities = sa.Table("identities", metadata, *_cols(
    ("id_number", S(18)), ("name", sa.Text), ("identity_type", S(32)), ("department", sa.Text),
    ("start_date", S(10)), ("end_date", S(10)), ("household_id", sa.Text), ("income_per_capita", BIG)),
    sa.Index("ix_identities_id", "id_number"))
settlements = sa.Table("settlements", metadata, *_cols(
    ("settlement_id", S(64)), ("id_number", S(18)), ("name", sa.Text), ("settle_date", S(10)),
    ("visit_type", S(16)), ("provider", sa.Text), ("total_cost", BIG), ("policy_cost", BIG), ("basic_paid", BIG),
    ("critical_paid", BIG), ("assistance_paid", BIG), ("other_paid", BIG), ("reverses", S(64)),
    ("run_id", sa.Integer)),
    sa.Index("ix_settlements_person", "id_number"))

boundaries = sa.Table("boundaries", metadata, *_cols(("code", S(12)), ("level", S(8)), ("geometry", sa.Text)),
                      sa.Index("ix_boundaries_code", "code"))
findings = sa.Table("findings", metadata, *_cols(
    ("year", sa.Integer), ("kind", S(32)), ("source", S(16)), ("file", sa.Text), ("row", BIG),
    ("id_number", S(18)), ("name", sa.Text), ("detail", sa.Text)), sa.Index("ix_findings_year", "year"))
identity_changes = sa.Table("identity_changes", metadata, *_cols(
    ("run_id", sa.Integer), ("id_number", S(18)), ("name", sa.Text), ("change", S(4)),
    ("identity_type_before", S(32)), ("identity_type_after", S(32))))

coverage = sa.Table("coverage", metadata, *_cols(
    ("year", sa.Integer), ("run_id", sa.Integer), ("code", S(12)), ("name", sa.Text), ("level", S(8)),
    ("parent_code", S(12)), ("urban_rural", S(3)), ("in_scope", BIG), ("enrolled", BIG),
    ("vulnerable_in_scope", BIG), ("vulnerable_enrolled", BIG), ("newborn_in_scope", BIG),
    ("newborn_enrolled", BIG), ("enrolled_local", BIG), ("enrolled_elsewhere", BIG),
    ("duplicate_enrolled", BIG)), sa.Index("ix_coverage_year", "year", "level"))
outreach = sa.Table("outreach", metadata, *_cols(
    ("year", sa.Integer), ("seq", BIG), ("id_number", S(18)), ("name", sa.Text), ("town_code", S(12)),
    ("village_code", S(12)), ("household_id", sa.Text), ("priority", sa.Integer), ("identity_type", S(32)),
    ("subsidy_mode", S(8)), ("subsidy_cents", BIG), ("phone", sa.Text), ("address", sa.Text),
    ("remark", sa.Text)), sa.Index("ix_outreach_year", "year", "town_code"))
alerts = sa.Table("alerts", metadata, *_cols(
    ("year", sa.Integer), ("seq", BIG), ("id_number", S(18)), ("name", sa.Text), ("village_code", S(12)),
    ("identity_type", S(32)), ("alert_type", S(8)), ("vulnerable", sa.Boolean), ("total_cost", BIG),
    ("basic_paid", BIG), ("critical_paid", BIG), ("assistance_paid", BIG), ("other_paid", BIG),
    ("funds_paid", BIG), ("measure", BIG), ("threshold", BIG), ("rules", S(64)), ("level", S(2)),
    ("trigger_date", S(10)), ("n_settlements", BIG), ("inpatient_stays", BIG)),
    sa.Index("ix_alerts_year", "year", "id_number"))
alert_states = sa.Table(
    "alert_states", metadata,
    sa.Column("year", sa.Integer, primary_key=True), sa.Column("id_number", S(18), primary_key=True),
    sa.Column("state", S(8)), sa.Column("level", S(2)), sa.Column("upgraded", sa.Boolean),
    sa.Column("updated_at", S(19)), sa.Column("updated_by", S(64)),
    sa.Column("batch_no", S(32)), sa.Column("department", S(32)), sa.Column("pushed_at", S(19)),
    sa.Column("result", S(16)), sa.Column("verified_on", S(10)), sa.Column("remark", sa.Text),
    sa.Column("closed_at", S(19)),
)
# Every transition of an alert, never updated or deleted: who, when, from which state to which.
alert_events = sa.Table("alert_events", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                        *_cols(("year", sa.Integer), ("id_number", S(18)), ("at", S(19)), ("by", S(64)),
                               ("action", S(8)), ("state_before", S(8)), ("state_after", S(8)), ("level", S(2)),
                               ("detail", sa.Text)),
    sa.Index("ix_alert_events_person", "year", "id_number"))
push_batches = sa.Table(
    "push_batches", metadata,
    sa.Column("batch_no", S(32), primary_key=True), sa.Column("year", sa.Integer), sa.Column("department", S(32)),
    sa.Column("created_at", S(19)), sa.Column("created_by", S(64)), sa.Column("rows", BIG),
    sa.Column("filters", sa.Text), sa.Column("content", sa.LargeBinary),
)
# Drafts of push batches prepared by the scheduler; a person approves (pushes) or discards them.
push_drafts = sa.Table(
    "push_drafts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), sa.Column("year", sa.Integer),
    sa.Column("department", S(32)), sa.Column("created_at", S(19)), sa.Column("created_by", S(64)),
    sa.Column("ids", sa.Text), sa.Column("rows", BIG), sa.Column("status", S(8)), sa.Column("decided_at", S(19)),
    sa.Column("decided_by", S(64)), sa.Column("batch_no", S(32)),
)
feedback_imports = sa.Table(
    "feedback_imports", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), sa.Column("at", S(19)),
    sa.Column("by", S(64)), sa.Column("file", sa.Text), sa.Column("rows_read", BIG), sa.Column("rows_loaded", BIG),
    sa.Column("rows_rejected", BIG),
)
feedback_rejects = sa.Table("feedback_rejects", metadata, *_cols(
    ("import_id", sa.Integer), ("file", sa.Text), ("row", BIG), ("reason", S(32)), ("column", S(32)),
    ("original", sa.Text)), sa.Index("ix_feedback_rejects_import", "import_id"))
# Enrollment follow-up: every recorded outcome is kept; the latest per person is the current one.
outreach_outcomes = sa.Table("outreach_outcomes", metadata, *_cols(
    ("year", sa.Integer), ("id_number", S(18)), ("outcome", S(16)), ("remark", sa.Text), ("at", S(19)),
    ("by", S(64))), sa.Index("ix_outreach_outcomes_person", "year", "id_number"))

run_summaries = sa.Table("run_summaries", metadata, *_cols(
    ("run_id", sa.Integer), ("year", sa.Integer), ("in_scope", BIG), ("enrolled", BIG), ("vulnerable_in_scope", BIG),
    ("vulnerable_enrolled", BIG), ("newborn_in_scope", BIG), ("newborn_enrolled", BIG), ("outreach", BIG),
    ("alerts", BIG), ("alerts_red", BIG), ("alerts_orange", BIG), ("alerts_yellow", BIG)),
    sa.Index("ix_run_summaries_year", "year"))

# Daily progress of the collection period, computed by each run of the year before the target year.
campaign_progress = sa.Table("campaign_progress", metadata, *_cols(
    ("target_year", sa.Integer), ("level", S(8)), ("code", S(12)), ("day", S(10)), ("enrolled", BIG),
    ("vulnerable_enrolled", BIG), ("in_scope", BIG), ("vulnerable_in_scope", BIG), ("target", BIG),
    ("previous_enrolled", BIG)), sa.Index("ix_campaign_progress", "target_year", "level", "code"))
# SMS reminder batches of the collection period: what was sent to the gateway, by whom, for which place.
sms_batches = sa.Table(
    "sms_batches", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), sa.Column("at", S(19)),
    sa.Column("by", S(64)), sa.Column("target_year", sa.Integer), sa.Column("place", sa.Text),
    sa.Column("priorities", S(16)), sa.Column("rows", BIG), sa.Column("left_out", sa.Text),
)
users = sa.Table(
    "users", metadata,
    sa.Column("username", S(64), primary_key=True), sa.Column("display_name", sa.Text), sa.Column("role", S(8)),
    sa.Column("towns", sa.Text), sa.Column("password_hash", sa.Text), sa.Column("active", sa.Boolean),
    sa.Column("created_at", S(19)), sa.Column("password_changed_at", S(19)), sa.Column("must_change", sa.Boolean),
    # The TOTP secret (base32) once enrolled, and the last time step used, so a code cannot be replayed.
    sa.Column("totp_secret", sa.Text), sa.Column("totp_last_step", BIG),
)
# One-time recovery codes of the second factor, as SHA-256 hashes (the codes are random, so no slow hash is needed).
recovery_codes = sa.Table("recovery_codes", metadata, *_cols(("username", S(64)), ("code_hash", S(64)),
                                                             ("used_at", S(19))),
                          sa.Index("ix_recovery_codes_user", "username"))
# Signed-in sessions: a new sign-in ends the account's other sessions, which learn why at their next click.
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("token_hash", S(64), primary_key=True), sa.Column("username", S(64), index=True),
    sa.Column("started_at", S(19)), sa.Column("last_seen", S(19)), sa.Column("ended_at", S(19)),
    sa.Column("end_reason", sa.Text),
)
# The security administrator's password, lock-out, session and second-factor policy (overrides config.toml).
security_policy = sa.Table("security_policy", metadata, sa.Column("key", S(64), primary_key=True),
                           sa.Column("value", BIG), sa.Column("changed_at", S(19)), sa.Column("changed_by", S(64)))
# Earlier password hashes, so the last few cannot be used again.
password_history = sa.Table("password_history", metadata, *_cols(("username", S(64)), ("password_hash", sa.Text),
                                                                 ("at", S(19))),
                            sa.Index("ix_password_history_user", "username"))
sign_in_failures = sa.Table("sign_in_failures", metadata, *_cols(("username", S(64)), ("at", S(26))),
                            sa.Index("ix_sign_in_failures_user", "username"))
# Append-only and hash-chained: each row's hash covers its fields and the previous row's hash. Rows leave only by
# archiving (to a file, with their hashes), after the retention period.
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), sa.Column("at", S(19)),
    sa.Column("username", S(64)), sa.Column("action", S(16)), sa.Column("object", sa.Text),
    sa.Column("detail", sa.Text), sa.Column("rows", BIG), sa.Column("result", S(8)),
    sa.Column("prev_hash", S(64)), sa.Column("hash", S(64)),
)
# One row (id 1): the chain's head (last id and hash) and where it starts after archiving.
audit_chain = sa.Table(
    "audit_chain", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_id", sa.Integer), sa.Column("last_hash", S(64)),
    sa.Column("archived_through_id", sa.Integer), sa.Column("archived_hash", S(64)),
)
audit_verifications = sa.Table(
    "audit_verifications", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", S(19)), sa.Column("by", S(64)), sa.Column("ok", sa.Boolean), sa.Column("entries", BIG),
    sa.Column("message", sa.Text),
)

SNAPSHOT_TABLES = {"divisions": divisions, "population": population, "deaths": deaths, "enrollment": enrollment,
                   "identities": identities, "boundaries": boundaries}
INT_COLUMNS = {"year", "subsidy_amount", "income_per_capita", "total_cost", "policy_cost", "basic_paid",
               "critical_paid", "assistance_paid", "other_paid", "run_id", "row", "seq", "priority",
               "subsidy_cents", "funds_paid", "measure", "threshold", "n_settlements", "inpatient_stays",
               "in_scope", "enrolled", "vulnerable_in_scope", "vulnerable_enrolled", "newborn_in_scope",
               "newborn_enrolled", "enrolled_local", "enrolled_elsewhere", "duplicate_enrolled",
               "rows_read", "rows_loaded", "rows_rejected", "id", "outreach", "alerts", "alerts_red",
               "alerts_orange", "alerts_yellow", "import_id", "pid", "rows", "target_year", "target",
               "previous_enrolled", "entries"}


def now() -> str:
    return datetime.now().isoformat(sep=" ", timespec="seconds")


MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class SchemaError(RuntimeError):
    """The database cannot be brought to this version's schema; the message says what to do."""


_MIGRATING = threading.Lock()  # Alembic's context is process-global: one migration at a time


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision (creating it in an empty database)."""
    from alembic import command
    from alembic.config import Config
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with _MIGRATING:
        with engine.connect() as conn:
            if MigrationContext.configure(conn).get_current_revision() == head:
                return
        inspector = sa.inspect(engine)
        if inspector.has_table("runs") and not inspector.has_table("alembic_version"):
            raise SchemaError(f"{engine.url.render_as_string(hide_password=True)}: 数据库由迁移功能之前的版本创建，"
                              "无法自动升级；请备份后删除该数据库重新载入数据")
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")


def _switch_to_wal(cursor, seconds: float = 30) -> None:  # noqa: ANN001
    """PRAGMA journal_mode=WAL, tried again while the database is locked: SQLite answers at once, without its busy
    timeout, while another connection recovers or removes the WAL (as the last connection of a load closes)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def connect(url: str) -> Engine:
    """An engine with the schema migrated to this version (SQLite gets WAL so pages can read during a load)."""
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL waits for a lock a load may hold
            _switch_to_wal(cur)
            # 256 MiB of page cache (the default is 2 MiB): a load inserts millions of rows into indexes keyed by
            # ID number, in random order, and a small cache rereads and spills index pages at every insert.
            cur.execute("PRAGMA cache_size=-262144")
            cur.close()
    migrate(engine)
    return engine


def _typed_series(column: sa.Column, values: pd.Series) -> pd.Series:
    """A stored column back in the core's dtype: text as str, amounts and counts as Int64, flags as bool."""
    if column.name in INT_COLUMNS:
        return values if values.dtype == "Int64" else pd.to_numeric(values).astype("Int64")
    if isinstance(column.type, sa.Boolean):
        return values.astype(bool)
    if isinstance(column.type, sa.LargeBinary):
        return values
    return values.astype("str")


def typed_frame(frame: pd.DataFrame, table: sa.Table) -> pd.DataFrame:
    """Stored columns of a table in the core's dtypes (see _typed_series)."""
    return pd.DataFrame({c.name: _typed_series(c, frame[c.name]) for c in table.columns}, index=frame.index,
                        copy=False)  # the columns are new or already of their dtype: copying them cost seconds


def _typed_column(column: sa.Column, values: Sequence) -> pd.Series | np.ndarray:
    """_typed_series of the driver's values, built through Arrow: several times faster than pandas' object
    columns. Values of another type (SQLite keeps whatever it is given) take the slower path."""
    try:
        if column.name in INT_COLUMNS:
            return pa.array(values, type=pa.int64()).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
        if isinstance(column.type, sa.Boolean):
            return np.fromiter((bool(v) for v in values), dtype=bool, count=len(values))
        if not isinstance(column.type, sa.LargeBinary):
            return pd.Series(pa.array(values, type=pa.large_string()), dtype="str")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    return _typed_series(column, pd.Series(values, dtype=object))


def _frame(query: sa.Select, conn: Connection, columns: list[sa.Column]) -> pd.DataFrame:
    """Run a query on the driver's own cursor and build typed columns from its rows."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    args = [params[name] for name in compiled.positiontup] if compiled.positiontup else params
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(str(compiled), args)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    values = list(zip(*rows)) if rows else [()] * len(columns)
    return pd.DataFrame({c.name: _typed_column(c, v) for c, v in zip(columns, values)})


def _select(table: sa.Table, where: sa.ColumnElement | None, order_by: list | None) -> sa.Select:
    query = sa.select(table)
    if where is not None:
        query = query.where(where)
    return query.order_by(*order_by) if order_by else query


def read_bulk(engine: Engine, table: sa.Table, where: sa.ColumnElement | None = None,
              order_by: list | None = None) -> pd.DataFrame:
    """Many rows of a table (snapshots, settlements, a year's list), the same frame as read_table (see
    read_bulk_select)."""
    return read_bulk_select(engine, _select(table, where, order_by))


def read_bulk_select(engine: Engine, query: sa.Select) -> pd.DataFrame:
    """Many rows of a select of plain columns, the same frame as read_select. On PostgreSQL they come through ADBC as
    Arrow columns (binary COPY), several times faster than row by row. SQLite stays on the sqlite3 module: a second
    SQLite library in the same process would break the file locks."""
    if engine.url.get_backend_name() != "postgresql":
        with engine.connect() as conn:
            return read_select(conn, query)
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with _adbc_connection(engine) as conn, conn.cursor() as cur:
        cur.execute(sql)
        frame = cur.fetch_arrow_table().to_pandas()
    return pd.DataFrame({c.name: _typed_series(c, frame[c.name]) for c in query.selected_columns})


_ADBC_IDLE: dict[str, list] = {}  # database URL → open ADBC connections not in use (opening one costs ~60 ms)
_ADBC_LOCK = threading.Lock()


@atexit.register
def _close_idle_adbc() -> None:
    """Close pooled connections before the interpreter tears its modules down (ADBC's finaliser needs them)."""
    with _ADBC_LOCK:
        for idle in _ADBC_IDLE.values():
            while idle:
                idle.pop().close()


@contextmanager
def _adbc_connection(engine: Engine) -> Iterator:
    """An ADBC connection to the engine's PostgreSQL database, taken from the idle ones or opened; it goes back after
    a clean use and is closed after a failure (a dropped server connection is not handed out again)."""
    import adbc_driver_postgresql.dbapi

    plain = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with _ADBC_LOCK:
        idle = _ADBC_IDLE.setdefault(plain, [])
        conn = idle.pop() if idle else None
    if conn is None:
        conn = adbc_driver_postgresql.dbapi.connect(plain)
    try:
        yield conn
        conn.rollback()  # end the read's transaction, so the next use sees new data
    except BaseException:
        conn.close()
        raise
    with _ADBC_LOCK:
        idle.append(conn)


def read_select(conn: Connection, query: sa.Select) -> pd.DataFrame:
    """The rows of a select of plain columns (joins included), typed like read_table."""
    return _frame(query, conn, list(query.selected_columns))


def read_table(conn: Connection | Engine, table: sa.Table, where: sa.ColumnElement | None = None,
               order_by: list | None = None) -> pd.DataFrame:
    with (conn.connect() if isinstance(conn, Engine) else nullcontext(conn)) as c:
        return _frame(_select(table, where, order_by), c, list(table.columns))


def _arrow(frame: pd.DataFrame, names: list[str]) -> pa.Table | None:
    """The columns as one Arrow table with one chunk per column; None when a column is binary or not of one plain
    Arrow type (text, integer, float, flag, all NULL), so the caller takes the row-by-row path."""
    try:
        # one chunk per column: pyarrow 26's CSV writer emits garbage for a column whose first chunks are empty
        # (what pd.concat of empty frames leaves)
        arrow = pa.Table.from_pandas(frame[names], preserve_index=False).combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    plain = (pa.types.is_string, pa.types.is_large_string, pa.types.is_integer, pa.types.is_floating,
             pa.types.is_boolean, pa.types.is_null)
    return arrow if all(any(kind(f.type) for kind in plain) for f in arrow.schema) else None


def _csv(arrow: pa.Table) -> bytes:
    """The rows as CSV for PostgreSQL's COPY, written by Arrow: text quoted (so '' stays '' and NULL is an empty
    field), numbers and flags bare."""
    out = pa.BufferOutputStream()
    pacsv.write_csv(arrow, out, write_options=pacsv.WriteOptions(include_header=False))
    return out.getvalue().to_pybytes()


WRITE_BATCH = 50_000
BULK_ROWS = 200_000  # below this, rebuilding a table's indexes or staging a write gains nothing
STAGED_SCHEMAS = 8  # staging files attached in one load transaction (SQLite allows 10 attached databases)


def write_frame(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Append rows (only the table's columns) inside the caller's transaction, in driver-level batches."""
    if frame.empty:
        return
    names = [c.name for c in table.columns if c.name in frame.columns]
    quote = conn.dialect.identifier_preparer.quote
    target = f"{quote(table.name)} ({', '.join(quote(n) for n in names)})"
    if conn.dialect.name == "postgresql":  # COPY, in the caller's transaction: many times faster than INSERTs
        cursor = conn.connection.driver_connection.cursor()
        arrow = _arrow(frame, names)
        if arrow is not None:
            with cursor.copy(f"COPY {target} FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(_csv(arrow))
            return
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {target} VALUES ({', '.join([marker] * len(names))})"
    with _indexes_rebuilt_after(conn, table, len(frame)):
        # Python objects for one batch at a time: for all rows at once they took several times the frame's memory
        for start in range(0, len(frame), WRITE_BATCH):
            part = frame.iloc[start:start + WRITE_BATCH]
            rows = list(zip(*(part[name].astype(object).where(part[name].notna(), None).tolist() for name in names)))
            if conn.dialect.name == "postgresql":
                with cursor.copy(f"COPY {target} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                conn.exec_driver_sql(sql, rows)


_ATTACHED = "monitor_attached"  # key in a SQLite connection's info: staging files its load transaction attached


def database_file(engine: Engine) -> Path | None:
    """The SQLite database's file; None for another database or an in-memory one."""
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database)


@dataclass(frozen=True)
class Staged:
    """Rows ADBC wrote into a staging file beside a SQLite database, for write_staged to copy into their table."""
    path: Path
    names: tuple[str, ...]
    rows: int

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def stage(engine: Engine, table: sa.Table, frame: pd.DataFrame) -> Staged | None:
    """Write big rows meant for a SQLite file into a staging file, outside any transaction; None when they are
    better written row by row (another database, few rows, a column of no plain type).

    Row by row, sqlite3 needs one Python object per value; ADBC writes the Arrow columns without Python's lock, so a
    load stages a source while it validates the next (8.5 M settlements: 47 s row by row, 10 s staged and 20 s for
    write_staged's copy and index rebuild). ADBC brings its own SQLite library, so it only ever opens the staging
    file, and closes it before sqlite3 attaches it: two libraries holding locks on one file in one process would
    release each other's locks."""
    import adbc_driver_sqlite.dbapi

    database = database_file(engine)
    if database is None or len(frame) < BULK_ROWS:
        return None
    names = [c.name for c in table.columns if c.name in frame.columns]
    arrow = _arrow(frame, names)
    if arrow is None:
        return None
    path = database.with_name(f"{database.name}.stage-{os.getpid()}-{uuid.uuid4().hex[:12]}")
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # personal data: the owner's only
    try:
        with adbc_driver_sqlite.dbapi.connect(str(path)) as conn:
            with conn.cursor() as cursor:
                cursor.adbc_ingest("rows", arrow, mode="create")
            conn.commit()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Staged(path, tuple(names), len(frame))


def clear_staging_leftovers(engine: Engine) -> None:
    """Remove staging files of a load that was killed (loads hold one lock, so none is running)."""
    database = database_file(engine)
    for left in database.parent.glob(f"{database.name}.stage-*") if database else []:
        left.unlink(missing_ok=True)


@contextmanager
def load_transaction(engine: Engine) -> Iterator[Connection]:
    """engine.begin() for a load, in which write_staged can attach staging files; they are detached once the
    transaction has ended, since SQLite cannot detach a file that an open transaction has read."""
    if database_file(engine) is None:
        with engine.begin() as conn:
            yield conn
        return
    with engine.connect() as conn:
        attached: list[str] = []
        conn.info[_ATTACHED] = attached
        try:
            with conn.begin():
                yield conn
        finally:
            del conn.info[_ATTACHED]
            try:
                for schema in attached:
                    conn.exec_driver_sql(f"DETACH DATABASE {schema}")
            except sa.exc.DBAPIError:
                conn.invalidate()  # not handed out again with a staging file attached


def write_staged(conn: Connection, table: sa.Table, staged: Staged, **constants: object) -> None:
    """Append staged rows, plus columns of one value for every row (a load's run_id), by one INSERT … SELECT in a
    load_transaction; the staging file stays the caller's to discard."""
    attached = conn.info[_ATTACHED]
    if len(attached) == STAGED_SCHEMAS:
        raise RuntimeError("too many staging files in one transaction")
    schema = f"monitor_stage_{len(attached)}"
    conn.exec_driver_sql(f"ATTACH DATABASE ? AS {schema}", (str(staged.path),))
    attached.append(schema)
    quote = conn.dialect.identifier_preparer.quote
    names = [*staged.names, *constants]
    selected = [quote(n) for n in staged.names] + ["?"] * len(constants)
    with _indexes_rebuilt_after(conn, table, staged.rows):
        conn.exec_driver_sql(f'INSERT INTO {quote(table.name)} ({", ".join(quote(n) for n in names)}) '
                             f'SELECT {", ".join(selected)} FROM {schema}.rows', tuple(constants.values()))


@contextmanager
def _indexes_rebuilt_after(conn: Connection, table: sa.Table, adding: int) -> Iterator[None]:
    """On SQLite, a big write into an empty table (a full load, a replaced snapshot) drops the table's indexes and
    builds them again afterwards, in the same transaction: sorting once is faster than millions of inserts at
    random places of a B-tree (8.5 M settlements: 56 s → 44 s)."""
    if conn.dialect.name != "sqlite" or adding < BULK_ROWS or \
            conn.exec_driver_sql(f'SELECT 1 FROM "{table.name}" LIMIT 1').first() is not None:
        yield
        return
    indexes = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                                   "AND sql IS NOT NULL", (table.name,)).all()
    for name, _sql in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    for _name, sql in indexes:
        conn.exec_driver_sql(sql)


def replace_rows(conn: Connection, table: sa.Table, frame: pd.DataFrame, where: sa.ColumnElement | None = None) -> None:
    conn.execute(table.delete() if where is None else table.delete().where(where))
    write_frame(conn, table, frame)


def get_meta(conn: Connection | Engine, key: str) -> str | None:
    with (conn.connect() if isinstance(conn, Engine) else nullcontext(conn)) as c:
        return c.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()


def set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(meta.delete().where(meta.c.key == key))
    conn.execute(meta.insert().values(key=key, value=value))


def record_failed_run(engine: Engine, started_at: str, year: int | None, as_of: str | None, root: str | None,
                      inbox: str, message: str, trigger: str) -> int:
    with engine.begin() as conn:
        return int(conn.execute(runs.insert().values(
            started_at=started_at, finished_at=now(), status="failed", message=message, year=year, as_of=as_of,
            root=root, inbox=inbox, trigger=trigger)).inserted_primary_key[0])
