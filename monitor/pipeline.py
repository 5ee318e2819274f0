"""One load, end to end: read → validate → compute → store in a single transaction."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor import boundaries as boundary_rules
from monitor import store, table_copies
from monitor.campaign import progress_all_levels
from monitor.config import ConfigError, Settings
from monitor.costs import alerts as compute_alerts
from monitor.costs import person_year, rule_thresholds
from monitor.coverage import COUNT_COLUMNS, coverage_by_division, outreach_list, scope
from monitor.divisions import level_of, levels_below
from monitor.findings import data_quality_findings
from monitor.identities import change_list, primary_identities
from monitor.read import LoadError, RawTable, checksum, files_by_source, read_boundaries, read_source
from monitor.sources import TABULAR_SOURCES
from monitor.text import is_in, lookup
from monitor.validate import Context, Validated, validate_source

Progress = Callable[[str], None]
# Settlements depend on no other source, so the biggest one goes first (after the short divisions list): the second
# thread stages it while the snapshots are validated, and its raw cells are gone before the snapshots are held.
VALIDATION_ORDER = ("divisions", "settlements", "population", "deaths", "enrollment", "identities")
assert sorted(VALIDATION_ORDER) == sorted(TABULAR_SOURCES)


class RunError(Exception):
    """A run that could not be processed; nothing stored changed. The message is one line; run_id is the failed
    run's row in the run history (None when it could not be recorded)."""

    def __init__(self, message: str, run_id: int | None = None):
        super().__init__(message)
        self.run_id = run_id


@dataclass
class RunResult:
    run_id: int
    year: int
    as_of: date
    root: str
    counts: dict[str, dict[str, tuple[int, int, int]]] = field(default_factory=dict)  # source → file → counts
    alerts: int = 0
    outreach: int = 0


def resolve_root(engine: Engine, settings: Settings, region: str | None) -> str:
    """--region, else the root stored with the data, else config's region_code."""
    if region:
        if not region.isdigit() or len(region) not in (6, 12):
            raise RunError(f"--region: expected a 6- or 12-digit division code, got {region!r}")
        return region.ljust(12, "0")
    return store.get_meta(engine, "root") or settings.region_code


def _stored(engine: Engine) -> tuple[dict[str, pd.DataFrame], set[str]]:
    """Every stored snapshot and settlement, and the big tables that had to be read without their copies."""
    frames, uncopied = {}, set()
    for key, table in [*store.SNAPSHOT_TABLES.items(), ("settlements", store.settlements)]:
        copy = table_copies.read(engine, table) if key in table_copies.COPIED else None
        frames[key] = copy if copy is not None else store.read_bulk(engine, table)
        if copy is None and key in table_copies.COPIED:
            uncopied.add(key)
    return frames, uncopied


def _divisions_frame(valid: pd.DataFrame) -> pd.DataFrame:
    frame = valid[["code", "name", "urban_rural"]].copy()
    frame["level"] = frame["code"].map(level_of)
    return frame


def run_load(inbox: Path | None, settings: Settings, engine: Engine, *, year: int | None = None,
             as_of: date | None = None, region: str | None = None, run_date: date | None = None, trigger: str = "命令行",
             progress: Progress = lambda _msg: None) -> RunResult:
    """Process one load folder (None: recompute the year from stored data); on any failure record the failed run,
    change no data and raise RunError."""
    started = store.now()
    year = year or settings.year
    root = None
    try:
        root = resolve_root(engine, settings, region)
        as_of = settings.resolve_as_of(year, as_of)
        return _run(inbox, settings, engine, year, as_of, root, run_date or date.today(), started, trigger, progress)
    except (LoadError, ConfigError, RunError) as exc:
        message = str(exc).splitlines()[0]
        run_id = store.record_failed_run(engine, started, year, as_of.isoformat() if isinstance(as_of, date) else None,
                                         root, str(inbox or ""), message, trigger)
        raise RunError(message, run_id) from None


@dataclass
class _Prepared:
    """A validated input made ready for the database before its transaction: rows staged for SQLite (None: written
    row by row) and columnar copies under temporary names."""
    rows: pd.DataFrame
    staged: store.Staged | None = None
    copies: list[table_copies.Pending] = field(default_factory=list)

    def discard(self) -> None:
        if self.staged is not None:
            self.staged.discard()
        table_copies.discard(self.copies)


