"""Cost rules: netting reversals, the person-year sums, the alert rules, levels and trigger dates."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from monitor.config import ConfigError
from monitor.files.sources import FUNDS
from monitor.rules.alert_rules import stay_sets
from monitor.rules.costs import netted_settlements, person_year, rule_thresholds
from monitor.storage import sets
from tests.rules.alert_oracle import on_engine


def _settlements(rows):
    cols = [
        "settlement_id",
        "id_number",
        "name",
        "settle_date",
        "visit_type",
        "total_cost",
        "policy_cost",
        "basic_paid",
        "critical_paid",
        "assistance_paid",
        "other_paid",
        "reverses",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    for c in cols[5:11]:
        frame[c] = frame[c].astype("Int64")
    for c in ("settlement_id", "id_number", "name", "settle_date", "visit_type", "reverses"):
        frame[c] = frame[c].astype("str")
    return frame


def test_reversal_nets_whatever_its_date_and_other_years_are_left_out():
    frame = _settlements(
        [
            ["A", "p", "", "2025-12-30", "住院", 10000, None, 4000, None, None, None, ""],
            ["B", "p", "", "2024-12-30", "住院", 50000, None, 0, None, None, None, ""],
            ["AR", "p", "", "2026-01-10", "住院", -3000, None, -1000, None, None, None, "A"],
        ]
    )
    before = frame.copy()
    netted = netted_settlements(frame, 2025, "个人负担")
    assert netted["settlement_id"].tolist() == ["A"]
    assert (netted.loc[0, "total_cost"], netted.loc[0, "basic_paid"], netted.loc[0, "oop"]) == (7000, 3000, 4000)
    pd.testing.assert_frame_equal(frame, before)


def test_policy_measure_floors_each_settlement_at_zero():
    frame = _settlements(
        [
            ["A", "p", "", "2025-01-01", "住院", 10000, 6000, 7000, None, None, None, ""],
            ["B", "p", "", "2025-02-01", "住院", 10000, 9000, 4000, None, None, None, ""],
        ]
    )
    netted = netted_settlements(frame, 2025, "政策范围内个人负担")
    assert netted["measure"].tolist() == [0, 5000]


def _person_year(frame, year, measure, stays=()):
    """The rule run on the engine, from a frame and back."""
    return sets.evaluate(person_year(sets.table(frame), year, measure, stays))


def _sums_of_netted(frame: pd.DataFrame, measure: str) -> pd.DataFrame:
    """person_year worked out the plain way: pandas sums over netted_settlements."""
    netted = netted_settlements(frame, 2025, measure)
    positive = netted["total_cost"] > 0
    netted = netted.assign(
        n_settlements=positive.astype("int64"),
        inpatient_stays=(positive & (netted["visit_type"] == "住院")).astype("int64"),
    )
    cols = ["total_cost", *FUNDS, "oop", "policy_oop", "measure", "n_settlements", "inpatient_stays"]
    sums = netted.groupby("id_number", sort=True)[cols].sum().reset_index()
    sums["funds_paid"] = sum(sums[f] for f in FUNDS)
    return sums


@pytest.mark.parametrize("measure", ["个人负担", "政策范围内个人负担"])
def test_person_year_sums_the_netted_settlements(measure):
    frame = _settlements(
        [
            ["A", "p", "", "2025-01-05", "住院", 10000, 6000, 7000, None, 500, None, ""],
            [
                "AR",
                "p",
                "",
                "2026-01-10",
                "住院",
                -10000,
                None,
                -7000,
                None,
                -500,
                None,
                "A",
            ],  # nets A to 0: not counted
            ["B", "p", "", "2025-02-01", "普通门诊", 3000, None, 1000, 200, None, 100, ""],
            ["BR", "p", "", "2025-02-03", "普通门诊", -1000, -1000, None, None, None, None, "B"],
            ["C", "q", "", "2025-03-01", "住院", 9000, 3000, 4000, None, None, None, ""],  # policy below the funds: 0
            ["D", "q", "", "2024-12-31", "住院", 50000, None, 0, None, None, None, ""],  # another year
            ["DR", "q", "", "2025-01-02", "住院", -50000, None, 0, None, None, None, "D"],  # reverses the other year's
            ["E", "r", "", "2026-01-01", "住院", 8000, None, 0, None, None, None, ""],  # only settlement in 2026
        ]
    )
    before = frame.copy()
    got = _person_year(frame, 2025, measure)
    pd.testing.assert_frame_equal(got, _sums_of_netted(frame, measure), check_dtype=False)
    assert got["id_number"].tolist() == ["p", "q"]
    assert got.set_index("id_number").loc["p", "n_settlements"] == 1
    pd.testing.assert_frame_equal(frame, before)


def test_person_year_matches_netting_on_random_settlements():
    rng = np.random.default_rng(7)
    n = 3000
    ids = [f"S{i}" for i in range(n)]
    total = rng.integers(0, 200_000, n)
    policy = [rng.choice([None, int(t * 0.8), int(t * 0.2)]) for t in total]  # 20 %: below the funds
    frame = _settlements(
        [
            [
                ids[i],
                f"p{rng.integers(0, 400)}",
                "",
                f"{rng.choice([2024, 2025, 2025, 2025])}-0{rng.integers(1, 10)}-01",
                rng.choice(["住院", "普通门诊", None]),
                int(total[i]),
                policy[i],
                int(total[i] // 3),
                rng.choice([None, int(total[i] // 10)]),
                None,
                rng.choice([None, 100]),
                "",
            ]
            for i in range(n)
        ]
    )
    reversed_rows = frame.sample(400, random_state=1)
    reversals = reversed_rows.assign(
        settlement_id=reversed_rows["settlement_id"] + "R",
        reverses=reversed_rows["settlement_id"],
        settle_date="2025-12-31",
        total_cost=-(reversed_rows["total_cost"] // rng.choice([1, 2], 400)),
        policy_cost=pd.array([None] * 400, dtype="Int64"),
        basic_paid=-reversed_rows["basic_paid"] // 2,
        critical_paid=pd.array([None] * 400, dtype="Int64"),
        other_paid=pd.array([None] * 400, dtype="Int64"),
    )
    frame = pd.concat([frame, reversals], ignore_index=True)
    for measure in ("个人负担", "政策范围内个人负担"):
        pd.testing.assert_frame_equal(
            _person_year(frame, 2025, measure), _sums_of_netted(frame, measure), check_dtype=False
        )


def _people(vulnerable: bool, urban: bool):
    return pd.DataFrame(
        {
            "id_number": ["p"],
            "name": ["某"],
            "village_code": ["990101001001"],
            "urban": [urban],
            "vulnerable": [vulnerable],
            "identity_type": ["低保对象" if vulnerable else None],
        }
    )


def alerts(frame, people, settings, year=2025):
    """The alerts of the product; people's primary identities are their only active ones."""
    holders = people.loc[people["identity_type"].notna(), ["id_number", "identity_type"]]
    sums = person_year(sets.table(frame), year, settings.cost_measure, stay_sets(settings.alert_rules))
    return on_engine(sums, frame, people, holders, settings, year)[0]


