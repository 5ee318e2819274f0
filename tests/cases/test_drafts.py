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
