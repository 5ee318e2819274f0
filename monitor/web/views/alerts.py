"""预警: the alert list with its workflow state, filters, and one person's costs over the year."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.cases import alert_case
from monitor.config import Settings
from monitor.rules.alert_rules import ALERT_LEVELS
from monitor.rules.costs import netted_settlements
from monitor.rules.divisions import town_of
from monitor.security.access import AccessDenied, Viewer, mask_id, mask_name
from monitor.storage import lake, store

LEVELS = ALERT_LEVELS  # the filter's options, most severe first
LIST_HEADERS = {
    "level": "预警等级",
    "alert_type": "预警类型",
    "name": "姓名",
    "id_number": "身份证号",
    "town": "乡镇",
    "village": "村社区",
    "identity_type": "身份类别",
    "total_yuan": "医疗总费用(元)",
    "measure_yuan": "个人负担(元)",
    "threshold_yuan": "预警阈值(元)",
    "rules": "触发规则",
    "trigger_date": "触发日期",
    "state": "状态",
    "overdue": "逾期",
}
FUNDS = (
    ("basic_paid", "基本医保"),
    ("critical_paid", "大病保险"),
    ("assistance_paid", "医疗救助"),
    ("other_paid", "其他支付"),
)


def rows(engine: Engine, year: int, names: pd.Series, viewer: Viewer) -> pd.DataFrame:
    """Alerts of the year within the viewer's towns, with state, place names and amounts in yuan (floats)."""
    viewer.require("alerts")
    frame = alert_case.alert_list(engine, year)
    frame = frame[viewer.in_scope(frame["village_code"])].reset_index(drop=True)
    frame["town_code"] = town_of(frame["village_code"]).where(frame["village_code"] != "", "")
    frame["town"] = frame["town_code"].map(names).where(frame["village_code"] != "", "（不在底册）").fillna("（未知）")
    frame["village"] = (
        frame["village_code"].map(names).where(frame["village_code"] != "", "（不在底册）").fillna("（未知）")
    )
    for cents, out in (("total_cost", "total_yuan"), ("measure", "measure_yuan"), ("threshold", "threshold_yuan")):
        frame[out] = (frame[cents].astype("float64") / 100).round(2)
    frame["identity_type"] = frame["identity_type"].fillna("")
    return frame


def with_overdue(frame: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """The list with each alert's overdue step (核实逾期 / 帮扶逾期, from cases.assistance.timelines), '' if none."""
    step = lines.set_index("id_number")["overdue_step"] if not lines.empty else pd.Series(dtype="str")
    overdue = frame["id_number"].map(step).astype("object").fillna("").astype("str")
    return frame.assign(overdue=overdue.where(overdue == "", overdue + "逾期"))


def filtered(
    frame: pd.DataFrame, levels: list[str], types: list[str], states: list[str], towns: list[str], identities: list[str]
) -> pd.DataFrame:
    """The rows matching the page's filters (towns by name, as the page shows them)."""
    chosen = alert_case.select(frame, levels=levels, types=types, states=states, identities=identities)
    if towns:  # by name: also 「（不在底册）」 and 「（未知）」, which have no town code of their own
        chosen = chosen[chosen["town"].isin(towns)]
    return chosen


def choices(alerts: pd.DataFrame, watched: pd.DataFrame, column: str) -> list[str]:
    """A filter's options: the values of the alert list and the watch list (the filters apply to both tabs)."""
    return sorted(set(alerts[column]) | set(watched[column]))


def display(frame: pd.DataFrame, masked: bool = True) -> pd.DataFrame:
    shown = frame[list(LIST_HEADERS)].copy()
    if masked:
        shown["name"], shown["id_number"] = mask_name(shown["name"]), mask_id(shown["id_number"])
    return shown.rename(columns=LIST_HEADERS)


def funds(alert: pd.Series) -> pd.DataFrame:
    """What each fund paid over the year and what was left to the person, in yuan."""
    parts = [(label, alert[name]) for name, label in FUNDS] + [("个人负担", alert["measure"])]
    return pd.DataFrame({"fund": [p[0] for p in parts], "yuan": [float(p[1]) / 100 for p in parts]})


def person_settlements(engine: Engine, year: int, id_number: str, settings: Settings, viewer: Viewer) -> pd.DataFrame:
    """The person's netted settlements of the year in trigger order, with the running cost measure in yuan; only
    for a person with an alert in the viewer's towns."""
    viewer.require("alerts")
    with engine.connect() as conn:
        village = conn.execute(
            sa.select(store.alerts.c.village_code).where(
                (store.alerts.c.year == year) & (store.alerts.c.id_number == id_number)
            )
        ).scalar()
    if village is None or not viewer.in_scope(pd.Series([village])).iloc[0]:
        raise AccessDenied("此人不在您的预警名单范围内")
    stored = lake.rows_of(engine, "settlements", "id_number", [id_number])
    netted = netted_settlements(stored, year, settings.cost_measure, extra=("provider",))
    netted = netted.sort_values(["settle_date", "settlement_id"]).reset_index(drop=True)
    return pd.DataFrame(
        {
            "settle_date": netted["settle_date"],
            "settlement_id": netted["settlement_id"],
            "visit_type": netted["visit_type"],
            "provider": netted["provider"],
            "total": netted["total_cost"].astype("float64") / 100,
            "measure": netted["measure"].astype("float64") / 100,
            "cumulative": netted["measure"].cumsum().astype("float64") / 100,
        }
    )


HISTORY_HEADERS = {
    "at": "时间",
    "by": "操作人",
    "action": "操作",
    "state_before": "原状态",
    "state_after": "新状态",
    "level": "等级",
    "detail": "说明",
}
SETTLEMENT_HEADERS = {
    "settle_date": "结算日期",
    "settlement_id": "结算流水号",
    "visit_type": "就诊类型",
    "provider": "医疗机构",
    "total": "医疗总费用(元)",
    "measure": "个人负担(元)",
    "cumulative": "累计(元)",
}
REASON_LABELS = {
    "UNKNOWN_PERSON": "该年度无此人的预警",
    "NOT_PUSHED": "预警尚未推送",
    "ALREADY_CLOSED": "预警已办结",
    "BAD_ID": "身份证号无效",
    "MISSING_VALUE": "必填项为空",
    "UNKNOWN_VALUE": "核实结果无效",
    "BAD_DATE": "日期或年度无效",
    "DUPLICATE_ROW": "重复行",
    "DUPLICATE_ID": "同一人同一年度重复",
}


def history_display(events: pd.DataFrame) -> pd.DataFrame:
    return events[list(HISTORY_HEADERS)].rename(columns=HISTORY_HEADERS)


def settlements_title(points: pd.DataFrame) -> str:
    """The title over a person's settlements: every netted settlement of the year, and when some were reversed to
    nothing, how many of them the header's 结算次数 counts (net total above zero, SPEC §9)."""
    counted = int((points["total"] > 0).sum())
    if counted == len(points):
        return f"全年结算 {len(points)} 笔"
    return f"全年结算 {len(points)} 笔（净额为正、计入结算次数的 {counted} 笔）"


def settlements_display(points: pd.DataFrame) -> pd.DataFrame:
    return points[list(SETTLEMENT_HEADERS)].rename(columns=SETTLEMENT_HEADERS)


def feedback_rejects_display(rejects: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "文件": rejects["file"],
            "行号": rejects["row"],
            "原因": rejects["reason"],
            "说明": rejects["reason"].map(REASON_LABELS).fillna(""),
            "列": rejects["column"],
            "原始内容": rejects["original"],
        }
    )
