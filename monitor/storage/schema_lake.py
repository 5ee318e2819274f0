"""The columns of the big sources kept in the lake (monitor.storage.lake) rather than in the database: the register,
deaths, enrollment and identity snapshots and the settlements. They are SQLAlchemy tables of a metadata of their own,
never created in the database: the column contract of the Parquet files (names, order, types for typed_frame).

Sorted by ID number when written (lake.Writer: a snapshot whole, the settlements per chunk of a load), so an engine
finds one person's rows by the row groups' statistics."""

from __future__ import annotations

import sqlalchemy as sa

from monitor.storage.schema import BIG, S, boundaries, divisions, plain_columns

lake_metadata = sa.MetaData()

population = sa.Table(
    "population",
    lake_metadata,
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
)
deaths = sa.Table(
    "deaths", lake_metadata, *plain_columns(("id_number", S(18)), ("name", sa.Text), ("death_date", S(10)))
)
enrollment = sa.Table(
    "enrollment",
    lake_metadata,
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
)
identities = sa.Table(
    "identities",
    lake_metadata,
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
)
settlements = sa.Table(
    "settlements",
    lake_metadata,
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
)


LAKE_TABLES = {
    "population": population,
    "deaths": deaths,
    "enrollment": enrollment,
    "identities": identities,
    "settlements": settlements,
}
SNAPSHOT_TABLES = {
    "divisions": divisions,
    "population": population,
    "deaths": deaths,
    "enrollment": enrollment,
    "identities": identities,
    "boundaries": boundaries,
}  # replaced whole by a load that has their files; divisions and boundaries are database tables
