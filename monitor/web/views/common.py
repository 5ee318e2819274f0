"""Shared display helpers: metrics, target bands, division names and levels."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.config import Settings

# Division helpers and finding labels, re-exported for the pages, which import no rule module themselves.
from monitor.rules.divisions import inside as inside
from monitor.rules.divisions import level_of as level_of
from monitor.rules.divisions import levels_below as levels_below
from monitor.rules.divisions import villages_in as villages_in
from monitor.rules.findings import KIND_LABELS
from monitor.rules.rates import rate_percent
from monitor.storage import store

FINDING_LABELS = KIND_LABELS  # the data page's names of the data-quality findings


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    numerator: str | None  # a rate: enrolled column / in-scope column; a count: the column itself
    denominator: str | None
    target: str | None  # Settings attribute of the target, for rates


METRICS = (
    Metric("rate", "参保率", "enrolled", "in_scope", "target_overall"),
    Metric("vulnerable_rate", "困难群众参保率", "vulnerable_enrolled", "vulnerable_in_scope", "target_vulnerable"),
    Metric("newborn_rate", "新生儿参保率", "newborn_enrolled", "newborn_in_scope", "target_newborn"),
    Metric("unenrolled", "未参保人数", "unenrolled", None, None),
    Metric("alerts", "预警人数", "alerts", None, None),
)
METRIC_BY_LABEL = {m.label: m for m in METRICS}
BANDS = (
    "达标",
    "低于目标1个百分点以内",
    "低于目标1–3个百分点",
    "低于目标3–5个百分点",
    "低于目标5个百分点以上",
    "无数据",
)
BAND_COLOURS = ("met", "below_1", "below_3", "below_5", "below_more", "no_data")


def band(rates: pd.Series, target: Fraction) -> pd.Series:
    """Distance-below-target band of each rate (SPEC §7: colour by how far below target)."""
    gap = float(target) - rates.astype("Float64")
    conditions = [gap.isna(), gap <= 0, gap <= 1, gap <= 3, gap <= 5]
    masks = [c.fillna(False).to_numpy(dtype=bool) for c in conditions]
    return pd.Series(np.select(masks, [BANDS[5], *BANDS[:4]], BANDS[4]), index=rates.index, dtype="str")


def band_colours(settings: Settings) -> list[str]:
    return [settings.colours.get(k, "#cccccc") for k in BAND_COLOURS]


def years(engine: Engine) -> list[int]:
    """Years with stored results, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(store.coverage.c.year).distinct()).scalars().all()
    return sorted((int(y) for y in rows), reverse=True)


def percent_text(part: int, whole: int) -> str:
    """One rate for a metric tile, as every rate (rules.rates): '0.13%' for 1 of 800, '—' when whole is 0."""
    value = rate_percent(pd.Series([part]), pd.Series([whole])).iloc[0]
    return "—" if pd.isna(value) else f"{value:.2f}%"
