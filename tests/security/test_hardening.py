"""等保 三级 hardening: second factor, one session per account, 三员分立, the security policy."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from monitor.security import audit, auth, policy, second_factor, sessions
from monitor.security.access import (
    ACTIONS,
    ADMIN,
    ADMIN_ROLES,
    ASSISTANCE,
    AUDITOR,
    ENROLLMENT,
    SECURITY,
)
from monitor.security.access import (
    ROLES_BY_PAGE as PAGES,
)
from monitor.security.auth import AuthError
from monitor.storage.store import connect

T0 = datetime(2026, 11, 23, 9, 0)


@pytest.fixture
def engine(db_url):
    return connect(db_url)


def _admin(engine, settings, username="xitong", role=ADMIN) -> str:
    password = "Strong-Pass-2026"
    auth.add_user(engine, username, role, "安装", password=password, now=T0, settings=settings, must_change=False)
    return password


def _enrolled(engine, settings, username="xitong", role=ADMIN) -> tuple[str, str, list[str]]:
    """An administrator who has bound the app at T0; returns password, secret and recovery codes."""
    password = _admin(engine, settings, username, role)
    pending = auth.sign_in(engine, username, password, now=T0, settings=settings)
    secret = second_factor.new_secret()
    _viewer, codes = auth.confirm_enrolment(
        engine, pending, secret, second_factor.code_at(secret, T0), settings, now=T0
    )
    return password, secret, codes


# ---------------------------------------------------------------- second factor


def test_an_administrator_binds_the_app_at_first_sign_in(engine, settings):
    password = _admin(engine, settings)
    pending = auth.sign_in(engine, "xitong", password, now=T0, settings=settings)
    assert pending.second_factor == "enrol" and not pending.session
    secret = second_factor.new_secret()
    uri = second_factor.enrolment_uri("xitong", secret)
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
    assert second_factor.qr_png(uri).startswith(b"\x89PNG")
    with pytest.raises(AuthError, match="动态口令不正确"):
        auth.confirm_enrolment(
            engine,
            pending,
            secret,
            "000000" if second_factor.code_at(secret, T0) != "000000" else "111111",
            settings,
            now=T0,
        )
    assert not second_factor.enrolled(engine, "xitong")
    viewer, codes = auth.confirm_enrolment(engine, pending, secret, second_factor.code_at(secret, T0), settings, now=T0)
    assert viewer.session and not viewer.second_factor
    assert len(codes) == len(set(codes)) == second_factor.RECOVERY_CODES
    assert second_factor.recovery_codes_left(engine, "xitong") == 10
    with engine.connect() as conn:  # only hashes of the recovery codes are kept
        stored = conn.execute(sa.text("SELECT code_hash FROM recovery_codes")).scalars().all()
    assert not set(codes) & set(stored)


def test_a_code_is_asked_for_at_every_sign_in_and_cannot_be_replayed(engine, settings):
    password, secret, _codes = _enrolled(engine, settings)
    later = T0 + timedelta(minutes=10)
    pending = auth.sign_in(engine, "xitong", password, now=later, settings=settings)
    assert pending.second_factor == "verify"
    code = second_factor.code_at(secret, later)
    assert auth.confirm_code(engine, pending, code, settings, now=later).session
    with pytest.raises(AuthError, match="动态口令错误"):  # the same code again, within its 30 seconds
        auth.confirm_code(engine, pending, code, settings, now=later + timedelta(seconds=5))
    drifted = later + timedelta(minutes=1)  # the phone 30 seconds behind still works
    assert auth.confirm_code(
        engine, pending, second_factor.code_at(secret, drifted - timedelta(seconds=30)), settings, now=drifted
    )


def test_a_recovery_code_works_once_and_a_reset_binds_again(engine, settings):
    password, _secret, codes = _enrolled(engine, settings)
    pending = auth.sign_in(engine, "xitong", password, now=T0, settings=settings)
    assert auth.confirm_code(engine, pending, codes[3].upper(), settings, now=T0).session
    with pytest.raises(AuthError):
        auth.confirm_code(engine, pending, codes[3], settings, now=T0)
    assert second_factor.recovery_codes_left(engine, "xitong") == 9
    auth.reset_second_factor(engine, "xitong", by="anquan", now=T0)
    assert auth.sign_in(engine, "xitong", password, now=T0, settings=settings).second_factor == "enrol"
    assert audit.entries(engine, action="用户变更")["detail"].tolist()[0] == "重置动态口令"


def test_wrong_codes_count_towards_the_lock_out(engine, settings):
    password, secret, _codes = _enrolled(engine, settings)
    pending = auth.sign_in(engine, "xitong", password, now=T0, settings=settings)
    for i in range(settings.lockout_failures):
        with pytest.raises(AuthError, match="动态口令错误"):
            auth.confirm_code(engine, pending, "12345x"[:5] + str(i), settings, now=T0 + timedelta(minutes=i))
    at = T0 + timedelta(minutes=6)
    with pytest.raises(AuthError, match="已锁定"):
        auth.confirm_code(engine, pending, second_factor.code_at(secret, at), settings, now=at)
    with pytest.raises(AuthError, match="已锁定"):
        auth.sign_in(engine, "xitong", password, now=at, settings=settings)


@pytest.mark.parametrize(
    "role, everyone, asked",
    [
        (ADMIN, False, True),
        (SECURITY, False, True),
        (AUDITOR, False, True),
        (ENROLLMENT, False, False),
        (ASSISTANCE, True, True),
    ],
)
def test_who_needs_the_second_factor(role, everyone, asked):
    assert second_factor.required(role, everyone) is asked


# ---------------------------------------------------------------- sessions


def test_a_second_sign_in_ends_the_first_session_which_is_told_why(engine, settings):
    auth.add_user(
        engine, "zhou", ENROLLMENT, "admin", password="Strong-Pass-2026", settings=settings, must_change=False
    )
    first = auth.sign_in(engine, "zhou", "Strong-Pass-2026", now=T0, settings=settings)
    assert sessions.check(engine, first.session, 15, now=T0 + timedelta(minutes=1)) == ""
    second = auth.sign_in(engine, "zhou", "Strong-Pass-2026", now=T0 + timedelta(minutes=2), settings=settings)
    assert sessions.check(engine, first.session, 15, now=T0 + timedelta(minutes=3)) == sessions.REPLACED
    assert sessions.check(engine, second.session, 15, now=T0 + timedelta(minutes=3)) == ""
    assert sessions.open_sessions(engine, 15, now=T0 + timedelta(minutes=3))["username"].tolist() == ["zhou"]


def test_an_idle_session_times_out_by_the_clock(engine, settings):
    auth.add_user(engine, "wu", ENROLLMENT, "admin", password="Strong-Pass-2026", settings=settings, must_change=False)
    viewer = auth.sign_in(engine, "wu", "Strong-Pass-2026", now=T0, settings=settings)
    assert sessions.check(engine, viewer.session, 15, now=T0 + timedelta(minutes=14)) == ""  # a click renews it
    assert sessions.check(engine, viewer.session, 15, now=T0 + timedelta(minutes=28)) == ""
    assert sessions.check(engine, viewer.session, 15, now=T0 + timedelta(minutes=44)) == sessions.timed_out(15)
    assert sessions.check(engine, viewer.session, 15, now=T0 + timedelta(minutes=45)) == sessions.timed_out(15)


def test_disabling_an_account_or_changing_its_role_ends_its_session(engine, settings):
    auth.add_user(
        engine, "zheng", ENROLLMENT, "admin", password="Strong-Pass-2026", settings=settings, must_change=False
    )
    viewer = auth.sign_in(engine, "zheng", "Strong-Pass-2026", now=T0, settings=settings)
    auth.set_role(engine, "zheng", ASSISTANCE, None, by="anquan", now=T0)
    assert "角色已变更" in sessions.check(engine, viewer.session, 15, now=T0)
    viewer = auth.sign_in(engine, "zheng", "Strong-Pass-2026", now=T0, settings=settings)
    auth.set_active(engine, "zheng", False, by="admin", now=T0)
    assert sessions.check(engine, viewer.session, 15, now=T0) == "账户已停用"


# ---------------------------------------------------------------- 三员分立


def test_the_three_administrators_share_no_duty_and_see_no_resident_data_but_the_system_one():
    duties = {role: {a for a, roles in ACTIONS.items() if role in roles} for role in ADMIN_ROLES}
    assert duties == {ADMIN: {"outreach", "alerts", "load", "users"}, SECURITY: {"security"}, AUDITOR: {"audit"}}
    shared = {"10_help.py"}  # the manual: every role reads its own chapter
    pages = {role: {p for p, roles in PAGES.items() if role in roles} - shared for role in ADMIN_ROLES}
    assert pages[SECURITY] == {"8_security.py"} and pages[AUDITOR] == {"9_audit.py"}
    assert not pages[ADMIN] & (pages[SECURITY] | pages[AUDITOR])


def test_one_role_per_account_and_nobody_changes_their_own(engine, settings):
    _admin(engine, settings, "anquan", SECURITY)
    with pytest.raises(AuthError, match="自己的角色"):
        auth.set_role(engine, "anquan", ADMIN, None, by="anquan")
    auth.add_user(engine, "newbie", "", "admin", settings=settings)
    assert auth.users(engine).set_index("username").loc["newbie", "role"] == ""
    auth.set_role(engine, "newbie", AUDITOR, None, by="anquan")
    auth.set_role(engine, "newbie", ADMIN, None, by="anquan")
    roles = auth.users(engine).set_index("username")["role"]
    assert roles["newbie"] == ADMIN and roles["anquan"] == SECURITY  # the new role replaced the old one


def test_the_demo_has_one_account_of_each_administrator(engine):
    auth.demo_accounts(engine, [])
    roles = auth.users(engine)["role"].value_counts()
    assert all(roles[r] == 1 for r in ADMIN_ROLES)


# ---------------------------------------------------------------- policy


def test_the_security_administrator_tightens_the_lock_out(engine, settings):
    changed = policy.change(engine, {"lockout_failures": 3, "session_timeout_minutes": 15}, "anquan", settings, now=T0)
    assert changed == ["lockout_failures"]  # 15 minutes was already in force
    tight = policy.effective(engine, settings)
    assert tight.lockout_failures == 3 and tight.lockout_minutes == settings.lockout_minutes
    auth.add_user(engine, "qian", ENROLLMENT, "admin", password="Strong-Pass-2026", settings=tight)
    for i in range(3):
        with pytest.raises(AuthError):
            auth.sign_in(engine, "qian", "wrong", now=T0 + timedelta(minutes=i), settings=tight)
    assert auth.locked_accounts(engine, tight, now=T0 + timedelta(minutes=3)) == {
        "qian": T0 + timedelta(minutes=2 + tight.lockout_minutes)
    }
    assert auth.locked_until(engine, "qian", settings, now=T0 + timedelta(minutes=3)) is None  # 5 under config
    log = audit.entries(engine, action="安全策略")
    assert log[["username", "detail"]].values.tolist() == [["anquan", "5 → 3"]]
    with pytest.raises(policy.PolicyError, match="密码最短长度"):
        policy.change(engine, {"password_min_length": 6}, "anquan", settings)
    assert policy.change(engine, {"totp_for_everyone": 1}, "anquan", settings)
    assert (
        auth.sign_in(
            engine, "qian", "Strong-Pass-2026", now=T0 + timedelta(hours=2), settings=policy.effective(engine, settings)
        ).second_factor
        == "enrol"
    )
