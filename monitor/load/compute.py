"""The year's results of a load from its snapshots and settlements: every rule of SPEC §6–§9 in order."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from monitor.config import Settings
from monitor.rules import identities
from monitor.rules.alert_rules import candidates, stay_sets
from monitor.rules.campaign import progress_all_levels
from monitor.rules.costs import person_year
from monitor.rules.coverage import COUNT_COLUMNS
from monitor.rules.divisions import levels_below
from monitor.rules.findings import findings as data_quality_findings
from monitor.storage import sets


def compute_results(
    snapshots: dict[str, pd.DataFrame],
    lake_files: dict[str, list[Path]],
    settings: Settings,
    year: int,
    as_of: date,
    root: str,
    identities_before: list[Path] | None = None,
) -> dict[str, pd.DataFrame]:
    """Coverage, outreach, alerts, the watch list and the data-quality findings of a year; for the year whose autumn
    holds the collection period, also the campaign's daily progress; with identities_before (the stored identity
    list a load replaces), the identity changes. The engine scans the lake's files of the register, deaths,
    enrollment, identities and every settlement (`lake_files`: the stored ones, or the run's own where it replaces
    or adds them), on one connection; the divisions come as a frame."""
    types = settings.identity_types_for(year)
    engine = sets.backend(settings)
    try:
        scanned = {
            **snapshots,
            **{key: lake_files[key] for key in ("population", "deaths", "enrollment", "identities")},
        }
        covered = sets.covered(scanned, settings, year, as_of, root, engine)
        settlements = sets.files(engine, lake_files["settlements"], "settlements")
        year_sums = person_year(settlements, year, settings.cost_measure, stay_sets(settings.alert_rules))
        register, identity_rows = covered.sources["population"], covered.sources["identities"]
        alerts, watch = sets.alerts_and_watch(
            engine,
            candidates(year_sums, settings, year),
            register,
            covered.primary,
            snapshots["divisions"],
            identities.holders(identity_rows, as_of, types),
            settlements,
            settings,
            year,
        )
        enrollment = covered.sources["enrollment"]
        findings = sets.frame(engine, data_quality_findings(register, enrollment, identity_rows, settlements, year))
        changes = None
        if identities_before is not None:
            before = sets.files(engine, identities_before, "identities")
            changes = sets.frame(engine, identities.changes(before, identity_rows, as_of, types))
        villages = None
        if settings.campaign_start.year == year:  # the period during Y collects Y+1; Y's in-scope persons are its base
            villages = sets.campaign_villages(
                lake_files["enrollment"],
                covered.persons,
                settings.campaign_start,
                settings.campaign_end,
                engine=engine,
            )
    finally:
        engine.disconnect()
    coverage, outreach = covered.counts, covered.outreach
    computed = {"coverage": coverage, "outreach": outreach, "alerts": alerts, "watch": watch, "findings": findings}
    if changes is not None:
        computed["changes"] = changes
    if villages is not None:
        computed["campaign"], latest = progress_all_levels(
            villages,
            levels_below(root),
            settings.campaign_start,
            settings.campaign_end,
            float(settings.target_overall),
            settings.campaign_targets,
        )
        computed["campaign_latest"] = pd.DataFrame({"day": [latest.isoformat() if latest else ""]})
    return computed


def run_summary(computed: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The root's headline figures of a run, kept per run so pages can show the change since the last one."""
    coverage = computed["coverage"]
    top = coverage.iloc[[0]] if not coverage.empty else pd.DataFrame({c: [0] for c in COUNT_COLUMNS})
    levels = computed["alerts"]["level"].value_counts()
    summary = top[[c for c in COUNT_COLUMNS if "newborn" in c or "vulnerable" in c or c in ("in_scope", "enrolled")]]
    return summary.reset_index(drop=True).assign(
        outreach=len(computed["outreach"]),
        alerts=len(computed["alerts"]),
        alerts_red=int(levels.get("红", 0)),
        alerts_orange=int(levels.get("橙", 0)),
        alerts_yellow=int(levels.get("黄", 0)),
    )
