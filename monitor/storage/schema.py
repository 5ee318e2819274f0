"""The database schema, part one: the metadata, column helpers, and the tables of loads and of the source data.

The results, case-work and security tables are in schema_results and schema_security; monitor.storage.store imports
all three, so its metadata is the whole schema."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()
S = sa.String
BIG = sa.BigInteger


def plain_columns(*spec: tuple[str, type[sa.types.TypeEngine[Any]] | sa.types.TypeEngine[Any]]) -> list[sa.Column[Any]]:
    """Plain columns from (name, type) pairs; a type may be a class (sa.Text) or an instance (S(12))."""
    return [sa.Column(name, kind() if isinstance(kind, type) else kind) for name, kind in spec]


meta = sa.Table("meta", metadata, sa.Column("key", S(64), primary_key=True), sa.Column("value", sa.Text))

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", S(19)),
    sa.Column("finished_at", S(19)),
    sa.Column("status", S(16)),
    sa.Column("message", sa.Text),
    sa.Column("year", sa.Integer),
    sa.Column("as_of", S(10)),
    sa.Column("root", S(12)),
    sa.Column("inbox", sa.Text),
    sa.Column("trigger", S(32)),
    sa.Column("archived_to", sa.Text),
)
# One row per lock held (the single-load lock is "load"); a row that exists is a lock taken.
locks = sa.Table(
    "locks",
    metadata,
    sa.Column("name", S(32), primary_key=True),
    sa.Column("holder", sa.Text),
    sa.Column("host", S(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("acquired_at", S(19)),
)

run_files = sa.Table(
    "run_files",
    metadata,
    sa.Column("run_id", sa.Integer, index=True),
    sa.Column("source", S(16)),
    sa.Column("file", sa.Text),
    sa.Column("checksum", S(64)),
    sa.Column("rows_read", BIG),
    sa.Column("rows_loaded", BIG),
    sa.Column("rows_rejected", BIG),
)

rejects = sa.Table(
    "rejects",
    metadata,
    sa.Column("run_id", sa.Integer, index=True),
    sa.Column("seq", BIG),
    sa.Column("source", S(16)),
    sa.Column("file", sa.Text),
    sa.Column("row", BIG),
    sa.Column("reason", S(32)),
    sa.Column("column", S(32)),
    sa.Column("original", sa.Text),
)

divisions = sa.Table(
    "divisions", metadata, *plain_columns(("code", S(12)), ("name", sa.Text), ("urban_rural", S(3)), ("level", S(8)))
)
population = sa.Table(
    "population",
    metadata,
    *plain_columns(
        ("id_number", S(18)),
        ("name", sa.Text),
        ("village_code", S(12)),
        ("household_id", sa.Text),
        ("birth_date", S(10)),
        ("stated_birth_date", S(10)),
        ("status", S(8)),
        ("status_date", S(10)),
        ("phone", sa.Text),
        ("address", sa.Text),
    ),
    sa.Index("ix_population_id", "id_number"),
)
deaths = sa.Table("deaths", metadata, *plain_columns(("id_number", S(18)), ("name", sa.Text), ("death_date", S(10))))
enrollment = sa.Table(
    "enrollment",
    metadata,
    *plain_columns(
        ("id_number", S(18)),
        ("name", sa.Text),
        ("scheme", S(8)),
        ("year", sa.Integer),
        ("status", S(8)),
        ("insured_place", S(12)),
        ("paid_date", S(10)),
        ("subsidy_type", sa.Text),
        ("subsidy_amount", BIG),
    ),
    sa.Index("ix_enrollment_id", "id_number"),
)
identities = sa.Table(
    "identities",
    metadata,
    *plain_columns(
        ("id_number", S(18)),
        ("name", sa.Text),
        ("identity_type", S(32)),
        ("department", sa.Text),
        ("start_date", S(10)),
        ("end_date", S(10)),
        ("household_id", sa.Text),
        ("income_per_capita", BIG),
    ),
    sa.Index("ix_identities_id", "id_number"),
)
settlements = sa.Table(
    "settlements",
    metadata,
    *plain_columns(
        ("settlement_id", S(64)),
        ("id_number", S(18)),
        ("name", sa.Text),
        ("settle_date", S(10)),
        ("visit_type", S(16)),
        ("provider", sa.Text),
        ("total_cost", BIG),
        ("policy_cost", BIG),
        ("basic_paid", BIG),
        ("critical_paid", BIG),
        ("assistance_paid", BIG),
        ("other_paid", BIG),
        ("reverses", S(64)),
        ("run_id", sa.Integer),
    ),
    sa.Index("ix_settlements_person", "id_number"),
)

boundaries = sa.Table(
    "boundaries",
    metadata,
    *plain_columns(("code", S(12)), ("level", S(8)), ("geometry", sa.Text)),
    sa.Index("ix_boundaries_code", "code"),
)
findings = sa.Table(
    "findings",
    metadata,
    *plain_columns(
        ("year", sa.Integer),
        ("kind", S(32)),
        ("source", S(16)),
        ("file", sa.Text),
        ("row", BIG),
        ("id_number", S(18)),
        ("name", sa.Text),
        ("detail", sa.Text),
    ),
    sa.Index("ix_findings_year", "year"),
)
identity_changes = sa.Table(
    "identity_changes",
    metadata,
    *plain_columns(
        ("run_id", sa.Integer),
        ("id_number", S(18)),
        ("name", sa.Text),
        ("change", S(4)),
        ("identity_type_before", S(32)),
        ("identity_type_after", S(32)),
    ),
)

SNAPSHOT_TABLES = {
    "divisions": divisions,
    "population": population,
    "deaths": deaths,
    "enrollment": enrollment,
    "identities": identities,
    "boundaries": boundaries,
}
INT_COLUMNS = {
    "year",
    "subsidy_amount",
    "income_per_capita",
    "total_cost",
    "policy_cost",
    "basic_paid",
    "critical_paid",
    "assistance_paid",
    "other_paid",
    "run_id",
    "row",
    "seq",
    "priority",
    "subsidy_cents",
    "funds_paid",
    "measure",
    "threshold",
    "rule_measure",
    "ratio",
    "amount",
    "n_settlements",
    "inpatient_stays",
    "in_scope",
    "enrolled",
    "vulnerable_in_scope",
    "vulnerable_enrolled",
    "newborn_in_scope",
    "newborn_enrolled",
    "enrolled_local",
    "enrolled_elsewhere",
    "duplicate_enrolled",
    "rows_read",
    "rows_loaded",
    "rows_rejected",
    "id",
    "outreach",
    "alerts",
    "alerts_red",
    "alerts_orange",
    "alerts_yellow",
    "import_id",
    "pid",
    "rows",
    "target_year",
    "target",
    "previous_enrolled",
    "entries",
}
