"""Signed-in sessions in the database: one per account, ended by a newer sign-in, by idling or by an administrator."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.storage import store

REPLACED = "该账户已在其他地方登录，本会话已结束"
ENDED_BY_ADMIN = "会话已被安全管理员结束"
SIGNED_OUT = "已退出"
UNKNOWN = "会话不存在，请重新登录"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _at(now: datetime | None) -> str:
    return str((now or datetime.now()).replace(microsecond=0))


def timed_out(minutes: int) -> str:
    return f"{minutes} 分钟未操作，已自动退出"


def start(engine: Engine, username: str, now: datetime | None = None) -> str:
    """A new session for the account; its other open sessions end (they are told why at their next click).
    Returns the token the browser session keeps; only its hash is stored."""
    token, at = secrets.token_urlsafe(32), _at(now)
    table = store.sessions
    with engine.begin() as conn:
        conn.execute(
            table.update()
            .where((table.c.username == username) & table.c.ended_at.is_(None))
            .values(ended_at=at, end_reason=REPLACED)
        )
        conn.execute(table.insert().values(token_hash=_hash(token), username=username, started_at=at, last_seen=at))
    return token


@dataclass(frozen=True)
class State:
    """A session as a look at it finds it."""

    username: str | None  # None: no session has this token
    ended: str  # '' while open, otherwise why it ended
    just_ended: bool = False  # this look ended it (idle past the time-out)


def state(engine: Engine, token: str, timeout_minutes: int, now: datetime | None = None) -> State:
    """The session of the token: open (and marked seen now), or ended and why (ending it on time-out)."""
    at = now or datetime.now()
    table = store.sessions
    with engine.begin() as conn:
        row = conn.execute(sa.select(table).where(table.c.token_hash == _hash(token))).mappings().first()
        if row is None:
            return State(None, UNKNOWN)
        if row["ended_at"] is not None:
            return State(row["username"], row["end_reason"] or SIGNED_OUT)
        if at - datetime.fromisoformat(row["last_seen"]) > timedelta(minutes=timeout_minutes):
            reason = timed_out(timeout_minutes)
            conn.execute(
                table.update()
                .where(table.c.token_hash == row["token_hash"])
                .values(ended_at=_at(at), end_reason=reason)
            )
            return State(row["username"], reason, just_ended=True)
        conn.execute(table.update().where(table.c.token_hash == row["token_hash"]).values(last_seen=_at(at)))
    return State(row["username"], "")


def check(engine: Engine, token: str, timeout_minutes: int, now: datetime | None = None) -> str:
    """'' while the session is open (and marks it seen now); otherwise why it ended (ending it on time-out)."""
    return state(engine, token, timeout_minutes, now).ended


def end(engine: Engine, token: str, reason: str = SIGNED_OUT, now: datetime | None = None) -> None:
    table = store.sessions
    with engine.begin() as conn:
        conn.execute(
            table.update()
            .where((table.c.token_hash == _hash(token)) & table.c.ended_at.is_(None))
            .values(ended_at=_at(now), end_reason=reason)
        )


def end_for(engine: Engine, username: str, reason: str = ENDED_BY_ADMIN, now: datetime | None = None) -> int:
    """End every open session of an account (disabled, role changed, ended by the security administrator)."""
    table = store.sessions
    with engine.begin() as conn:
        return conn.execute(
            table.update()
            .where((table.c.username == username) & table.c.ended_at.is_(None))
            .values(ended_at=_at(now), end_reason=reason)
        ).rowcount


def open_sessions(engine: Engine, timeout_minutes: int, now: datetime | None = None) -> pd.DataFrame:
    """Sessions not ended and not idle past the time-out: user, started, last seen."""
    cutoff = _at((now or datetime.now()) - timedelta(minutes=timeout_minutes))
    table = store.sessions
    query = (
        sa.select(table.c.username, table.c.started_at, table.c.last_seen)
        .where(table.c.ended_at.is_(None) & (table.c.last_seen >= cutoff))
        .order_by(table.c.username)
    )
    with engine.connect() as conn:
        return pd.read_sql(query, conn)
