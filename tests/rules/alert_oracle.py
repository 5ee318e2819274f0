"""The alerts and watch list of SPEC §9 in pandas, as the product computed them before they moved onto the engine
(monitor.rules.alert_rules): kept only as a test oracle, the version whose golden results are the baseline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

from monitor.base.text import is_in, positions_in
from monitor.config import AlertRule, Settings
from monitor.rules.alert_rules import LEVEL_ORDER, rule_identity_types, stay_sets
from monitor.rules.costs import netted_settlements, rule_thresholds
from monitor.rules.rates import rate_hundredths


@dataclass
class _Choice:
    """Per person: the rule giving the largest ratio so far (its measure and threshold) among those considered."""

    measure: np.ndarray
    threshold: np.ndarray
    rule: np.ndarray
    found: np.ndarray

    @classmethod
    def empty(cls, n: int) -> _Choice:
        return cls(np.zeros(n, "int64"), np.ones(n, "int64"), np.full(n, "", object), np.zeros(n, bool))

    def offer(self, rule_id: str, eligible: np.ndarray, measure: np.ndarray, threshold: np.ndarray) -> None:
        """Take the rule where it gives a larger ratio; on an equal ratio the smaller threshold; on both equal the
        rule listed first (already held)."""
        mine, theirs = measure * self.threshold, self.measure * threshold
        better = eligible & (~self.found | (mine > theirs) | ((mine == theirs) & (threshold < self.threshold)))
        self.measure = np.where(better, measure, self.measure)
        self.threshold = np.where(better, threshold, self.threshold)
        self.rule = np.where(better, rule_id, self.rule)
        self.found |= better


def evaluate(
    sums: pd.DataFrame,
    settlements_of: Callable[[pd.Series], pd.DataFrame],
    people: pd.DataFrame,
    holders: pd.DataFrame,
    settings: Settings,
    year: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The year's alerts and watch list from person_year's sums (with the stay columns of stay_sets).

    settlements_of(ids) gives every stored settlement of those persons (their trigger dates are found by netting
    them): a lookup, so the millions of settlements of a district never need to be at hand.

    people: id_number (each once) → name, village_code, urban (bool), vulnerable (bool), identity_type (primary);
    persons missing from it are outside the register (rural, not vulnerable). holders: identities.holders.
    """
    thresholds = rule_thresholds(settings, year)
    listed = rule_identity_types(settings, year)
    stay_column = {types: f"stay_{k}" for k, types in enumerate(stay_sets(settings.alert_rules))}
    # a left merge by positions: pandas' merge factorised both columns of a million ID numbers (2 s)
    where = positions_in(sums["id_number"], people["id_number"])
    frame = sums.assign(**{c: people[c].array.take(where, allow_fill=True) for c in people.columns if c != "id_number"})
    frame["vulnerable"] = frame["vulnerable"].fillna(False).astype(bool)
    urban = frame["urban"].fillna(False).astype(bool).to_numpy()
    n = len(frame)
    alert, watch = _Choice.empty(n), _Choice.empty(n)
    hits = np.full(n, "", object)
    share = settings.watch_share
    per_rule: list[tuple[AlertRule, np.ndarray, np.ndarray]] = []
    for rule in settings.alert_rules:
        urban_t, rural_t = thresholds[rule.id]
        threshold = np.where(urban, urban_t, rural_t).astype("int64")
        applies = _applies(rule, frame, urban, holders, listed.get(rule.id))
        values = frame["measure"] if rule.basis == "year" else frame[stay_column[rule.visit_types]]
        measured = applies & values.notna().to_numpy()
        measure = values.fillna(0).to_numpy(dtype="int64")
        hit = measured & (measure >= threshold)
        near = measured & (measure * share.denominator >= threshold * share.numerator)
        alert.offer(rule.id, hit, measure, threshold)
        watch.offer(rule.id, near, measure, threshold)
        hits = np.where(hit, np.where(hits == "", rule.id, hits + ";" + rule.id), hits)
        per_rule.append((rule, hit, threshold))
    frame["alert_type"] = np.where(frame["vulnerable"], "返贫预警", "致贫预警")  # a rule's own type is a label
    alerted = alert.found
    netted = netted_settlements(
        settlements_of(frame.loc[alerted | watch.found, "id_number"]), year, settings.cost_measure
    )
    frame = _with_names(frame, netted)
    alerts = _alerts(frame, alert, hits, per_rule, netted, settings, year)
    return alerts, _watch(frame, watch, ~alerted, year)


def _applies(
    rule: AlertRule, frame: pd.DataFrame, urban: np.ndarray, holders: pd.DataFrame, types: frozenset[str] | None
) -> np.ndarray:
    if rule.applies_to == "vulnerable":
        who = frame["vulnerable"].to_numpy()
    elif rule.applies_to == "everyone":
        who = np.ones(len(frame), bool)
    else:
        assert types is not None  # a list rule has its resolved types
        holding = holders.loc[holders["identity_type"].isin(types), "id_number"]
        who = is_in(frame["id_number"], holding).to_numpy()
    if rule.residence == "rural":
        return who & ~urban
    if rule.residence == "urban":
        return who & urban
    return who


