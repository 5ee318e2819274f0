"""Access on the pages: every role against every page, the forced password change, audited unmasking, idle sessions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from conftest import open_page
from streamlit.testing.v1 import AppTest

from monitor.security import audit
from monitor.security.access import (
    ADMIN,
    ASSISTANCE,
    AUDITOR,
    ENROLLMENT,
    LEADER,
    ROLES,
    SECURITY,
    Viewer,
)
from monitor.security.access import (
    ROLES_BY_PAGE as PAGES,
)
from monitor.storage import queries
from monitor.storage.store import connect


@pytest.fixture
def demo(own_demo_db, monkeypatch):
    """A private copy of the demo database (these tests write audit rows and workflow changes)."""
    monkeypatch.setenv("MONITOR_DB_URL", own_demo_db)
    return connect(own_demo_db)


def _towns(engine, n: int) -> frozenset[str]:
    codes = queries.towns(engine).index.tolist()
    return frozenset(codes[:n])


def _viewers(engine) -> dict[str, Viewer]:
    return {
        LEADER: Viewer("lingdao", LEADER),
        ENROLLMENT: Viewer("kuomian", ENROLLMENT, _towns(engine, 3)),
        ASSISTANCE: Viewer("jiuzhu", ASSISTANCE, _towns(engine, 5)),
        ADMIN: Viewer("admin", ADMIN),
        SECURITY: Viewer("anquan", SECURITY),
        AUDITOR: Viewer("shenji", AUDITOR),
    }


def _app(engine, page: str | None, viewer: Viewer, **state) -> AppTest:
    return open_page(str(engine.url), page, viewer, **state)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_role_on_every_page(demo, role, page):
    viewer = _viewers(demo)[role]
    at = _app(demo, page, viewer)
    assert not at.exception, at.exception
    if role in PAGES[page]:
        assert not at.error
        assert at.header or at.subheader
    else:
        assert at.error and "无权" in at.error[0].value
        assert not at.dataframe and not at.metric and not at.get("vega_lite_chart")


def test_the_app_asks_for_a_new_password_before_anything_else(demo):
    viewer = Viewer("liu", ASSISTANCE, None, must_change=True)
    at = _app(demo, None, viewer)
    assert [t.label for t in at.text_input] == ["原密码", "新密码", "再次输入新密码"]
    asked = _app(demo, "4_alerts.py", viewer)  # a page asked for directly shows nothing of it
    assert not asked.metric and not asked.dataframe


def test_unmasked_view_is_audited(demo):
    at = _app(demo, "4_alerts.py", Viewer("jiuzhu", ASSISTANCE, _towns(demo, 5)))
    table = at.dataframe[0]
    assert table.value["身份证号"].str.contains(r"\*{8}").all()
    at.session_state["alert_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    at.button(key="alert_unmask").click().run()
    assert not at.exception
    entries = audit.entries(demo, username="jiuzhu", action="查看明细")
    assert len(entries) == 1 and entries["object"].iloc[0] == "预警"
    shown = at.dataframe[0].value["身份证号"].iloc[0]  # the person, masked as the list shows them
    assert entries["detail"].iloc[0].endswith(f"，{shown}") and "********" in shown
    assert any("********" not in m.value and "**" in m.value for m in at.markdown)


def test_an_idle_session_ends(demo):
    at = _app(demo, "1_overview.py", Viewer("admin", ADMIN), last_seen=datetime.now() - timedelta(minutes=16))
    assert not at.metric
    assert any("自动退出" in i.value for i in at.info) or any("请先登录" in w.value for w in at.warning)
    ended = audit.entries(demo, username="admin", action="退出")
    assert len(ended) == 1 and "15 分钟未操作" in ended["detail"].iloc[0]
