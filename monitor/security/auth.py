"""Users, passwords (argon2, rules, history), sign-in with lock-out and the second factor, the first and the demo
accounts. The lock-out itself is in lockout; its names are also importable from here, where callers look for them.
Account changes made in the app pass the acting viewer (`actor`), checked against 三员分立 (duties); the command
line passes none."""

from __future__ import annotations

import dataclasses
import functools
import secrets
from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from monitor.config import Settings
from monitor.security import audit, duties, lockout, second_factor, sessions
from monitor.security.access import ADMIN, ASSISTANCE, AUDITOR, ENROLLMENT, LEADER, ROLES, SECURITY, UNASSIGNED, Viewer
from monitor.security.lockout import locked_accounts as locked_accounts
from monitor.security.lockout import locked_until as locked_until
from monitor.security.lockout import record_failure
from monitor.security.passwords import password_problems as password_problems
from monitor.security.passwords import random_password as _random_password
from monitor.storage import store

HASHER = PasswordHasher()
HISTORY = 5  # the last passwords that may not be used again
# Documented in README: the demo district's accounts, one per role (never on a real install).
DEMO_ACCOUNTS = (
    ("admin", "系统管理员（演示）", ADMIN, None, "Qinghe-Guanli-2025"),
    ("anquan", "安全管理员（演示）", SECURITY, None, "Qinghe-Baomi-2025"),
    ("shenji", "审计管理员（演示）", AUDITOR, None, "Qinghe-Jiancha-2025"),
    ("lingdao", "区医保局领导（演示）", LEADER, None, "Qinghe-Juzhang-2025"),
    ("kuomian", "扩面专员（演示）", ENROLLMENT, 3, "Qinghe-Canbao-2025"),
    ("jiuzhu", "救助专员（演示）", ASSISTANCE, 5, "Qinghe-Bangfu-2025"),
)


class AuthError(ValueError):
    """A sign-in or user change that cannot be done; the message is safe to show (it never says whether a user
    name exists)."""


def _now(now: datetime | None) -> datetime:
    return now or datetime.now()


def _check_duty(
    engine: Engine, actor: Viewer | None, username: str, change: str, now: datetime | None, new_role: str | None = None
) -> None:
    """三员分立 for a change made in the app (actor given): refused and audited when the actor may not make it."""
    if actor is None:
        return
    reason = duties.refusal(actor, username, duties.role_of(engine, username), change, new_role)
    if reason:
        audit.record(engine, actor.username, "用户变更", username, f"{change}：{reason}", result="拒绝", now=now)
        raise AuthError(reason)


def _towns_text(towns: frozenset[str] | None) -> str:
    return "" if towns is None else ",".join(sorted(towns))


def _towns(text: str | None) -> frozenset[str] | None:
    return frozenset(t for t in (text or "").split(",") if t) or None


def add_user(
    engine: Engine,
    username: str,
    role: str,
    by: str,
    password: str | None = None,
    towns: frozenset[str] | None = None,
    display_name: str = "",
    now: datetime | None = None,
    settings: Settings | None = None,
    must_change: bool = True,
    actor: Viewer | None = None,
) -> str:
    """Create a user; returns the password (a random one when none is given, to be handed over once, and changed by
    the user at the first sign-in)."""
    settings = settings or Settings()
    _check_duty(engine, actor, username, duties.ADD, now, new_role=role)
    if role not in ROLES and role != UNASSIGNED:
        raise AuthError(f"角色 {role} 无效（可选：{'、'.join(ROLES)}）")
    if not username.strip():
        raise AuthError("用户名不能为空")
    password = password or _random_password(settings, username)
    if problems := password_problems(password, username, settings):
        raise AuthError("密码不符合要求：" + "；".join(problems))
    at = str(_now(now).replace(microsecond=0))
    try:
        with engine.begin() as conn:
            conn.execute(
                store.users.insert().values(
                    username=username,
                    display_name=display_name or username,
                    role=role,
                    towns=_towns_text(towns),
                    password_hash=HASHER.hash(password),
                    active=True,
                    created_at=at,
                    password_changed_at=at,
                    must_change=must_change,
                )
            )
    except sa.exc.IntegrityError:
        raise AuthError(f"用户 {username} 已存在") from None
    audit.record(
        engine,
        by,
        "用户变更",
        username,
        f"新建用户，角色 {role or '待分配'}，乡镇 {_towns_text(towns) or '全部'}",
        now=now,
    )
    return password


