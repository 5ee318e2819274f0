"""三员分立 closed in the app (only the security administrator changes the administrators, nobody their own account;
the command line is not restricted), and a sign-in whose time does not tell which names exist."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

import pytest
from argon2 import PasswordHasher

from monitor.security import audit, auth, duties, trail
from monitor.security.access import ADMIN, AUDITOR, ENROLLMENT, LEADER, SECURITY, Viewer
from monitor.security.auth import AuthError
from monitor.storage.store import connect

T0 = datetime(2026, 11, 23, 9, 0)
PASSWORD = "Strong-Pass-2026"
SYSTEM, SECURE, AUDIT = Viewer("xitong", ADMIN), Viewer("anquan", SECURITY), Viewer("shenji", AUDITOR)


@pytest.fixture(autouse=True)
def audit_trail(tmp_path, monkeypatch):
    """This test's own audit key and checkpoint file (never the project's data/ folder); syslog off."""
    monkeypatch.setenv(trail.ENV_KEY_FILE, str(tmp_path / "audit_trail" / "audit.key"))
    monkeypatch.setenv(trail.ENV_CHECKPOINT_FILE, str(tmp_path / "audit_trail" / "audit_checkpoints.jsonl"))
    monkeypatch.setenv(trail.ENV_SYSLOG, "")


@pytest.fixture
def engine(sqlite_url, settings):
    engine = connect(sqlite_url)
    for viewer in (SYSTEM, SECURE, AUDIT, Viewer("xitong2", ADMIN), Viewer("zhang", ENROLLMENT)):
        auth.add_user(
            engine, viewer.username, viewer.role, "安装", password=PASSWORD, settings=settings, must_change=False
        )
    return engine


def _active(engine, username: str) -> bool:
    return bool(auth.users(engine).set_index("username").loc[username, "active"])


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("target", ["anquan", "shenji", "xitong2"])
def test_the_system_administrator_cannot_disable_or_reset_an_administrator(engine, settings, target):
    with pytest.raises(AuthError, match="只能由安全管理员"):
        auth.set_active(engine, target, False, "xitong", actor=SYSTEM)
    with pytest.raises(AuthError, match="只能由安全管理员"):
        auth.reset_password(engine, target, "xitong", settings=settings, actor=SYSTEM)
    assert _active(engine, target)
    assert auth.sign_in(engine, target, PASSWORD, settings=settings)  # the password is unchanged
    refused = audit.entries(engine, username="xitong", action="用户变更")
    assert refused["result"].tolist() == ["拒绝", "拒绝"] and set(refused["object"]) == {target}


def test_the_security_administrator_changes_disables_and_resets_the_administrators(engine, settings):
    auth.set_active(engine, "xitong", False, "anquan", actor=SECURE)
    assert not _active(engine, "xitong")
    auth.set_active(engine, "xitong", True, "anquan", actor=SECURE)
    new = auth.reset_password(engine, "shenji", "anquan", settings=settings, actor=SECURE)
    assert auth.sign_in(engine, "shenji", new, settings=settings).must_change
    auth.reset_second_factor(engine, "xitong", "anquan", actor=SECURE)
    auth.unlock(engine, "shenji", "anquan", actor=SECURE)
    auth.set_role(engine, "xitong2", LEADER, None, "anquan", actor=SECURE)
    assert audit.entries(engine, username="anquan")["result"].eq("成功").all()


@pytest.mark.parametrize(
    "change",
    [
        lambda e, s: auth.set_active(e, "anquan", False, "anquan", actor=SECURE),
        lambda e, s: auth.reset_password(e, "anquan", "anquan", settings=s, actor=SECURE),
        lambda e, s: auth.reset_second_factor(e, "anquan", "anquan", actor=SECURE),
        lambda e, s: auth.unlock(e, "anquan", "anquan", actor=SECURE),
        lambda e, s: auth.set_active(e, "xitong", False, "xitong", actor=SYSTEM),
        lambda e, s: auth.reset_password(e, "xitong", "xitong", settings=s, actor=SYSTEM),
    ],
    ids=["disable", "reset password", "reset second factor", "unlock", "system: disable", "system: reset"],
)
def test_nobody_changes_their_own_account_in_the_app(engine, settings, change):
    with pytest.raises(AuthError, match=duties.OWN_ACCOUNT):
        change(engine, settings)
    assert _active(engine, "anquan") and _active(engine, "xitong")


def test_nobody_changes_their_own_role(engine):
    with pytest.raises(AuthError, match="自己的角色"):
        auth.set_role(engine, "anquan", ADMIN, None, "anquan", actor=SECURE)


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda e, s: auth.set_role(e, "zhang", LEADER, None, "xitong", actor=SYSTEM), "无权分配角色"),
        (lambda e, s: auth.unlock(e, "zhang", "xitong", actor=SYSTEM), "无权解除锁定"),
        (lambda e, s: auth.reset_second_factor(e, "zhang", "xitong", actor=SYSTEM), "无权重置动态口令"),
        (lambda e, s: auth.reset_password(e, "zhang", "anquan", settings=s, actor=SECURE), "无权重置密码"),
        (lambda e, s: auth.set_active(e, "zhang", False, "anquan", actor=SECURE), "无权启用或停用账户"),
        (lambda e, s: auth.set_active(e, "zhang", False, "shenji", actor=AUDIT), "无权启用或停用账户"),
        (lambda e, s: auth.set_active(e, "xitong", False, "shenji", actor=AUDIT), "只能由安全管理员"),
        (lambda e, s: auth.add_user(e, "li", "", "anquan", settings=s, actor=SECURE), "无权新建账户"),
        (lambda e, s: auth.add_user(e, "li", SECURITY, "xitong", settings=s, actor=SYSTEM), "由安全管理员分配角色"),
    ],
    ids=[
        "system: role",
        "system: unlock",
        "system: second factor",
        "security: staff password",
        "security: staff account",
        "auditor",
        "auditor: administrator",
        "security: add",
        "system: add with a role",
    ],
)
def test_each_duty_stays_with_its_administrator(engine, settings, change, words):
    with pytest.raises(AuthError, match=words):
        change(engine, settings)
    assert _active(engine, "zhang") and "li" not in set(auth.users(engine)["username"])


def test_the_system_administrator_keeps_the_staff_accounts(engine, settings):
    auth.add_user(engine, "li", "", "xitong", settings=settings, actor=SYSTEM)
    auth.reset_password(engine, "zhang", "xitong", settings=settings, actor=SYSTEM)
    auth.set_active(engine, "zhang", False, "xitong", actor=SYSTEM)
    assert not _active(engine, "zhang")


def test_the_command_line_on_the_server_stays_as_it_is(engine, settings):
    by = "命令行（root）"
    auth.set_active(engine, "anquan", False, by)
    auth.reset_password(engine, "shenji", by, settings=settings)
    auth.unlock(engine, "xitong", by)
    auth.reset_second_factor(engine, "xitong", by)
    assert not _active(engine, "anquan")


def test_the_pages_offer_only_what_is_allowed():
    assert not duties.allowed(SYSTEM, "anquan", SECURITY, duties.SET_ACTIVE)
    assert duties.allowed(SYSTEM, "zhang", ENROLLMENT, duties.SET_ACTIVE)
    assert duties.allowed(SECURE, "xitong", ADMIN, duties.SET_ACTIVE)
    assert not duties.allowed(SECURE, "anquan", SECURITY, duties.RESET_SECOND_FACTOR)
    assert not duties.allowed(SECURE, "zhang", ENROLLMENT, duties.RESET_PASSWORD)


# ---------------------------------------------------------------- sign-in time


@pytest.fixture
def verifications(monkeypatch):
    """How many argon2 verifications each sign-in makes."""
    calls: list[str] = []
    original = PasswordHasher.verify

    def counting(self, stored, password):
        calls.append(stored)
        return original(self, stored, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return calls


def _attempt(engine, settings, username: str, password: str, now: datetime) -> None:
    with contextlib.suppress(AuthError):
        auth.sign_in(engine, username, password, now=now, settings=settings)


@pytest.mark.parametrize(
    "username, password",
    [("zhang", PASSWORD), ("zhang", "wrong"), ("nobody", "wrong"), ("nobody", PASSWORD)],
    ids=["known, right", "known, wrong", "unknown", "unknown, a real password"],
)
def test_sign_in_verifies_exactly_one_hash_for_a_known_and_for_an_unknown_name(
    engine, settings, verifications, username, password
):
    auth._dummy_hash()  # made once per process, before any timed sign-in
    verifications.clear()
    _attempt(engine, settings, username, password, T0)
    assert len(verifications) == 1


def test_a_disabled_or_locked_account_takes_the_same_path(engine, settings, verifications):
    auth._dummy_hash()
    auth.set_active(engine, "zhang", False, "命令行")
    verifications.clear()
    _attempt(engine, settings, "zhang", PASSWORD, T0)
    assert len(verifications) == 1
    auth.set_active(engine, "zhang", True, "命令行")
    for i in range(settings.lockout_failures):
        _attempt(engine, settings, "zhang", "wrong", T0 + timedelta(seconds=i))
    verifications.clear()
    with pytest.raises(AuthError, match="已锁定"):
        auth.sign_in(engine, "zhang", PASSWORD, now=T0 + timedelta(minutes=1), settings=settings)
    assert verifications == [auth._dummy_hash()]  # the lock answers after the same work, whatever the password
