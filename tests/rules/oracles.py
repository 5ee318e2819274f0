"""Reference implementations in pandas of rules that now run on an engine (coverage_sets, coverage.outreach_list,
campaign.village_progress, findings.findings, identities.changes): kept only as test oracles, each the version the
product ran before (so the golden results it produced are the baseline)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from monitor.base.text import is_in, lookup
from monitor.config import IdentityType
from monitor.rules.campaign import PROGRESS_COLUMNS, _by_village, _daily_at_level, _same_day, payments, shifted
from monitor.rules.coverage import COUNT_COLUMNS
from monitor.rules.divisions import LEVELS, at_level, levels_below, prefix, town_of
from monitor.rules.findings import COLUMNS
from monitor.rules.identities import SUBSIDY_LABELS, primary_identities


def enrolled_persons(enrollment: pd.DataFrame, year: int, root: str) -> pd.DataFrame:
    """Persons enrolled in the year (正常参保, any scheme, any place): local flag and both-schemes flag."""
    active = enrollment[(enrollment["year"] == year) & (enrollment["status"] == "正常参保")]
    place = active["insured_place"]
    local = place.isna() | place.fillna("").str.startswith(prefix(root))
    per = pd.DataFrame({"id_number": active["id_number"], "local": local.to_numpy(), "scheme": active["scheme"]})
    grouped = per.groupby("id_number", sort=False).agg(local=("local", "any"), schemes=("scheme", "nunique"))
    grouped["duplicate"] = grouped["schemes"] > 1
    return grouped[["local", "duplicate"]].reset_index()


def scope(
    population: pd.DataFrame,
    deaths: pd.DataFrame,
    enrollment: pd.DataFrame,
    identities: pd.DataFrame,
    year: int,
    as_of: date,
    root: str,
    types: tuple[IdentityType, ...],
) -> pd.DataFrame:
    """In-scope persons with their flags: vulnerable, newborn, enrolled, local, duplicate."""
    a = as_of.isoformat()
    status_ok = (
        population["status"].isna()
        | (population["status"] == "正常")
        | (population["status_date"].notna() & (population["status_date"] > a))
    )
    dead = set(deaths.loc[deaths["death_date"] <= a, "id_number"])
    mask = (
        (population["birth_date"] <= a) & status_ok.fillna(False).astype(bool) & ~is_in(population["id_number"], dead)
    )
    persons = population.loc[
        mask, ["id_number", "name", "village_code", "household_id", "birth_date", "phone", "address"]
    ].copy()
    persons["newborn"] = persons["birth_date"] >= f"{year}-01-01"
    primary = primary_identities(identities, as_of, types)
    persons = persons.merge(
        primary[["id_number", "identity_type", "subsidy", "subsidy_cents"]], on="id_number", how="left"
    )
    persons["vulnerable"] = persons["identity_type"].notna()
    enrolled = enrolled_persons(enrollment, year, root)
    persons = persons.merge(enrolled, on="id_number", how="left")
    persons["enrolled"] = persons["local"].notna()
    persons["local"] = persons["local"].fillna(False).astype(bool)
    persons["duplicate"] = persons["duplicate"].fillna(False).astype(bool)
    return persons


def coverage_by_division(persons: pd.DataFrame, divisions: pd.DataFrame, root: str) -> pd.DataFrame:
    """Counts for every division of the snapshot from the root's level down: sums of persons, never rates."""
    flags = pd.DataFrame(
        {
            "in_scope": 1,
            "enrolled": persons["enrolled"].astype(int),
            "vulnerable_in_scope": persons["vulnerable"].astype(int),
            "vulnerable_enrolled": (persons["vulnerable"] & persons["enrolled"]).astype(int),
            "newborn_in_scope": persons["newborn"].astype(int),
            "newborn_enrolled": (persons["newborn"] & persons["enrolled"]).astype(int),
            "enrolled_local": (persons["enrolled"] & persons["local"]).astype(int),
            "enrolled_elsewhere": (persons["enrolled"] & ~persons["local"]).astype(int),
            "duplicate_enrolled": persons["duplicate"].astype(int),
        },
        index=persons.index,
    )
    out = []
    levels = levels_below(root)
    for i, level in enumerate(levels):
        sums = flags.groupby(at_level(persons["village_code"], level).to_numpy()).sum()
        here = divisions[divisions["level"] == level][["code", "name", "urban_rural"]].copy()
        here = here.merge(sums, left_on="code", right_index=True, how="left")
        here[COUNT_COLUMNS] = here[COUNT_COLUMNS].fillna(0).astype("int64")
        here["level"] = level
        here["parent_code"] = at_level(here["code"], levels[i - 1]) if i else ""
        out.append(here)
    table = pd.concat(out, ignore_index=True)
    order = {lv: k for k, lv in enumerate(LEVELS)}
    table["_lv"] = table["level"].map(order)
    return table.sort_values(["_lv", "code"]).drop(columns="_lv").reset_index(drop=True)


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