def set_role(
    engine: Engine,
    username: str,
    role: str,
    towns: frozenset[str] | None,
    by: str,
    now: datetime | None = None,
    actor: Viewer | None = None,
) -> None:
    """One role per account (so no account holds two administrator duties); nobody changes their own. The account's
    sessions end, so the new role applies from its next sign-in."""
    if role not in ROLES:
        raise AuthError(f"角色 {role} 无效（可选：{'、'.join(ROLES)}）")
    if username == by:
        raise AuthError("不能修改自己的角色")
    _check_duty(engine, actor, username, duties.SET_ROLE, now)
    with engine.begin() as conn:
        done = conn.execute(
            store.users.update().where(store.users.c.username == username).values(role=role, towns=_towns_text(towns))
        ).rowcount
    if not done:
        raise AuthError(f"没有用户 {username}")
    sessions.end_for(engine, username, "角色已变更，请重新登录", now=now)
    audit.record(engine, by, "用户变更", username, f"角色 {role}，乡镇 {_towns_text(towns) or '全部'}", now=now)


def reset_password(
    engine: Engine,
    username: str,
    by: str,
    password: str | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
    must_change: bool = True,
    actor: Viewer | None = None,
) -> str:
    """A new password set by an administrator (random unless given); the user changes it at the next sign-in.
    Also unlocks the user name."""
    settings = settings or Settings()
    _check_duty(engine, actor, username, duties.RESET_PASSWORD, now)
    password = password or _random_password(settings, username)
    with engine.begin() as conn:
        done = conn.execute(
            store.users.update()
            .where(store.users.c.username == username)
            .values(
                password_hash=HASHER.hash(password),
                password_changed_at=str(_now(now).replace(microsecond=0)),
                must_change=must_change,
            )
        ).rowcount
        conn.execute(store.sign_in_failures.delete().where(store.sign_in_failures.c.username == username))
    if not done:
        raise AuthError(f"没有用户 {username}")
    audit.record(engine, by, "用户变更", username, "重置密码", now=now)
    return password


def set_active(
    engine: Engine, username: str, active: bool, by: str, now: datetime | None = None, actor: Viewer | None = None
) -> None:
    _check_duty(engine, actor, username, duties.SET_ACTIVE, now)
    with engine.begin() as conn:
        done = conn.execute(
            store.users.update().where(store.users.c.username == username).values(active=active)
        ).rowcount
    if not done:
        raise AuthError(f"没有用户 {username}")
    if not active:
        sessions.end_for(engine, username, "账户已停用", now=now)
    audit.record(engine, by, "用户变更", username, "启用" if active else "停用", now=now)


def users(engine: Engine) -> pd.DataFrame:
    """Every account without its secrets; totp_enrolled says whether the second factor is set up."""
    with engine.connect() as conn:
        frame = store.read_table(conn, store.users, None, [store.users.c.username])
    frame["totp_enrolled"] = frame["totp_secret"].notna()
    return frame.drop(columns=["password_hash", "totp_secret", "totp_last_step"])


def _refuse(engine: Engine, username: str, until: datetime | None, at: datetime) -> None:
    if until is not None:
        audit.record(engine, username, "登录失败", username, "账户锁定中", result="拒绝", now=at)
        raise AuthError(f"登录失败次数过多，已锁定至 {until:%H:%M}；可请安全管理员解除")