@pytest.mark.parametrize(
    "oop, vulnerable, urban, rules, threshold, level, kind",
    [
        (999_999, True, False, None, None, None, None),  # 9999.99 < 10000 and < 11559.50
        (1_000_000, True, False, "R1", 1_000_000, "黄", "返贫预警"),
        (1_500_000, True, False, "R1;R2", 1_000_000, "橙", "返贫预警"),
        (2_000_000, True, True, "R1", 1_000_000, "红", "返贫预警"),  # urban R2 is 27094.00
        (1_155_950, False, False, "R2", 1_155_950, "黄", "致贫预警"),  # exactly 50% of 23119
        (1_155_949, False, False, None, None, None, None),
        (2_311_900, False, False, "R2", 1_155_950, "红", "致贫预警"),
        (2_000_000, False, True, None, None, None, None),
        (4_064_100, False, True, "R2", 2_709_400, "橙", "致贫预警"),  # exactly 1.5 × 27094
        (4_064_099, False, True, "R2", 2_709_400, "黄", "致贫预警"),
    ],
)
def test_alert_rules_levels_and_types(settings, oop, vulnerable, urban, rules, threshold, level, kind):
    frame = _settlements([["A", "p", "某", "2025-03-01", "住院", oop, None, 0, None, None, None, ""]])
    got = alerts(frame, _people(vulnerable, urban), settings)
    if rules is None:
        assert got.empty
        return
    row = got.iloc[0]
    assert (row["rules"], row["threshold"], row["level"], row["alert_type"]) == (rules, threshold, level, kind)


def test_trigger_date_is_where_running_sum_reaches_threshold(settings):
    frame = _settlements(
        [
            ["B", "p", "", "2025-02-01", "住院", 600_000, None, 0, None, None, None, ""],
            ["A", "p", "", "2025-02-01", "住院", 300_000, None, 0, None, None, None, ""],
            ["C", "p", "", "2025-03-01", "住院", 200_000, None, 0, None, None, None, ""],
            ["D", "p", "", "2025-04-01", "住院", 900_000, None, 0, None, None, None, ""],
        ]
    )
    got = alerts(frame, _people(True, False), settings)
    # ordered A(3000), B(9000), C(11000 ≥ 10000) → 2025-03-01
    assert got.loc[0, "trigger_date"] == "2025-03-01"


def test_missing_income_names_the_config_key(settings):
    with pytest.raises(ConfigError, match=r"income\.2022"):
        rule_thresholds(settings, 2023)
    fixed_only = replace(settings, alert_rules=tuple(r for r in settings.alert_rules if r.id == "R1"))
    assert rule_thresholds(fixed_only, 2023) == {"R1": (1_000_000, 1_000_000)}
