"""Connecting: engines, Alembic migrations, SQLite's WAL mode, and small helpers on the meta and runs tables."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from monitor.config import PROJECT_ROOT
from monitor.storage.schema import meta, runs


def now() -> str:
    return datetime.now().isoformat(sep=" ", timespec="seconds")


MIGRATIONS = PROJECT_ROOT / "migrations"


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
            raise SchemaError(
                f"{engine.url.render_as_string(hide_password=True)}: 数据库由迁移功能之前的版本创建，"
                "无法自动升级；请备份后删除该数据库重新载入数据"
            )
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


def database_file(engine: Engine) -> Path | None:
    """The SQLite database's file; None for another database or an in-memory one."""
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database)


def get_meta(conn: Connection | Engine, key: str) -> str | None:
    with conn.connect() if isinstance(conn, Engine) else nullcontext(conn) as c:
        return c.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()


def set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(meta.delete().where(meta.c.key == key))
    conn.execute(meta.insert().values(key=key, value=value))


def record_failed_run(
    engine: Engine,
    started_at: str,
    year: int | None,
    as_of: str | None,
    root: str | None,
    inbox: str,
    message: str,
    trigger: str,
) -> int:
    with engine.begin() as conn:
        key = conn.execute(
            runs.insert().values(
                started_at=started_at,
                finished_at=now(),
                status="failed",
                message=message,
                year=year,
                as_of=as_of,
                root=root,
                inbox=inbox,
                trigger=trigger,
            )
        ).inserted_primary_key
    assert key is not None  # an INSERT of one row always has its key
    return int(key[0])
