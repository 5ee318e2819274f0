"""Lock-out: failed sign-ins recorded, the locks they cause (lockout_failures failures within the window), and
unlocking."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.config import Settings
from monitor.security import audit
from monitor.storage import store


def _failures(conn: sa.Connection, username: str, since: datetime) -> list[str]:
    return list(
        conn.execute(
            sa.select(store.sign_in_failures.c.at)
            .where((store.sign_in_failures.c.username == username) & (store.sign_in_failures.c.at >= str(since)))
            .order_by(store.sign_in_failures.c.at)
        ).scalars()
    )


def locked_until(engine: Engine, username: str, settings: Settings, now: datetime | None = None) -> datetime | None:
    """When a user name is locked (lockout_failures failures within the window), the time the lock ends."""
    at = now or datetime.now()
    window = timedelta(minutes=settings.lockout_window_minutes)
    lock = timedelta(minutes=settings.lockout_minutes)
    with engine.connect() as conn:
        failures = [datetime.fromisoformat(t) for t in _failures(conn, username, at - window - lock)]
    n = settings.lockout_failures
    for i in range(len(failures) - n + 1):  # the first run of n failures within the window locks
        if failures[i + n - 1] - failures[i] <= window and failures[i + n - 1] + lock > at:
            return failures[i + n - 1] + lock
    return None


def unlock(engine: Engine, username: str, by: str, now: datetime | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(store.sign_in_failures.delete().where(store.sign_in_failures.c.username == username))
    audit.record(engine, by, "用户变更", username, "解除锁定", now=now)


def record_failure(engine: Engine, username: str, at: datetime, why: str) -> None:
    with engine.begin() as conn:
        conn.execute(store.sign_in_failures.insert().values(username=username, at=str(at)))
    audit.record(engine, username, "登录失败", username, why, result="失败", now=at)


def locked_accounts(engine: Engine, settings: Settings, now: datetime | None = None) -> dict[str, datetime]:
    """User names locked now, with the time each lock ends."""
    at = now or datetime.now()
    since = at - timedelta(minutes=settings.lockout_window_minutes + settings.lockout_minutes)
    with engine.connect() as conn:
        names = (
            conn.execute(
                sa.select(store.sign_in_failures.c.username).where(store.sign_in_failures.c.at >= str(since)).distinct()
            )
            .scalars()
            .all()
        )
    locks = {name: locked_until(engine, name, settings, at) for name in names}
    return {name: until for name, until in sorted(locks.items()) if until is not None}
