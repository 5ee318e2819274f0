"""SMS reminders of the collection period: the persons to remind in a town or village of the user's towns, each
batch recorded and audited (whoever asks for it: page or command line)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine

from monitor.config import Settings
from monitor.rules import campaign
from monitor.rules.divisions import inside
from monitor.security import audit
from monitor.security.access import Viewer
from monitor.storage import lake, queries, sets, store


def _persons(engine: Engine, settings: Settings, target_year: int) -> pd.DataFrame:
    """In-scope persons of the year before the target year, with their priority and subsidy (for SMS lists)."""
    year = target_year - 1
    root = queries.root(engine, settings)
    as_of = settings.resolve_as_of(year, None)
    # the engine scans the register, deaths, enrollment and identities where they are: whole frames of a city's were
    # gigabytes
    snapshots: dict[str, sets.Snapshot] = {
        key: lake.paths(engine, key) for key in ("population", "deaths", "enrollment", "identities")
    }
    persons = sets.in_scope(snapshots, settings, year, as_of, root)  # with the primary identity's subsidy
    persons["priority"] = persons["vulnerable"].map({True: 1}).fillna(persons["newborn"].map({True: 2})).fillna(3)
    return persons


def sms_batch(
    engine: Engine, settings: Settings, viewer: Viewer, place: str, priorities: list[int], now: datetime | None = None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The reminder list for a town or village inside the viewer's towns; the batch is recorded and audited."""
    viewer.require("outreach")
    when = queries.campaign_period(engine, settings)
    persons = _persons(engine, settings, when.target_year)
    persons = persons[inside(persons["village_code"], place)]
    persons = persons[viewer.in_scope(persons["village_code"])]
    paid = campaign.payments(lake.read(engine, "enrollment"), when.target_year, when.start)
    with engine.connect() as conn:
        outcomes = store.read_table(
            conn,
            store.outreach_outcomes,
            store.outreach_outcomes.c.year == when.target_year - 1,
            [store.outreach_outcomes.c.at],
        )
    rows, left_out = campaign.sms_list(
        persons, paid, outcomes, settings.sms_template, when.target_year, when.end, priorities
    )
    at = (now or datetime.now()).replace(microsecond=0)
    with engine.begin() as conn:
        conn.execute(
            store.sms_batches.insert().values(
                at=str(at),
                by=viewer.username,
                target_year=when.target_year,
                place=place,
                priorities=",".join(map(str, priorities)),
                rows=len(rows),
                left_out="；".join(f"{k} {v}" for k, v in left_out.items()),
            )
        )
    audit.record(
        engine, viewer.username, "导出", "短信提醒名单", f"{place}；优先级 {priorities or '全部'}", len(rows), now=at
    )
    return rows, left_out


def sms_batches(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.read_table(conn, store.sms_batches, None, [store.sms_batches.c.id.desc()])
