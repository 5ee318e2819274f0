"""The outreach list (SPEC §8), and the count columns of coverage (§7, whose rules are in coverage_sets)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from monitor.base.text import is_in
from monitor.config import IdentityType
from monitor.rules.divisions import town_of
from monitor.rules.identities import SUBSIDY_LABELS, primary_identities

COUNT_COLUMNS = [
    "in_scope",
    "enrolled",
    "vulnerable_in_scope",
    "vulnerable_enrolled",
    "newborn_in_scope",
    "newborn_enrolled",
    "enrolled_local",
    "enrolled_elsewhere",
    "duplicate_enrolled",
]


def outreach_list(
    persons: pd.DataFrame,
    population: pd.DataFrame,
    enrolled: pd.DataFrame,
    identities: pd.DataFrame,
    year: int,
    as_of: date,
    types: tuple[IdentityType, ...],
) -> pd.DataFrame:
    """Unenrolled in-scope persons plus unregistered, unenrolled identity holders, prioritised and sorted (persons
    and enrolled are coverage_sets.scope's and enrolled_persons' results)."""
    todo = persons[~persons["enrolled"]].copy()
    todo["remark"] = ""
    primary = primary_identities(identities, as_of, types)
    enrolled_ids = set(enrolled["id_number"])
    outsiders = primary[
        ~is_in(primary["id_number"], population["id_number"]) & ~is_in(primary["id_number"], enrolled_ids)
    ].copy()
    outsiders["village_code"] = ""
    outsiders["newborn"] = False
    outsiders["vulnerable"] = True
    outsiders["remark"] = "不在人口底册"
    outsiders["phone"] = ""
    outsiders["address"] = ""
    cols = [
        "id_number",
        "name",
        "village_code",
        "household_id",
        "vulnerable",
        "newborn",
        "identity_type",
        "subsidy",
        "subsidy_cents",
        "phone",
        "address",
        "remark",
    ]
    rows = pd.concat([todo[cols], outsiders[cols]], ignore_index=True)
    rows["household_id"] = rows["household_id"].fillna("")
    rows["town_code"] = np.where(rows["village_code"] != "", town_of(rows["village_code"]), "")
    rows["priority"] = np.select([rows["vulnerable"], rows["newborn"]], [1, 2], 3)
    rows["subsidy_mode"] = rows["subsidy"].map(SUBSIDY_LABELS).fillna("无")
    rows["subsidy_cents"] = rows["subsidy_cents"].where(rows["subsidy"] == "fixed").astype("Int64")
    rows["year"] = year
    for key in ("town_code", "village_code", "household_id"):
        rows[f"_blank_{key}"] = rows[key] == ""
    rows = rows.sort_values(
        [
            "_blank_town_code",
            "town_code",
            "_blank_village_code",
            "village_code",
            "priority",
            "_blank_household_id",
            "household_id",
            "id_number",
        ],
        kind="stable",
    )
    return rows[
        [
            "year",
            "id_number",
            "name",
            "town_code",
            "village_code",
            "household_id",
            "priority",
            "identity_type",
            "subsidy_mode",
            "subsidy_cents",
            "phone",
            "address",
            "remark",
        ]
    ].reset_index(drop=True)
