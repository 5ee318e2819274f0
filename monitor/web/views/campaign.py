"""集中缴费期: progress curves and the bulletin, read from the stored progress (SMS batches: cases.reminders)."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy.engine import Engine

from monitor.config import Settings
from monitor.rules import campaign
from monitor.rules.divisions import levels_below
from monitor.rules.rates import rate_percent
from monitor.storage import queries, store


def progress(engine: Engine, settings: Settings) -> dict[str, pd.DataFrame]:
    """The stored daily progress per level (level → frame with names, rates and last campaign's counts)."""
    target = settings.campaign_start.year + 1
    with engine.connect() as conn:
        rows = store.read_table(
            conn,
            store.campaign_progress,
            store.campaign_progress.c.target_year == target,
            [store.campaign_progress.c.level, store.campaign_progress.c.code, store.campaign_progress.c.day],
        )
    rows["day"] = pd.to_datetime(rows["day"]).dt.date
    rows["name"] = rows["code"].map(queries.division_names(engine)).fillna("")
    rows["rate"] = rate_percent(rows["enrolled"], rows["in_scope"])
    rows["vulnerable_rate"] = rate_percent(rows["vulnerable_enrolled"], rows["vulnerable_in_scope"])
    return {level: part.drop(columns="level").reset_index(drop=True) for level, part in rows.groupby("level")}


def bulletin(engine: Engine, settings: Settings, on: date, daily: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The ranking of the root's children on a day, with the change since the bulletin a week before."""
    child = levels_below(queries.root(engine, settings))[1]
    return campaign.bulletin(
        daily[child], queries.division_names(engine), on, campaign.previous_bulletin_day(on, settings.campaign_start)
    )