def progress_all_levels(
    persons: pd.DataFrame,
    enrollment: pd.DataFrame,
    levels: list[str],
    start: date,
    end: date,
    target_rate: float,
    targets: dict[str, int] | None = None,
) -> tuple[pd.DataFrame, date | None]:
    """The campaign's daily progress at every level (persons = in-scope persons of the year before the target
    year), last campaign's counts on the same days, and the latest payment day inside the period (None if none):
    the person-level half in pandas (payments, _by_village), where campaign.village_progress now runs it."""
    target_year = start.year + 1
    paid = payments(enrollment, target_year, start)
    last_start, last_end = _same_day(start, -1), _same_day(end, -1)
    last_paid = payments(enrollment, target_year - 1, last_start)
    this_year, last_year = _by_village(persons, paid, end), _by_village(persons, last_paid, last_end)
    parts = []
    for level in levels:
        now = _daily_at_level(*this_year, level, start, end, target_rate, targets)
        before = shifted(_daily_at_level(*last_year, level, last_start, last_end, target_rate, targets))
        now = now.merge(
            before[["code", "day", "enrolled"]].rename(columns={"enrolled": "previous_enrolled"}),
            on=["code", "day"],
            how="left",
        )
        parts.append(now.assign(level=level))
    inside = paid["paid_on"][paid["paid_on"] <= pd.Timestamp(end)]
    latest = inside.max().date() if not inside.empty else None
    return pd.concat(parts, ignore_index=True)[PROGRESS_COLUMNS], latest


def data_quality_findings(
    population: pd.DataFrame, enrollment: pd.DataFrame, identities: pd.DataFrame, settlements: pd.DataFrame, year: int
) -> pd.DataFrame:
    """The findings as the pandas rule made them over whole snapshots, with the choices findings.findings documents
    where that one took a person's first row in stored order (the stored files are sorted by ID number, stably, so
    each part is in ID order; here it is sorted so, whatever order the frames come in). Blank names and stated
    birth dates are "" whether NULL or ""."""
    population = population.assign(
        name=population["name"].fillna(""),
        birth_date=population["birth_date"].fillna(""),
        stated_birth_date=population["stated_birth_date"].fillna(""),
    )
    enrollment = enrollment.assign(name=enrollment["name"].fillna(""))
    registered = population["id_number"]
    enrolled_y = enrollment[(enrollment["year"] == year) & (enrollment["status"] == "正常参保")]
    stated = population["stated_birth_date"]
    born = population[(stated != "") & (stated != population["birth_date"])]
    born = born.sort_values("id_number", kind="stable")
    parts = [
        _finding(
            born,
            "BIRTH_MISMATCH",
            "population",
            "出生日期 " + born["stated_birth_date"] + " ≠ 身份证 " + born["birth_date"],
        )
    ]

    outside = _first(enrolled_y[~is_in(enrolled_y["id_number"], registered)], ["scheme", "name"])
    parts.append(_finding(outside, "ENROLLED_NOT_IN_REGISTER", "enrollment", f"{year} 年参保，人口底册中无此人"))

    holders = _first(identities[~is_in(identities["id_number"], registered)], ["start_date", "identity_type"])
    detail = "困难群众身份：" + holders["identity_type"].fillna("").astype("str")
    parts.append(_finding(holders, "IDENTITY_NOT_IN_REGISTER", "identities", detail))

    of_year = (settlements["reverses"] == "") & settlements["settle_date"].str.startswith(f"{year}-")
    uninsured = _first(
        settlements[of_year & ~is_in(settlements["id_number"], enrolled_y["id_number"])],
        ["settle_date", "settlement_id"],
    )
    parts.append(
        _finding(uninsured, "SETTLEMENT_WITHOUT_ENROLLMENT", "settlements", f"{year} 年有结算，无正常参保记录")
    )

    with_name = enrollment[enrollment["name"] != ""]
    register_name = lookup(with_name["id_number"], population["id_number"], population["name"])
    differ = with_name[register_name.notna() & (register_name != with_name["name"])]
    differ = _first(differ.assign(_late=-differ["year"]), ["_late", "scheme", "name"])
    parts.append(_finding(differ, "NAME_MISMATCH", "enrollment", "参保登记姓名与人口底册不一致"))
    found = [p for p in parts if not p.empty]  # pandas warns of concatenating empty frames
    frame = pd.concat(found, ignore_index=True) if found else _finding(population.iloc[0:0], "", "", "")
    return frame[COLUMNS].astype({c: "str" for c in COLUMNS if c != "row"})


def _first(rows: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Each person's first row by the order given, in ID order."""
    return rows.sort_values(["id_number", *order], kind="stable").drop_duplicates("id_number")


def _finding(rows: pd.DataFrame, kind: str, source: str, detail: object) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": kind,
            "source": source,
            "file": "",
            "row": pd.Series(pd.NA, index=rows.index, dtype="Int64"),
            "id_number": rows["id_number"],
            "name": rows["name"].fillna(""),
            "detail": detail,
        },
        index=rows.index,
    )


def change_list(
    before: pd.DataFrame, after: pd.DataFrame, as_of: date, types: tuple[IdentityType, ...]
) -> pd.DataFrame:
    """新增 / 变更 / 取消 between two identity snapshots by the primary identity at as_of (identities.changes)."""
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
