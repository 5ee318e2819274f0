"""Sign-in: throttling and lock-out, the password rule and history, argon2 hashes, the first administrators."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from monitor.security import audit, auth
from monitor.security.access import (
    ADMIN,
    ASSISTANCE,
    AUDITOR,
    ENROLLMENT,
    SECURITY,
)
from monitor.security.auth import AuthError
from monitor.storage.store import connect


@pytest.fixture
def demo(own_demo_db, monkeypatch):
    """A private copy of the demo database (these tests write audit rows and workflow changes)."""
    monkeypatch.setenv("MONITOR_DB_URL", own_demo_db)
    return connect(own_demo_db)


def test_failed_sign_ins_lock_the_user_name_for_a_while(demo, settings):
    t0 = datetime(2026, 11, 23, 9, 0)
    auth.add_user(demo, "zhang", ENROLLMENT, "admin", password="Right-password-1", now=t0, settings=settings)
    for i in range(settings.lockout_failures):
        with pytest.raises(AuthError, match="用户名或密码错误"):
            auth.sign_in(demo, "zhang", "wrong", now=t0 + timedelta(minutes=i), settings=settings)
    locked = t0 + timedelta(minutes=4 + settings.lockout_minutes)  # 30 minutes after the fifth failure
    assert auth.locked_until(demo, "zhang", settings, now=t0 + timedelta(minutes=5)) == locked
    with pytest.raises(AuthError, match="已锁定至 09:34"):  # even the right password, while locked
        auth.sign_in(demo, "zhang", "Right-password-1", now=t0 + timedelta(minutes=20), settings=settings)
    for name in ("nobody",):  # an unknown user name locks the same way and hears the same words
        for i in range(settings.lockout_failures):
            with pytest.raises(AuthError, match="用户名或密码错误"):
                auth.sign_in(demo, name, "x", now=t0 + timedelta(minutes=i), settings=settings)
        with pytest.raises(AuthError, match="已锁定"):
            auth.sign_in(demo, name, "x", now=t0 + timedelta(minutes=6), settings=settings)
    viewer = auth.sign_in(demo, "zhang", "Right-password-1", now=locked + timedelta(seconds=1), settings=settings)
    assert (viewer.username, viewer.role, viewer.towns) == ("zhang", ENROLLMENT, None)
    log = audit.entries(demo, username="zhang")
    assert log["action"].value_counts().to_dict() == {"登录失败": 6, "登录": 1}
    assert audit.entries(demo, action="用户变更")["object"].tolist() == ["zhang"]


def test_an_administrator_unlocks_sooner(demo, settings):
    t0 = datetime(2026, 11, 23, 9, 0)
    auth.add_user(demo, "wang", ENROLLMENT, "admin", password="Right-password-2", now=t0, settings=settings)
    for i in range(settings.lockout_failures):
        with pytest.raises(AuthError):
            auth.sign_in(demo, "wang", "wrong", now=t0 + timedelta(seconds=i), settings=settings)
    auth.unlock(demo, "wang", "admin")
    assert auth.locked_until(demo, "wang", settings, now=t0 + timedelta(minutes=1)) is None
    assert auth.sign_in(demo, "wang", "Right-password-2", now=t0 + timedelta(minutes=1), settings=settings)


@pytest.mark.parametrize(
    "password, problem",
    [
        ("Short-1", "至少 10 位"),
        ("alllowercase123", "三类"),
        ("NOLOWER-12345", None),
        ("Has-zhao-in-1", "用户名"),
        ("Good-Password-9", None),
    ],
)
def test_password_rule(settings, password, problem):
    problems = auth.password_problems(password, "zhao", settings)
    assert (problem is None and problems == []) or any(problem in p for p in problems)


def test_a_new_password_is_changed_at_first_sign_in_and_the_last_five_are_not_reused(demo, settings):
    t0 = datetime(2026, 1, 5, 9, 0)
    first = auth.add_user(demo, "liu", ASSISTANCE, "admin", now=t0, settings=settings)
    assert not auth.password_problems(first, "liu", settings)
    assert auth.sign_in(demo, "liu", first, now=t0, settings=settings).must_change
    passwords = [f"Pass-word-{i}x" for i in range(6)]
    with pytest.raises(AuthError, match="原密码"):
        auth.change_password(demo, "liu", "wrong", passwords[0], settings, now=t0)
    with pytest.raises(AuthError, match="不符合"):
        auth.change_password(demo, "liu", first, "short", settings, now=t0)
    previous = first
    for i, password in enumerate(passwords[:5]):
        auth.change_password(demo, "liu", previous, password, settings, now=t0 + timedelta(days=i))
        previous = password
    assert not auth.sign_in(demo, "liu", previous, now=t0 + timedelta(days=5), settings=settings).must_change
    for reused in passwords[1:5]:  # the current one and the three before it
        with pytest.raises(AuthError, match="最近 5 次"):
            auth.change_password(demo, "liu", previous, reused, settings, now=t0 + timedelta(days=6))
    auth.change_password(demo, "liu", previous, first, settings, now=t0 + timedelta(days=6))  # six changes ago
    old_age = t0 + timedelta(days=6 + settings.password_max_age_days + 1)
    assert auth.sign_in(demo, "liu", first, now=old_age, settings=settings).must_change  # too old


def test_passwords_are_stored_as_argon2_hashes(demo):
    password = auth.add_user(demo, "li", ADMIN, "admin")
    with demo.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM users WHERE username = 'li'")).scalar()
    assert stored.startswith("$argon2") and password not in stored


def test_bootstrap_creates_the_three_administrators_once(sqlite_url, settings):
    engine = connect(sqlite_url)
    made = auth.bootstrap_admin(engine, settings)
    assert [(u, r) for u, r, _ in made] == [("admin", ADMIN), ("security", SECURITY), ("auditor", AUDITOR)]
    for username, role, password in made:
        assert not auth.password_problems(password, username, settings)
        first = auth.sign_in(engine, username, password, settings=settings)
        assert (first.role, first.must_change, first.second_factor) == (role, True, "enrol")
    assert auth.bootstrap_admin(engine) == []


def test_random_passwords_never_contain_a_short_user_name(monkeypatch, settings):
    """token_urlsafe can spell 'li'; the generator draws again until the rule holds for that user."""
    draws = iter(["abcLIdefgh12klmn", "abcdefGHIJ12mnop"])
    monkeypatch.setattr(auth.secrets, "token_urlsafe", lambda _n: next(draws))
    password = auth._random_password(settings, "li")
    assert "li" not in password.lower() and not auth.password_problems(password, "li", settings)
