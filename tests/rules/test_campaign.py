"""The collection period: payments, daily curves, the bulletin and SMS lists, worked out by hand."""

from __future__ import annotations

from datetime import date

import pandas as pd

from monitor.rules import campaign

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
