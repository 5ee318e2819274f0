"""The year's results of a load from its snapshots and settlements: every rule of SPEC §6–§9 in order."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from monitor.base.text import is_in, lookup
from monitor.config import Settings
from monitor.rules.alert_rules import candidates, evaluate, identity_holders, stay_sets
from monitor.rules.campaign import progress_all_levels
from monitor.rules.costs import person_year
from monitor.rules.coverage import COUNT_COLUMNS
from monitor.rules.divisions import levels_below
from monitor.rules.findings import findings as data_quality_findings
from monitor.rules.identities import primary_identities
from monitor.storage import lake, sets


def compute_results(
    snapshots: dict[str, pd.DataFrame],
    lake_files: dict[str, list[Path]],
    settings: Settings,
    year: int,
    as_of: date,
    root: str,
) -> dict[str, pd.DataFrame]:
    """Coverage, outreach, alerts, the watch list and the data-quality findings of a year; for the year whose autumn
    holds the collection period, also the campaign's daily progress. The engine scans the lake's files of the
    register, deaths, enrollment and every settlement (`lake_files`: the stored ones, or the run's own where it
    replaces or adds them), on one connection. What stays pandas works on a few rows the engine picked: the alerts
    of the candidates (alert_rules.candidates) with their people and settlements; the identities (a few percent of
    the register) and the divisions come as frames."""
    types = settings.identity_types_for(year)
    identities = snapshots["identities"]
    settlement_files = lake_files["settlements"]
    engine = sets.backend(settings)
    try:
        scanned = {**snapshots, **{key: lake_files[key] for key in ("population", "deaths", "enrollment")}}
        covered = sets.covered(scanned, settings, year, as_of, root, engine)
        settlements = sets.files(engine, settlement_files, "settlements")
        year_sums = person_year(settlements, year, settings.cost_measure, stay_sets(settings.alert_rules))
        sums = sets.frame(engine, candidates(year_sums, settings, year))
        register = covered.sources["population"]
        candidate_ids = sets.table(sums[["id_number"]])
        registered = sets.frame(
            engine, register.semi_join(candidate_ids, "id_number").select("id_number", "name", "village_code")
        )
        enrollment = covered.sources["enrollment"]
        identity_rows = sets.files(engine, lake_files["identities"], "identities")
        findings = sets.frame(engine, data_quality_findings(register, enrollment, identity_rows, settlements, year))
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
    primary = primary_identities(identities, as_of, types)[["id_number", "identity_type"]]
    urban = snapshots["divisions"].set_index("code")["urban_rural"].fillna("").str.startswith("1")
    # the people of the alerts' candidates only: evaluate looks up no one else
    people = registered.sort_values("id_number", kind="stable").drop_duplicates("id_number")
    primary = primary[is_in(primary["id_number"], sums["id_number"])]
    people = people.assign(
        urban=people["village_code"].map(urban).fillna(False).astype(bool),
        identity_type=lookup(people["id_number"], primary["id_number"], primary["identity_type"]),
    )
    # identity holders outside the register too
    people = pd.concat([people, primary[~is_in(primary["id_number"], people["id_number"])]], ignore_index=True)
    people["vulnerable"] = people["identity_type"].notna()
    holders = identity_holders(identities, as_of, types)

    def settlements_of(ids: pd.Series) -> pd.DataFrame:
        return lake.rows_in(settlement_files, "settlements", "id_number", list(ids))

    alerts, watch = evaluate(sums, settlements_of, people, holders, settings, year)
    computed = {"coverage": coverage, "outreach": outreach, "alerts": alerts, "watch": watch, "findings": findings}
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