def _prepare(engine: Engine, table: sa.Table, rows: pd.DataFrame, copied: bool) -> _Prepared:
    staged = store.stage(engine, table, rows)
    try:
        return _Prepared(rows, staged, table_copies.write(engine, table, rows) if copied else [])
    except BaseException:
        if staged is not None:
            staged.discard()
        raise


def _run(inbox: Path | None, settings: Settings, engine: Engine, year: int, as_of: date, root: str, run_date: date,
         started: str, trigger: str, progress: Progress) -> RunResult:
    types = settings.identity_types_for(year)
    rule_thresholds(settings, year)  # a missing income stops the run before anything is read
    files = files_by_source(inbox, settings) if inbox else {}
    table_copies.clear_leftovers(engine)
    store.clear_staging_leftovers(engine)
    progress("读取已存数据")
    stored, uncopied = _stored(engine)
    # A second thread prepares each input for the database (file digests, staging files, columnar copies) while this
    # one validates the next: validating keeps one core busy, and that work runs mostly without Python's lock.
    prepared: dict[str, Future] = {}
    with ThreadPoolExecutor(max_workers=1) as preparer:
        try:
            digests: dict[Path, Future] = {}
            results, snapshots, new_settlements = _validate_sources(files, settings, engine, root, year, run_date,
                                                                    stored, preparer, prepared, digests, progress)
            all_settlements = _all_settlements(stored["settlements"].drop(columns=["run_id"]), new_settlements)
            pending: list[table_copies.Pending] = []
            try:
                with store.load_transaction(engine) as conn:
                    run_id = int(conn.execute(store.runs.insert().values(
                        started_at=started, status="running", year=year, as_of=as_of.isoformat(), root=root,
                        inbox=str(inbox or ""), trigger=trigger)).inserted_primary_key[0])
                    store.set_meta(conn, "root", root)
                    prepared["settlement copies"] = preparer.submit(_settlement_copies, engine, prepared["settlements"],
                                                                    run_id, stored, uncopied)
                    progress("计算参保率、扩面名单与预警，同时写入明细数据")
                    # The inputs go to the database on a third thread while this one computes: the database's own
                    # work runs without Python's lock. Leaving this block waits for the writer, also on failure, so
                    # nothing uses the connection when the transaction rolls back.
                    with ThreadPoolExecutor(max_workers=1) as writer:
                        inputs = writer.submit(_store_inputs, conn, run_id, prepared, uncopied, stored, pending)
                        computed = compute_results(snapshots, all_settlements, settings, year, as_of, root)
                        changes = None
                        if "identities" in results and not stored["identities"].empty:
                            changes = change_list(stored["identities"], snapshots["identities"], as_of, types)
                        findings = data_quality_findings(snapshots, all_settlements, year)
                        inputs.result()
                    progress("写入结果")
                    _store_run_files(conn, run_id, files, results, digests)
                    pending += _store_results(conn, run_id, year, computed, findings, changes)
                    conn.execute(store.runs.update().where(store.runs.c.id == run_id).values(
                        status="ok", finished_at=store.now(), message=""))
            except BaseException:
                table_copies.discard(pending)
                raise
            table_copies.publish(pending)
        finally:
            for future in prepared.values():  # staging files, and copies the transaction did not take
                if future.exception() is None:
                    future.result().discard()
    counts = {key: r.counts for key, r in results.items()}
    return RunResult(run_id, year, as_of, root, counts, len(computed["alerts"]), len(computed["outreach"]))


