"""One rate function (SPEC §7, half-up): 1 of 800 is 0.125 % and reads 0.13 wherever a rate is shown."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from monitor.outputs import exports
from monitor.rules import campaign
from monitor.rules.rates import format_rate, rate_hundredths, rate_percent


@pytest.mark.parametrize(
    ("part", "whole", "hundredths", "text"),
    [
        (1, 800, 13, "0.13"),
        (799, 800, 9988, "99.88"),
        (1, 3, 3333, "33.33"),
        (2, 3, 6667, "66.67"),
        (5, 5, 10000, "100.00"),
    ],
)
def test_rates_round_half_up_in_hundredths(part, whole, hundredths, text):
    got = rate_hundredths(pd.Series([part]), pd.Series([whole]))
    assert got.iloc[0] == hundredths
    assert format_rate(got).iloc[0] == text
    assert rate_percent(pd.Series([part]), pd.Series([whole])).iloc[0] == pytest.approx(hundredths / 100)


def test_no_one_in_scope_gives_no_rate():
    got = rate_hundredths(pd.Series([0]), pd.Series([0]))
    assert got.isna().all() and format_rate(got).iloc[0] == ""


def test_the_coverage_export_shows_one_of_800_as_0_13():
    row = pd.DataFrame(
        {"code": ["990101001000"], "name": ["甲镇"], "level": ["乡镇"], "in_scope": [800], "enrolled": [1]}
        | {
            f"{group}_{n}": [800 if n == "in_scope" else 1]
            for group in ("vulnerable", "newborn")
            for n in ("in_scope", "enrolled")
        }
    )
    shown = exports.coverage_frame(row).iloc[0]
    assert (shown["参保率"], shown["困难群众参保率"], shown["新生儿参保率"]) == ("0.13", "0.13", "0.13")


def test_the_bulletin_and_campaign_progress_show_one_of_800_as_0_13():
    day, before = date(2025, 10, 8), date(2025, 10, 1)
    daily = pd.DataFrame(
        {"code": ["T1", "T1"], "day": [before, day], "in_scope": [800, 800], "target": [800, 800], "enrolled": [0, 1]}
    )
    ranking = campaign.bulletin(daily, pd.Series({"T1": "甲镇"}), day, before)
    assert ranking["completion"].iloc[0] == 0.13 and ranking["change"].iloc[0] == 0.13


def test_campaign_daily_rates_use_the_same_rounding():
    village_base = pd.DataFrame(
        {"in_scope": [800], "vulnerable_in_scope": [800]}, index=pd.Index(["990101001001"], name="village_code")
    )
    counts = pd.DataFrame(
        {
            "village_code": ["990101001001"],
            "paid_on": [pd.Timestamp(2025, 9, 1)],
            "enrolled": [1],
            "vulnerable_enrolled": [1],
        }
    ).set_index(["village_code", "paid_on"])
    daily = campaign._daily_at_level(village_base, counts, "村社区", date(2025, 9, 1), date(2025, 9, 2), 95.0, None)
    assert daily["rate"].tolist() == [0.13, 0.13] and daily["vulnerable_rate"].tolist() == [0.13, 0.13]
