"""Help measures (SPEC §10) from the feedback file and the page, closing only after help, and the loop's figures."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa
from test_workflow import NAMES, A, B, D, loads  # noqa: F401 - the fixture of the same tiny district

from monitor.cases import alert_case, assistance, feedback, push
from monitor.cases.alert_case import WorkflowError
from monitor.load.pipeline import run_load
from monitor.security import audit
from monitor.storage import store
from monitor.storage.store import connect

PUSHED, REPLIED = datetime(2025, 12, 1, 9, 0), datetime(2025, 12, 5, 9, 0)


@pytest.fixture
def pushed(loads, db_url, settings):  # noqa: F811
    engine = connect(db_url)
    run_load(loads[0], settings, engine, year=2025)
    push.push(engine, 2025, [A, B, D], "民政", "张科员", NAMES, settings, now=PUSHED)
    return engine


def test_feedback_rows_carry_help_measures_one_per_row(pushed, tmp_path, settings):
    reply = tmp_path / "反馈.csv"
    reply.write_text(
        "身份证号,年度,核实结果,核实日期,备注,帮扶措施,帮扶日期,帮扶金额\n"
        f"{A},2025,纳入监测,2025-12-03,,医疗救助,2025-12-04,1500\n"  # row 2
        f"{A},2025,纳入监测,2025-12-03,,临时救助资金,2025-12-04,\n"  # row 3: an unknown measure
        f"{A},2025,纳入监测,2025-12-03,,慈善救助,2025-12-05,300.5\n"  # row 4
        f"{B},2025,不符合条件,2025-12-03,家庭收入超标,医疗救助,2025-12-04,\n"  # row 5: no help is due
        f"{D},2025,已落实救助,2025-12-03,,大病保险倾斜,,\n"  # row 6: a measure without its date
        f"{D},2025,已落实救助,2025-12-03,,,,\n",  # row 7
        encoding="utf-8",
    )
    result = feedback.import_feedback(pushed, reply, settings, "李科员", "990101000000", now=REPLIED)
    assert result.rejects[["row", "reason", "column"]].values.tolist() == [
        [3, "UNKNOWN_VALUE", "帮扶措施"],
        [5, "HELP_NOT_NEEDED", "帮扶措施"],
        [6, "MISSING_VALUE", "帮扶日期"],
    ]
    taken = assistance.measures(pushed, 2025)
    assert taken[["id_number", "kind", "taken_on", "amount", "department"]].values.tolist() == [
        [A, "医疗救助", "2025-12-04", 150_000, "民政"],
        [A, "慈善救助", "2025-12-05", 30_050, "民政"],
    ]
    assert set(taken["source"]) == {f"反馈导入 #{result.import_id}"}
    actions = alert_case.history(pushed, 2025, A)["action"].tolist()
    assert actions == ["生成", "推送", "核实", "帮扶", "帮扶"]
    assert feedback.close(pushed, 2025, [A, D], "", "李科员", now=REPLIED) == 1  # D has no measure yet


def test_measures_on_the_page_and_closing(pushed, tmp_path, settings):
    reply = tmp_path / "反馈.csv"
    reply.write_text(
        f"身份证号,年度,核实结果,核实日期,备注\n{A},2025,纳入监测,2025-12-03,\n{B},2025,无法联系,2025-12-03,\n",
        encoding="utf-8",
    )
    feedback.import_feedback(pushed, reply, settings, "李科员", "990101000000", now=REPLIED)
    with pytest.raises(WorkflowError, match="帮扶措施"):
        feedback.close(pushed, 2025, [A], "已纳入监测", "李科员")
    with pytest.raises(WorkflowError, match="无需帮扶"):
        assistance.record_measure(pushed, 2025, B, "医疗救助", date(2025, 12, 4), None, "李科员", settings)
    with pytest.raises(WorkflowError, match="晚于今天"):
        assistance.record_measure(pushed, 2025, A, "医疗救助", date(2025, 12, 9), None, "李科员", settings, now=REPLIED)
    with pytest.raises(WorkflowError, match="已核实"):
        assistance.record_measure(pushed, 2025, D, "医疗救助", date(2025, 12, 4), None, "李科员", settings)
    assistance.record_measure(pushed, 2025, A, "临时救助", date(2025, 12, 4), 80_000, "李科员", settings, now=REPLIED)
    with pytest.raises(WorkflowError, match="备注"):
        feedback.close(pushed, 2025, [B], "", "李科员")
    assert feedback.close(pushed, 2025, [A, B], "已处理", "李科员", now=REPLIED) == 2
    assert audit.entries(pushed, action="帮扶")["rows"].tolist() == [1]


def test_the_loop_in_figures_and_the_overdue_list(pushed, tmp_path, settings):
    reply = tmp_path / "反馈.csv"
    reply.write_text(
        f"身份证号,年度,核实结果,核实日期,备注\n{A},2025,纳入监测,2025-12-03,\n{B},2025,不符合条件,2025-12-20,\n",
        encoding="utf-8",
    )
    feedback.import_feedback(pushed, reply, settings, "李科员", "990101000000", now=datetime(2025, 12, 20, 9))
    figures = assistance.figures(pushed, 2025, settings, ["cohort", "department"], today=date(2026, 1, 10))
    row = figures.iloc[0]
    assert (row["cohort"], row["department"], row["pushed"], row["verified"], row["late"]) == (
        "2025-12",
        "民政",
        3,
        2,
        1,
    )
    # D was never verified (due 12-16); A's help was due on 2026-01-02 (12-03 + 30)
    late = assistance.overdue(pushed, 2025, settings, "民政", today=date(2026, 1, 10))
    assert late[["id_number", "overdue_step", "overdue_days"]].values.tolist() == [[D, "核实", 25], [A, "帮扶", 8]]
    with pushed.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.alert_measures)).scalar() == 0
