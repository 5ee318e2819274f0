"""Vulnerable identities (SPEC §6): active at as_of, primary identity, subsidy, change list."""

from __future__ import annotations

from datetime import date

import pandas as pd

from monitor.config import IdentityType

SUBSIDY_LABELS = {"full": "全额资助", "fixed": "定额资助", "none": "无"}


def type_table(types: tuple[IdentityType, ...]) -> pd.DataFrame:
    """Identity types with their priority rank (classed before unclassed, then list order)."""
    rows = [
        {
            "identity_type": t.name,
            "assistance_class": t.assistance_class,
            "subsidy": t.subsidy,
            "subsidy_cents": t.subsidy_cents,
            "order": i,
        }
        for i, t in enumerate(types)
    ]
    table = pd.DataFrame(rows)
    table["rank"] = table["assistance_class"].isna().astype(int) * len(types) + table["order"]
    return table.drop(columns="order")


def active_at(identities: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Identity rows active at as_of: start_date ≤ A and (no end_date or end_date > A)."""
    a = as_of.isoformat()
    end = identities["end_date"]
    mask = (identities["start_date"] <= a) & (end.isna() | (end == "") | (end > a))
    return identities[mask.fillna(False).astype(bool)]


def primary_identities(identities: pd.DataFrame, as_of: date, types: tuple[IdentityType, ...]) -> pd.DataFrame:
    """One row per person with an active identity: the first in priority order, with its subsidy.

    Columns: id_number, identity_type, assistance_class, subsidy, subsidy_cents, name, household_id.
    """
    active = active_at(identities, as_of).merge(type_table(types), on="identity_type", how="inner")
    if active.empty:
        return pd.DataFrame(
            columns=[
                "id_number",
                "identity_type",
                "assistance_class",
                "subsidy",
                "subsidy_cents",
                "name",
                "household_id",
            ]
        )
    first = active.sort_values(["id_number", "rank", "start_date"], kind="stable").drop_duplicates("id_number")
    return first[
        ["id_number", "identity_type", "assistance_class", "subsidy", "subsidy_cents", "name", "household_id"]
    ].reset_index(drop=True)


def change_list(
    before: pd.DataFrame, after: pd.DataFrame, as_of: date, types: tuple[IdentityType, ...]
) -> pd.DataFrame:
    """新增 / 变更 / 取消 between two identity snapshots, judged by the primary identity at as_of."""
    old = primary_identities(before, as_of, types)[["id_number", "identity_type", "name"]]
    new = primary_identities(after, as_of, types)[["id_number", "identity_type", "name"]]
    both = old.merge(new, on="id_number", how="outer", suffixes=("_before", "_after"))
    change = pd.Series(pd.NA, index=both.index, dtype="str")
    change[both["identity_type_before"].isna()] = "新增"
    change[both["identity_type_after"].isna()] = "取消"
    moved = (
        both["identity_type_before"].notna()
        & both["identity_type_after"].notna()
        & (both["identity_type_before"] != both["identity_type_after"])
    )
    change[moved] = "变更"
    both["change"] = change
    both["name"] = both["name_after"].fillna(both["name_before"])
    out = both[both["change"].notna()]
    return (
        out[["id_number", "name", "change", "identity_type_before", "identity_type_after"]]
        .sort_values(["change", "id_number"])
        .reset_index(drop=True)
    )
