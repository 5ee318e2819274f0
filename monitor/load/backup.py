"""A backup that restores: the application database and the lake files it names, taken together under the load lock
(no run commits or sweeps meanwhile), into a new folder of the operator's choosing.

SQLite is copied with its online backup API (the app may stay up). A PostgreSQL database is dumped by its own tool
(pg_dump) first; this then copies the lake as it stands, which holds every file the dump names as long as no load ran
in between (loads only add files; the ones a load replaces go at the start of the next load).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from monitor.load.locks import holding
from monitor.security import audit
from monitor.storage import lake
from monitor.storage.database import database_file

LAKE_FOLDER = "lake"


class BackupError(Exception):
    """The target cannot take a backup (it exists already)."""


@dataclass(frozen=True)
class Backup:
    database: Path | None  # None: a server database, dumped by its own tool
    lake: Path
    files: int
    bytes: int


def backup(engine: Engine, target: Path, user: str) -> Backup:
    """Back up the database (SQLite) and the lake into target, a folder that must not exist yet; audited."""
    if target.exists():
        raise BackupError(f"{target} 已存在；请指定一个新的文件夹")
    with holding(engine, f"备份（{user}）"):
        target.mkdir(mode=0o700, parents=True)
        copied = None
        database = database_file(engine)
        if database is not None:
            copied = target / database.name
            with closing(sqlite3.connect(database)) as live, closing(sqlite3.connect(copied)) as copy:
                live.backup(copy)
                copy.execute("DELETE FROM locks")  # the backup's own hold: restored elsewhere it would never end
                copy.commit()
            copied.chmod(0o600)
        files, size = lake.copy_recorded(engine, target / LAKE_FOLDER)
    audit.record(engine, user, "备份", str(target), f"数据库{'已复制' if copied else '由 pg_dump 另行备份'}", files)
    return Backup(copied, target / LAKE_FOLDER, files, size)
