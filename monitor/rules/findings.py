"""Data-quality findings of SPEC §5: valid rows that do not match another source (not rejections)."""

from __future__ import annotations

import ibis.expr.types as ir
import pandas as pd

from monitor.base.text import is_in, lookup

COLUMNS = ["kind", "source", "file", "row", "id_number", "name", "detail"]
KIND_LABELS = {
    "ENROLLED_NOT_IN_REGISTER": "参保人员不在人口底册",
    "IDENTITY_NOT_IN_REGISTER": "困难群众不在人口底册",
    "SETTLEMENT_WITHOUT_ENROLLMENT": "有结算无参保",
    "NAME_MISMATCH": "姓名与底册不一致",
    "BIRTH_MISMATCH": "出生日期与身份证不一致",
}


def data_quality_findings(snapshots: dict[str, pd.DataFrame], settlements: pd.DataFrame, year: int) -> pd.DataFrame:
    """One row per finding: persons of one source missing from another, name and birth-date mismatches.

    Every finding is derived from the stored snapshots, so a later load that lacks a source keeps its findings.
    settlements: at least every stored settlement of the persons not enrolled in the year, in stored order (a
    district's others need not be at hand: uninsured_ids says whose are needed).
    """
    population, enrollment, identities = snapshots["population"], snapshots["enrollment"], snapshots["identities"]
    registered = population["id_number"]
    enrolled_y = enrollment[(enrollment["year"] == year) & (enrollment["status"] == "正常参保")]
    stated = population["stated_birth_date"].fillna("")
    born = population[(stated != "") & (stated != population["birth_date"])]
    parts = [
        _finding(
            born,
            "BIRTH_MISMATCH",
            "population",
            "出生日期 " + born["stated_birth_date"].astype("str") + " ≠ 身份证 " + born["birth_date"],
        )
    ]

    outside = enrolled_y[~is_in(enrolled_y["id_number"], registered)].drop_duplicates("id_number")
    parts.append(_finding(outside, "ENROLLED_NOT_IN_REGISTER", "enrollment", f"{year} 年参保，人口底册中无此人"))

    holders = identities[~is_in(identities["id_number"], registered)].drop_duplicates("id_number")
    parts.append(
        _finding(
            holders, "IDENTITY_NOT_IN_REGISTER", "identities", "困难群众身份：" + holders["identity_type"].astype("str")
        )
    )

    # rows picked by one mask: taking the year's millions of rows first, then the few uninsured, took 0.3 s more
    of_year = (settlements["reverses"] == "") & settlements["settle_date"].str.startswith(f"{year}-")
    uninsured = settlements.loc[
        of_year & ~is_in(settlements["id_number"], enrolled_y["id_number"]), ["id_number", "name"]
    ].drop_duplicates("id_number")
    parts.append(
        _finding(uninsured, "SETTLEMENT_WITHOUT_ENROLLMENT", "settlements", f"{year} 年有结算，无正常参保记录")
    )

    registered_once = population.drop_duplicates("id_number")
    with_name = enrollment.loc[enrollment["name"] != "", ["id_number", "name"]]
    register_name = lookup(with_name["id_number"], registered_once["id_number"], registered_once["name"])
    differ = with_name[register_name.notna() & (register_name != with_name["name"])].drop_duplicates("id_number")
    parts.append(_finding(differ, "NAME_MISMATCH", "enrollment", "参保登记姓名与人口底册不一致"))
    found = [p for p in parts if p is not None and not p.empty]
    if not found:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(found, ignore_index=True)[COLUMNS]


def _finding(rows: pd.DataFrame, kind: str, source: str, detail: object) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": kind,
            "source": source,
            "file": "",
            "row": pd.NA,
            "id_number": rows["id_number"],
            "name": rows["name"],
            "detail": detail,
        }
    )


def uninsured_ids(settlements: ir.Table, enrollment: ir.Table, year: int) -> ir.Table:
    """The persons with an ordinary settlement in the year and no 正常参保 enrollment of it (SETTLEMENT_WITHOUT_
    ENROLLMENT), engine-neutral: the few whose settlements data_quality_findings needs."""
    enrolled = enrollment.filter((enrollment.year == year) & (enrollment.status == "正常参保")).select("id_number")
    of_year = settlements.filter((settlements.reverses == "") & settlements.settle_date.startswith(f"{year}-"))
    return of_year.select("id_number").distinct().anti_join(enrolled, "id_number")