def _refuse_if_locked(engine: Engine, username: str, settings: Settings, at: datetime) -> None:
    _refuse(engine, username, locked_until(engine, username, settings, at), at)


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password, made once per process with the hasher's parameters: a sign-in checks it when
    the name is unknown or locked, so every sign-in costs one verification and its time tells no name."""
    return HASHER.hash(secrets.token_urlsafe(16))


def _password_matches(stored: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False


def sign_in(
    engine: Engine, username: str, password: str, now: datetime | None = None, settings: Settings | None = None
) -> Viewer:
    """The viewer for a correct user name and password. Failures are audited; lockout_failures failures within the
    window lock the user name for lockout_minutes, known or not, with the same message either way. When the role
    needs the second factor the viewer is not signed in yet (Viewer.second_factor: 'verify' or 'enrol'). A password
    set by someone else, or older than password_max_age_days, must be changed first (Viewer.must_change)."""
    settings = settings or Settings()
    at = _now(now)
    _dummy_hash()  # made once per process, outside the timed part below
    until = locked_until(engine, username, settings, at)
    with engine.connect() as conn:
        row = conn.execute(sa.select(store.users).where(store.users.c.username == username)).mappings().first()
    # exactly one verification for a known, unknown, locked or disabled name
    ok = _password_matches(row["password_hash"] if row is not None and until is None else None, password)
    _refuse(engine, username, until, at)
    if row is None or not row["active"] or not ok:
        record_failure(engine, username, at, "")
        raise AuthError("用户名或密码错误")
    pending = ""
    if second_factor.required(row["role"], settings.totp_for_everyone):
        pending = "verify" if row["totp_secret"] else "enrol"
    viewer = dataclasses.replace(viewer_of(row, settings, at), second_factor=pending)
    return viewer if pending else _signed_in(engine, viewer, at, "")


def viewer_of(row: sa.RowMapping, settings: Settings, at: datetime, session: str = "") -> Viewer:
    """The viewer of an account's row: role, towns, and whether the password must be changed first (set by someone
    else, or older than password_max_age_days)."""
    changed = datetime.fromisoformat(row["password_changed_at"]) if row["password_changed_at"] else at
    too_old = settings.password_max_age_days and at - changed > timedelta(days=settings.password_max_age_days)
    must_change = bool(row["must_change"] or too_old)
    return Viewer(row["username"], row["role"], _towns(row["towns"]), must_change, session=session)


def _signed_in(engine: Engine, viewer: Viewer, at: datetime, how: str) -> Viewer:
    """The last step of a sign-in: failures forgotten, the audit entry, the account's only session."""
    with engine.begin() as conn:
        conn.execute(store.sign_in_failures.delete().where(store.sign_in_failures.c.username == viewer.username))
    audit.record(engine, viewer.username, "登录", viewer.username, how, now=at)
    return dataclasses.replace(viewer, second_factor="", session=sessions.start(engine, viewer.username, at))


def confirm_code(engine: Engine, viewer: Viewer, code: str, settings: Settings, now: datetime | None = None) -> Viewer:
    """The second step: a code from the authenticator app, or a recovery code. A wrong one counts as a failed
    sign-in (lock-out included)."""
    at = _now(now)
    _refuse_if_locked(engine, viewer.username, settings, at)
    if not second_factor.check(engine, viewer.username, code, at):
        record_failure(engine, viewer.username, at, "动态口令错误")
        raise AuthError("动态口令错误或已使用")
    how = "动态口令" if code.strip().isdigit() else "恢复码"
    return _signed_in(engine, viewer, at, how)


def confirm_enrolment(
    engine: Engine, viewer: Viewer, secret: str, code: str, settings: Settings, now: datetime | None = None
) -> tuple[Viewer, list[str]]:
    """The first sign-in of a role needing the second factor: the app's first code proves it holds the secret.
    Returns the signed-in viewer and the recovery codes to show once."""
    at = _now(now)
    _refuse_if_locked(engine, viewer.username, settings, at)
    codes = second_factor.enrol(engine, viewer.username, secret, code, at)
    if codes is None:
        record_failure(engine, viewer.username, at, "动态口令绑定失败")
        raise AuthError("动态口令不正确，请核对手机时间后重试")
    audit.record(engine, viewer.username, "用户变更", viewer.username, "绑定动态口令", now=at)
    return _signed_in(engine, viewer, at, "动态口令（首次绑定）"), codes


