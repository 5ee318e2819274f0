"""Running the engine-neutral rules (the Ibis expressions of monitor/rules: coverage_sets, coverage.outreach_list,
costs.person_year, findings.uninsured_ids, campaign.village_progress): the engine that [engine] kind names, tables
for it (frames and the lake's files), and results back as frames in the core's dtypes.

DuckDB runs in process, on every core, with a fresh in-memory database per use (a connection is not shared between
threads, and nothing is kept between loads). It writes no spill files: they would hold ID numbers outside the
service's folders.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeAlias

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from monitor.config import Settings
from monitor.rules import campaign, coverage_sets
from monitor.rules.coverage import COUNT_COLUMNS, outreach_list
from monitor.rules.identities import primary_identities
from monitor.storage import lake
from monitor.storage.schema import INT_COLUMNS


def backend(settings: Settings | None = None) -> BaseBackend:
    """A new connection to the configured engine (None: the default, DuckDB). DuckDB works in memory only (no
    spill files) and fetches or loads no extension (an intranet has none to fetch)."""
    kind = settings.engine_kind if settings else "duckdb"
    if kind != "duckdb":  # config refuses any other kind until issue 21 adds Spark
        raise ValueError(f"engine.kind {kind!r} is not available")
    return ibis.duckdb.connect(
        threads=os.cpu_count() or 1,
        temp_directory="",
        autoinstall_known_extensions=False,
        autoload_known_extensions=False,
    )


def evaluate(expr: ir.Table, settings: Settings | None = None) -> pd.DataFrame:
    """Run one rule's table on a connection of its own (see frame)."""
    engine = backend(settings)
    try:
        return frame(engine, expr)
    finally:
        engine.disconnect()


def table(frame: pd.DataFrame) -> ir.Table:
    """A frame as a table the rules take (the engine scans its Arrow columns). A column with no value at all (an
    empty frame's) is typed as the stored column is, text or integer, not as Arrow's null type."""
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    for i, field in enumerate(arrow.schema):
        if pa.types.is_null(field.type):
            kind = pa.int64() if field.name in INT_COLUMNS else pa.string()
            arrow = arrow.set_column(i, field.name, arrow.column(i).cast(kind))
    return ibis.memtable(arrow)


def files(engine: BaseBackend, paths: list[Path], source: str) -> ir.Table:
    """A lake source's files as a table the rules take (the engine scans them; none: an empty table)."""
    if not paths:
        return table(lake.empty(source))
    return engine.read_parquet([str(p) for p in paths])


def frame(engine: BaseBackend, expr: ir.Table) -> pd.DataFrame:
    """Run a rule's table on the engine: text as str, integers as Int64 where they may be missing, flags as bool."""
    arrow = engine.to_pyarrow(expr)
    return arrow.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


@dataclass(frozen=True)
class Covered:
    """SPEC §7 and §8 of a year: the in-scope persons with their flags, the counts of every division and the
    outreach list (both empty when not asked for)."""

    persons: pd.DataFrame
    counts: pd.DataFrame
    outreach: pd.DataFrame


Snapshot: TypeAlias = pd.DataFrame | list[Path]  # a snapshot's rows, or a lake source's files for the engine to scan


def source(engine: BaseBackend, key: str, rows: Snapshot) -> ir.Table:
    """A snapshot as a table the rules take: its frame's Arrow columns, or its lake files scanned where they are."""
    return files(engine, rows, key) if isinstance(rows, list) else table(rows)


def covered(
    snapshots: Mapping[str, Snapshot],
    settings: Settings,
    year: int,
    as_of: date,
    root: str,
    with_lists: bool = True,
    engine: BaseBackend | None = None,
) -> Covered:
    """Coverage (§7) and the outreach list (§8) on the configured engine (the caller's connection, else one of its
    own) from the snapshots (the register, deaths and enrollment as frames or files; identities and divisions as
    frames); without with_lists, the in-scope persons only."""
    identities = snapshots["identities"]
    assert isinstance(identities, pd.DataFrame)
    primary = table(primary_identities(identities, as_of, settings.identity_types_for(year)))
    own = engine is None
    engine = engine or backend(settings)
    try:
        tables = {key: source(engine, key, snapshots[key]) for key in ("population", "deaths", "enrollment")}
        persons = frame(
            engine,
            coverage_sets.scope(
                tables["population"], tables["deaths"], tables["enrollment"], primary, year, as_of, root
            ),
        )
        for flag in ("newborn", "vulnerable", "enrolled", "local", "duplicate"):
            persons[flag] = persons[flag].astype(bool)
        if not with_lists:
            return Covered(persons, pd.DataFrame(), pd.DataFrame())
        divisions = snapshots["divisions"]  # asked for with the lists only (the reminders' batch has none)
        assert isinstance(divisions, pd.DataFrame)
        in_scope = table(persons)
        counts = frame(engine, coverage_sets.coverage_by_division(in_scope, table(divisions), root))
        counts[COUNT_COLUMNS] = counts[COUNT_COLUMNS].astype("int64")
        enrolled = coverage_sets.enrolled_persons(tables["enrollment"], year, root)
        outreach = frame(engine, outreach_list(in_scope, tables["population"], enrolled, primary, year))
    finally:
        if own:
            engine.disconnect()
    return Covered(persons, counts, outreach)


def campaign_villages(
    enrollment: Snapshot,
    persons: pd.DataFrame,
    start: date,
    end: date,
    settings: Settings | None = None,
    engine: BaseBackend | None = None,
) -> pd.DataFrame:
    """The person-level half of the collection period's progress (rules.campaign.village_progress) on the
    configured engine (the caller's connection, else one of its own): the in-scope base and the enrolled persons
    per village and payment day, this campaign's and last year's, and the latest payment day;
    campaign.progress_all_levels makes the daily figures of it."""
    own = engine is None
    engine = engine or backend(settings)
    try:
        # only the columns the rule reads: the enrollment's names and subsidies are most of its bytes
        rows = (
            enrollment[["id_number", "year", "status", "paid_date"]]
            if isinstance(enrollment, pd.DataFrame)
            else enrollment
        )
        expr = campaign.village_progress(
            source(engine, "enrollment", rows).select("id_number", "year", "status", "paid_date"),
            table(persons[["id_number", "village_code", "vulnerable"]]),
            start,
            end,
        )
        return frame(engine, expr)
    finally:
        if own:
            engine.disconnect()
