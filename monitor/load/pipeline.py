"""One load, end to end: read → validate → compute → store in a single transaction."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.cases import alert_case
from monitor.config import PROJECT_ROOT, ConfigError, Settings
from monitor.files.read import LoadError, checksum, files_by_source
from monitor.files.sources import TABULAR_SOURCES
from monitor.load.compute import compute_results, run_summary
from monitor.load.inputs import (
    SHRINK_CHECKED,
    Prepared,
    prepare,
    shrink_message,
    shrinks_too_much,
    store_inputs,
    store_run_files,
    validated_boundaries,
)
from monitor.load.spread import spread_source
from monitor.load.streamed import stream_source
from monitor.rules.alert_rules import check_rules
from monitor.rules.divisions import level_of
from monitor.rules.validate import Context, Validated
from monitor.security import audit
from monitor.storage import lake, queries, sets, store, table_copies
from monitor.storage.database import begin_run, end_run
from monitor.storage.queries import QueryError

log = logging.getLogger(__name__)  # run ids and error kinds, never persons
Progress = Callable[[str], None]
# Settlements depend on no other source, so the biggest one goes first (after the short divisions list): the second
# thread stages it while the snapshots are validated, and its raw cells are gone before the snapshots are held.
VALIDATION_ORDER = ("divisions", "settlements", "population", "deaths", "enrollment", "identities")
assert sorted(VALIDATION_ORDER) == sorted(TABULAR_SOURCES)


class RunError(Exception):
    """A run that could not be processed; nothing stored changed. The message is one line; run_id is the failed
    run's row in the run history (None when it could not be recorded); held names the snapshots the run held back
    because they shrank (SPEC §3), which a rerun may accept; folder is where the run's files were set aside (by
    operations, None when they stayed where they were)."""

    def __init__(self, message: str, run_id: int | None = None, held: tuple[str, ...] = ()):
        super().__init__(message)
        self.run_id = run_id
        self.held = held
        self.folder: Path | None = None


def _unexpected(exc: Exception) -> str:
    """The one-line reason of a run stopped by an error no check foresaw: its kind and the project's line that met it
    (never its text, which may quote a person's data)."""
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return f"数据库出错（{type(exc).__name__}），未应用任何数据"
    ours = [
        (Path(f.filename).relative_to(PROJECT_ROOT).as_posix(), f.lineno)
        for f in traceback.extract_tb(exc.__traceback__)
        if Path(f.filename).is_relative_to(PROJECT_ROOT) and "site-packages" not in f.filename
    ]
    where = f"，{ours[-1][0]}:{ours[-1][1]}" if ours else ""
    return f"意外错误（{type(exc).__name__}{where}），未应用任何数据；请告知维护人员"


@dataclass
class RunResult:
    run_id: int
    year: int
    as_of: date
    root: str
    counts: dict[str, dict[str, tuple[int, int, int]]] = field(default_factory=dict)  # source → file → counts
    alerts: int = 0
    outreach: int = 0
    shrunk: dict[str, tuple[int, int]] = field(default_factory=dict)  # accepted shrinks: source → (stored, new)


def _stored(engine: Engine) -> dict[str, pd.DataFrame]:
    """The stored snapshots of the database's own tables (the divisions, the boundaries), which a load holds as
    frames. The lake's (the register, deaths, enrollment, identities) stay in its files, which the engine scans:
    held as frames, they were most of a load's memory (the identities of 15 M residents alone 0.6 GiB, twice in a
    month that replaces them)."""
    return {
        key: store.read_bulk(engine, table)
        for key, table in store.SNAPSHOT_TABLES.items()
        if key not in store.LAKE_TABLES
    }


def _lake_inputs(engine: Engine, prepared: dict[str, Future]) -> dict[str, list[Path]]:
    """The lake files the engine scans for each lake source: the run's own where it writes one (a snapshot's
    replaces the stored file, the settlements' come after the stored ones), else the stored ones. The run's files
    are written by now, not yet recorded."""
    found = {}
    for key in (*lake.SNAPSHOTS, "settlements"):
        run = [lake.path_of(engine, f) for f in prepared[key].result().written] if key in prepared else []
        found[key] = run if run and key in lake.SNAPSHOTS else lake.paths(engine, key) + run
    return found


def _replaced_identities(engine: Engine) -> list[Path] | None:
    """The stored identity list's files, None when none holds a row (a first list has no changes)."""
    stored = lake.paths(engine, "identities")
    return stored if lake.row_count(stored) else None


def _divisions_frame(valid: pd.DataFrame) -> pd.DataFrame:
    frame = valid[["code", "name", "urban_rural"]].copy()
    frame["level"] = frame["code"].map(level_of)
    return frame


def run_load(
    inbox: Path | None,
    settings: Settings,
    engine: Engine,
    *,
    year: int | None = None,
    as_of: date | None = None,
    region: str | None = None,
    run_date: date | None = None,
    trigger: str = "命令行",
    user: str = "",
    progress: Progress = lambda _msg: None,
    accept_shrink: frozenset[str] = frozenset(),
) -> RunResult:
    """Process one load folder (None: recompute the year from stored data); on any failure record the failed run,
    change no data and raise RunError. accept_shrink names the snapshots applied even when they shrink past
    max_shrink (SPEC §3). Every load is audited here, whoever starts it (user; the trigger when no person does):
    the run, its sources, how many files, any accepted shrink, and the outcome. The run's row is committed first,
    as 'running' (who started it, where): a process killed before the end leaves it for the next holder of the
    load lock, which the caller holds (operations.locked_run), to mark interrupted."""
    started = store.now()
    year = year or settings.year
    root = None
    who = user or trigger
    run_date = run_date or date.today()
    run_id: int | None = None
    try:
        run_id = begin_run(engine, started, year, str(inbox or ""), trigger, who)
        unknown = sorted(set(accept_shrink) - set(SHRINK_CHECKED))
        if unknown:
            raise RunError(f"--accept-shrink: 只能是 {'、'.join(SHRINK_CHECKED)}，收到 {'、'.join(unknown)}")
        root = queries.root(engine, settings, region)
        as_of = settings.resolve_as_of(year, as_of)
        result = _run(inbox, settings, engine, run_id, year, as_of, root, run_date, progress, accept_shrink)
    except Exception as exc:  # KeyboardInterrupt and SystemExit stop the process as they are
        expected = isinstance(exc, (LoadError, ConfigError, RunError, QueryError, lake.LakeError))
        message = (str(exc).splitlines() or [type(exc).__name__])[0] if expected else _unexpected(exc)
        failed = (started, year, as_of.isoformat() if isinstance(as_of, date) else None, root, str(inbox or ""))
        run_id = _record_failure(engine, run_id, *failed, message, trigger)
        if not expected:  # the frames only, and only when asked for: the exception's text may quote a person's data
            log.error("run %s: %s", run_id, message)
            log.debug("run %s failed in:\n%s", run_id, "".join(traceback.format_tb(exc.__traceback__)))
        _audit_load(engine, who, run_id, f"{trigger}；{year} 年", None, f"失败：{message}")
        held = exc.held if isinstance(exc, RunError) else ()
        raise RunError(message, run_id, held) from (None if expected else exc)
    sources = "、".join(result.counts) or "无文件（按已存数据重算）"
    files = len({label.split(":")[0] for per_file in result.counts.values() for label in per_file})  # xlsx: sheets
    accepted = "".join(
        f"；确认缩小 {key}（已存 {old} 个身份证号，新 {new} 个）" for key, (old, new) in result.shrunk.items()
    )
    _audit_load(engine, who, result.run_id, f"{trigger}；{year} 年；来源 {sources}{accepted}", files, "成功")
    return result


def _record_failure(
    engine: Engine,
    run_id: int | None,
    started: str,
    year: int,
    as_of: str | None,
    root: str | None,
    inbox: str,
    message: str,
    trigger: str,
) -> int | None:
    """The failed run's row in the run history: its own row turned 'failed', or a new one when the run could not
    write it at its start; None when the database cannot take it (the caller still gets the reason; a row left
    'running' is marked interrupted by the next load)."""
    try:
        if run_id is not None:
            end_run(engine, run_id, "failed", message, as_of, root)
            return run_id
        return store.record_failed_run(engine, started, year, as_of, root, inbox, message, trigger)
    except (sa.exc.SQLAlchemyError, OSError) as exc:  # OSError: the audit key file (security.audit_key_file)
        log.error("failed run not recorded: %s", type(exc).__name__)
        return run_id


def _audit_load(engine: Engine, who: str, run_id: int | None, detail: str, files: int | None, outcome: str) -> None:
    """The load's audit entry. A database that cannot take it (full, read-only) must not turn a stored run into an
    error, nor hide a failed run's reason from the caller, who sets its files aside: the miss is logged instead."""
    try:
        audit.record(engine, who, "载入", f"运行 #{run_id}", detail, files, outcome)
    except sa.exc.SQLAlchemyError as exc:
        log.error("audit entry of run %s not written: %s", run_id, type(exc).__name__)


def _run(
    inbox: Path | None,
    settings: Settings,
    engine: Engine,
    run_id: int,
    year: int,
    as_of: date,
    root: str,
    run_date: date,
    progress: Progress,
    accept_shrink: frozenset[str],
) -> RunResult:
    check_rules(settings, year)  # a missing income or an unknown identity type stops the run before any read
    files = files_by_source(inbox, settings) if inbox else {}
    progress("读取已存数据")
    stored = _stored(engine)
    # A second thread prepares each input for storage (lake files, file digests, staging files) while this one
    # validates the next: validating keeps one core busy, and that work runs mostly without Python's lock.
    prepared: dict[str, Future] = {}
    with ThreadPoolExecutor(max_workers=1) as preparer:
        try:
            digests: dict[Path, Future] = {}
            results, snapshots, shrunk = _validate_sources(
                files,
                settings,
                engine,
                run_id,
                root,
                year,
                run_date,
                stored,
                preparer,
                prepared,
                digests,
                progress,
                accept_shrink,
            )
            lake_files = _lake_inputs(engine, prepared)
            # the identity list this run replaces, read before the run's transaction records the new one
            identities_before = _replaced_identities(engine) if "identities" in results else None
            pending: list[table_copies.Pending] = []
            recorded: list[lake.LakeFile] = []
            try:
                with store.load_transaction(engine) as conn:
                    store.set_meta(conn, "root", root)
                    progress("计算参保率、扩面名单与预警，同时写入明细数据")
                    # The inputs go to the database on a third thread while this one computes: the database's own
                    # work runs without Python's lock. Leaving this block waits for the writer, also on failure, so
                    # nothing uses the connection when the transaction rolls back.
                    with ThreadPoolExecutor(max_workers=1) as writer:
                        inputs = writer.submit(store_inputs, conn, prepared, recorded)
                        computed = compute_results(
                            snapshots, lake_files, settings, year, as_of, root, identities_before
                        )
                        inputs.result()
                    progress("写入结果")
                    store_run_files(conn, run_id, files, results, digests)
                    pending += _store_results(conn, run_id, year, computed)
                    end_run(conn, run_id, "ok", "", as_of.isoformat(), root)
            except BaseException:
                table_copies.discard(pending)
                lake.discard(engine, recorded)
                raise
            table_copies.publish(pending)
        finally:
            for future in prepared.values():  # staging files, and lake files the transaction did not take
                if future.exception() is None:
                    future.result().discard(engine)
    counts = {key: r.counts for key, r in results.items()}
    return RunResult(run_id, year, as_of, root, counts, len(computed["alerts"]), len(computed["outreach"]), shrunk)


def _validate_sources(
    files: dict[str, list[Path]],
    settings: Settings,
    engine: Engine,
    run_id: int,
    root: str,
    year: int,
    run_date: date,
    stored: dict[str, pd.DataFrame],
    preparer: ThreadPoolExecutor,
    prepared: dict[str, Future],
    digests: dict[Path, Future],
    progress: Progress,
    accept_shrink: frozenset[str],
) -> tuple[dict[str, Validated], dict[str, pd.DataFrame], dict[str, tuple[int, int]]]:
    """Validate each source of the load: the results (in TABULAR_SOURCES order), the snapshots in force and the
    accepted shrinks. Each replaced snapshot, the new settlements (let go once handed over) and the digests of each
    source's files go to the preparer. A snapshot that shrinks too much (SPEC §3) and is not accepted is held: the
    run fails, once every source is validated, naming each one held."""
    results: dict[str, Validated] = {}
    shrunk: dict[str, tuple[int, int]] = {}
    snapshots = dict(stored)
    villages: frozenset[str] = frozenset()
    for key in VALIDATION_ORDER:
        if key == "population":
            villages = frozenset(snapshots["divisions"].loc[snapshots["divisions"]["level"] == "村社区", "code"])
        if key not in files:
            continue
        # read and checked chunk by chunk (with Spark, a plain CSV's ranges on the executors: spread_source): the
        # whole raw sources of a district took gigabytes
        progress(f"读取并校验 {key}（{len(files[key])} 个文件）")
        context = Context(settings, root, year, run_date, villages)
        spread = None
        if settings.engine_kind == "spark" and key in lake.LAKE_TABLES:
            spread = spread_source(engine, key, files[key], context, run_id, settings)
        streamed = spread or stream_source(engine, key, files[key], context, run_id, settings)
        results[key] = streamed.validated
        valid = results[key].valid  # the divisions'; a lake source's rows went to its files as they were read
        run_files = [lake.path_of(engine, f) for f in streamed.written]
        if key in SHRINK_CHECKED:
            counts = (
                sets.distinct_ids(lake.paths(engine, key), key, settings),
                sets.distinct_ids(run_files, key, settings),
            )
            if shrinks_too_much(*counts, settings.max_shrink):
                shrunk[key] = counts
                if key not in accept_shrink:
                    lake.discard(engine, streamed.written)
                    continue  # held: nothing of it is prepared, and the run fails below
        if key in lake.LAKE_TABLES:  # written while it was read: the transaction records the files
            done: Future[Prepared] = Future()
            prepared[key] = done
            done.set_result(Prepared(valid.iloc[0:0], written=streamed.written))
        elif key == "divisions":  # a database table, staged beside the validation
            snapshots[key] = _divisions_frame(valid)
            prepared[key] = preparer.submit(prepare, engine, key, snapshots[key], run_id)
        # the rows live on in the snapshots held as frames and the lake's files, not in the results
        results[key] = replace(results[key], valid=valid.iloc[0:0])
        del valid, streamed
        digests.update({path: preparer.submit(checksum, path) for path in files[key]})
    held = {key: counts for key, counts in shrunk.items() if key not in accept_shrink}
    if held:
        raise RunError(shrink_message(held, settings.max_shrink), held=tuple(held))

    results = {key: results[key] for key in TABULAR_SOURCES if key in results}
    if "boundaries" in files:
        progress("校验 boundaries")
        results["boundaries"] = validated_boundaries(files["boundaries"], snapshots["divisions"], root, settings)
        snapshots["boundaries"] = results["boundaries"].valid
        prepared["boundaries"] = preparer.submit(prepare, engine, "boundaries", snapshots["boundaries"], run_id)
        digests.update({path: preparer.submit(checksum, path) for path in files["boundaries"]})
    return results, snapshots, shrunk


def _store_results(
    conn: sa.Connection,
    run_id: int,
    year: int,
    computed: dict[str, pd.DataFrame],
) -> list[table_copies.Pending]:
    """The year's results; returns the copies to put in place after the commit (the outreach and alert lists')."""
    pending = []
    results = (
        ("coverage", store.coverage),
        ("outreach", store.outreach),
        ("alerts", store.alerts),
        ("watch", store.watch),
    )
    for name, table in results:
        frame = computed[name].assign(year=year, run_id=run_id)
        frame["seq"] = range(len(frame))
        store.replace_rows(conn, table, frame, table.c.year == year)
        if name in table_copies.COPIED:
            pending += table_copies.prepare(conn, table, frame)
    store.replace_rows(conn, store.findings, computed["findings"].assign(year=year), store.findings.c.year == year)
    if "changes" in computed:
        store.write_frame(conn, store.identity_changes, computed["changes"].assign(run_id=run_id))
    alert_case.sync_states(conn, year, computed["alerts"])
    if "campaign" in computed:
        target_year = year + 1
        frame = computed["campaign"].assign(target_year=target_year, day=computed["campaign"]["day"].astype("str"))
        store.replace_rows(conn, store.campaign_progress, frame, store.campaign_progress.c.target_year == target_year)
        store.set_meta(conn, f"campaign_latest_payment_{target_year}", computed["campaign_latest"]["day"].iloc[0])
    store.write_frame(conn, store.run_summaries, run_summary(computed).assign(run_id=run_id, year=year))
    return pending
