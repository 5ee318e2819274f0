"""Connecting: engines, Alembic migrations, SQLite's WAL mode and private files, the database's health, and small
helpers on the meta and runs tables (a run's row from its start to its end, and runs found interrupted)."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import threading
import time
from contextlib import nullcontext, suppress
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from monitor.config import PROJECT_ROOT
from monitor.storage.schema import meta, runs

MIN_FREE_BYTES = 64 * 1024 * 1024  # less free space beside the database than this is a fault (a load needs more)


def now() -> str:
    return datetime.now().isoformat(sep=" ", timespec="seconds")


MIGRATIONS = PROJECT_ROOT / "migrations"


class SchemaError(RuntimeError):
    """The database cannot be brought to this version's schema; the message says what to do."""


class DatabaseMissing(FileNotFoundError):
    """A SQLite database file that should exist does not (its folder moved away?); nothing was created."""


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


def _sqlite_name(url: str | sa.URL) -> str | None:
    """The file name of a SQLite file URL as written (a `file:` URI's path without its prefix); None otherwise."""
    parsed = sa.make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:" or "mode=memory" in str(parsed):
        return None
    return name.removeprefix("file:") if parsed.query.get("uri") == "true" else name


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL, a relative path anchored at the project root as config's database URL is; None for
    another database or an in-memory one."""
    name = _sqlite_name(url)
    if name is None:
        return None
    path = Path(name)
    return path if path.is_absolute() else PROJECT_ROOT / path


def _private(path: Path) -> None:
    """Owner-only access to a file of personal data that this process owns (older versions left them 0644)."""
    with suppress(FileNotFoundError):
        if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
            path.chmod(0o600)


def _create_private(path: Path) -> None:
    """An empty database file readable by its owner only (SQLite gives its WAL and shared-memory files the same
    mode), in a folder made owner-only when it has to be made."""
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def connect(url: str, create: bool = True) -> Engine:
    """An engine with the schema migrated to this version (SQLite gets WAL so pages can read during a load). A new
    SQLite file is created owner-only, or, with create=False, refused (DatabaseMissing): a page or a health check
    must not put an empty database where the real one went missing."""
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        path = database_file(engine)
        if path is not None and "mode=ro" not in str(engine.url):
            if not path.exists() and not create:
                raise DatabaseMissing("数据库不存在")
            _create_private(path)
            for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                _private(part)

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
    name = _sqlite_name(engine.url)
    return Path(name) if name is not None else None


def health(url: str) -> str:
    """What keeps the database from being used, in a few words without paths ('' when it is usable): a missing
    SQLite file, too little free disk beside it, a failed read, or a failed write (tried in a transaction that is
    rolled back; a lock held by a running load counts as writable). Opens nothing it would create."""
    path = sqlite_file(url)
    if path is not None:
        if not path.exists():
            return "数据库不存在"
        if shutil.disk_usage(path.parent).free < MIN_FREE_BYTES:
            return "磁盘空间不足"
    probe = sa.create_engine(url, poolclass=NullPool, connect_args={"timeout": 0} if path is not None else {})
    try:
        with probe.connect() as conn:
            conn.execute(sa.select(1))
            try:
                conn.execute(meta.insert().values(key="health_probe", value=now()))
            except sa.exc.OperationalError as exc:
                if "locked" not in str(exc):
                    return f"数据库不能写入（{type(exc.orig).__name__}）"
            finally:
                conn.rollback()
    except sa.exc.DBAPIError as exc:
        return f"数据库不能使用（{type(exc.orig).__name__}）"
    finally:
        probe.dispose()
    return ""


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


def begin_run(engine: Engine, started_at: str, year: int, inbox: str, trigger: str, who: str) -> int:
    """A run's row, status 'running', committed at once outside the run's data transaction: a run killed before its
    end leaves it behind for the next load to find (interrupt_runs). Its message says who started it, and where."""
    where = f"主机 {socket.gethostname()}，进程 {os.getpid()}"
    with engine.begin() as conn:
        key = conn.execute(
            runs.insert().values(
                started_at=started_at,
                status="running",
                message=f"由 {who} 启动（{where}）",
                year=year,
                inbox=inbox,
                trigger=trigger,
            )
        ).inserted_primary_key
    assert key is not None  # an INSERT of one row always has its key
    return int(key[0])


def end_run(
    conn: Connection | Engine, run_id: int, status: str, message: str, as_of: str | None, root: str | None
) -> None:
    """How a run ended: 'ok' inside its data transaction (a Connection), 'failed' on its own (an Engine)."""
    update = runs.update().where(runs.c.id == run_id)
    update = update.values(status=status, finished_at=now(), message=message, as_of=as_of, root=root)
    if isinstance(conn, Engine):
        with conn.begin() as own:
            own.execute(update)
    else:
        conn.execute(update)


def interrupt_runs(engine: Engine, found_by: str) -> list[int]:
    """Mark the runs still 'running' as 'interrupted' and return their ids. Only the holder of the single-load lock
    calls it, when no run can be going on: such a row's process died before the run's end (killed, out of memory,
    a power cut), its data transaction rolled back. The message says when the run was found, and by whom."""
    found = now()
    with engine.begin() as conn:
        stale = conn.execute(sa.select(runs.c.id, runs.c.message).where(runs.c.status == "running")).all()
        for run_id, started in stale:
            conn.execute(
                runs.update()
                .where((runs.c.id == run_id) & (runs.c.status == "running"))
                .values(
                    status="interrupted",
                    message=f"中断：进程在运行中终止，未应用任何数据；{found} 由{found_by}发现并清除了其临时文件"
                    f"（{started or '启动者不详'}）",
                )
            )
    return [int(run_id) for run_id, _ in stale]
