"""Columnar copies of the year's outreach and alert lists beside a SQLite database, which the 扩面名单 and 预警 pages
read whole: sqlite3 hands rows over one Python object at a time (a district's lists took seconds).

Each run writes them to Parquet files in `<database>.copies/` (`outreach-year-<year>.parquet`,
`alerts-year-<year>.parquet`). Each file's SHA-256 is recorded in the database in the run's own transaction (meta key
`copy_<file stem>`) and the file is put in place after the commit. A page uses a list's file only when it is present,
matches its digest and holds as many rows as the database has; otherwise it reads the database. PostgreSQL reads
these tables through ADBC and needs no copies. The files hold what the database holds (names, ID numbers, costs):
they are readable by the owner only, in the database's own folder. (The big sources are not copied: their rows live
in the lake, monitor.storage.lake, and nowhere else.)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from monitor.files.read import checksum
from monitor.storage import store

COPIED = {"outreach": store.outreach, "alerts": store.alerts}
PARTS = {"outreach": "year", "alerts": "year"}  # the column whose values split a table
META_PREFIX = "copy_"


@dataclass(frozen=True)
class Pending:
    """A file written under a temporary name, put in place once the transaction that records its digest commits."""

    temporary: Path
    final: Path
    digest: str


def folder(engine: Engine) -> Path | None:
    """Where the copies live; None unless the database is a SQLite file."""
    database = store.database_file(engine)
    return database.with_name(database.name + ".copies") if database else None


def _parts_recorded(conn: Connection, table: sa.Table, only: int | None) -> tuple[list[tuple[str, str]], int]:
    """(file stem, digest) of each part whose file a committed run recorded (only the part `only`, if given), in
    row order; and how many rows the database holds for them. Counting all rows reads the smallest index (a tenth
    of a second for 9 million settlements once cached) where counting per part scanned the table (3–5 s)."""
    column = PARTS.get(table.name)
    stem = f"{table.name}-{column}-{only}" if only is not None else table.name
    keys = store.meta.c.key
    found = conn.execute(
        sa.select(keys, store.meta.c.value).where(
            (keys == f"{META_PREFIX}{stem}") | keys.like(f"{META_PREFIX}{stem}-%")
        )
    ).all()
    parts = {key.removeprefix(META_PREFIX): digest for key, digest in found}
    if column is not None and only is None:
        parts = {s: d for s, d in parts.items() if s.startswith(f"{table.name}-{column}-")}
        order = sorted(parts, key=lambda s: int(s.rsplit("-", 1)[1]))
    else:
        order = [stem] if stem in parts else []
    count = sa.select(sa.func.count()).select_from(table)
    if only is not None:
        assert column is not None  # only split tables have parts
        count = count.where(table.c[column] == only)
    rows = conn.execute(count).scalar_one()
    return [(s, parts[s]) for s in order], rows


def read(engine: Engine, table: sa.Table, part: int | None = None) -> pd.DataFrame | None:
    """The table (or one part of a split table: a run's settlements, a year's outreach list) from its files, the
    same frame as reading the database; None when a file is missing, altered or out of step with the database."""
    where = folder(engine)
    if where is None:
        return None
    with engine.connect() as conn:
        parts, rows = _parts_recorded(conn, table, part)
    if not rows:
        return None
    tables = []
    for stem, expected in parts:
        path = where / f"{stem}.parquet"
        if not path.exists():
            return None
        data = path.read_bytes()  # hashed and parsed from the same bytes: a load may replace the file meanwhile
        if hashlib.sha256(data).hexdigest() != expected:
            return None
        copy = pq.read_table(pa.BufferReader(data))
        if copy.column_names != [c.name for c in table.columns]:
            return None
        tables.append(copy)
    if sum(t.num_rows for t in tables) != rows:  # a part the database holds has no file (an older version's run)
        return None
    frame = pa.concat_tables(tables).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    return store.typed_frame(frame, table)


def prepare(conn: Connection, table: sa.Table, rows: pd.DataFrame) -> list[Pending]:
    """write() the files of these rows and record() their digests in the caller's transaction."""
    pending = write(conn.engine, table, rows)
    record(conn, pending)
    return pending


def write(engine: Engine, table: sa.Table, rows: pd.DataFrame) -> list[Pending]:
    """Write the files of these rows under temporary names (a split table: one per part; others: the whole new
    table), outside any transaction. Columns the frame lacks are NULL, as the database stores them."""
    where = folder(engine)
    if where is None or rows.empty:
        return []
    where.mkdir(mode=0o700, exist_ok=True)
    full = store.typed_frame(rows.reindex(columns=[c.name for c in table.columns]), table)
    column = PARTS.get(table.name)
    parts: Iterable[tuple[Any, pd.DataFrame]] = full.groupby(column, sort=True) if column else [(None, full)]
    pending: list[Pending] = []
    try:
        for value, part in parts:
            stem = f"{table.name}-{column}-{int(value)}" if column else table.name
            final = where / f"{stem}.parquet"
            temporary = final.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            pending.append(Pending(temporary, final, ""))
            with os.fdopen(fd, "wb") as fh:
                pq.write_table(pa.Table.from_pandas(part.reset_index(drop=True), preserve_index=False), fh)
            pending[-1] = Pending(temporary, final, checksum(temporary))
    except BaseException:
        discard(pending)
        raise
    return pending


def record(conn: Connection, pending: list[Pending]) -> None:
    """Record the files' digests in the caller's transaction; publish() puts them in place after its commit."""
    for item in pending:
        store.set_meta(conn, f"{META_PREFIX}{item.final.stem}", item.digest)


def clear_leftovers(engine: Engine) -> None:
    """Remove temporary files of a load that was killed (loads hold one lock, so none is running)."""
    where = folder(engine)
    for left in where.glob("*.tmp") if where and where.exists() else []:
        left.unlink(missing_ok=True)


def publish(pending: list[Pending]) -> None:
    """Put committed files in place; a file that cannot be is dropped (loads then read the database)."""
    for item in pending:
        try:
            os.replace(item.temporary, item.final)
        except OSError:
            item.temporary.unlink(missing_ok=True)


def discard(pending: list[Pending]) -> None:
    for item in pending:
        item.temporary.unlink(missing_ok=True)
