"""总览: headline rates against targets, change since the last run and the previous year, alerts, the funnel."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.cases import assistance
from monitor.cases.alert_case import STATES, AlertState, reached
from monitor.config import Settings
from monitor.rules.alert_rules import LEVEL_ORDER
from monitor.rules.rates import rate_percent
from monitor.storage import store
from monitor.web.views import loop_figures
from monitor.web.views.common import METRICS, Metric

# Each stage of the push funnel counts the alerts that reached it (a closed alert was pushed and verified).
FUNNEL = (("预警触发", None), *((state.value, reached(state)) for state in STATES[1:]))


@dataclass
class Headline:
    label: str
    rate: float | None
    target: float
    enrolled: int
    in_scope: int
    since_run: float | None  # percentage points since the previous run of the same year
    since_year: float | None  # percentage points since the previous year's latest run


def _summaries(engine: Engine, year: int) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.read_table(
            conn,
            store.run_summaries,
            store.run_summaries.c.year.in_([year, year - 1]),
            [store.run_summaries.c.run_id.desc()],
        )


def headlines(engine: Engine, year: int, settings: Settings) -> list[Headline]:
    """Overall, vulnerable and newborn coverage of the root with their targets and changes."""
    runs = _summaries(engine, year)
    this = runs[runs["year"] == year]
    before = runs[runs["year"] == year - 1]
    out = []
    for metric in METRICS[:3]:

        def rate(frame: pd.DataFrame, i: int = 0, metric: Metric = metric) -> float | None:
            if len(frame) <= i:
                return None
            value = rate_percent(frame[metric.numerator].iloc[[i]], frame[metric.denominator].iloc[[i]]).iloc[0]
            return None if pd.isna(value) else float(value)

        now = rate(this)
        previous_run, previous_year = rate(this, 1), rate(before)
        out.append(
            Headline(
                metric.label,
                now,
                float(getattr(settings, str(metric.target))),  # the first three metrics are rates with a target
                int(this[metric.numerator].iloc[0]) if len(this) else 0,
                int(this[metric.denominator].iloc[0]) if len(this) else 0,
                None if now is None or previous_run is None else round(now - previous_run, 2),
                None if now is None or previous_year is None else round(now - previous_year, 2),
            )
        )
    return out


def counts(engine: Engine, year: int) -> dict[str, int | None]:
    """People still to enroll and alerts, with their change since the previous run (None when there is none), and
    the watch list's size."""
    runs = _summaries(engine, year)
    this = runs[runs["year"] == year]
    result: dict[str, int | None] = {}
    for key in ("outreach", "alerts", "alerts_red"):
        result[key] = int(this[key].iloc[0]) if len(this) else 0
        result[f"{key}_change"] = int(this[key].iloc[0] - this[key].iloc[1]) if len(this) > 1 else None
    query = sa.select(sa.func.count()).select_from(store.watch).where(store.watch.c.year == year)
    with engine.connect() as conn:
        result["watch"] = int(conn.execute(query).scalar_one())
    return result


def outreach_by_priority(engine: Engine, year: int) -> pd.DataFrame:
    query = (
        sa.select(store.outreach.c.priority, sa.func.count().label("count"))
        .where(store.outreach.c.year == year)
        .group_by(store.outreach.c.priority)
        .order_by(store.outreach.c.priority)
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=["priority", "count"])
    frame["label"] = frame["priority"].map({1: "困难群众", 2: "新生儿", 3: "其他人员"})
    return frame


def alerts_by_level(engine: Engine, year: int) -> pd.DataFrame:
    query = (
        sa.select(store.alerts.c.alert_type, store.alerts.c.level, sa.func.count().label("count"))
        .where(store.alerts.c.year == year)
        .group_by(store.alerts.c.alert_type, store.alerts.c.level)
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=["alert_type", "level", "count"])
    frame["level_rank"] = frame["level"].map(LEVEL_ORDER)
    return frame.sort_values(["alert_type", "level_rank"]).reset_index(drop=True)


def loop_by_month(engine: Engine, year: int, settings: Settings) -> pd.DataFrame:
    """The loop's figures per month of push for leadership: counts, median days and 闭环率, no person."""
    return loop_figures.display(assistance.figures(engine, year, settings, ["cohort"]), pd.Series(dtype="str"))


def push_funnel(engine: Engine, year: int) -> pd.DataFrame | None:
    """Triggered → pushed → verified → closed counts; None until any alert has been pushed."""
    query = (
        sa.select(store.alert_states.c.state, sa.func.count().label("count"))
        .where(store.alert_states.c.year == year)
        .group_by(store.alert_states.c.state)
    )
    with engine.connect() as conn:
        states: dict[str, int] = {state: int(count) for state, count in conn.execute(query).all()}
        current = (
            conn.execute(
                sa.select(sa.func.count()).select_from(store.alerts).where(store.alerts.c.year == year)
            ).scalar()
            or 0
        )
    if not any(states.get(s, 0) for s in reached(AlertState.PUSHED)):
        return None
    rows = [
        {"stage": label, "count": current if members is None else sum(states.get(s, 0) for s in members), "order": i}
        for i, (label, members) in enumerate(FUNNEL)
    ]
    return pd.DataFrame(rows)


def towns(engine: Engine, year: int, root: str) -> pd.DataFrame:
    """The root's children (towns for a county) with their coverage rate, for the ranking."""
    with engine.connect() as conn:
        rows = store.read_table(
            conn, store.coverage, (store.coverage.c.year == year) & (store.coverage.c.parent_code == root)
        )
    rows["rate"] = rate_percent(rows["enrolled"], rows["in_scope"])
    return rows.sort_values("rate", ascending=False).reset_index(drop=True)
