"""Writes: appends (COPY on PostgreSQL, batched INSERTs on SQLite), ADBC staging files for big SQLite loads, the
load transaction that attaches them, and the index rebuild after a big write into an empty table."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from monitor.storage.database import database_file


def _arrow(frame: pd.DataFrame, names: list[str]) -> pa.Table | None:
    """The columns as one Arrow table with one chunk per column; None when a column is binary or not of one plain
    Arrow type (text, integer, float, flag, all NULL), so the caller takes the row-by-row path."""
    try:
        # one chunk per column: pyarrow 26's CSV writer emits garbage for a column whose first chunks are empty
        # (what pd.concat of empty frames leaves)
        arrow = pa.Table.from_pandas(frame[names], preserve_index=False).combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    plain = (
        pa.types.is_string,
        pa.types.is_large_string,
        pa.types.is_integer,
        pa.types.is_floating,
        pa.types.is_boolean,
        pa.types.is_null,
    )
    return arrow if all(any(kind(f.type) for kind in plain) for f in arrow.schema) else None


def _csv(arrow: pa.Table) -> bytes:
    """The rows as CSV for PostgreSQL's COPY, written by Arrow: text quoted (so '' stays '' and NULL is an empty
    field), numbers and flags bare."""
    out = pa.BufferOutputStream()
    pacsv.write_csv(arrow, out, write_options=pacsv.WriteOptions(include_header=False))
    return out.getvalue().to_pybytes()


WRITE_BATCH = 50_000
# BULK_ROWS and _indexes_rebuilt_after are used through monitor.storage.store, the storage package's door, looked up
# at each call: tests set store.BULK_ROWS to 1 and wrap store._indexes_rebuilt_after, and that must reach these writes.
BULK_ROWS = 200_000  # below this, rebuilding a table's indexes or staging a write gains nothing
STAGED_SCHEMAS = 8  # staging files attached in one load transaction (SQLite allows 10 attached databases)


def write_frame(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Append rows (only the table's columns) inside the caller's transaction, in driver-level batches."""
    from monitor.storage import store  # see BULK_ROWS

    if frame.empty:
        return
    names = [c.name for c in table.columns if c.name in frame.columns]
    quote = conn.dialect.identifier_preparer.quote
    target = f"{quote(table.name)} ({', '.join(quote(n) for n in names)})"
    if conn.dialect.name == "postgresql":  # COPY, in the caller's transaction: many times faster than INSERTs
        driver = conn.connection.driver_connection
        assert driver is not None  # None only once the connection is closed
        cursor = driver.cursor()
        arrow = _arrow(frame, names)
        if arrow is not None:
            with cursor.copy(f"COPY {target} FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(_csv(arrow))
            return
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {target} VALUES ({', '.join([marker] * len(names))})"
    with store._indexes_rebuilt_after(conn, table, len(frame)):
        # Python objects for one batch at a time: for all rows at once they took several times the frame's memory
        for start in range(0, len(frame), WRITE_BATCH):
            part = frame.iloc[start : start + WRITE_BATCH]
            rows = list(
                zip(
                    *(part[name].astype(object).where(part[name].notna(), None).tolist() for name in names),
                    strict=False,
                )
            )
            if conn.dialect.name == "postgresql":
                with cursor.copy(f"COPY {target} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                conn.exec_driver_sql(sql, rows)


_ATTACHED = "monitor_attached"  # key in a SQLite connection's info: staging files its load transaction attached


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

    from monitor.storage import store  # see BULK_ROWS

    database = database_file(engine)
    if database is None or len(frame) < store.BULK_ROWS:
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
    from monitor.storage import store  # see BULK_ROWS

    attached = conn.info[_ATTACHED]
    if len(attached) == STAGED_SCHEMAS:
        raise RuntimeError("too many staging files in one transaction")
    schema = f"monitor_stage_{len(attached)}"
    conn.exec_driver_sql(f"ATTACH DATABASE ? AS {schema}", (str(staged.path),))
    attached.append(schema)
    quote = conn.dialect.identifier_preparer.quote
    names = [*staged.names, *constants]
    selected = [quote(n) for n in staged.names] + ["?"] * len(constants)
    with store._indexes_rebuilt_after(conn, table, staged.rows):
        conn.exec_driver_sql(
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
            f"SELECT {', '.join(selected)} FROM {schema}.rows",
            tuple(constants.values()),
        )


@contextmanager
def _indexes_rebuilt_after(conn: Connection, table: sa.Table, adding: int) -> Iterator[None]:
    """On SQLite, a big write into an empty table (a full load, a replaced snapshot) drops the table's indexes and
    builds them again afterwards, in the same transaction: sorting once is faster than millions of inserts at
    random places of a B-tree (8.5 M settlements: 56 s → 44 s)."""
    from monitor.storage import store  # see BULK_ROWS

    if (
        conn.dialect.name != "sqlite"
        or adding < store.BULK_ROWS
        or conn.exec_driver_sql(f'SELECT 1 FROM "{table.name}" LIMIT 1').first() is not None
    ):
        yield
        return
    indexes = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table.name,)
    ).all()
    for name, _sql in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    for _name, sql in indexes:
        conn.exec_driver_sql(sql)


def replace_rows(conn: Connection, table: sa.Table, frame: pd.DataFrame, where: sa.ColumnElement | None = None) -> None:
    conn.execute(table.delete() if where is None else table.delete().where(where))
    write_frame(conn, table, frame)
