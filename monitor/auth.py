"""Users, passwords (argon2), sign-in with throttling, and the accounts a fresh install or the demo starts with."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from monitor import audit, store
from monitor.access import ADMIN, ASSISTANCE, ENROLLMENT, LEADER, ROLES, Viewer

HASHER = PasswordHasher()
MAX_FAILURES = 5  # within FAILURE_WINDOW, then sign-in is refused until the window has passed
FAILURE_WINDOW = timedelta(minutes=15)
# Documented in README: the demo district's accounts, one per role (never on a real install).
DEMO_ACCOUNTS = (
    ("admin", "管理员（演示）", ADMIN, None, "Qinghe-admin-2025"),
    ("lingdao", "区医保局领导（演示）", LEADER, None, "Qinghe-lingdao-2025"),
    ("kuomian", "扩面专员（演示）", ENROLLMENT, 3, "Qinghe-kuomian-2025"),
    ("jiuzhu", "救助专员（演示）", ASSISTANCE, 5, "Qinghe-jiuzhu-2025"),
)


class AuthError(ValueError):
    """A sign-in or user change that cannot be done; the message is safe to show (it never says whether a user
    name exists)."""


def _now(now: datetime | None) -> datetime:
    return now or datetime.now()


def _towns_text(towns: frozenset[str] | None) -> str:
    return "" if towns is None else ",".join(sorted(towns))


def _towns(text: str | None) -> frozenset[str] | None:
    return frozenset(t for t in (text or "").split(",") if t) or None


def add_user(engine: Engine, username: str, role: str, by: str, password: str | None = None,
             towns: frozenset[str] | None = None, display_name: str = "", now: datetime | None = None) -> str:
    """Create a user; returns the password (a random one when none is given, to be handed over once)."""
    if role not in ROLES:
        raise AuthError(f"角色 {role} 无效（可选：{'、'.join(ROLES)}）")
    if not username.strip():
        raise AuthError("用户名不能为空")
    password = password or secrets.token_urlsafe(12)
    at = str(_now(now).replace(microsecond=0))
    try:
        with engine.begin() as conn:
            conn.execute(store.users.insert().values(
                username=username, display_name=display_name or username, role=role, towns=_towns_text(towns),
                password_hash=HASHER.hash(password), active=True, created_at=at, password_changed_at=at))
    except sa.exc.IntegrityError:
        raise AuthError(f"用户 {username} 已存在") from None
    audit.record(engine, by, "用户变更", username, f"新建用户，角色 {role}，乡镇 {_towns_text(towns) or '全部'}", now=now)
    return password


def set_role(engine: Engine, username: str, role: str, towns: frozenset[str] | None, by: str,
             now: datetime | None = None) -> None:
    if role not in ROLES:
        raise AuthError(f"角色 {role} 无效（可选：{'、'.join(ROLES)}）")
    with engine.begin() as conn:
        done = conn.execute(store.users.update().where(store.users.c.username == username).values(
            role=role, towns=_towns_text(towns))).rowcount
    if not done:
        raise AuthError(f"没有用户 {username}")
    audit.record(engine, by, "用户变更", username, f"角色 {role}，乡镇 {_towns_text(towns) or '全部'}", now=now)


def reset_password(engine: Engine, username: str, by: str, password: str | None = None,
                   now: datetime | None = None) -> str:
    password = password or secrets.token_urlsafe(12)
    with engine.begin() as conn:
        done = conn.execute(store.users.update().where(store.users.c.username == username).values(
            password_hash=HASHER.hash(password), password_changed_at=str(_now(now).replace(microsecond=0)))).rowcount
        conn.execute(store.sign_in_failures.delete().where(store.sign_in_failures.c.username == username))
    if not done:
        raise AuthError(f"没有用户 {username}")
    audit.record(engine, by, "用户变更", username, "重置密码", now=now)
    return password


def set_active(engine: Engine, username: str, active: bool, by: str, now: datetime | None = None) -> None:
    with engine.begin() as conn:
        done = conn.execute(store.users.update().where(store.users.c.username == username).values(
            active=active)).rowcount
    if not done:
        raise AuthError(f"没有用户 {username}")
    audit.record(engine, by, "用户变更", username, "启用" if active else "停用", now=now)


def users(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = store.read_table(conn, store.users, None, [store.users.c.username])
    return frame.drop(columns="password_hash")


def _recent_failures(conn: sa.Connection, username: str, now: datetime) -> int:
    since = str(now - FAILURE_WINDOW)
    return conn.execute(sa.select(sa.func.count()).select_from(store.sign_in_failures).where(
        (store.sign_in_failures.c.username == username) & (store.sign_in_failures.c.at >= since))).scalar() or 0


def sign_in(engine: Engine, username: str, password: str, now: datetime | None = None) -> Viewer:
    """The viewer for a correct user name and password. Failures are audited; after MAX_FAILURES within
    FAILURE_WINDOW further attempts are refused until the window has passed, whether the password is right or not."""
    at = _now(now)
    with engine.connect() as conn:
        throttled = _recent_failures(conn, username, at) >= MAX_FAILURES
        row = conn.execute(sa.select(store.users).where(store.users.c.username == username)).mappings().first()
    if throttled:
        audit.record(engine, username, "登录失败", username, "尝试过于频繁", result="拒绝", now=at)
        raise AuthError(f"登录失败次数过多，请 {int(FAILURE_WINDOW.total_seconds() // 60)} 分钟后再试")
    ok = False
    if row is not None and row["active"]:
        try:
            ok = HASHER.verify(row["password_hash"], password)
        except (VerificationError, InvalidHashError):
            ok = False
    with engine.begin() as conn:
        if ok:
            conn.execute(store.sign_in_failures.delete().where(store.sign_in_failures.c.username == username))
        else:
            conn.execute(store.sign_in_failures.insert().values(username=username, at=str(at)))
    if not ok:
        audit.record(engine, username, "登录失败", username, "", result="失败", now=at)
        raise AuthError("用户名或密码错误")
    audit.record(engine, username, "登录", username, "", now=at)
    return Viewer(username, row["role"], _towns(row["towns"]))


def has_users(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.select(sa.func.count()).select_from(store.users)).scalar())


def bootstrap_admin(engine: Engine) -> str | None:
    """On a fresh install: an administrator `admin` with a random password, returned once; None if users exist."""
    if has_users(engine):
        return None
    return add_user(engine, "admin", ADMIN, by="安装", display_name="管理员")


def demo_accounts(engine: Engine, towns: list[str]) -> list[tuple[str, str, str]]:
    """The documented demo accounts (user, role, password); staff get the first few towns as their scope."""
    made = []
    for username, display, role, n_towns, password in DEMO_ACCOUNTS:
        scope = frozenset(towns[:n_towns]) if n_towns else None
        try:
            add_user(engine, username, role, by="演示", password=password, towns=scope, display_name=display)
        except AuthError:
            reset_password(engine, username, by="演示", password=password)
            set_role(engine, username, role, scope, by="演示")
        made.append((username, role, password))
    return made
