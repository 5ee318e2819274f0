"""Coverage (SPEC §7), engine-neutral: who is in scope and the counts of every division, as Ibis expressions.

The rules take tables and return tables (lazy Ibis expressions, no I/O); the caller runs them on its engine (DuckDB
in process, or Spark on a cluster, issue 21). The pandas versions they replaced stay in tests/rules/oracles.py, the
reference every case of tests/rules/test_coverage_sets.py is checked against.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
from ibis import _

from monitor.rules.coverage import COUNT_COLUMNS
from monitor.rules.divisions import LEVEL_DIGITS, LEVELS, levels_below, prefix

PERSON_COLUMNS = ("id_number", "name", "village_code", "household_id", "birth_date", "phone", "address")
PRIMARY_COLUMNS = ("id_number", "identity_type", "subsidy", "subsidy_cents")


def enrolled_persons(enrollment: ir.Table, year: int, root: str) -> ir.Table:
    """Persons enrolled in the year (正常参保, any scheme, any place): `local` when any of their enrollments is in
    the root (or names no place), `duplicate` when they hold more than one scheme."""
    active = enrollment.filter((enrollment.year == year) & (enrollment.status == "正常参保"))
    local = active.insured_place.isnull() | active.insured_place.startswith(prefix(root))
    grouped = (
        active.mutate(local=local).group_by("id_number").aggregate(local=_.local.any(), schemes=_.scheme.nunique())
    )
    return grouped.select("id_number", "local", duplicate=grouped.schemes > 1)


def scope(
    population: ir.Table,
    deaths: ir.Table,
    enrollment: ir.Table,
    primary: ir.Table,
    year: int,
    as_of: date,
    root: str,
) -> ir.Table:
    """In-scope persons (born by A, status 正常 or changed after A, not dead by A) with their flags: newborn,
    vulnerable (a primary identity: `primary` is identities.primary), enrolled, local, duplicate."""
    a = as_of.isoformat()
    status_ok = (
        population.status.isnull()
        | (population.status == "正常")
        | (population.status_date.notnull() & (population.status_date > a))
    )
    dead = deaths.filter(deaths.death_date <= a).select("id_number").distinct()
    persons = (
        population.filter((population.birth_date <= a) & status_ok.fill_null(False))
        .anti_join(dead, "id_number")
        .select(*PERSON_COLUMNS)
    )
    persons = persons.mutate(newborn=persons.birth_date >= f"{year}-01-01")
    persons = persons.left_join(primary.select(*PRIMARY_COLUMNS), "id_number").drop("id_number_right")
    persons = persons.mutate(vulnerable=persons.identity_type.notnull())
    enrolled = enrolled_persons(enrollment, year, root)
    persons = persons.left_join(enrolled, "id_number").drop("id_number_right")
    return persons.mutate(
        enrolled=persons.local.notnull(),
        local=persons.local.fill_null(False),
        duplicate=persons.duplicate.fill_null(False),
    )


def _ancestor(codes: ir.StringValue, level: str) -> ir.StringValue:
    """The code of each division's ancestor (or itself) at a level."""
    return codes.substr(0, LEVEL_DIGITS[level]).rpad(12, "0")


def coverage_by_division(persons: ir.Table, divisions: ir.Table, root: str) -> ir.Table:
    """Counts for every division of the snapshot from the root's level down: sums of persons, never rates. Ordered
    by level, then code."""
    flags = persons.select(
        "village_code",
        in_scope=ibis.literal(1),
        enrolled=persons.enrolled.cast("int64"),
        vulnerable_in_scope=persons.vulnerable.cast("int64"),
        vulnerable_enrolled=(persons.vulnerable & persons.enrolled).cast("int64"),
        newborn_in_scope=persons.newborn.cast("int64"),
        newborn_enrolled=(persons.newborn & persons.enrolled).cast("int64"),
        enrolled_local=(persons.enrolled & persons.local).cast("int64"),
        enrolled_elsewhere=(persons.enrolled & ~persons.local).cast("int64"),
        duplicate_enrolled=persons.duplicate.cast("int64"),
    )
    levels = levels_below(root)
    parts = []
    for i, level in enumerate(levels):
        sums = (
            flags.mutate(code=_ancestor(flags.village_code, level))
            .group_by("code")
            .aggregate(**{c: flags[c].sum() for c in COUNT_COLUMNS})
        )
        here = divisions.filter(divisions.level == level).select("code", "name", "urban_rural")
        here = here.left_join(sums, "code").drop("code_right")
        parts.append(
            here.select(
                "code",
                "name",
                "urban_rural",
                *[here[c].fill_null(0).cast("int64").name(c) for c in COUNT_COLUMNS],
                level=ibis.literal(level),
                parent_code=_ancestor(here.code, levels[i - 1]) if i else ibis.literal(""),
                level_order=ibis.literal(LEVELS.index(level)),
            )
        )
    return ibis.union(*parts).order_by(["level_order", "code"]).drop("level_order")
