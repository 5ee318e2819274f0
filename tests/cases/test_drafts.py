"""The monthly push draft: prepared by the job, pushed only once approved."""

from __future__ import annotations

import pytest
from conftest import GOLDEN

from etl.cli import main
from monitor.storage import queries
from monitor.storage.store import connect


def test_monthly_draft_waits_for_approval(sqlite_url, settings):
    from monitor.cases import alert_case, push

    engine = connect(sqlite_url)
    assert (
        main(["run", "--inbox", str(GOLDEN / "load1"), "--year", "2025", "--as-of", "2025-06-30", "--db", sqlite_url])
        == 0
    )
    draft = push.prepare_draft(engine, 2025, "民政")
    pending = alert_case.alert_list(engine, 2025)
    assert set(pending["state"]) == {"待推送"}  # nothing pushed by the job itself
    names = queries.division_names(engine)
    result = push.approve_draft(engine, draft, "审批人", names, settings)
    assert result.rows == len(pending)
    assert push.drafts(engine, 2025)[["status", "batch_no"]].values.tolist() == [["已推送", result.batch_no]]
    with pytest.raises(alert_case.WorkflowError, match="已推送"):
        push.discard_draft(engine, draft, "审批人")
    assert push.prepare_draft(engine, 2025, "民政") is None  # nothing left to push


@pytest.fixture
def loaded(sqlite_url):
    """The golden first load: four alerts 待推送, one in 青禾街道 (990101001000), two in 溪口镇 (990101002000), one of
    a person outside the register."""
    assert (
        main(["run", "--inbox", str(GOLDEN / "load1"), "--year", "2025", "--as-of", "2025-06-30", "--db", sqlite_url])
        == 0
    )
    return connect(sqlite_url)


def _in_town(engine, town: str) -> list[str]:
    from monitor.cases import alert_case

    alerts = alert_case.alert_list(engine, 2025)
    return sorted(alerts.loc[alerts["village_code"].str.startswith(town[:9]), "id_number"])


def _pending(engine) -> list[list]:
    from monitor.cases import push

    return push.pending_drafts(engine, 2025)[["rows", "status"]].values.tolist()


def test_the_all_town_administrator_approves_the_whole_draft(loaded, settings):
    """A draft may hold a person whose alert a later load recomputed away (the state stays 待推送): the all-town
    administrator still approves it, and the persons that are alerts are pushed."""
    from monitor.cases import alert_case, push
    from monitor.security.access import ADMIN, Viewer
    from monitor.storage import store

    with loaded.begin() as conn:
        conn.execute(
            store.alert_states.insert().values(
                year=2025, id_number="990101198001010011", state="待推送", level="黄", upgraded=False
            )
        )
    draft = push.prepare_draft(loaded, 2025, "民政")
    result = push.approve_draft(
        loaded, draft, "admin", queries.division_names(loaded), settings, viewer=Viewer("admin", ADMIN)
    )
    assert result.rows == len(alert_case.alert_list(loaded, 2025)) == 4
    assert set(alert_case.alert_list(loaded, 2025)["state"]) == {"已推送"}
    assert _pending(loaded) == []


def test_a_town_approver_pushes_their_towns_and_the_rest_stays_a_draft(loaded, settings):
    from monitor.cases import alert_case, push
    from monitor.security.access import ADMIN, ASSISTANCE, Viewer

    names = queries.division_names(loaded)
    xikou, qinghe = Viewer("xikou", ASSISTANCE, frozenset({"990101002000"})), "990101001000"
    draft = push.prepare_draft(loaded, 2025, "民政")
    listed = push.pending_drafts(loaded, 2025, xikou)
    assert listed[["id", "rows", "mine", "others", "whole"]].values.tolist() == [[draft, 4, 2, 2, False]]

    result = push.approve_draft(loaded, draft, "xikou", names, settings, viewer=xikou)
    assert result.rows == 2
    pushed = alert_case.alert_list(loaded, 2025).set_index("id_number")["state"]
    assert sorted(pushed[pushed == "已推送"].index) == _in_town(loaded, "990101002000")
    every = push.drafts(loaded, 2025).set_index("id")
    assert every.loc[draft, ["status", "rows", "batch_no"]].tolist() == ["已推送", 2, result.batch_no]
    assert _pending(loaded) == [[2, "待审批"]]  # the rest, for the approvers of its towns

    rest = int(push.pending_drafts(loaded, 2025)["id"].iloc[0])
    with pytest.raises(alert_case.WorkflowError, match="没有您乡镇范围内待推送的预警"):
        push.approve_draft(loaded, rest, "xikou", names, settings, viewer=xikou)
    town = Viewer("qinghe", ASSISTANCE, frozenset({qinghe}))
    assert push.approve_draft(loaded, rest, "qinghe", names, settings, viewer=town).rows == 1
    last = int(push.pending_drafts(loaded, 2025)["id"].iloc[0])  # the person outside the register: every town only
    assert push.approve_draft(loaded, last, "admin", names, settings, viewer=Viewer("admin", ADMIN)).rows == 1
    assert _pending(loaded) == []
    assert set(alert_case.alert_list(loaded, 2025)["state"]) == {"已推送"}


def test_only_a_viewer_of_every_town_of_a_draft_discards_it_and_it_is_audited(loaded, settings):
    from monitor.cases import alert_case, push
    from monitor.security import audit
    from monitor.security.access import ADMIN, ASSISTANCE, AccessDenied, Viewer

    xikou = Viewer("xikou", ASSISTANCE, frozenset({"990101002000"}))
    draft = push.prepare_draft(loaded, 2025, "民政")
    with pytest.raises(AccessDenied, match="乡镇范围以外"):
        push.discard_draft(loaded, draft, "xikou", viewer=xikou)
    assert _pending(loaded) == [[4, "待审批"]]
    assert audit.entries(loaded, action=push.DISCARD_ACTION).empty

    push.discard_draft(loaded, draft, "admin", viewer=Viewer("admin", ADMIN))
    assert _pending(loaded) == []  # it leaves the list
    assert push.drafts(loaded, 2025)[["status", "decided_by"]].values.tolist() == [["已放弃", "admin"]]
    entry = audit.entries(loaded, action=push.DISCARD_ACTION)
    assert entry[["username", "object", "rows"]].values.tolist() == [["admin", f"草稿批次 #{draft}", 4]]
    assert set(alert_case.alert_list(loaded, 2025)["state"]) == {"待推送"}  # nothing pushed
    with pytest.raises(alert_case.WorkflowError) as raised:
        push.discard_draft(loaded, draft, "admin")
    assert str(raised.value) == f"草稿批次 #{draft} 已放弃"  # not 已已放弃

    # A draft wholly inside the viewer's towns is theirs to discard.
    others = [i for i in alert_case.alert_list(loaded, 2025)["id_number"] if i not in _in_town(loaded, "990101002000")]
    push.push(loaded, 2025, others, "民政", "admin", queries.division_names(loaded), settings)
    own = push.prepare_draft(loaded, 2025, "民政")
    assert push.pending_drafts(loaded, 2025, xikou)[["rows", "whole"]].values.tolist() == [[2, True]]
    push.discard_draft(loaded, own, "xikou", viewer=xikou)
    assert _pending(loaded) == []
