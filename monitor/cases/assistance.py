"""Help (帮扶, SPEC §10): measures recorded for verified alerts, the deadlines of each step, the loop in figures and
the 督办 list of a department's overdue alerts.

Measures come from the 预警 page (record_measure) and from the feedback file's optional columns (cases.feedback);
both are events of the alert's history and audited.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.cases.alert_case import (
    AlertState,
    WorkflowError,
    check_scope,
    need_user,
    read_states,
    record_events,
    stamp,
)
from monitor.config import Settings
from monitor.outputs import workbooks
from monitor.rules import loop
from monitor.rules.divisions import town_of
from monitor.security import audit
from monitor.security.access import Viewer
from monitor.storage import store


def measure_names(settings: Settings) -> list[str]:
    """The measures a bureau records: 医疗救助, 临时救助, 大病保险倾斜, 慈善救助, 其他 (config help_measure)."""
    return list(settings.value_aliases.get("help_measure", {}))


def record_measure(
    engine: Engine,
    year: int,
    id_number: str,
    measure: str,
    taken_on: date,
    amount_cents: int | None,
    user: str,
    settings: Settings,
    viewer: Viewer | None = None,
    now: datetime | None = None,
) -> None:
    """One measure for an alert verified as 纳入监测 or 已落实救助; its department is the batch's."""
    need_user(user)
    at = stamp(now)
    if measure not in measure_names(settings):
        raise WorkflowError(f"帮扶措施「{measure}」不在可选范围内（{'、'.join(measure_names(settings))}）")
    if taken_on > at.date():
        raise WorkflowError("帮扶日期不能晚于今天")
    if amount_cents is not None and amount_cents < 0:
        raise WorkflowError("帮扶金额不能为负")
    with engine.begin() as conn:
        check_scope(conn, year, [id_number], viewer, "alerts")
        found = read_states(conn, year, [id_number])
        if found.empty or found.iloc[0]["state"] != AlertState.VERIFIED:
            raise WorkflowError("只有已核实、尚未办结的预警可以登记帮扶措施")
        state = found.iloc[0]
        if state["result"] not in loop.HELP_RESULTS:
            raise WorkflowError(f"核实结果为「{state['result']}」的预警无需帮扶，可填写备注后直接办结")
        conn.execute(
            store.alert_measures.insert().values(
                year=year,
                id_number=id_number,
                kind=measure,
                taken_on=taken_on.isoformat(),
                amount=amount_cents,
                department=state["department"],
                recorded_at=str(at),
                recorded_by=user,
                source="页面",
            )
        )
        record_events(
            conn, [help_event(year, id_number, at, user, state["level"], measure, str(taken_on), amount_cents)]
        )
    audit.record(engine, user, "帮扶", f"{year} 年预警", f"{measure} {taken_on}", 1, now=at)


def help_event(
    year: int, id_number: str, at: datetime, user: str, level: str, kind: str, taken_on: str, amount_cents: int | None
) -> dict:
    """The event row of a help measure in the alert's history (the page's and the feedback file's alike)."""
    amount = "" if amount_cents is None else f"，{amount_cents / 100:.2f} 元"
    detail = f"{kind}（{taken_on}）{amount}"
    verified = AlertState.VERIFIED.value
    return {
        "year": year,
        "id_number": id_number,
        "at": str(at),
        "by": user,
        "action": "帮扶",
        "state_before": verified,
        "state_after": verified,
        "level": level,
        "detail": detail,
    }


def measures(engine: Engine, year: int, id_number: str | None = None) -> pd.DataFrame:
    """Measures of the year (of one person), in the order they were recorded."""
    where = store.alert_measures.c.year == year
    if id_number is not None:
        where &= store.alert_measures.c.id_number == id_number
    with engine.connect() as conn:
        return store.read_table(conn, store.alert_measures, where, [store.alert_measures.c.id])


def timelines(engine: Engine, year: int, settings: Settings, today: date | None = None) -> pd.DataFrame:
    """Every pushed alert of the year with its deadlines, overdue step and late steps (rules.loop.timelines)."""
    alerts = store.alerts
    with engine.connect() as conn:
        states = read_states(conn, year)
        places = store.read_select(
            conn,
            sa.select(alerts.c.id_number, alerts.c.village_code, alerts.c.trigger_date).where(alerts.c.year == year),
        )
    taken = measures(engine, year)[["id_number", "taken_on"]]
    return loop.timelines(states, taken, places, today or date.today(), settings.verify_days, settings.help_days)


def figures(engine: Engine, year: int, settings: Settings, by: list[str], today: date | None = None) -> pd.DataFrame:
    """The loop's figures of the year grouped by `by` (cohort, department, town_code; [] for the whole year)."""
    return loop.figures(timelines(engine, year, settings, today), by)


def supervision_file(
    engine: Engine, year: int, settings: Settings, department: str, names: pd.Series, today: date | None = None
) -> tuple[bytes, int]:
    """The 督办 xlsx of a department's overdue alerts, and its number of rows."""
    on = today or date.today()
    rows = overdue(engine, year, settings, department, on)
    village = rows["village_code"].fillna("")
    sheet = pd.DataFrame(
        {
            "姓名": rows["name"],
            "身份证号": rows["id_number"],
            "乡镇": town_of(village).map(names).where(village != "", "不在人口底册").fillna(""),
            "村社区": village.map(names).fillna(""),
            "推送批次": rows["batch_no"],
            "推送日期": rows["pushed_on"].dt.strftime("%Y-%m-%d"),
            "逾期环节": rows["overdue_step"],
            "应完成日期": rows["verify_due"]
            .where(rows["overdue_step"] == "核实", rows["help_due"])
            .dt.strftime("%Y-%m-%d"),
            "逾期天数": rows["overdue_days"],
        }
    )
    return workbooks.supervision(sheet, f"{year} 年高额费用预警督办清单", department, on), len(sheet)


def overdue(engine: Engine, year: int, settings: Settings, department: str, today: date | None = None) -> pd.DataFrame:
    """The department's overdue alerts with name, place and batch, most overdue first (the 督办 list)."""
    lines = timelines(engine, year, settings, today)
    lines = lines[lines["overdue"] & (lines["department"] == department)]
    alerts = store.alerts
    with engine.connect() as conn:
        people = store.read_select(
            conn, sa.select(alerts.c.id_number, alerts.c.name, alerts.c.village_code).where(alerts.c.year == year)
        )
        states = read_states(conn, year, lines["id_number"].tolist())
    rows = lines.merge(people, on="id_number", how="left").merge(
        states[["id_number", "batch_no"]], on="id_number", how="left"
    )
    return rows.sort_values(["overdue_days", "id_number"], ascending=[False, True]).reset_index(drop=True)
