"""Read-only queries over stored results, shared by exports, pages and the workflow."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.config import Settings
from monitor.rules.campaign import Period, period_on
from monitor.rules.divisions import levels_below
from monitor.storage import store, table_copies


class QueryError(ValueError):
    """A request that the stored data cannot answer (unknown level, no run for the year)."""


def root(engine: Engine, settings: Settings, region: str | None = None) -> str:
    """The deployment's root division, resolved here only: `region` (--region) when given, else the root stored
    with the data by its first load, else config's region_code."""
    if region:
        if not region.isdigit() or len(region) not in (6, 12):
            raise QueryError(f"--region: expected a 6- or 12-digit division code, got {region!r}")
        return region.ljust(12, "0")
    return store.get_meta(engine, "root") or settings.region_code


def bureau_name(engine: Engine, settings: Settings, names: pd.Series | None = None) -> str:
    """'青禾区医疗保障局': the root division's name and the bureau's, for the title rows of printed papers ('' when
    the root has no name); `names` are the division names when the caller has them already."""
    names = division_names(engine) if names is None else names
    root_name = names.get(root(engine, settings), "")
    return f"{root_name}医疗保障局" if root_name else ""


def campaign_period(engine: Engine, settings: Settings, today: date | None = None) -> Period:
    """The collection period in force and the day its figures stand at (see rules.campaign.period_on)."""
    target = settings.campaign_start.year + 1
    latest = store.get_meta(engine, f"campaign_latest_payment_{target}") or ""
    return period_on(
        settings.campaign_start,
        settings.campaign_end,
        today or date.today(),
        date.fromisoformat(latest) if latest else None,
    )


def latest_run(engine: Engine, status: str | None = "ok") -> dict | None:
    query = sa.select(store.runs).order_by(store.runs.c.id.desc()).limit(1)
    if status:
        query = query.where(store.runs.c.status == status)
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def data_version(engine: Engine) -> tuple[int, int, int, int]:
    """Changes whenever stored data does: the latest run and how many runs have ended (a run's row is written when
    it starts and changes once, when it ends), and the counts of workflow events and outcomes (append-only tables),
    so cached page results follow loads, pushes and feedback made anywhere."""
    ended = sa.select(sa.func.count()).select_from(store.runs).where(store.runs.c.status != "running")
    query = sa.select(
        sa.select(sa.func.max(store.runs.c.id)).scalar_subquery(),
        ended.scalar_subquery(),
        sa.select(sa.func.count()).select_from(store.alert_events).scalar_subquery(),
        sa.select(sa.func.count()).select_from(store.outreach_outcomes).scalar_subquery(),
    )
    with engine.connect() as conn:  # one round trip: every cached page call asks for it
        run, ends, events, outcomes = conn.execute(query).one()
    return int(run or 0), int(ends or 0), int(events or 0), int(outcomes or 0)


def as_of(engine: Engine, year: int) -> str:
    """The 统计截止日 of the latest successful run of a year ('' when the year has none)."""
    query = (
        sa.select(store.runs.c.as_of)
        .where((store.runs.c.status == "ok") & (store.runs.c.year == year))
        .order_by(store.runs.c.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar() or ""


def default_year(engine: Engine, fallback: int) -> int:
    """The year of the latest successful run, else the configured year."""
    run = latest_run(engine)
    return int(run["year"]) if run else fallback


def coverage(engine: Engine, year: int, level: str, root_code: str) -> pd.DataFrame:
    if level not in levels_below(root_code):
        raise QueryError(f"--level {level}: levels of root {root_code} are {'|'.join(levels_below(root_code))}")
    with engine.connect() as conn:
        return store.read_table(
            conn,
            store.coverage,
            (store.coverage.c.year == year) & (store.coverage.c.level == level),
            [store.coverage.c.code],
        )


def outreach(engine: Engine, year: int) -> pd.DataFrame:
    """The year's outreach list in list order (from its columnar copy on SQLite when that matches the database,
    through ADBC on PostgreSQL)."""
    copy = table_copies.read(engine, store.outreach, year)
    if copy is not None:
        return copy
    return store.read_bulk(engine, store.outreach, store.outreach.c.year == year, [store.outreach.c.seq])


def watch(engine: Engine, year: int) -> pd.DataFrame:
    """The year's watch list (临界关注) in list order."""
    with engine.connect() as conn:
        return store.read_table(conn, store.watch, store.watch.c.year == year, [store.watch.c.seq])


def _reasons(reasons: tuple[str, ...]) -> sa.ColumnElement[bool] | None:
    return store.rejects.c.reason.in_(reasons) if reasons else None


def rejects(engine: Engine, reasons: tuple[str, ...] = (), limit: int | None = None, offset: int = 0) -> pd.DataFrame:
    """The rejected rows of every run in run and row order: only those of the given reasons (all when none), and
    only `limit` of them from `offset` when a page is asked for (the data page; a big upload rejects millions)."""
    order = [store.rejects.c.run_id, store.rejects.c.seq]
    if limit is None:
        with engine.connect() as conn:
            return store.read_table(conn, store.rejects, _reasons(reasons), order)
    query = sa.select(store.rejects).order_by(*order).limit(limit).offset(offset)
    where = _reasons(reasons)
    with engine.connect() as conn:
        return store.read_select(conn, query if where is None else query.where(where))


def reject_counts(engine: Engine) -> pd.DataFrame:
    """How many rows each reason rejected per source (columns reason, source, rows), counted by the database."""
    column = store.rejects.c
    query = sa.select(column.reason, column.source, sa.func.count().label("rows")).group_by(
        column.reason, column.source
    )
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(column.reason, column.source)).all()
    return pd.DataFrame(rows, columns=["reason", "source", "rows"]).astype({"rows": "int64"})


def runs(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.read_table(conn, store.runs, None, [store.runs.c.id.desc()])


def run_files(engine: Engine, run_id: int) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.read_table(conn, store.run_files, store.run_files.c.run_id == run_id)


def identity_changes(engine: Engine, run_id: int | None = None) -> pd.DataFrame:
    """The identity change list of a run (default: the latest run that produced one)."""
    with engine.connect() as conn:
        if run_id is None:
            run_id = conn.execute(sa.select(sa.func.max(store.identity_changes.c.run_id))).scalar()
        return store.read_table(
            conn,
            store.identity_changes,
            store.identity_changes.c.run_id == run_id,
            [store.identity_changes.c.change, store.identity_changes.c.id_number],
        )


def division_names(engine: Engine) -> pd.Series:
    """Name of every division of the stored snapshot, by code."""
    with engine.connect() as conn:
        frame = store.read_table(conn, store.divisions)
    return frame.set_index("code")["name"]


def towns(engine: Engine) -> pd.Series:
    """Name of every town (乡镇) of the stored snapshot, by code in code order: the units of a town scope."""
    with engine.connect() as conn:
        frame = store.read_table(conn, store.divisions, store.divisions.c.level == "乡镇", [store.divisions.c.code])
    return frame.set_index("code")["name"]


def findings(engine: Engine, year: int) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.read_table(conn, store.findings, store.findings.c.year == year)
