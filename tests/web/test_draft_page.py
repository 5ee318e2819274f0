"""The monthly push drafts on 预警 · 推送与反馈: a prepared draft shows at once, an approver pushes the part inside
their towns, a discard is theirs only when their towns cover the whole draft, and it leaves the list."""

from __future__ import annotations

import pytest
from conftest import open_page

from monitor.cases import alert_case, push
from monitor.security import audit
from monitor.security.access import ADMIN, ASSISTANCE, Viewer
from monitor.storage import queries
from monitor.storage.store import connect
from monitor.web.markup import plain

PENDING = "待审批的推送草稿"


@pytest.fixture
def demo(own_demo_db, monkeypatch):
    monkeypatch.setenv("MONITOR_DB_URL", own_demo_db)
    engine = connect(own_demo_db)
    yield engine
    engine.dispose()


def _shown(at) -> list[str]:
    return [m.value for m in at.markdown]


def _listed(at, draft: int) -> bool:
    return PENDING in [s.value for s in at.subheader] and any(plain(f"草稿 #{draft}：") in t for t in _shown(at))


def test_a_prepared_draft_shows_at_once_and_the_administrator_pushes_it_all(demo):
    at = open_page(str(demo.url), "4_alerts.py", Viewer("admin", ADMIN))
    assert not at.exception and PENDING not in [s.value for s in at.subheader]
    waiting = int(at.metric[4].value.replace(",", ""))
    assert waiting > 0

    draft = push.prepare_draft(demo, 2025, "民政")  # as the monthly job does: no data version changes
    at.run()
    assert _listed(at, draft)

    at.button(key=f"approve_{draft}").click().run()
    assert not at.exception and not at.error, at.error
    assert any(plain(f"草稿 #{draft} 已推送") in s.value and plain(f"{waiting} 人") in s.value for s in at.success)
    assert PENDING not in [s.value for s in at.subheader]  # approved: no longer pending
    assert at.metric[4].value == "0"


def test_a_town_approver_pushes_their_part_and_cannot_discard_the_rest(demo):
    towns = frozenset(queries.towns(demo).index[:3])
    jiuzhu = Viewer("jiuzhu", ASSISTANCE, towns)
    alerts = alert_case.alert_list(demo, 2025)
    waiting = alerts[alerts["state"] == "待推送"]
    mine = int(jiuzhu.in_scope(waiting["village_code"]).sum())
    assert 0 < mine < len(waiting)
    draft = push.prepare_draft(demo, 2025, "民政")

    at = open_page(str(demo.url), "4_alerts.py", jiuzhu)
    assert _listed(at, draft) and any(plain(f"您乡镇范围内待推送 {mine} 人") in t for t in _shown(at))
    assert at.button(key=f"discard_{draft}").disabled  # the draft reaches beyond their towns
    at.button(key=f"approve_{draft}").click().run()
    assert not at.exception and not at.error, at.error
    assert any(plain(f"{mine} 人；范围外") in s.value for s in at.success)
    rest = int(push.pending_drafts(demo, 2025)["id"].iloc[0])
    assert at.button(key=f"approve_{rest}").disabled  # nothing of theirs is left in it
    assert at.button(key=f"discard_{rest}").disabled

    admin = open_page(str(demo.url), "4_alerts.py", Viewer("admin", ADMIN))
    assert _listed(admin, rest)
    admin.button(key=f"discard_{rest}").click().run()
    assert not admin.exception and not admin.error, admin.error
    assert any(plain(f"草稿 #{rest} 已放弃") in s.value for s in admin.success)
    assert PENDING not in [s.value for s in admin.subheader]  # it leaves the list
    entries = audit.entries(demo, username="admin", action=push.DISCARD_ACTION)
    assert entries["object"].tolist() == [f"草稿批次 #{rest}"]
