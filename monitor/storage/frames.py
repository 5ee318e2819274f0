"""Typed reads: stored rows back as frames in the core's dtypes (read_table, read_select, read_bulk and its ADBC
pool for PostgreSQL)."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from monitor.storage.schema import INT_COLUMNS


def _typed_series(column: sa.ColumnElement[Any], values: pd.Series) -> pd.Series:
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
    return pd.DataFrame(
        {c.name: _typed_series(c, frame[c.name]) for c in table.columns}, index=frame.index, copy=False
    )  # the columns are new or already of their dtype: copying them cost seconds


def _typed_column(column: sa.ColumnElement[Any], values: Sequence) -> pd.Series | np.ndarray:
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


def _frame(query: sa.Select, conn: Connection, columns: Sequence[sa.ColumnElement[Any]]) -> pd.DataFrame:
    """Run a query on the driver's own cursor and build typed columns from its rows."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    args = [params[name] for name in compiled.positiontup] if compiled.positiontup else params
    driver = conn.connection.driver_connection
    assert driver is not None  # None only once the connection is closed
    cursor = driver.cursor()
    try:
        cursor.execute(str(compiled), args)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    values = list(zip(*rows, strict=False)) if rows else [()] * len(columns)
    return pd.DataFrame({c.name: _typed_column(c, v) for c, v in zip(columns, values, strict=False)})


def _select(table: sa.Table, where: sa.ColumnElement | None, order_by: list | None) -> sa.Select:
    query = sa.select(table)
    if where is not None:
        query = query.where(where)
    return query.order_by(*order_by) if order_by else query


def read_bulk(
    engine: Engine, table: sa.Table, where: sa.ColumnElement | None = None, order_by: list | None = None
) -> pd.DataFrame:
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


def read_table(
    conn: Connection | Engine, table: sa.Table, where: sa.ColumnElement | None = None, order_by: list | None = None
) -> pd.DataFrame:
    with conn.connect() if isinstance(conn, Engine) else nullcontext(conn) as c:
        return _frame(_select(table, where, order_by), c, list(table.columns))
