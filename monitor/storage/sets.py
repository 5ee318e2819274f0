"""Running the engine-neutral rules (the Ibis expressions of monitor/rules: coverage_sets, coverage.outreach_list,
costs.person_year, alert_rules, identities, findings.findings, campaign.village_progress, repeats.held): the engine
that [engine] kind names, tables for it (frames and the lake's files), and results back as frames in the core's dtypes.

DuckDB runs in process, on every core, with a fresh in-memory database per use (a connection is not shared between
threads, and nothing is kept between loads). With settings, it holds at most [engine] memory_mb and spills the rest
to a folder of its own under duckdb/ in the data folder: 0700 like the lake, since the spilled rows hold ID numbers,
and removed with the connection. Spark (monitor.storage.spark, imported only when configured) gives each use a
connection of its own to the process's one session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
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

from monitor.config import Settings, data_path
from monitor.rules import alert_rules, campaign, coverage_sets, identities, repeats
from monitor.rules.coverage import COUNT_COLUMNS, outreach_list
from monitor.storage import lake
from monitor.storage.schema import INT_COLUMNS


def backend(settings: Settings | None = None) -> BaseBackend:
    """A new connection to the configured engine (None: the default, DuckDB, in memory only). DuckDB holds at most
    [engine] memory_mb and spills beyond it (see above); it fetches or loads no extension (an intranet has none).
    Spark: a connection to the process's one session (monitor.storage.spark), started by the first; its
    disconnect() leaves the session."""
    kind = settings.engine_kind if settings else "duckdb"
    if kind == "spark":
        assert settings is not None
        from monitor.storage import spark  # pyspark only where configured: a DuckDB deployment never imports it

        return spark.connect(settings)
    if kind != "duckdb":  # config knows no other kind
        raise ValueError(f"engine.kind {kind!r} is not available")
    options: dict[str, object] = {"temp_directory": ""}  # no settings (tests, one-off rules): memory only
    spill = None
    if settings is not None:
        scratch = data_path(settings) / "duckdb"
        lake.private_folder(scratch)
        spill = Path(tempfile.mkdtemp(prefix="rules-", dir=scratch))  # its own: two loads' files never meet
        options = {"temp_directory": str(spill), "memory_limit": f"{settings.engine_memory_mb}MiB"}
    con = ibis.duckdb.connect(
        threads=os.cpu_count() or 1,
        autoinstall_known_extensions=False,
        autoload_known_extensions=False,
        **options,
    )
    if spill is not None:  # DuckDB deletes its spill files on closing; the folder goes with the connection
        weakref.finalize(con, shutil.rmtree, spill, True)
    return con


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


def distinct_ids(paths: list[Path], source: str, settings: Settings) -> int:
    """The distinct ID numbers of a lake source's files (the shrink check of SPEC §3) on the configured engine, so
    within its memory: read into Arrow whole, the ID column of a 5 M city's enrollment (13 M rows, twice: the stored
    list and the run's) took the load from 1.1 to 2.1 GiB."""
    engine = backend(settings)
    try:
        rows = files(engine, paths, source)
        return int(engine.to_pyarrow(rows.select("id_number").distinct().count()).as_py())
    finally:
        engine.disconnect()


def held_rows(run_files: list[Path], stored: list[Path], source: str, settings: Settings) -> pd.DataFrame:
    """_t and _row of the rows of a load (its staged files: the open rows with _t and _row) that a check across rows
    may reject (rules.repeats.held), the stored files' keys counting as met; on the configured engine."""
    if not run_files:
        return pd.DataFrame({"_t": pd.Series([], dtype="int64"), "_row": pd.Series([], dtype="int64")})
    engine = backend(settings)
    try:
        run = engine.read_parquet([str(p) for p in run_files])
        earlier = engine.read_parquet([str(p) for p in stored]) if stored else None
        return engine.to_pyarrow(repeats.held(run, earlier, source)).to_pandas()
    finally:
        engine.disconnect()


def frame(engine: BaseBackend, expr: ir.Table) -> pd.DataFrame:
    """Run a rule's table on the engine: text as str, integers as Int64 where they may be missing, flags as bool."""
    arrow = engine.to_pyarrow(expr)
    return arrow.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


@dataclass(frozen=True)
class Covered:
    """SPEC §7 and §8 of a year: the in-scope persons with their flags (a table kept on the caller's connection),
    the counts of every division and the outreach list."""

    persons: ir.Table
    counts: pd.DataFrame
    outreach: pd.DataFrame
    sources: dict[str, ir.Table]  # the register, deaths, enrollment and identities as read, for the caller's rules
    primary: ir.Table  # the primary identities (rules.identities.primary), kept