def _validate_sources(files: dict[str, list[Path]], settings: Settings, engine: Engine, root: str, year: int,
                      run_date: date, stored: dict[str, pd.DataFrame], preparer: ThreadPoolExecutor,
                      prepared: dict[str, Future], digests: dict[Path, Future],
                      progress: Progress) -> tuple[dict[str, Validated], dict[str, pd.DataFrame], pd.DataFrame]:
    """Validate each source of the load: the results (in TABULAR_SOURCES order), the snapshots in force and the new
    settlements. Each replaced snapshot, the new settlements and the digests of each source's files go to the
    preparer."""
    results: dict[str, Validated] = {}
    snapshots = {key: stored[key] for key in store.SNAPSHOT_TABLES}
    new_settlements = stored["settlements"].iloc[0:0]
    villages: frozenset[str] = frozenset()
    for key in VALIDATION_ORDER:
        if key == "population":
            villages = frozenset(snapshots["divisions"].loc[snapshots["divisions"]["level"] == "村社区", "code"])
        if key not in files:
            continue
        # one source's raw cells at a time: held together, the raw sources of a district took gigabytes
        progress(f"读取 {key}（{len(files[key])} 个文件）")
        raw = read_source(files[key], key, settings)
        progress(f"校验 {key}")
        mentioned = _mentioned_settlements(raw, stored["settlements"]) if key == "settlements" else None
        ctx = Context(settings, root, year, run_date, villages, mentioned)
        results[key] = validate_source(key, raw, ctx)
        del raw
        valid = results[key].valid
        if key == "divisions":
            snapshots["divisions"] = _divisions_frame(valid)
        elif key in snapshots:
            snapshots[key] = valid.drop(columns=["_file", "_row"])
        if key in snapshots:
            prepared[key] = preparer.submit(_prepare, engine, store.SNAPSHOT_TABLES[key], snapshots[key],
                                             key in table_copies.COPIED)
        elif key == "settlements":
            new_settlements = valid.drop(columns=["_file", "_row"])
            prepared[key] = preparer.submit(_prepare, engine, store.settlements, new_settlements, False)
        digests.update({path: preparer.submit(checksum, path) for path in files[key]})
    if "settlements" not in prepared:
        prepared["settlements"] = preparer.submit(_prepare, engine, store.settlements, new_settlements, False)
    results = {key: results[key] for key in TABULAR_SOURCES if key in results}
    if "boundaries" in files:
        progress("校验 boundaries")
        results["boundaries"] = _boundaries(files["boundaries"], snapshots["divisions"], root, settings)
        snapshots["boundaries"] = results["boundaries"].valid
        prepared["boundaries"] = preparer.submit(_prepare, engine, store.boundaries, snapshots["boundaries"], False)
        digests.update({path: preparer.submit(checksum, path) for path in files["boundaries"]})
    return results, snapshots, new_settlements


