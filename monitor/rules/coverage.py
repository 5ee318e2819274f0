"""The outreach list (SPEC §8), engine-neutral (Ibis), and the count columns of coverage (§7, whose rules are in
coverage_sets). The pandas version of the list stays in tests/rules/oracles.py."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from monitor.rules.divisions import LEVEL_DIGITS
from monitor.rules.identities import SUBSIDY_LABELS

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


OUTREACH_COLUMNS = [
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


def outreach_list(
    persons: ir.Table, population: ir.Table, enrolled: ir.Table, primary: ir.Table, year: int
) -> ir.Table:
    """Unenrolled in-scope persons plus identity holders neither in the register nor enrolled (不在人口底册),
    prioritised (1 vulnerable, 2 newborn, 3 others) and sorted by town, village, priority, household and ID number,
    blanks after the others. persons and enrolled are coverage_sets.scope's and enrolled_persons' tables, primary
    identities.primary_identities'."""
    kept = ["id_number", "name", "village_code", "household_id", "vulnerable", "newborn", "identity_type"]
    todo = persons.filter(~persons.enrolled).select(
        *kept, "subsidy", "subsidy_cents", "phone", "address", remark=ibis.literal("")
    )
    outsiders = primary.anti_join(population.select("id_number"), "id_number").anti_join(
        enrolled.select("id_number"), "id_number"
    )
    outsiders = outsiders.select(
        "id_number",
        "name",
        village_code=ibis.literal(""),
        household_id=outsiders.household_id,
        vulnerable=ibis.literal(True),
        newborn=ibis.literal(False),
        identity_type=outsiders.identity_type,
        subsidy=outsiders.subsidy,
        subsidy_cents=outsiders.subsidy_cents.cast("int64"),
        phone=ibis.literal(""),
        address=ibis.literal(""),
        remark=ibis.literal("不在人口底册"),
    )
    rows = ibis.union(todo.cast(outsiders.schema()), outsiders)
    village = rows.village_code
    rows = rows.mutate(
        household_id=rows.household_id.fill_null(""),
        town_code=ibis.ifelse(village == "", "", village.substr(0, LEVEL_DIGITS["乡镇"]).rpad(12, "0")),
        priority=ibis.ifelse(rows.vulnerable, 1, ibis.ifelse(rows.newborn, 2, 3)).cast("int64"),
        subsidy_mode=rows.subsidy.substitute(SUBSIDY_LABELS, else_="无"),
        subsidy_cents=ibis.ifelse(rows.subsidy == "fixed", rows.subsidy_cents, ibis.null("int64")),
        year=ibis.literal(year).cast("int64"),
    )
    order = []
    for key in ("town_code", "village_code"):
        order += [(rows[key] == "").fill_null(False), rows[key]]
    order += [rows.priority, (rows.household_id == ""), rows.household_id, rows.id_number]
    return rows.order_by(order).select(*OUTREACH_COLUMNS)
