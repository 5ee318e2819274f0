"""Alert workflow and enrollment follow-up, walked end to end on a tiny hand-built district.

Thresholds (SPEC §9 defaults, no identities, rural village): R2 = 50% × 23,119 = 11,559.50 yuan.
A: 15,000 oop in load 1 (ratio 1.30, 黄), +10,000 in load 3 (2.16, 红). B: 20,000 (1.73, 橙). D: 12,000 (黄).
E is in the register and not enrolled: on the outreach list until load 3 enrolls E.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from etl.cli import main
from monitor.cases import alert_case, assistance, feedback, push, visits
from monitor.cases.alert_case import WorkflowError
from monitor.demo.people import id_numbers
from monitor.load.pipeline import run_load
from monitor.storage import queries, store
from monitor.storage.store import connect

BIRTHS = pd.Series(pd.to_datetime(["1960-01-01", "1962-02-02", "1970-03-03", "1980-04-04", "1990-05-05"]))
A, B, C, D, E = id_numbers(np.full(5, 990101), BIRTHS, np.array([True, False, True, False, True]))
NAMES = pd.Series({"990101001000": "甲镇", "990101001201": "甲村"})
T1, T2, T3 = (datetime(2025, 12, d, 9, 0) for d in (1, 5, 9))


def _csv(folder, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture
def loads(tmp_path):
    first, third = tmp_path / "load1", tmp_path / "load3"
    _csv(
        first,
        "divisions.csv",
        "区划代码,名称,城乡分类代码\n990101000000,青禾区,\n990101001000,甲镇,\n990101001201,甲村,220\n",
    )
    people = "\n".join(f"{p},{n},990101001201" for p, n in ((A, "甲"), (B, "乙"), (D, "丁"), (E, "戊")))
    _csv(first, "population.csv", f"身份证号,姓名,村社区代码\n{people}\n")
    enrolled = "\n".join(f"{p},居民,2025,正常参保" for p in (A, B, D))
    _csv(first, "enrollment.csv", f"身份证号,险种,参保年度,参保状态\n{enrolled}\n")
    _csv(
        first,
        "settlements.csv",
        f"结算流水号,身份证号,结算日期,就诊类型,医疗总费用\nS1,{A},2025-03-01,住院,15000\n"
        f"S2,{B},2025-04-01,住院,20000\nS3,{D},2025-05-01,住院,12000\n",
    )
    _csv(third, "settlements.csv", f"结算流水号,身份证号,结算日期,就诊类型,医疗总费用\nS4,{A},2025-11-01,住院,10000\n")
    _csv(
        third,
        "enrollment.csv",
        "身份证号,险种,参保年度,参保状态\n" + "\n".join(f"{p},居民,2025,正常参保" for p in (A, B, D, E)) + "\n",
    )
    return first, third


def _state(engine, person):
    with engine.connect() as conn:
        return dict(
            conn.execute(
                sa.select(store.alert_states).where(
                    (store.alert_states.c.year == 2025) & (store.alert_states.c.id_number == person)
                )
            )
            .mappings()
            .one()
        )


def test_an_alert_walks_through_every_state(loads, tmp_path, db_url, settings):
    first, third = loads
    engine = connect(db_url)
    run_load(first, settings, engine, year=2025)
    levels = alert_case.alert_list(engine, 2025).set_index("id_number")["level"]
    assert (levels[A], levels[B], levels[D]) == ("黄", "橙", "黄")

    pushed = push.push(engine, 2025, [A, B], "民政", "张科员", NAMES, settings, now=T1)
    assert (pushed.batch_no, pushed.rows) == ("20251201-001", 2)
    assert push.batch_file(engine, pushed.batch_no) == pushed.content  # downloaded again: the same bytes
    assert push.batch_file(engine, pushed.batch_no) == pushed.content
    sheet = pd.read_excel(pd.io.common.BytesIO(pushed.content), header=1, dtype={"身份证号": str}, engine="calamine")
    assert sheet.columns.tolist() == [
        "序号",
        "姓名",
        "身份证号",
        "乡镇",
        "村社区",
        "身份类别",
        "医疗总费用",
        "基本医保支付",
        "大病保险支付",
        "医疗救助支付",
        "个人负担",
        "预警等级",
        "触发日期",
        "推送批次",
    ]
    assert sheet["身份证号"].tolist() == [B, A]  # alert order: 橙 before 黄
    assert sheet["个人负担"].tolist() == [20000.0, 15000.0] and set(sheet["推送批次"]) == {"20251201-001"}
    assert _state(engine, A)["state"] == "已推送"
    with pytest.raises(WorkflowError, match="没有待推送"):
        push.push(engine, 2025, [A], "民政", "张科员", NAMES, settings)

    reply = tmp_path / "反馈.csv"
    reply.write_text(
        "身份证号,年度,核实结果,核实日期,备注\n"
        f"{A},2025,纳入监测,2025-12-03,已入户\n"  # row 2: verified
        f"{B},2025,不知道,2025-12-03,\n"  # row 3: UNKNOWN_VALUE
        f"{C},2025,纳入监测,2025-12-03,\n"  # row 4: no alert for C
        f"{D},2025,纳入监测,2025-12-03,\n"  # row 5: D was never pushed
        "12345,2025,纳入监测,2025-12-03,\n"  # row 6: BAD_ID
        f"{A},2025,纳入监测,2025-12-03,已入户\n",  # row 7: DUPLICATE_ROW
        encoding="utf-8",
    )
    result = feedback.import_feedback(engine, reply, settings, "李科员", "990101000000", now=T2)
    assert (result.rows_read, result.rows_loaded) == (6, 1)
    assert result.rejects[["row", "reason"]].values.tolist() == [
        [3, "UNKNOWN_VALUE"],
        [4, "UNKNOWN_PERSON"],
        [5, "NOT_PUSHED"],
        [6, "BAD_ID"],
        [7, "DUPLICATE_ROW"],
    ]
    assert feedback.feedback_rejects(engine, result.import_id)["row"].tolist() == [3, 4, 5, 6, 7]
    a = _state(engine, A)
    assert (a["state"], a["result"], a["verified_on"], a["updated_by"]) == (
        "已核实",
        "纳入监测",
        "2025-12-03",
        "李科员",
    )
    assert _state(engine, B)["state"] == "已推送"

    with pytest.raises(WorkflowError, match="帮扶措施"):  # 纳入监测 closes only after a help measure
        feedback.close(engine, 2025, [A], "已纳入民政监测", "李科员")
    with pytest.raises(WorkflowError, match="已核实"):
        feedback.close(engine, 2025, [B], "无需处理", "李科员")
    assistance.record_measure(engine, 2025, A, "临时救助", T2.date(), 200_000, "李科员", settings, now=T2)
    assert feedback.close(engine, 2025, [A, B], "已纳入民政监测", "李科员", now=T2) == 1
    assert _state(engine, A)["state"] == "已办结"

    run_load(first, settings, engine, year=2025)  # a reload never resets a state
    assert _state(engine, A)["state"] == "已办结" and _state(engine, D)["state"] == "待推送"

    run_load(third, settings, engine, year=2025)  # A's oop rises to 25,000: 红, after a push → 待推送, 升级
    a = _state(engine, A)
    assert (a["state"], a["level"], a["upgraded"], a["batch_no"], a["result"]) == (
        "待推送",
        "红",
        True,
        "20251201-001",
        "纳入监测",
    )
    run_load(None, settings, engine, year=2025)
    assert _state(engine, A)["state"] == "待推送"
    again = push.push(engine, 2025, [A], "乡村振兴", "张科员", NAMES, settings, now=T3)
    assert again.batch_no == "20251209-001" and _state(engine, A)["upgraded"] is False

    actions = alert_case.history(engine, 2025, A)[["action", "state_before", "state_after", "by"]].values.tolist()
    assert actions == [
        ["生成", "", "待推送", "system"],
        ["推送", "待推送", "已推送", "张科员"],
        ["核实", "已推送", "已核实", "李科员"],
        ["帮扶", "已核实", "已核实", "李科员"],
        ["办结", "已核实", "已办结", "李科员"],
        ["升级", "已办结", "待推送", "system"],
        ["推送", "待推送", "已推送", "张科员"],
    ]
    stats = alert_case.statistics(engine, 2025)
    assert stats.values.tolist() == [["2025-12", "乡村振兴", "纳入监测", 1], ["2025-12", "民政", "未反馈", 1]]


def test_push_needs_a_known_department_and_an_operator(loads, sqlite_url, settings):
    engine = connect(sqlite_url)
    run_load(loads[0], settings, engine, year=2025)
    with pytest.raises(WorkflowError, match="不在配置的部门"):
        push.push(engine, 2025, [A], "公安", "张科员", NAMES, settings)
    with pytest.raises(WorkflowError, match="操作人"):
        push.push(engine, 2025, [A], "民政", " ", NAMES, settings)


def test_push_and_feedback_from_the_command_line(loads, tmp_path, sqlite_url, capsys):
    assert main(["run", "--inbox", str(loads[0]), "--db", sqlite_url]) == 0
    out = tmp_path / "batch.xlsx"
    assert (
        main(["push", "--department", "民政", "--level", "橙", "--out", str(out), "--user", "cli", "--db", sqlite_url])
        == 0
    )
    sheet = pd.read_excel(out, header=1, dtype={"身份证号": str}, engine="calamine")
    assert sheet["身份证号"].tolist() == [B]
    reply = tmp_path / "reply.xlsx"
    pd.DataFrame(
        {
            "身份证号": [B, A],
            "年度": [2025, 2025],
            "核实结果": ["已落实救助", "纳入监测"],
            "核实日期": ["2025-12-20", "2025-12-20"],
            "备注": ["", ""],
        }
    ).to_excel(reply, index=False)
    rejects = tmp_path / "rejects.csv"
    assert main(["feedback", "--file", str(reply), "--rejects", str(rejects), "--user", "cli", "--db", sqlite_url]) == 0
    printed = capsys.readouterr().out
    assert "核实 1，拒收 1" in printed and "NOT_PUSHED" in printed
    assert "NOT_PUSHED" in rejects.read_text(encoding="utf-8-sig")


def test_outcomes_survive_reloads_and_stay_after_enrollment(loads, db_url, settings):
    first, third = loads
    engine = connect(db_url)
    run_load(first, settings, engine, year=2025)
    assert E in set(queries.outreach(engine, 2025)["id_number"])
    with pytest.raises(WorkflowError, match="备注"):
        visits.record_outcome(engine, 2025, E, "已死亡或迁出", "", "王专员")
    with pytest.raises(WorkflowError, match="不在本年度的扩面名单"):
        visits.record_outcome(engine, 2025, A, "拒绝参保", "", "王专员")
    visits.record_outcome(engine, 2025, E, "无法联系", "", "王专员", now=T1)
    visits.record_outcome(engine, 2025, E, "已动员参保", "已缴费", "王专员", now=T2)
    run_load(first, settings, engine, year=2025)
    assert visits.current_outcomes(engine, 2025)[["id_number", "outcome"]].values.tolist() == [[E, "已动员参保"]]
    run_load(third, settings, engine, year=2025)  # E is enrolled now: off the list, the history stays
    assert E not in set(queries.outreach(engine, 2025)["id_number"])
    assert visits.outcomes(engine, 2025)["outcome"].tolist() == ["无法联系", "已动员参保"]
