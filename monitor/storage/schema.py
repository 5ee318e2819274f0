"""The database schema, part one: the metadata, column helpers, the tables of loads, the lake's file list and the
small source tables (divisions, boundaries).

The big sources' columns are in schema_lake (their rows are Parquet files, not tables). The results, case-work and
security tables are in schema_results and schema_security; monitor.storage.store imports all three, so its metadata
is the whole schema of the database."""

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
lake_files = sa.Table(
    "lake_files",
    metadata,
    sa.Column("path", S(200), primary_key=True),  # relative to the lake folder: <source>/run-<run id>.parquet
    sa.Column("source", S(16), index=True),
    sa.Column("run_id", sa.Integer),
    sa.Column("rows", BIG),
    sa.Column("bytes", BIG),
    sa.Column("sha256", S(64)),
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