def unlock(engine: Engine, username: str, by: str, now: datetime | None = None, actor: Viewer | None = None) -> None:
    _check_duty(engine, actor, username, duties.UNLOCK, now)
    lockout.unlock(engine, username, by, now)


def reset_second_factor(
    engine: Engine, username: str, by: str, now: datetime | None = None, actor: Viewer | None = None
) -> None:
    _check_duty(engine, actor, username, duties.RESET_SECOND_FACTOR, now)
    second_factor.reset(engine, username)
    sessions.end_for(engine, username, "动态口令已重置，请重新登录并绑定", now=now)
    audit.record(engine, by, "用户变更", username, "重置动态口令", now=now)


def change_password(
    engine: Engine, username: str, old: str, new: str, settings: Settings, now: datetime | None = None
) -> None:
    """The user's own change: the old password, the rule, and none of the last HISTORY passwords again."""
    at = _now(now).replace(microsecond=0)
    with engine.connect() as conn:
        current = conn.execute(
            sa.select(store.users.c.password_hash).where(store.users.c.username == username)
        ).scalar()
        earlier = list(
            conn.execute(
                sa.select(store.password_history.c.password_hash)
                .where(store.password_history.c.username == username)
                .order_by(store.password_history.c.at.desc())
                .limit(HISTORY - 1)
            ).scalars()
        )
    try:
        HASHER.verify(current or "", old)
    except (VerificationError, InvalidHashError):
        raise AuthError("原密码不正确") from None
    if problems := password_problems(new, username, settings):
        raise AuthError("新密码不符合要求：" + "；".join(problems))
    for used in [current, *earlier]:
        try:
            if HASHER.verify(used, new):
                raise AuthError(f"新密码不能与最近 {HISTORY} 次使用过的密码相同")
        except (VerificationError, InvalidHashError):
            continue
    with engine.begin() as conn:
        conn.execute(store.password_history.insert().values(username=username, password_hash=current, at=str(at)))
        conn.execute(
            store.users.update()
            .where(store.users.c.username == username)
            .values(password_hash=HASHER.hash(new), password_changed_at=str(at), must_change=False)
        )
    audit.record(engine, username, "用户变更", username, "修改密码", now=at)


def has_users(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.select(sa.func.count()).select_from(store.users)).scalar())


FIRST_ACCOUNTS = (
    ("admin", ADMIN, "系统管理员"),
    ("security", SECURITY, "安全管理员"),
    ("auditor", AUDITOR, "审计管理员"),
)


def bootstrap_admin(engine: Engine, settings: Settings | None = None) -> list[tuple[str, str, str]]:
    """On a fresh install: the three administrators (三员), each with a random password returned once (to be changed
    at the first sign-in, where the second factor is bound); an empty list if users exist."""
    if has_users(engine):
        return []
    return [
        (username, role, add_user(engine, username, role, by="安装", display_name=title, settings=settings))
        for username, role, title in FIRST_ACCOUNTS
    ]


def demo_accounts(engine: Engine, towns: list[str]) -> list[tuple[str, str, str]]:
    """The documented demo accounts (user, role, password); staff get the first few towns as their scope."""
    made = []
    existing = set(users(engine)["username"])
    for username, display, role, n_towns, password in DEMO_ACCOUNTS:
        scope = frozenset(towns[:n_towns]) if n_towns else None
        if username in existing:  # documented passwords, so the demo does not force a change
            reset_password(engine, username, by="演示", password=password, must_change=False)
            set_role(engine, username, role, scope, by="演示")
        else:
            add_user(
                engine,
                username,
                role,
                by="演示",
                password=password,
                towns=scope,
                display_name=display,
                must_change=False,
            )
        made.append((username, role, password))
    return made
