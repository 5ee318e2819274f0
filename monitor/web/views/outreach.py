"""扩面名单: the outreach list filtered by town, village, priority and identity, and its counts by village."""

from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Engine

from monitor.outputs.exports import yuan
from monitor.security.access import Viewer, mask_id, mask_name, mask_phone
from monitor.storage import queries

PRIORITY_LABELS = {1: "1 困难群众", 2: "2 新生儿", 3: "3 其他"}
LIST_HEADERS = {
    "town": "乡镇",
    "village": "村社区",
    "household_id": "户号",
    "name": "姓名",
    "id_number": "身份证号",
    "priority_label": "优先级",
    "identity_type": "身份类别",
    "subsidy_mode": "资助方式",
    "subsidy": "资助金额(元)",
    "phone": "联系电话",
    "address": "住址",
    "remark": "备注",
    "outcome": "走访结果",
    "outcome_remark": "走访备注",
}


def rows(engine: Engine, year: int, names: pd.Series, viewer: Viewer) -> pd.DataFrame:
    """The year's list within the viewer's towns, with town and village names and display labels."""
    viewer.require("outreach")
    frame = queries.outreach(engine, year)
    frame = frame[viewer.in_scope(frame["village_code"])].reset_index(drop=True)
    frame["town"] = frame["town_code"].map(names).fillna("（未知）").where(frame["town_code"] != "", "（不在底册）")
    frame["village"] = (
        frame["village_code"].map(names).fillna("（未知）").where(frame["village_code"] != "", "（不在底册）")
    )
    frame["priority_label"] = frame["priority"].map(PRIORITY_LABELS)
    frame["subsidy"] = yuan(frame["subsidy_cents"])
    frame["identity_type"] = frame["identity_type"].fillna("")
    return frame


def with_outcomes(frame: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """The list with each person's latest recorded outcome (blank when not visited yet)."""
    latest = current.set_index("id_number") if not current.empty else None
    out = frame.copy()
    out["outcome"] = out["id_number"].map(latest["outcome"]).fillna("") if latest is not None else ""
    out["outcome_remark"] = out["id_number"].map(latest["remark"]).fillna("") if latest is not None else ""
    return out


def outcome_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Outcomes per town and village of the people still on the list (未走访 when none recorded)."""
    if frame.empty:
        return pd.DataFrame(columns=["乡镇", "村社区"])
    labels = frame["outcome"].where(frame["outcome"] != "", "未走访")
    counts = pd.crosstab([frame["town"], frame["village"]], labels)
    counts.columns.name = None
    return counts.reset_index().rename(columns={"town": "乡镇", "village": "村社区"})


def filtered(
    frame: pd.DataFrame, towns: list[str], villages: list[str], priorities: list[int], identities: list[str]
) -> pd.DataFrame:
    """Rows matching every non-empty filter (an empty filter means all)."""
    mask = pd.Series(True, index=frame.index)
    for column, chosen in (
        ("town", towns),
        ("village", villages),
        ("priority", priorities),
        ("identity_type", identities),
    ):
        if chosen:
            mask &= frame[column].isin(chosen)
    return frame[mask]


def by_village(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts per village and priority, most to do first."""
    counts = frame.pivot_table(
        index=["town", "village"], columns="priority_label", values="id_number", aggfunc="count", fill_value=0
    )
    counts["合计"] = counts.sum(axis=1)
    counts = counts.reset_index().rename(columns={"town": "乡镇", "village": "村社区"})
    counts.columns.name = None
    return counts.sort_values("合计", ascending=False).reset_index(drop=True)


def display(frame: pd.DataFrame, masked: bool = True) -> pd.DataFrame:
    """Chinese headers; names, ID numbers and phones masked unless the full values are asked for (exports)."""
    shown = frame[list(LIST_HEADERS)].copy()
    if masked:
        shown["name"], shown["id_number"], shown["phone"] = (
            mask_name(shown["name"]),
            mask_id(shown["id_number"]),
            mask_phone(shown["phone"]),
        )
        shown["address"] = shown["address"].fillna("").str.slice(0, 4) + "…"
    return shown.rename(columns=LIST_HEADERS)
