"""Alert rules of SPEC §9 on hand-built settlements: stay rules, identity lists, residence, the chosen rule, trigger
dates and the watch list (临界关注)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from monitor.config import AlertRule, ConfigError
from monitor.rules.alert_rules import candidates, rule_identity_types, stay_sets, watch_order
from monitor.rules.costs import person_year
from monitor.storage import sets
from tests.rules.alert_oracle import evaluate, on_engine


def rule(rule_id, yuan, applies="everyone", basis="year", residence="any", visits=("住院",)):
    return AlertRule(rule_id, rule_id, "标签", applies, yuan * 100, None, residence, basis, tuple(visits))


def settlements(*rows):
    """rows: (settlement id, person, date, visit type, total yuan); no fund paid anything."""
    frame = pd.DataFrame(
        [
            {"settlement_id": s, "id_number": p, "name": "", "settle_date": d, "visit_type": v, "total_cost": y * 100}
            for s, p, d, v, y in rows
        ]
    )
    for column in ("policy_cost", "basic_paid", "critical_paid", "assistance_paid", "other_paid"):
        frame[column] = pd.array([None] * len(frame), dtype="Int64")
    frame["total_cost"] = frame["total_cost"].astype("Int64")
    frame["reverses"] = ""
    return frame


PEOPLE = pd.DataFrame(
    {
        "id_number": ["rural_poor", "urban_poor", "rural", "urban"],
        "name": ["甲", "乙", "丙", "丁"],
        "village_code": ["990101002001", "990101001001", "990101002002", "990101001002"],
        "urban": [False, True, False, True],
        "vulnerable": [True, True, False, False],
        "identity_type": ["低保对象", "特困人员", None, None],
    }
)
# 乙's primary identity is 特困人员; 低保对象 is active too (a rule's list counts it).
HOLDERS = pd.DataFrame(
    {"id_number": ["rural_poor", "urban_poor", "urban_poor"], "identity_type": ["低保对象", "特困人员", "低保对象"]}
)


def run(settings, rules, frame, share=Fraction(4, 5)):
    chosen = replace(settings, alert_rules=tuple(rules), watch_share=share)
    year_sums = person_year(sets.table(frame), 2025, chosen.cost_measure, stay_sets(chosen.alert_rules))
    return on_engine(candidates(year_sums, chosen, 2025), frame, PEOPLE, HOLDERS, chosen, 2025)  # as a load runs them


@pytest.mark.parametrize(
    ("measure", "stay", "kept"),
    [
        (800_000, None, True),  # exactly 0.8 of the lowest threshold (S: 10000 yuan)
        (799_999, None, False),
        (0, 800_000, True),  # one stay reaches it though the year's sum does not
        (799_999, 799_999, False),
        (2_500_000, 0, True),
    ],
)
def test_the_candidates_are_whoever_could_reach_the_watch_share_of_the_lowest_threshold(settings, measure, stay, kept):
    chosen = replace(
        settings, alert_rules=(rule("Y", 20000), rule("S", 10000, basis="stay")), watch_share=Fraction(4, 5)
    )
    sums = pd.DataFrame(
        {"id_number": ["p"], "measure": pd.array([measure], "Int64"), "stay_0": pd.array([stay], "Int64")}
    )
    assert sets.evaluate(candidates(sets.table(sums), chosen, 2025))["id_number"].tolist() == (["p"] if kept else [])
    assert sets.evaluate(candidates(sets.table(sums), replace(chosen, alert_rules=()), 2025)).empty


TWO_SMALL_STAYS = settlements(("a", "rural", "2025-01-10", "住院", 5000), ("b", "rural", "2025-02-10", "住院", 5000))


def test_a_stay_rule_is_hit_by_one_stay_not_by_the_year(settings):
    one_big = settlements(("a", "rural", "2025-01-10", "普通门诊", 9000), ("b", "rural", "2025-03-10", "住院", 6000))
    alerts, _ = run(settings, [rule("S", 6000, basis="stay")], one_big)
    assert alerts[["id_number", "threshold", "rules", "trigger_date"]].values.tolist() == [
        ["rural", 600_000, "S", "2025-03-10"]
    ]
    assert alerts.loc[0, "measure"] == 1_500_000  # 个人负担 stays the person-year sum
    alerts, watch = run(settings, [rule("S", 6000, basis="stay")], TWO_SMALL_STAYS)  # 10000 in the year, no stay
    assert alerts.empty and watch["id_number"].tolist() == ["rural"] and watch.loc[0, "ratio"] == 8333


@pytest.mark.parametrize(
    ("visit_type", "counts"), [("住院", True), ("门诊慢特病", True), ("普通门诊", False), ("", False)]
)
def test_only_the_rules_visit_types_count_as_stays(settings, visit_type, counts):
    frame = settlements(("a", "rural", "2025-05-01", visit_type, 9000))
    alerts, _ = run(settings, [rule("S", 6000, basis="stay", visits=("住院", "门诊慢特病"))], frame)
    assert len(alerts) == (1 if counts else 0)


@pytest.mark.parametrize(
    ("applies", "residence", "alerted"),
    [
        ("everyone", "any", ["outsider", "rural", "rural_poor", "urban", "urban_poor"]),
        ("vulnerable", "any", ["rural_poor", "urban_poor"]),
        (("低保对象",), "any", ["rural_poor", "urban_poor"]),  # 乙 holds it beside its primary identity
        (("特困人员",), "any", ["urban_poor"]),
        (("特困供养人员",), "any", ["urban_poor"]),  # an alias of 特困人员
        (("低保对象",), "rural", ["rural_poor"]),
        ("everyone", "urban", ["urban", "urban_poor"]),
        ("everyone", "rural", ["outsider", "rural", "rural_poor"]),  # outside the register counts as rural
    ],
)
def test_whom_a_rule_applies_to(settings, applies, residence, alerted):
    people = ["rural_poor", "urban_poor", "rural", "urban", "outsider"]
    frame = settlements(*[(f"s{i}", p, "2025-05-01", "住院", 20000) for i, p in enumerate(people)])
    alerts, _ = run(settings, [rule("X", 10000, applies=applies, residence=residence)], frame)
    assert sorted(alerts["id_number"]) == alerted


def test_an_unknown_identity_type_names_the_rule(settings):
    with pytest.raises(ConfigError, match=r"alert_rules\[1\]\.applies_to: unknown identity type '低保'"):
        rule_identity_types(replace(settings, alert_rules=(rule("A", 1), rule("B", 1, applies=("低保",)))), 2025)


def test_the_largest_ratio_gives_threshold_and_level_and_the_earliest_trigger_date(settings):
    frame = settlements(
        ("a", "rural", "2025-01-10", "普通门诊", 9000),
        ("b", "rural", "2025-02-10", "住院", 7000),
        ("c", "rural", "2025-03-10", "住院", 5000),
    )
    # year 21000 ÷ 20000 = 1.05; stay 7000 ÷ 4000 = 1.75 (橙) reached on 02-10; the year rule reaches on 03-10
    alerts, _ = run(settings, [rule("Y", 20000), rule("S", 4000, basis="stay")], frame)
    row = alerts.iloc[0]
    assert (row["rules"], row["threshold"], row["level"], row["trigger_date"]) == ("Y;S", 400_000, "橙", "2025-02-10")


@pytest.mark.parametrize(
    ("rules", "threshold"),
    [
        ([rule("A", 5000), rule("B", 5000)], 500_000),  # the same ratio and threshold: the first listed
        ([rule("A", 10000), rule("B", 5000, basis="stay")], 500_000),  # 2.0 vs 2.0: the smaller threshold
    ],
)
def test_ties_take_the_smaller_threshold_then_the_rule_listed_first(settings, rules, threshold):
    frame = settlements(("a", "rural", "2025-01-10", "住院", 10000), ("b", "rural", "2025-02-10", "普通门诊", 10000))
    alerts, _ = run(settings, rules, frame if rules[1].basis == "stay" else frame.iloc[:1])
    assert alerts.loc[0, "threshold"] == threshold and alerts.loc[0, "level"] == "红"


def test_the_alert_type_follows_the_person_not_the_rules_label(settings):
    frame = settlements(("a", "rural", "2025-01-10", "住院", 20000), ("b", "rural_poor", "2025-01-10", "住院", 20000))
    alerts, _ = run(settings, [rule("X", 10000)], frame)
    assert dict(zip(alerts["id_number"], alerts["alert_type"], strict=True)) == {
        "rural": "致贫预警",
        "rural_poor": "返贫预警",
    }


def test_the_watch_list_shows_the_full_threshold_and_sorts_by_exact_ratio(settings):
    frame = settlements(
        ("a", "rural", "2025-01-10", "住院", 8000),  # 8000 ÷ 10000 = 0.8 exactly: on the list
        ("b", "urban", "2025-01-10", "住院", 7999),  # below 0.8
        ("c", "rural_poor", "2025-01-10", "住院", 9000),  # 0.9
        ("d", "urban_poor", "2025-01-10", "住院", 12000),  # alerted, so not watched
    )
    alerts, watch = run(settings, [rule("X", 10000)], frame)
    assert alerts["id_number"].tolist() == ["urban_poor"]
    assert watch[["id_number", "threshold", "rule", "ratio"]].values.tolist() == [
        ["rural_poor", 1_000_000, "X", 9000],
        ["rural", 1_000_000, "X", 8000],
    ]


def test_the_engine_gives_the_pandas_oracles_lists_on_random_settlements(settings):
    """Many rules of every kind over random settlements (equal ratios and thresholds among them, persons outside
    the register, reversals): the lists match the pandas version the product ran before, row for row."""
    rng = np.random.default_rng(11)
    people = [*PEOPLE["id_number"], *(f"x{i}" for i in range(40))]  # x…: outside the register
    rows = [
        (
            f"s{i}",
            people[rng.integers(0, len(people))],
            f"2025-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}",
            rng.choice(["住院", "门诊慢特病", "普通门诊"]),
            int(rng.choice([500, 1000, 2000, 3750, 4000, 5000, 7500, 16000])),
        )
        for i in range(250)
    ]
    frame = settlements(*rows)
    frame["name"] = [f"名{i % 7}" for i in range(len(frame))]
    reversed_rows = frame.sample(40, random_state=3)
    frame = pd.concat(
        [
            frame,
            reversed_rows.assign(
                settlement_id=reversed_rows["settlement_id"] + "R",
                reverses=reversed_rows["settlement_id"],
                settle_date="2026-01-02",
                total_cost=-reversed_rows["total_cost"] // 2,
            ),
        ],
        ignore_index=True,
    )
    rules = [
        rule("Y1", 20000),
        rule("Y2", 20000),  # the same threshold as Y1: Y1 wins their ties
        rule("Y3", 40000, residence="rural"),
        rule("V", 15000, applies="vulnerable", residence="urban"),
        rule("L", 10000, applies=("低保对象",)),
        rule("S1", 5000, basis="stay"),
        rule("S2", 10000, basis="stay", visits=("住院", "门诊慢特病")),
    ]
    chosen = replace(settings, alert_rules=tuple(rules), watch_share=Fraction(3, 4))
    year_sums = person_year(sets.table(frame), 2025, chosen.cost_measure, stay_sets(chosen.alert_rules))
    alerts, watch = on_engine(year_sums, frame, PEOPLE, HOLDERS, chosen, 2025)
    sums = sets.evaluate(year_sums)
    want_alerts, want_watch = evaluate(
        sums, lambda ids: frame[frame["id_number"].isin(ids)], PEOPLE, HOLDERS, chosen, 2025
    )
    assert len(alerts) > 20 and len(watch) >= 5
    columns = list(alerts.columns)
    pd.testing.assert_frame_equal(alerts, want_alerts[columns], check_dtype=False)
    pd.testing.assert_frame_equal(watch, want_watch[list(watch.columns)], check_dtype=False)


def test_the_watch_order_tells_apart_ratios_that_floats_tie():
    # 99999999/100000000 > 99999998/99999999, though both are the same float
    watch = pd.DataFrame(
        {
            "id_number": ["a", "b", "c"],
            "rule_measure": [99_999_998, 99_999_999, 99_999_998],
            "threshold": [99_999_999, 100_000_000, 99_999_999],
        }
    )
    assert watch_order(watch, 2025)["id_number"].tolist() == ["b", "a", "c"]