def _with_names(frame: pd.DataFrame, netted: pd.DataFrame) -> pd.DataFrame:
    """Persons outside the register take the name on their first settlement of the year."""
    unnamed = frame["name"].isna()
    if unnamed.any():
        theirs = netted.loc[
            is_in(netted["id_number"], frame.loc[unnamed, "id_number"]), ["id_number", "settle_date", "settlement_id"]
        ].assign(name=netted["name"])
        first = theirs.sort_values(["settle_date", "settlement_id"]).drop_duplicates("id_number")
        frame["name"] = frame["name"].fillna(frame["id_number"].map(first.set_index("id_number")["name"]))
    frame["name"] = frame["name"].fillna("")
    frame["village_code"] = frame["village_code"].fillna("")
    return frame


def _alerts(
    frame: pd.DataFrame,
    choice: _Choice,
    hits: np.ndarray,
    per_rule: list[tuple[AlertRule, np.ndarray, np.ndarray]],
    netted: pd.DataFrame,
    settings: Settings,
    year: int,
) -> pd.DataFrame:
    keep = choice.found
    out = frame[keep].copy()
    out["threshold"] = choice.threshold[keep]
    out["rules"] = hits[keep]
    chosen = choice.measure[keep]
    red, orange = settings.red_ratio, settings.orange_ratio
    out["level"] = np.where(
        chosen * red.denominator >= out["threshold"] * red.numerator,
        "红",
        np.where(chosen * orange.denominator >= out["threshold"] * orange.numerator, "橙", "黄"),
    )
    out["trigger_date"] = _trigger_dates(out["id_number"], netted, per_rule, keep)
    out["year"] = year
    out["_lv"] = out["level"].map(LEVEL_ORDER)
    out = out.sort_values(["_lv", "measure", "id_number"], ascending=[True, False, True])
    return out.drop(columns=["_lv", "urban"]).reset_index(drop=True)


def _trigger_dates(
    alerted: pd.Series, netted: pd.DataFrame, per_rule: list[tuple[AlertRule, np.ndarray, np.ndarray]], keep: np.ndarray
) -> np.ndarray:
    """Per alert, the earliest of its hit rules' trigger dates: a year rule's is the settle_date at which the running
    sum (by settle_date, settlement_id) reaches the rule's threshold; a stay rule's that of the first counting stay
    whose measure reaches it."""
    rows = netted[["id_number", "settle_date", "settlement_id", "visit_type", "measure"]]
    rows = rows[is_in(rows["id_number"], alerted)].sort_values(["id_number", "settle_date", "settlement_id"])
    rows = rows.assign(running=rows.groupby("id_number")["measure"].cumsum())
    earliest = pd.Series("", index=alerted.to_numpy(), dtype="object")  # "": no date yet
    for rule, hit, threshold in per_rule:
        mine = hit[keep]
        if not mine.any():
            continue
        limit = pd.Series(threshold[keep][mine], index=alerted[mine].to_numpy())
        candidates = rows[is_in(rows["id_number"], limit.index.to_series())]
        line = candidates["id_number"].map(limit)
        if rule.basis == "year":
            reached = candidates[candidates["running"] >= line]
        else:
            counting = candidates["visit_type"].isin(rule.visit_types)
            reached = candidates[counting & (candidates["measure"] >= line)]
        first = reached.drop_duplicates("id_number").set_index("id_number")["settle_date"]
        dates = earliest.index.to_series().map(first).fillna("")
        sooner = (dates != "") & ((earliest == "") | (dates < earliest))
        earliest = earliest.where(~sooner, dates)
    return earliest.replace("", None).to_numpy()


def _watch(frame: pd.DataFrame, choice: _Choice, not_alerted: np.ndarray, year: int) -> pd.DataFrame:
    """Persons not alerted whose chosen measure reaches watch_share of a rule's threshold, by ratio descending."""
    keep = choice.found & not_alerted
    out = frame.loc[keep, ["id_number", "name", "village_code", "identity_type", "alert_type", "measure"]].copy()
    out["threshold"], out["rule"], out["rule_measure"] = choice.threshold[keep], choice.rule[keep], choice.measure[keep]
    out["ratio"] = rate_hundredths(out["rule_measure"], out["threshold"]).to_numpy()
    out["year"] = year

    # ratio descending compared exactly (two floats can tie where the fractions do not), then ID ascending
    measures, thresholds, ids = out["rule_measure"].tolist(), out["threshold"].tolist(), out["id_number"].tolist()
    order = sorted(range(len(out)), key=lambda i: (-Fraction(measures[i], thresholds[i]), ids[i]))
    return out.iloc[order].reset_index(drop=True)


def on_engine(
    sums: pd.DataFrame | object, settlements: pd.DataFrame, people: pd.DataFrame, holders: pd.DataFrame, settings, year
):
    """The product's alert list and watch list (storage.sets.alerts_and_watch) for hand-built people: id_number →
    name, village_code, urban, identity_type (the primary one; vulnerable when set). sums: person_year's sums as a
    frame or a table of the engine's."""
    import ibis.expr.types as ir

    from monitor.storage import sets

    register = people[["id_number", "name", "village_code"]]
    primary = people.loc[people["identity_type"].notna(), ["id_number", "identity_type"]]
    divisions = pd.DataFrame(
        {"code": people["village_code"], "urban_rural": np.where(people["urban"], "111", "220")}
    ).drop_duplicates("code")
    engine = sets.backend()
    try:
        return sets.alerts_and_watch(
            engine,
            sums if isinstance(sums, ir.Table) else sets.table(sums),
            sets.table(register),
            sets.table(primary),
            divisions,
            sets.table(holders),
            sets.table(settlements),
            settings,
            year,
        )
    finally:
        engine.disconnect()
