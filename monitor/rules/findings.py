"""Data-quality findings of SPEC §5: valid rows that do not match another source (not rejections).

Engine-neutral (Ibis): `findings` takes the register, enrollment, identities and settlements as tables (the lake's
files, scanned where they are) and returns one ordered table; the caller runs it on its engine (DuckDB in process,
Spark on a cluster, issue 21). The pandas version it replaced stays in tests/rules/oracles.py as the reference.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from ibis import _

COLUMNS = ["kind", "source", "file", "row", "id_number", "name", "detail"]
KIND_LABELS = {
    "ENROLLED_NOT_IN_REGISTER": "参保人员不在人口底册",
    "IDENTITY_NOT_IN_REGISTER": "困难群众不在人口底册",
    "SETTLEMENT_WITHOUT_ENROLLMENT": "有结算无参保",
    "NAME_MISMATCH": "姓名与底册不一致",
    "BIRTH_MISMATCH": "出生日期与身份证不一致",
}


# the order of the parts in the result: the order the pandas rule made them in
PARTS = (
    "BIRTH_MISMATCH",
    "ENROLLED_NOT_IN_REGISTER",
    "IDENTITY_NOT_IN_REGISTER",
    "SETTLEMENT_WITHOUT_ENROLLMENT",
    "NAME_MISMATCH",
)


def findings(
    population: ir.Table, enrollment: ir.Table, identities: ir.Table, settlements: ir.Table, year: int
) -> ir.Table:
    """One row per finding (columns COLUMNS; `file` "" and `row` NULL), ordered by part (PARTS' order), then ID
    number (then name and detail, which only two register rows of one ID could need).

    Blank text is "" whether the files hold NULL or "" (names, stated birth dates). Where a source has several
    rows of a person, the one reported is chosen by its values, never by its place in a file (an engine keeps no
    row order):
    - BIRTH_MISMATCH: every register row whose stated birth date is not blank and differs from the ID's;
    - ENROLLED_NOT_IN_REGISTER (正常参保 in the year, ID not in the register): the name of the person's row with
      the smallest scheme, then the smallest name;
    - IDENTITY_NOT_IN_REGISTER: the identity row with the earliest start_date, then the smallest identity_type;
    - SETTLEMENT_WITHOUT_ENROLLMENT (an ordinary settlement of the year, no 正常参保 enrollment of it): the name on
      the person's first such settlement by (settle_date, settlement_id), as alert_rules names persons outside
      the register;
    - NAME_MISMATCH: among the person's enrollment rows (any year) whose name is not blank and differs from the
      register's, the one of the latest year, then the smallest scheme, then the smallest name. The register has
      one row per ID (validation rejects the others), so the join makes no copies.
    Orders put NULLs last. Every order ends on a key validation keeps unique, so no tie is left to the engine.
    """
    registered = population.select("id_number")
    stated, born = _blank(population.stated_birth_date), _blank(population.birth_date)
    mismatched = population.filter((stated != "") & (stated != born))
    parts = [_part(mismatched, "BIRTH_MISMATCH", "population", "出生日期 " + stated + " ≠ 身份证 " + born)]

    enrolled = _enrolled_in(enrollment, year)
    outside = _first(enrolled.anti_join(registered, "id_number").mutate(name=_blank(_.name)), "scheme", "name")
    parts.append(_part(outside, "ENROLLED_NOT_IN_REGISTER", "enrollment", f"{year} 年参保，人口底册中无此人"))

    holders = _first(identities.anti_join(registered, "id_number"), "start_date", "identity_type")
    detail = "困难群众身份：" + _blank(holders.identity_type)
    parts.append(_part(holders, "IDENTITY_NOT_IN_REGISTER", "identities", detail))

    unenrolled = _ordinary_of(settlements, year).anti_join(enrolled.select("id_number"), "id_number")
    uninsured = _first(unenrolled, "settle_date", "settlement_id")
    parts.append(_part(uninsured, "SETTLEMENT_WITHOUT_ENROLLMENT", "settlements", f"{year} 年有结算，无正常参保记录"))

    register = population.select("id_number", register_name=_blank(population.name))
    named = enrollment.mutate(name=_blank(enrollment.name)).filter(_.name != "")
    joined = named.inner_join(register, "id_number")
    differ = _first(joined.filter(joined.name != joined.register_name), ibis.desc("year"), "scheme", "name")
    parts.append(_part(differ, "NAME_MISMATCH", "enrollment", "参保登记姓名与人口底册不一致"))
    # the one ORDER BY is the outermost query's: dropping the helper column after it keeps the order (Ibis folds
    # the projection into the ordered SELECT, on DuckDB and Spark alike)
    return ibis.union(*parts).order_by(["part", "id_number", "name", "detail"]).select(*COLUMNS)


def _blank(text: ir.StringValue) -> ir.StringValue:
    """Blank text as "": the lake's files may hold NULL where the frames held "" (and the other way round)."""
    return text.fill_null("")


def _enrolled_in(enrollment: ir.Table, year: int) -> ir.Table:
    return enrollment.filter((enrollment.year == year) & (enrollment.status == "正常参保"))


def _ordinary_of(settlements: ir.Table, year: int) -> ir.Table:
    """The year's ordinary settlements (a reversal names the settlement it reverses in `reverses`)."""
    return settlements.filter((settlements.reverses == "") & settlements.settle_date.startswith(f"{year}-"))


def _first(rows: ir.Table, *order: str | ir.Value) -> ir.Table:
    """Each person's first row by the given order (row_number: plain SQL that Spark runs too)."""
    rank = ibis.row_number().over(group_by="id_number", order_by=list(order))
    return rows.mutate(first_rank=rank).filter(_.first_rank == 0)


def _part(rows: ir.Table, kind: str, source: str, detail: ir.StringValue | str) -> ir.Table:
    return rows.select(
        kind=ibis.literal(kind),
        source=ibis.literal(source),
        file=ibis.literal(""),
        row=ibis.null("int64"),
        id_number=rows.id_number,
        name=_blank(rows.name),
        detail=ibis.literal(detail) if isinstance(detail, str) else detail,
        part=ibis.literal(PARTS.index(kind)),
    )
