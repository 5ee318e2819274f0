"""The user and security pages offer only the account changes 三员分立 allows: the system administrator's page
lists the staff's accounts only, the security administrator's page changes the administrators but not itself."""

from __future__ import annotations

import pytest
from conftest import open_page

from monitor.security import auth, trail
from monitor.security.access import ADMIN, AUDITOR, ENROLLMENT, SECURITY, Viewer
from monitor.storage.store import connect


@pytest.fixture
def demo_copy(own_demo_db, monkeypatch, tmp_path, settings):
    monkeypatch.setenv("MONITOR_DB_URL", own_demo_db)
    monkeypatch.setenv(trail.ENV_KEY_FILE, str(tmp_path / "audit_trail" / "audit.key"))
    monkeypatch.setenv(trail.ENV_CHECKPOINT_FILE, str(tmp_path / "audit_trail" / "audit_checkpoints.jsonl"))
    monkeypatch.setenv(trail.ENV_SYSLOG, "")
    engine = connect(own_demo_db)
    for username, role in (("xitong", ADMIN), ("anquan", SECURITY), ("shenji", AUDITOR), ("zhang", ENROLLMENT)):
        auth.add_user(engine, username, role, "安装", password="Strong-Pass-2026", settings=settings)
    return own_demo_db, engine


def _active(engine, username: str) -> bool:
    return bool(auth.users(engine).set_index("username").loc[username, "active"])


def test_the_system_administrator_is_offered_the_staff_accounts_only(demo_copy):
    url, engine = demo_copy
    at = open_page(url, "6_admin.py", Viewer("xitong", ADMIN))
    assert not at.exception and not at.error
    assert at.selectbox(key="edit_user").options == ["zhang"]
    at.button(key="deactivate").click().run()
    assert not _active(engine, "zhang") and _active(engine, "anquan")


def test_the_security_administrator_disables_an_administrator_but_not_itself(demo_copy):
    url, engine = demo_copy
    at = open_page(url, "8_security.py", Viewer("anquan", SECURITY))
    assert not at.exception and not at.error
    at.selectbox(key="security_user").set_value("xitong").run()
    assert not at.button(key="security_deactivate").disabled
    at.button(key="security_deactivate").click().run()
    assert not _active(engine, "xitong")
    at.selectbox(key="security_user").set_value("anquan").run()
    assert any("您自己的账户" in i.value for i in at.info)
    for key in ("unlock", "reset_totp", "security_reset_password", "security_deactivate", "security_activate"):
        assert at.button(key=key).disabled, key
    at.selectbox(key="security_user").set_value("zhang").run()  # a staff account: no administrator buttons
    assert "security_deactivate" not in {b.key for b in at.button}
