"""The collection period: payments, daily curves, the bulletin and SMS lists, worked out by hand; a load's progress on
the engine against the pandas oracle (tests/rules/oracles.py)."""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import numpy as np
import oracles
import pandas as pd
import pytest

from monitor.rules import campaign
from monitor.rules.divisions import levels_below
from monitor.storage import sets

START, END = date(2025, 9, 1), date(2025, 9, 4)


def _enrollment(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id_number", "year", "status", "paid_date"])


def test_payments_take_the_first_paid_day_of_the_target_year():
    rows = _enrollment(
        [
            ("A", 2026, "正常参保", "2025-09-03"),
            ("A", 2026, "正常参保", "2025-09-02"),  # two schemes: first day
            ("B", 2026, "正常参保", None),  # 职工: no payment date, counts from the first day
            ("C", 2026, "正常参保", "2025-08-20"),  # paid before the period: the first day
            ("D", 2026, "暂停参保", "2025-09-02"),
            ("E", 2025, "正常参保", "2024-09-02"),  # not counted
        ]
    )
    paid = campaign.payments(rows, 2026, START)
    assert dict(zip(paid["id_number"], paid["paid_on"].dt.date, strict=True)) == {
        "A": date(2025, 9, 2),
        "B": START,
        "C": START,
    }


def test_daily_progress_is_cumulative_per_division_with_the_target():
    # Village 1 (town T1): A, B (vulnerable), C; village 2 (town T2): D. 95% target.
    persons = pd.DataFrame(
        {
            "id_number": list("ABCD"),
            "village_code": ["990101001001"] * 3 + ["990101002001"],
            "vulnerable": [False, True, False, False],
        }
    )
    paid = campaign.payments(
        _enrollment(
            [
                ("A", 2026, "正常参保", "2025-09-02"),
                ("B", 2026, "正常参保", "2025-09-01"),
                ("D", 2026, "正常参保", "2025-09-04"),
            ]
        ),
        2026,
        START,
    )
    daily = campaign.daily_progress(persons, paid, "乡镇", START, END, 95.0)
    town1 = daily[daily["code"] == "990101001000"]
    assert town1["enrolled"].tolist() == [1, 2, 2, 2]
    assert town1["vulnerable_enrolled"].tolist() == [1, 1, 1, 1]
    assert set(town1["target"]) == {3}  # ceil(3 × 0.95)
    assert town1["rate"].tolist() == [33.33, 66.67, 66.67, 66.67]
    town2 = daily[daily["code"] == "990101002000"]
    assert town2["enrolled"].tolist() == [0, 0, 0, 1] and set(town2["target"]) == {1}
    configured = campaign.daily_progress(persons, paid, "乡镇", START, END, 95.0, {"990101001000": 2})
    assert set(configured.loc[configured["code"] == "990101001000", "target"]) == {2}  # the bureau's own target
    assert set(configured.loc[configured["code"] == "990101002000", "target"]) == {1}


def test_bulletin_ranks_towns_flags_the_three_lowest_and_shows_the_change():
    days = [date(2025, 9, 1), date(2025, 9, 8)]
    rows = []
    for code, (before, after) in {
        "990101001000": (10, 50),
        "990101002000": (20, 30),
        "990101003000": (5, 40),
        "990101004000": (0, 10),
    }.items():
        rows += [
            {"code": code, "day": days[0], "enrolled": before, "in_scope": 105, "target": 100},
            {"code": code, "day": days[1], "enrolled": after, "in_scope": 105, "target": 100},
        ]
    names = pd.Series({"990101001000": "甲镇", "990101002000": "乙镇", "990101003000": "丙镇", "990101004000": "丁乡"})
    ranking = campaign.bulletin(pd.DataFrame(rows), names, days[1], days[0])
    assert ranking[["rank", "name", "completion", "change", "lowest"]].values.tolist() == [
        [1, "甲镇", 50.0, 40.0, False],
        [2, "丙镇", 40.0, 35.0, True],
        [3, "乙镇", 30.0, 10.0, True],
        [4, "丁乡", 10.0, 10.0, True],
    ]
    assert campaign.previous_bulletin_day(date(2025, 9, 5), START) is None
    assert campaign.previous_bulletin_day(date(2025, 9, 8), START) == date(2025, 9, 1)


def test_sms_list_fills_the_template_and_leaves_out_whom_a_text_cannot_help():
    persons = pd.DataFrame(
        {
            "id_number": list("ABCDEF"),
            "name": ["张三", "李四", "王五", "赵六", "钱七", "孙八"],
            "phone": ["13912345678", "1391234567", "", "15800001111", "17700002222", "18600003333"],
            "priority": [1, 3, 3, 1, 2, 3],
            "subsidy": ["full", None, None, "fixed", None, None],
            "subsidy_cents": [None, None, None, 32000, None, None],
        }
    )
    paid = pd.DataFrame({"id_number": ["F"], "paid_on": [pd.Timestamp("2025-09-02")]})  # F has paid
    outcomes = pd.DataFrame({"id_number": ["E", "E"], "outcome": ["无法联系", "已在外地参保"]})
    rows, left_out = campaign.sms_list(
        persons, paid, outcomes, "{name}，{year}年{end}截止，{subsidy}请缴费。", 2026, date(2025, 12, 31)
    )
    assert rows["phone"].tolist() == ["13912345678", "15800001111"]
    assert rows["message"].tolist() == [
        "张三，2026年12月31日截止，您符合全额资助条件，个人无需缴费，请缴费。",
        "赵六，2026年12月31日截止，您可享受320元参保资助，请缴费。",
    ]
    assert left_out == {"无有效手机号": 2, "走访结果无需提醒": 1}
    only_vulnerable, _ = campaign.sms_list(persons, paid, outcomes, "{name}", 2026, END, priorities=[1])
    assert only_vulnerable["name"].tolist() == ["张三", "赵六"]


# The progress of a load: the person-level half on the engine (campaign.village_progress, run by storage.sets)
# against the pandas oracle it replaced, case by case, with the village's figures worked out by hand.
ROOT, TOWN, VILLAGE, OTHER_TOWN_VILLAGE = "990101000000", "990101001000", "990101001001", "990101002001"
LEAP_START, LEAP_END = date(2024, 2, 29), date(2024, 3, 3)  # last year's period: 28 February to 3 March 2023


def _in_scope(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id_number", "village_code", "vulnerable"]).astype(
        {"id_number": "str", "village_code": "str", "vulnerable": "bool"}
    )


# A (vulnerable) and B in the village, C in another town's village; the cases pay for A unless they say otherwise
PERSONS = _in_scope([("A", VILLAGE, True), ("B", VILLAGE, False), ("C", OTHER_TOWN_VILLAGE, False)])
NAN = float("nan")
# name → (enrollment rows, persons, (start, end), the village's enrolled, vulnerable enrolled and last year's on
# each day of the period, the latest payment day); figures None: nobody is in scope, so there are no rows
PROGRESS_CASES = {
    "paid twice": (
        [("A", 2026, "正常参保", "2025-09-03"), ("A", 2026, "正常参保", "2025-09-02")],
        PERSONS,
        (START, END),
        ([0, 1, 1, 1], [0, 1, 1, 1], [0, 0, 0, 0]),
        date(2025, 9, 2),
    ),
    "paid before the start": (
        [("A", 2026, "正常参保", "2025-08-20")],
        PERSONS,
        (START, END),
        ([1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]),
        START,
    ),
    "no payment date": (
        [("A", 2026, "正常参保", None), ("B", 2026, "正常参保", "2025-09-04")],
        PERSONS,
        (START, END),
        ([1, 1, 1, 2], [1, 1, 1, 1], [0, 0, 0, 0]),
        date(2025, 9, 4),
    ),
    "paid after the end": (
        [("A", 2026, "正常参保", "2025-09-05"), ("B", 2025, "正常参保", "2024-09-05")],
        PERSONS,
        (START, END),
        ([0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]),
        None,
    ),
    "suspended and ended": (
        [("A", 2026, "暂停参保", "2025-09-02"), ("B", 2026, "终止参保", "2025-09-02"), ("A", 2025, "终止参保", None)],
        PERSONS,
        (START, END),
        ([0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]),
        None,
    ),
    "not in scope": (  # counts for the latest payment day only
        [("X", 2026, "正常参保", "2025-09-03"), ("B", 2026, "正常参保", "2025-09-02")],
        PERSONS,
        (START, END),
        ([0, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]),
        date(2025, 9, 3),
    ),
    "last year's campaign": (
        [("A", 2025, "正常参保", "2024-09-02"), ("B", 2025, "正常参保", None), ("A", 2024, "正常参保", "2023-09-01")],
        PERSONS,
        (START, END),
        ([0, 0, 0, 0], [0, 0, 0, 0], [1, 2, 2, 2]),
        None,
    ),
    "29 February": (  # last year's 20 February counts from its first day, 28 February, which has no day here
        [("A", 2025, "正常参保", "2024-03-02"), ("A", 2024, "正常参保", "2023-02-20")],
        PERSONS,
        (LEAP_START, LEAP_END),
        ([0, 0, 1, 1], [0, 0, 1, 1], [NAN, 1, 1, 1]),
        date(2024, 3, 2),
    ),
    "no enrollment": ([], PERSONS, (START, END), ([0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]), None),
    "nobody in scope": ([("A", 2026, "正常参保", "2025-09-02")], _in_scope([]), (START, END), None, date(2025, 9, 2)),
}


@pytest.mark.parametrize("case", PROGRESS_CASES, ids=list(PROGRESS_CASES))
def test_progress_on_the_engine_matches_the_oracle_and_the_hand_worked_figures(case):
    rows, persons, (start, end), figures, latest = PROGRESS_CASES[case]
    enrollment = _enrollment(rows).astype({"year": "Int64"})
    levels = levels_below(ROOT)
    villages = sets.campaign_villages(enrollment, persons, start, end)
    got, got_latest = campaign.progress_all_levels(villages, levels, start, end, 95.0, {TOWN: 2})
    expected, expected_latest = oracles.progress_all_levels(persons, enrollment, levels, start, end, 95.0, {TOWN: 2})
    pd.testing.assert_frame_equal(got, expected)
    assert got_latest == expected_latest == latest
    if figures is None:
        assert got.empty
        return
    village = got[got["code"] == VILLAGE]
    assert village["day"].tolist() == [start + timedelta(days=i) for i in range((end - start).days + 1)]
    assert [village[c].tolist() for c in ("enrolled", "vulnerable_enrolled")] == list(figures[:2])
    assert np.array_equal(village["previous_enrolled"].to_numpy("float64"), figures[2], equal_nan=True)
    assert set(village["in_scope"]) == {2} and set(village["vulnerable_in_scope"]) == {1}
    assert set(got.loc[got["code"] == TOWN, "target"]) == {2} and set(got.loc[got["code"] == ROOT, "target"]) == {3}
    assert list(got.groupby("level", sort=False).size().index) == levels


def test_progress_compiles_for_spark():
    """Plain Ibis, no DuckDB-only SQL: the same rule runs on a cluster (issue 21)."""
    enrollment = sets.table(_enrollment([("A", 2026, "正常参保", None)]).astype({"year": "Int64"}))
    sql = ibis.to_sql(campaign.village_progress(enrollment, sets.table(PERSONS), START, END), dialect="pyspark")
    assert "GROUP BY" in sql


def test_the_demo_district_gives_the_oracles_progress(demo_db, settings):
    """8,000 generated residents paying through a running campaign: the same curves at every level, last year's
    beside them, and the same latest payment day."""
    from monitor.storage import lake, queries
    from monitor.storage.store import connect, read_bulk
    from monitor.storage.store import divisions as division_table

    engine = connect(demo_db)
    snapshots = {key: lake.read(engine, key) for key in ("population", "deaths", "enrollment", "identities")}
    snapshots["divisions"] = read_bulk(engine, division_table)
    root = queries.root(engine, settings)
    persons = sets.in_scope(snapshots, settings, 2025, date(2025, 12, 31), root)
    start, end, levels = settings.campaign_start, settings.campaign_end, levels_below(root)
    rate, targets = float(settings.target_overall), settings.campaign_targets
    villages = sets.campaign_villages(snapshots["enrollment"], persons, start, end, settings)
    got, latest = campaign.progress_all_levels(villages, levels, start, end, rate, targets)
    expected, expected_latest = oracles.progress_all_levels(
        persons, snapshots["enrollment"], levels, start, end, rate, targets
    )
    pd.testing.assert_frame_equal(got, expected)
    assert latest == expected_latest and latest is not None and start < latest <= end
    top = got[got["level"] == levels[0]]
    assert top["enrolled"].iloc[-1] > 0 and top["previous_enrolled"].iloc[-1] > 0
