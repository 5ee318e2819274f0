"""Access control in the query layer: town scope, masking, formula injection."""

from __future__ import annotations

import pandas as pd
import pytest

from monitor.cases import alert_case, feedback, push, visits
from monitor.outputs.neutralise import neutralise
from monitor.security.access import (
    ADMIN,
    ASSISTANCE,
    AUDITOR,
    ENROLLMENT,
    LEADER,
    SECURITY,
    AccessDenied,
    Viewer,
    mask_id,
    mask_name,
    mask_phone,
)
from monitor.storage import queries
from monitor.storage.store import connect
from monitor.web.views import alerts as alert_views
from monitor.web.views import outreach as outreach_views


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


def test_scope_is_enforced_in_the_query_layer(demo, settings):
    viewers = _viewers(demo)
    names = queries.division_names(demo)
    everyone = queries.outreach(demo, 2025)
    kuomian = viewers[ENROLLMENT]
    mine = outreach_views.rows(demo, 2025, names, kuomian)
    assert len(mine) == int(everyone["town_code"].isin(kuomian.towns).sum()) > 0
    assert set(mine["town_code"]) <= kuomian.towns
    for role in (LEADER, ASSISTANCE):
        with pytest.raises(AccessDenied):
            outreach_views.rows(demo, 2025, names, viewers[role])

    jiuzhu = viewers[ASSISTANCE]
    all_alerts = alert_case.alert_list(demo, 2025)
    seen = alert_views.rows(demo, 2025, names, jiuzhu)
    inside = all_alerts["village_code"].str.slice(0, 9).str.ljust(12, "0").isin(jiuzhu.towns)
    assert len(seen) == int(inside.sum()) > 0
    for role in (LEADER, ENROLLMENT):
        with pytest.raises(AccessDenied):
            alert_views.rows(demo, 2025, names, viewers[role])
    outsider = all_alerts.loc[~inside & (all_alerts["village_code"] != ""), "id_number"].iloc[0]
    with pytest.raises(AccessDenied):
        alert_views.person_settlements(demo, 2025, outsider, settings, jiuzhu)
    with pytest.raises(AccessDenied):
        push.push(demo, 2025, [outsider], "民政", "jiuzhu", names, settings, viewer=jiuzhu)
    with pytest.raises(AccessDenied):
        feedback.close(demo, 2025, [outsider], "备注", "jiuzhu", viewer=jiuzhu)
    unlisted = everyone.loc[~everyone["town_code"].isin(kuomian.towns) & (everyone["town_code"] != ""), "id_number"]
    with pytest.raises(AccessDenied):
        visits.record_outcome(demo, 2025, unlisted.iloc[0], "无法联系", "", "kuomian", viewer=kuomian)
    # The administrator sees every town, including persons outside the register.
    assert len(alert_views.rows(demo, 2025, names, viewers[ADMIN])) == len(all_alerts)


def test_feedback_for_someone_outside_the_scope_is_unknown(demo, settings, tmp_path):
    viewers, names = _viewers(demo), queries.division_names(demo)
    everyone = alert_case.alert_list(demo, 2025)
    push.push(demo, 2025, everyone["id_number"].tolist(), "民政", "admin", names, settings)
    jiuzhu = viewers[ASSISTANCE]
    inside = everyone["village_code"].str.slice(0, 9).str.ljust(12, "0").isin(jiuzhu.towns)
    mine, other = everyone.loc[inside, "id_number"].iloc[0], everyone.loc[~inside, "id_number"].iloc[0]
    reply = tmp_path / "reply.csv"
    reply.write_text(
        f"身份证号,年度,核实结果,核实日期,备注\n{mine},2025,纳入监测,2025-12-20,\n{other},2025,纳入监测,2025-12-20,\n",
        encoding="utf-8",
    )
    result = feedback.import_feedback(demo, reply, settings, "jiuzhu", "990101000000", viewer=jiuzhu)
    assert result.rows_loaded == 1
    assert result.rejects[["row", "reason"]].values.tolist() == [[3, "UNKNOWN_PERSON"]]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("11010519491231002X", "110105********002X"),
        ("990101199001011234", "990101********1234"),
        ("", ""),
    ],
)
def test_mask_id(raw, expected):
    assert mask_id(pd.Series([raw])).iloc[0] == expected


@pytest.mark.parametrize("raw, expected", [("张三", "张*"), ("欧阳娜娜", "欧***"), ("李", "李"), ("", "")])
def test_mask_name(raw, expected):
    assert mask_name(pd.Series([raw])).iloc[0] == expected


@pytest.mark.parametrize("raw, expected", [("13912345678", "139****5678"), ("0791-1234", "*********"), ("", "")])
def test_mask_phone(raw, expected):
    assert mask_phone(pd.Series([raw])).iloc[0] == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+86 139", "'+86 139"),
        ("@SUM(1)", "'@SUM(1)"),
        ("-1+2", "'-1+2"),
        ("-12.30", "-12.30"),
        ("+5", "+5"),
        ("张三", "张三"),
        ("\tcmd", "'\tcmd"),
    ],
)
def test_formula_injection_is_neutralised(raw, expected):
    assert neutralise(pd.Series([raw])).iloc[0] == expected


def test_masking_an_empty_list_gives_an_empty_list():  # a filter that leaves no row
    empty = pd.Series([], dtype="str")
    assert mask_name(empty).empty and mask_phone(empty).empty and mask_id(empty).empty