def _all_settlements(stored: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Stored then new settlements; either one alone as it is (concatenating copies the amounts: 0.5 GB for a
    district's year)."""
    if stored.empty or new.empty:
        return (new if stored.empty else stored).reset_index(drop=True)
    return pd.concat([stored, new], ignore_index=True)


def _mentioned_settlements(raw: list[RawTable], stored: pd.DataFrame) -> pd.DataFrame:
    """The stored settlements whose IDs the load's settlement files mention (as their own ID or the one reversed).
    A function of its own, so the 17 million IDs of a district's year are let go before validation starts."""
    if stored.empty:
        return stored
    ids = pd.concat([t.column(c) for t in raw for c in ("settlement_id", "reverses")]).str.strip()
    return stored[is_in(stored["settlement_id"], ids)]


def _store_inputs(conn: sa.Connection, run_id: int, prepared: dict[str, Future], uncopied: set[str],
                  stored: dict[str, pd.DataFrame], pending: list[table_copies.Pending]) -> None:
    """The snapshots the load replaced and its settlements, with their columnar copies (added to pending)."""
    for key, table in [*store.SNAPSHOT_TABLES.items(), ("settlements", store.settlements)]:
        ready: _Prepared | None = prepared[key].result() if key in prepared else None
        if ready is not None and key != "settlements":
            conn.execute(table.delete())
        if ready is not None and ready.staged is not None:
            store.write_staged(conn, table, ready.staged, **({"run_id": run_id} if key == "settlements" else {}))
        elif ready is not None:
            store.write_frame(conn, table, ready.rows.assign(run_id=run_id) if key == "settlements" else ready.rows)
        if ready is not None:
            table_copies.record(conn, ready.copies)
            pending.extend(ready.copies)
            ready.copies = []  # the transaction owns them now
        elif key in uncopied and key != "settlements":
            pending.extend(table_copies.prepare(conn, table, stored[key]))
    written = prepared["settlement copies"].result()
    table_copies.record(conn, written.copies)
    pending.extend(written.copies)
    written.copies = []


def _settlement_copies(engine: Engine, settlements: Future, run_id: int, stored: dict[str, pd.DataFrame],
                       uncopied: set[str]) -> _Prepared:
    """The columnar copy of this run's settlements, written once the run has its id (the file is named by it);
    settlements read from the database (no copies yet, or one out of step) get theirs again."""
    fresh = settlements.result().rows.assign(run_id=run_id)
    rows = pd.concat([stored["settlements"], fresh], ignore_index=True) if "settlements" in uncopied else fresh
    return _Prepared(fresh.iloc[0:0], None, table_copies.write(engine, store.settlements, rows))


def _boundaries(paths: list[Path], divisions: pd.DataFrame, root: str, settings: Settings) -> Validated:
    """Every boundary file of the load, checked against the divisions snapshot; later files add levels."""
    valid, rejects, counts = [], [], {}
    tolerance = settings.boundary_simplify_metres / 111_000  # metres → degrees of latitude
    for path in paths:
        frame = read_boundaries(path, settings.boundary_code_property)
        good, bad = boundary_rules.prepare(frame, path.name, divisions, root, tolerance)
        valid.append(good.assign(_file=path.name))
        rejects.append(bad)
        counts[path.name] = (len(frame), len(good), len(bad))
    merged = pd.concat(valid, ignore_index=True)
    repeated = merged["code"].duplicated()  # the same code in two files: the first file in name order wins
    rejects.append(pd.DataFrame({"source": "boundaries", "file": merged.loc[repeated, "_file"],
                                 "row": merged.loc[repeated, "_row"], "reason": "DUPLICATE_ID", "column": "code",
                                 "original": merged.loc[repeated, "_original"]}))
    kept = merged[~repeated][boundary_rules.BOUNDARY_COLUMNS].reset_index(drop=True)
    return Validated("boundaries", kept, pd.concat(rejects, ignore_index=True), counts)


def compute_results(snapshots: dict[str, pd.DataFrame], settlements: pd.DataFrame, settings: Settings, year: int,
                    as_of: date, root: str) -> dict[str, pd.DataFrame]:
    """Coverage, outreach and alerts of a year from the snapshots and every stored settlement; for the year whose
    autumn holds the collection period, also the campaign's daily progress."""
    types = settings.identity_types_for(year)
    population, identities = snapshots["population"], snapshots["identities"]
    persons = scope(population, snapshots["deaths"], snapshots["enrollment"], identities, year, as_of, root, types)
    coverage = coverage_by_division(persons, snapshots["divisions"], root)
    outreach = outreach_list(persons, population, snapshots["enrollment"], identities, year, as_of, root, types)
    primary = primary_identities(identities, as_of, types)[["id_number", "identity_type"]]
    urban = snapshots["divisions"].set_index("code")["urban_rural"].fillna("").str.startswith("1")
    people = population[["id_number", "name", "village_code"]].drop_duplicates("id_number")
    people = people.assign(urban=people["village_code"].map(urban).fillna(False).astype(bool),
                           identity_type=lookup(people["id_number"], primary["id_number"], primary["identity_type"]))
    # identity holders outside the register too; an outer merge did the same but sorted 1.5 M ID numbers (5 s)
    people = pd.concat([people, primary[~is_in(primary["id_number"], people["id_number"])]], ignore_index=True)
    people["vulnerable"] = people["identity_type"].notna()
    alerts = compute_alerts(person_year(settlements, year, settings.cost_measure), settlements, people, settings, year)
    computed = {"coverage": coverage, "outreach": outreach, "alerts": alerts}
    if settings.campaign_start.year == year:  # the period during Y collects Y+1; Y's in-scope persons are its base
        computed["campaign"], latest = progress_all_levels(
            persons, snapshots["enrollment"], levels_below(root), settings.campaign_start, settings.campaign_end,
            float(settings.target_overall), settings.campaign_targets)
        computed["campaign_latest"] = pd.DataFrame({"day": [latest.isoformat() if latest else ""]})
    return computed


def _store_run_files(conn: sa.Connection, run_id: int, files: dict[str, list[Path]],
                     results: dict[str, Validated], digests: dict[Path, Future]) -> None:
    rows = []
    for key, paths in files.items():
        validated = results.get(key)
        for path in paths:
            digest = digests[path].result()
            labels = [lb for lb in (validated.counts if validated else {}) if lb.split(":")[0] == path.name] \
                or [path.name]
            for label in labels:
                read, loaded, rejected = validated.counts.get(label, (0, 0, 0)) if validated else (0, 0, 0)
                rows.append({"run_id": run_id, "source": key, "file": label, "checksum": digest,
                             "rows_read": read, "rows_loaded": loaded, "rows_rejected": rejected})
    store.write_frame(conn, store.run_files, pd.DataFrame(rows))
    if not results:
        return
    rejects = pd.concat([r.rejects for r in results.values()], ignore_index=True)
    rejects["run_id"] = run_id
    rejects["seq"] = range(len(rejects))
    store.write_frame(conn, store.rejects, rejects)


def _store_results(conn: sa.Connection, run_id: int, year: int, computed: dict[str, pd.DataFrame],
                   findings: pd.DataFrame, changes: pd.DataFrame | None) -> list[table_copies.Pending]:
    """The year's results; returns the copies to put in place after the commit (the outreach and alert lists')."""
    pending = []
    for name, table in (("coverage", store.coverage), ("outreach", store.outreach), ("alerts", store.alerts)):
        frame = computed[name].assign(year=year, run_id=run_id)
        frame["seq"] = range(len(frame))
        store.replace_rows(conn, table, frame, table.c.year == year)
        if name in table_copies.COPIED:
            pending += table_copies.prepare(conn, table, frame)
    store.replace_rows(conn, store.findings, findings.assign(year=year), store.findings.c.year == year)
    if changes is not None:
        store.write_frame(conn, store.identity_changes, changes.assign(run_id=run_id))
    _sync_alert_states(conn, year, computed["alerts"])
    if "campaign" in computed:
        target_year = year + 1
        frame = computed["campaign"].assign(target_year=target_year, day=computed["campaign"]["day"].astype("str"))
        store.replace_rows(conn, store.campaign_progress, frame, store.campaign_progress.c.target_year == target_year)
        store.set_meta(conn, f"campaign_latest_payment_{target_year}", computed["campaign_latest"]["day"].iloc[0])
    store.write_frame(conn, store.run_summaries, run_summary(computed).assign(run_id=run_id, year=year))
    return pending


def run_summary(computed: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The root's headline figures of a run, kept per run so pages can show the change since the last one."""
    coverage = computed["coverage"]
    top = coverage.iloc[[0]] if not coverage.empty else pd.DataFrame({c: [0] for c in COUNT_COLUMNS})
    levels = computed["alerts"]["level"].value_counts()
    summary = top[[c for c in COUNT_COLUMNS if "newborn" in c or "vulnerable" in c or c in ("in_scope", "enrolled")]]
    return summary.reset_index(drop=True).assign(
        outreach=len(computed["outreach"]), alerts=len(computed["alerts"]), alerts_red=int(levels.get("红", 0)),
        alerts_orange=int(levels.get("橙", 0)), alerts_yellow=int(levels.get("黄", 0)))


LEVEL_RANK = {"黄": 1, "橙": 2, "红": 3}


def _sync_alert_states(conn: sa.Connection, year: int, alerts: pd.DataFrame) -> None:
    """New alerts start 待推送; an unpushed alert follows its level; a level that rises after a push sends the
    alert back to 待推送 marked 升级 (the push, result and history stay). Recomputing never resets a state."""
    existing = store.read_table(conn, store.alert_states, store.alert_states.c.year == year)
    at = store.now()
    merged = alerts[["id_number", "level"]].merge(existing[["id_number", "state", "level"]], on="id_number",
                                                  how="left", suffixes=("", "_before"))
    fresh = merged[merged["state"].isna()]
    store.write_frame(conn, store.alert_states, pd.DataFrame({
        "year": year, "id_number": fresh["id_number"], "state": "待推送", "level": fresh["level"], "upgraded": False,
        "updated_at": at, "updated_by": "system"}))
    events = [{"year": year, "id_number": r.id_number, "at": at, "by": "system", "action": "生成",
               "state_before": "", "state_after": "待推送", "level": r.level, "detail": ""} for r in fresh.itertuples()]
    known = merged[merged["state"].notna() & (merged["level"] != merged["level_before"])]
    before = known["level_before"].map(LEVEL_RANK).astype("float64").fillna(0)
    rank = known["level"].map(LEVEL_RANK).astype("float64") - before
    for row, rise in zip(known.itertuples(), rank):
        match = (store.alert_states.c.year == year) & (store.alert_states.c.id_number == row.id_number)
        if row.state == "待推送":
            conn.execute(store.alert_states.update().where(match).values(level=row.level))
        elif rise > 0:
            conn.execute(store.alert_states.update().where(match).values(
                state="待推送", level=row.level, upgraded=True, updated_at=at, updated_by="system"))
            events.append({"year": year, "id_number": row.id_number, "at": at, "by": "system", "action": "升级",
                           "state_before": row.state, "state_after": "待推送", "level": row.level,
                           "detail": f"{row.level_before} → {row.level}"})
    store.write_frame(conn, store.alert_events, pd.DataFrame(events))