Snapshot: TypeAlias = pd.DataFrame | list[Path]  # a snapshot's rows, or a lake source's files for the engine to scan


def source(engine: BaseBackend, key: str, rows: Snapshot) -> ir.Table:
    """A snapshot as a table the rules take: its frame's Arrow columns, or its lake files scanned where they are."""
    return files(engine, rows, key) if isinstance(rows, list) else table(rows)


def kept(engine: BaseBackend, expr: ir.Table, name: str) -> ir.Table:
    """A table that later rules read more than once, computed once and kept on the connection (a temporary table,
    gone with it): the in-scope persons feed the counts, the outreach list and the campaign, and held as a frame
    they were the peak of a 1.5 M load's compute (1.5 M rows, about 1 GiB)."""
    return engine.create_table(name, expr, temp=True)


def _scope(
    engine: BaseBackend, snapshots: Mapping[str, Snapshot], settings: Settings, year: int, as_of: date, root: str
) -> tuple[ir.Table, dict[str, ir.Table], ir.Table]:
    """coverage_sets.scope of the snapshots, with the tables it read and the primary identities (kept: the scope,
    the outreach list and the alerts read them)."""
    tables = {key: source(engine, key, snapshots[key]) for key in ("population", "deaths", "enrollment", "identities")}
    primary = kept(
        engine, identities.primary(tables["identities"], as_of, settings.identity_types_for(year)), "primary"
    )
    population, deaths, enrollment = (tables[k] for k in ("population", "deaths", "enrollment"))
    persons = coverage_sets.scope(population, deaths, enrollment, primary, year, as_of, root)
    return persons, tables, primary


def in_scope(snapshots: Mapping[str, Snapshot], settings: Settings, year: int, as_of: date, root: str) -> pd.DataFrame:
    """The in-scope persons of a year (SPEC §7) with their flags, as a frame, on a connection of their own."""
    engine = backend(settings)
    try:
        persons = frame(engine, _scope(engine, snapshots, settings, year, as_of, root)[0])
    finally:
        engine.disconnect()
    for flag in ("newborn", "vulnerable", "enrolled", "local", "duplicate"):
        persons[flag] = persons[flag].astype(bool)
    return persons


def covered(
    snapshots: Mapping[str, Snapshot], settings: Settings, year: int, as_of: date, root: str, engine: BaseBackend
) -> Covered:
    """Coverage (§7) and the outreach list (§8) on the caller's connection from the snapshots (the register, deaths,
    enrollment and identities as frames or files; the divisions as a frame)."""
    scope, tables, primary = _scope(engine, snapshots, settings, year, as_of, root)
    persons = kept(engine, scope, "in_scope")
    divisions = snapshots["divisions"]
    assert isinstance(divisions, pd.DataFrame)
    counts = frame(engine, coverage_sets.coverage_by_division(persons, table(divisions), root))
    counts[COUNT_COLUMNS] = counts[COUNT_COLUMNS].astype("int64")
    enrolled = coverage_sets.enrolled_persons(tables["enrollment"], year, root)
    outreach = frame(engine, outreach_list(persons, tables["population"], enrolled, primary, year))
    return Covered(persons, counts, outreach, tables, primary)


def alerts_and_watch(
    engine: BaseBackend,
    sums: ir.Table,
    register: ir.Table,
    primary: ir.Table,
    divisions: pd.DataFrame,
    holders: ir.Table,
    settlements: ir.Table,
    settings: Settings,
    year: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The alert list and the watch list (rules.alert_rules) of the candidates' sums, on the caller's connection.
    The candidates as evaluated and their netted settlements are kept (each read by both lists), so person_year runs
    once and the settlements are scanned once more."""
    chosen = kept(
        engine,
        alert_rules.evaluated(
            sums, register, primary, table(divisions[["code", "urban_rural"]]), holders, settings, year
        ),
        "evaluated",
    )
    listed = kept(engine, alert_rules.listed_settlements(chosen, settlements, year, settings.cost_measure), "listed")
    alerts = frame(engine, alert_rules.alert_list(chosen, listed, settings, year))
    alerts["vulnerable"] = alerts["vulnerable"].astype(bool)
    watch = alert_rules.watch_order(frame(engine, alert_rules.watch_list(chosen, listed)), year)
    return alerts, watch


def campaign_villages(
    enrollment: Snapshot,
    persons: pd.DataFrame | ir.Table,
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
    assert not (own and isinstance(persons, ir.Table)), "a table of a connection is read on that connection"
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
            (table(persons) if isinstance(persons, pd.DataFrame) else persons).select(
                "id_number", "village_code", "vulnerable"
            ),
            start,
            end,
        )
        return frame(engine, expr)
    finally:
        if own:
            engine.disconnect()
