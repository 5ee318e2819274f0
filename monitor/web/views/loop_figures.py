"""预警 · 统计: the loop's figures (SPEC §10) and an alert's help measures, with Chinese headers and place names."""

from __future__ import annotations

import pandas as pd

FIGURE_HEADERS = {
    "cohort": "推送月份",
    "department": "接收部门",
    "town": "乡镇",
    "pushed": "推送",
    "verified": "已核实",
    "helped": "已帮扶",
    "closed": "已办结",
    "overdue": "逾期",
    "late": "超期完成",
    "median_days_to_push": "触发→推送中位天数",
    "median_days_to_help": "推送→首项帮扶中位天数",
    "loop_rate": "闭环率(%)",
}
MEASURE_HEADERS = {
    "kind": "帮扶措施",
    "taken_on": "帮扶日期",
    "amount_yuan": "金额(元)",
    "department": "部门",
    "recorded_by": "登记人",
    "source": "来源",
}


def display(figures: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """The loop's figures with their group columns named; a town without a code is 不在人口底册."""
    shown = figures.copy()
    if "town_code" in shown:
        shown["town"] = shown["town_code"].map(names).where(shown["town_code"] != "", "不在人口底册").fillna("（未知）")
    columns = [c for c in FIGURE_HEADERS if c in shown]
    return shown[columns].rename(columns=FIGURE_HEADERS)


def measures_display(taken: pd.DataFrame) -> pd.DataFrame:
    shown = taken.assign(amount_yuan=taken["amount"].astype("Float64") / 100)
    return shown[list(MEASURE_HEADERS)].rename(columns=MEASURE_HEADERS)
