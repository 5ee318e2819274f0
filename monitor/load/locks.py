"""The single-load lock shared by the scheduler, the command line and the data page (a row in `locks`).

Whoever takes it first finishes what a killed load left: its run, still 'running', is marked interrupted, and its
staging files, temporary columnar copies and unrecorded lake files (personal data) are removed. A run's row is
committed when the run starts, and every run holds the lock, so a 'running' row found by the lock's holder belongs to
a dead process."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.storage import lake, store, table_copies
from monitor.storage.database import interrupt_runs

LOAD = "load"
log = logging.getLogger(__name__)


class LockBusy(RuntimeError):
    """Someone else holds the lock; the message says who and since when."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _try_take(engine: Engine, name: str, holder: str) -> dict | None:
    """Take the lock, or return the current holder's row. A holder on this host whose process is gone is stale."""
    host, pid = socket.gethostname(), os.getpid()
    with engine.begin() as conn:
        row = conn.execute(sa.select(store.locks).where(store.locks.c.name == name)).mappings().first()
        if row is not None and row["host"] == host and not _alive(int(row["pid"])):
            conn.execute(store.locks.delete().where(store.locks.c.name == name))
            row = None
        if row is not None:
            return dict(row)
    try:
        with engine.begin() as conn:
            conn.execute(
                store.locks.insert().values(name=name, holder=holder, host=host, pid=pid, acquired_at=store.now())
            )
        return None
    except sa.exc.IntegrityError:  # another process took it between our look and our insert
        with engine.connect() as conn:
            row = conn.execute(sa.select(store.locks).where(store.locks.c.name == name)).mappings().first()
        return dict(row) if row else {"holder": "?", "host": "?", "pid": 0, "acquired_at": "?"}


@contextmanager
def holding(
    engine: Engine, holder: str, name: str = LOAD, wait_seconds: float = 0, poll_seconds: float = 1.0
) -> Iterator[None]:
    """Hold the lock for the block; wait up to wait_seconds for it, else raise LockBusy."""
    deadline = time.monotonic() + wait_seconds
    while True:
        other = _try_take(engine, name, holder)
        if other is None:
            break
        if time.monotonic() >= deadline:
            raise LockBusy(
                f"另一个载入正在进行（{other['holder']}，{other['acquired_at']} 开始，主机 {other['host']} "
                f"进程 {other['pid']}），请稍后再试"
            )
        time.sleep(poll_seconds)
    try:
        if name == LOAD:
            _finish_killed_load(engine, holder)
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(
                store.locks.delete().where(
                    (store.locks.c.name == name)
                    & (store.locks.c.pid == os.getpid())
                    & (store.locks.c.host == socket.gethostname())
                )
            )


def _finish_killed_load(engine: Engine, holder: str) -> None:
    """Under the load lock: remove a killed load's leftover files and the lake's files no committed run names (a
    failed run's, replaced snapshots'), then mark a killed load's run interrupted."""
    store.clear_staging_leftovers(engine)
    table_copies.clear_leftovers(engine)
    lake.sweep(engine)
    found = interrupt_runs(engine, f"「{holder}」")
    if found:
        log.warning("runs %s were interrupted; their leftover files are removed", found)


def finish_killed_loads(engine: Engine, by: str) -> bool:
    """At a start (the scheduler's): take the load lock for a moment to finish what a killed load left. False when
    a load holds the lock (it will do the same when the next load takes it)."""
    try:
        with holding(engine, by):
            return True
    except LockBusy:
        return False
