"""The campaign page on the demo district: stored progress, the bulletin, SMS batches within the scope."""

from __future__ import annotations

import os

import pytest
from conftest import open_page
from streamlit.testing.v1 import AppTest

from monitor.security import audit
from monitor.security.access import ASSISTANCE, ENROLLMENT, LEADER, Viewer
from monitor.storage import queries, store
from monitor.storage.store import connect


@pytest.fixture
def demo(own_demo_db, monkeypatch):
    """A private copy of the demo database (the SMS batch is recorded and audited)."""
    monkeypatch.setenv("MONITOR_DB_URL", own_demo_db)
    return connect(own_demo_db)


def _app(viewer: Viewer) -> AppTest:
    return open_page(os.environ["MONITOR_DB_URL"], "7_campaign.py", viewer)


def test_campaign_page_shows_the_stored_progress_and_the_bulletin(demo):
    at = _app(Viewer("lingdao", LEADER))
    assert not at.exception and not at.error
    with demo.connect() as conn:
        stored = store.read_table(conn, store.campaign_progress, store.campaign_progress.c.level == "区县")
    day = store.get_meta(demo, "campaign_latest_payment_2026")
    root = stored[stored["day"] == day].iloc[0]
    assert {m.label: m.value for m in at.metric}["已缴费人数"] == f"{int(root['enrolled']):,}"
    assert len(at.dataframe[0].value) == 25  # every town ranked
    assert not [s for s in at.subheader if s.value == "短信提醒名单"]  # leadership: no personal lists


def test_sms_batch_within_the_scope_is_recorded_and_audited(demo):
    codes = queries.towns(demo).index.tolist()
    at = _app(Viewer("kuomian", ENROLLMENT, frozenset(codes[:1])))
    assert at.selectbox(key="sms_town").options == [at.selectbox(key="sms_town").options[0]]  # own town only
    at.button(key="sms_button").click().run()
    assert not at.exception
    batches = store.read_table(demo, store.sms_batches)
    assert batches["by"].tolist() == ["kuomian"] and batches["place"].tolist() == [codes[0]]
    assert audit.entries(demo, username="kuomian", action="导出")["object"].tolist() == ["短信提醒名单"]
    sent = at.dataframe[-1].value
    assert len(sent) == int(batches["rows"].iloc[0]) and sent["手机号"].str.fullmatch(r"1[3-9]\d{9}").all()


def test_assistance_staff_do_not_see_the_campaign_page(demo):
    at = _app(Viewer("jiuzhu", ASSISTANCE))
    assert at.error and not at.metric
