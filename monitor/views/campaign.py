"""集中缴费期: progress curves, the bulletin, SMS batches, read from the stored snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlalchemy.engine import Engine

from monitor import audit, campaign, queries, store
from monitor.access import Viewer
from monitor.config import Settings
from monitor.coverage import scope
from monitor.divisions import levels_below
from monitor.identities import primary_identities


@dataclass(frozen=True)
class Period:
    target_year: int
    start: date
    end: date
    status_day: date  # the day the figures stand at
    running: bool


def period(engine: Engine, settings: Settings, today: date | None = None) -> Period:
    """The configured period and the day the figures stand at: today while the period runs, else the latest
    payment day the last run found inside the period (the demo's running campaign)."""
    start, end = settings.campaign_start, settings.campaign_end
    target = start.year + 1
    today = today or date.today()
    if start <= today <= end:
        return Period(target, start, end, today, True)
    latest = store.get_meta(engine, f"campaign_latest_payment_{target}") or ""
    day = date.fromisoformat(latest) if latest else start
    return Period(target, start, end, day, bool(latest) and day < end)


def progress(engine: Engine, settings: Settings) -> dict[str, pd.DataFrame]:
    """The stored daily progress per level (level → frame with names, rates and last campaign's counts)."""
    target = settings.campaign_start.year + 1
    with engine.connect() as conn:
        rows = store.read_table(conn, store.campaign_progress, store.campaign_progress.c.target_year == target,
                                [store.campaign_progress.c.level, store.campaign_progress.c.code,
                                 store.campaign_progress.c.day])
    rows["day"] = pd.to_datetime(rows["day"]).dt.date
    rows["name"] = rows["code"].map(queries.division_names(engine)).fillna("")
    rows["rate"] = (100 * rows["enrolled"] / rows["in_scope"].where(rows["in_scope"] > 0)).astype("Float64").round(2)
    rows["vulnerable_rate"] = (100 * rows["vulnerable_enrolled"] / rows["vulnerable_in_scope"]
                               .where(rows["vulnerable_in_scope"] > 0)).astype("Float64").round(2)
    return {level: part.drop(columns="level").reset_index(drop=True) for level, part in rows.groupby("level")}


def bulletin(engine: Engine, settings: Settings, on: date, daily: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The ranking of the root's children on a day, with the change since the bulletin a week before."""
    child = levels_below(queries.root(engine, settings.region_code))[1]
    return campaign.bulletin(daily[child], queries.division_names(engine), on,
                             campaign.previous_bulletin_day(on, settings.campaign_start))


def _stored(engine: Engine, key: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.read_table(conn, store.SNAPSHOT_TABLES[key])


def _persons(engine: Engine, settings: Settings, target_year: int) -> pd.DataFrame:
    """In-scope persons of the year before the target year, with their priority and subsidy (for SMS lists)."""
    year = target_year - 1
    root = queries.root(engine, settings.region_code)
    as_of = settings.resolve_as_of(year, None)
    types = settings.identity_types_for(year)
    population, identities = _stored(engine, "population"), _stored(engine, "identities")
    persons = scope(population, _stored(engine, "deaths"), _stored(engine, "enrollment"), identities, year, as_of,
                    root, types)
    persons["priority"] = persons["vulnerable"].map({True: 1}).fillna(persons["newborn"].map({True: 2})).fillna(3)
    primary = primary_identities(identities, as_of, types).set_index("id_number")
    persons["subsidy"] = persons["id_number"].map(primary["subsidy"])
    persons["subsidy_cents"] = persons["id_number"].map(primary["subsidy_cents"])
    return persons


def sms_batch(engine: Engine, settings: Settings, viewer: Viewer, place: str, priorities: list[int],
              now: datetime | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """The reminder list for a town or village inside the viewer's towns; the batch is recorded and audited."""
    viewer.require("outreach")
    when = period(engine, settings)
    persons = _persons(engine, settings, when.target_year)
    persons = persons[persons["village_code"].str.startswith(place[:9]) if place.endswith("000")
                      else persons["village_code"] == place]
    persons = persons[viewer.in_scope(persons["village_code"])]
    paid = campaign.payments(_stored(engine, "enrollment"), when.target_year, when.start)
    with engine.connect() as conn:
        outcomes = store.read_table(conn, store.outreach_outcomes, store.outreach_outcomes.c.year ==
                                    when.target_year - 1, [store.outreach_outcomes.c.at])
    rows, left_out = campaign.sms_list(persons, paid, outcomes, settings.sms_template, when.target_year, when.end,
                                       priorities)
    at = (now or datetime.now()).replace(microsecond=0)
    with engine.begin() as conn:
        conn.execute(store.sms_batches.insert().values(
            at=str(at), by=viewer.username, target_year=when.target_year, place=place,
            priorities=",".join(map(str, priorities)), rows=len(rows),
            left_out="；".join(f"{k} {v}" for k, v in left_out.items())))
    audit.record(engine, viewer.username, "导出", "短信提醒名单", f"{place}；优先级 {priorities or '全部'}", len(rows),
                 now=at)
    return rows, left_out


def sms_batches(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.read_table(conn, store.sms_batches, None, [store.sms_batches.c.id.desc()])
