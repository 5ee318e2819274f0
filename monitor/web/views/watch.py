"""预警 · 临界关注: the watch list in the viewer's towns, with place names, amounts in yuan and the page's filters."""

from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Engine

from monitor.rules.divisions import town_of
from monitor.security.access import Viewer, mask_id, mask_name
from monitor.storage import queries

HEADERS = {
    "name": "姓名",
    "id_number": "身份证号",
    "town": "乡镇",
    "village": "村社区",
    "identity_type": "身份类别",
    "alert_type": "预警类型",
    "measure_yuan": "个人负担(元)",
    "threshold_yuan": "关注阈值(元)",
    "rule": "关注规则",
    "ratio_percent": "达到比例(%)",
}


def rows(engine: Engine, year: int, names: pd.Series, viewer: Viewer) -> pd.DataFrame:
    """The year's watch list inside the viewer's towns, in list order (ratio descending)."""
    viewer.require("alerts")
    frame = queries.watch(engine, year)
    frame = frame[viewer.in_scope(frame["village_code"])].reset_index(drop=True)
    outside = frame["village_code"] == ""
    frame["town_code"] = town_of(frame["village_code"]).where(~outside, "")
    frame["town"] = frame["town_code"].map(names).where(~outside, "（不在底册）").fillna("（未知）")
    frame["village"] = frame["village_code"].map(names).where(~outside, "（不在底册）").fillna("（未知）")
    frame["identity_type"] = frame["identity_type"].fillna("")
    frame["measure_yuan"] = frame["measure"].astype("float64") / 100
    frame["threshold_yuan"] = frame["threshold"].astype("float64") / 100
    frame["ratio_percent"] = frame["ratio"].astype("float64") / 100
    return frame


def filtered(frame: pd.DataFrame, types: list[str], towns: list[str], identities: list[str]) -> pd.DataFrame:
    """The alert list's filters that apply to persons not alerted (type, town by name, identity)."""
    mask = pd.Series(True, index=frame.index)
    for column, chosen in (("alert_type", types), ("town", towns), ("identity_type", identities)):
        if chosen:
            mask &= frame[column].isin(chosen)
    return frame[mask]


def display(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame[list(HEADERS)].copy()
    shown["name"], shown["id_number"] = mask_name(shown["name"]), mask_id(shown["id_number"])
    return shown.rename(columns=HEADERS)
