"""The security, audit and second-factor pages, and what a replaced or role-less session sees."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
from conftest import open_page

from monitor.security import audit, auth, second_factor, sessions
from monitor.security.access import (
    ADMIN,
    AUDITOR,
    ENROLLMENT,
    SECURITY,
    Viewer,
)
from monitor.security.auth import AuthError
from monitor.storage.store import connect

T0 = datetime(2026, 11, 23, 9, 0)


def _admin(engine, settings, username="xitong", role=ADMIN) -> str:
    password = "Strong-Pass-2026"
    auth.add_user(engine, username, role, "安装", password=password, now=T0, settings=settings, must_change=False)
    return password


def test_the_replaced_session_sees_the_reason_in_the_app(demo_copy):
    url, engine = demo_copy
    at = open_page(url, "1_overview.py", Viewer("lingdao", "领导"))
    assert at.metric
    sessions.start(engine, "lingdao")  # the same account signs in from another browser
    at.run()
    assert not at.metric and any("请先登录" in w.value for w in at.warning)
    at.switch_page("pages/0_sign_in.py").run()  # where the browser's navigation sends a viewer without a session
    assert any(sessions.REPLACED in i.value for i in at.info)
    assert [t.label for t in at.text_input] == ["用户名", "密码"]


def test_an_account_without_a_role_sees_no_page(demo_copy):
    url, _engine = demo_copy
    at = open_page(url, None, Viewer("newbie", ""))
    assert any("尚未分配角色" in i.value for i in at.info)
    assert not at.metric and not at.dataframe


@pytest.fixture
def demo_copy(own_demo_db, monkeypatch):
    monkeypatch.setenv("MONITOR_DB_URL", own_demo_db)
    return own_demo_db, connect(own_demo_db)


def test_security_page_shows_locks_sessions_password_ages_and_the_last_verification(demo_copy, settings):
    url, engine = demo_copy
    auth.add_user(engine, "sun", ENROLLMENT, "admin", password="Strong-Pass-2026", settings=settings)
    for _ in range(settings.lockout_failures):
        with pytest.raises(AuthError):
            auth.sign_in(engine, "sun", "wrong", settings=settings)
    audit.verify_and_record(engine, "shenji")
    at = open_page(url, "8_security.py", Viewer("anquan", SECURITY))
    assert not at.exception and not at.error
    assert any("sun" in w.value and "锁定" in w.value for w in at.warning)
    accounts = at.dataframe[0].value.set_index("用户名")
    assert accounts.loc["sun", "锁定至"] and accounts.loc["sun", "密码状态"] == "待本人修改"
    assert accounts.loc["sun", "密码已用天数"] == 0 and accounts.loc["sun", "动态口令"] == "不需要"
    assert "anquan" in at.dataframe[1].value["用户名"].tolist()  # the open sessions: its own at least
    assert any("审计链完整" in s.value for s in at.success)
    at.selectbox(key="security_user").set_value("sun").run()
    at.button(key="unlock").click().run()
    assert auth.locked_until(engine, "sun", settings) is None
    assert audit.entries(engine, username="anquan", action="用户变更")["detail"].tolist() == ["解除锁定"]


def test_audit_page_verifies_and_exports_for_the_audit_administrator_only(demo_copy):
    url, engine = demo_copy
    at = open_page(url, "9_audit.py", Viewer("shenji", AUDITOR))
    assert not at.exception and not at.error
    at.button(key="verify_audit").click().run()
    assert any("审计链完整" in s.value for s in at.success)
    for role in (ADMIN, SECURITY):
        denied = open_page(url, "9_audit.py", Viewer("x", role))
        assert denied.error and not denied.dataframe


def test_second_factor_page_binds_the_app(demo_copy, settings):
    url, engine = demo_copy
    _admin(engine, settings, "sysop")
    pending = auth.sign_in(engine, "sysop", "Strong-Pass-2026", settings=settings)
    at = open_page(url, None, pending)
    assert at.title[0].value == "动态口令验证" and at.get("image")
    secret = at.code[0].value
    at.text_input(key="totp_code").input(second_factor.code_at(secret, datetime.now()))
    at.button[0].click().run()  # the form's 验证 button
    assert not at.exception
    assert len(at.code[0].value.splitlines()) == 10  # the recovery codes, shown once
    at.button(key="recovery_codes_saved").click().run()
    assert dataclasses.asdict(at.session_state["viewer"])["session"]
    assert at.session_state["viewer"].role == ADMIN and not at.session_state["viewer"].second_factor
