"""The loop from push to help (SPEC §10) on hand-built states: deadlines with an injected clock, and the figures."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from monitor.rules import loop

V = "990101002001"  # a village of the town 990101002000
STATES = pd.DataFrame(
    [
        # id, state, department, pushed_at, result, verified_on
        ("A", "已核实", "民政", "2025-12-01 09:00:00", "纳入监测", "2025-12-10"),  # help first on 01-15: late
        ("B", "已推送", "民政", "2025-12-01 09:00:00", "", ""),  # never verified
        ("C", "已办结", "民政", "2025-12-01 09:00:00", "不符合条件", "2025-12-16"),  # verified on the last day
        ("D", "已核实", "乡村振兴", "2025-11-20 09:00:00", "纳入监测", "2025-11-25"),  # no measure yet
        ("E", "待推送", "", "", "", ""),  # never pushed
        ("F", "已办结", "民政", "2025-12-02 09:00:00", "已落实救助", "2025-12-03"),  # helped 12-05
    ],
    columns=["id_number", "state", "department", "pushed_at", "result", "verified_on"],
)
MEASURES = pd.DataFrame(
    {"id_number": ["A", "A", "F"], "taken_on": ["2026-01-20", "2026-01-15", "2025-12-05"]},
)
ALERTS = pd.DataFrame(
    {
        "id_number": ["A", "B", "C", "D", "E", "F"],
        "village_code": [V, V, "", V, V, V],
        "trigger_date": ["2025-11-21", "2025-11-29", "2025-11-30", "2025-11-10", "2025-12-01", "2025-11-28"],
    }
)


def lines(today: date) -> pd.DataFrame:
    return loop.timelines(STATES, MEASURES, ALERTS, today, 15, 30).set_index("id_number")


@pytest.mark.parametrize(
    ("today", "overdue"),
    [
        (date(2025, 12, 16), {}),  # B's verification is due on the 16th, inclusive
        (date(2025, 12, 20), {"B": ("核实", 4)}),
        (date(2025, 12, 25), {"B": ("核实", 9)}),  # D's help is due on 12-25 (11-25 + 30)
        (date(2025, 12, 26), {"B": ("核实", 10), "D": ("帮扶", 1)}),
    ],
)
def test_a_step_is_overdue_once_its_deadline_has_passed(today, overdue):
    got = lines(today)
    flagged = got[got["overdue"]]
    assert {i: (r.overdue_step, int(r.overdue_days)) for i, r in flagged.iterrows()} == overdue
    assert "E" not in got.index  # never pushed


def test_late_steps_and_on_time_closing():
    got = lines(date(2026, 2, 1))
    assert got["late"].to_dict() == {"A": True, "B": False, "C": False, "D": False, "F": False}
    assert got.loc["A", "help_late"] and not got.loc["A", "verify_late"]  # due 2026-01-09, first measure 01-15
    assert got["closed_on_time"].to_dict() == {"A": False, "B": False, "C": True, "D": False, "F": True}
    assert got.loc["C", "town_code"] == "" and got.loc["A", "town_code"] == "990101002000"


def test_the_loop_in_figures_by_cohort():
    lines = loop.timelines(STATES, MEASURES, ALERTS, date(2025, 12, 20), 15, 30)
    figures = loop.figures(lines, ["cohort"]).set_index("cohort")
    december = figures.loc["2025-12"]
    assert (december["pushed"], december["verified"], december["helped"], december["closed"]) == (4, 3, 2, 2)
    assert (december["overdue"], december["late"], december["closed_on_time"]) == (1, 1, 2)
    assert december["loop_rate"] == 50.0
    assert december["median_days_to_push"] == 3.0  # 10, 2, 1, 4 → the mean of 2 and 4
    assert december["median_days_to_help"] == 24.0  # A 45 days (its first measure), F 3
    november = figures.loc["2025-11"]
    assert (november["pushed"], november["helped"], november["loop_rate"]) == (1, 0, 0.0)


def test_figures_of_nothing_pushed_are_an_empty_table():
    assert loop.figures(loop.timelines(STATES.iloc[[4]], MEASURES.iloc[0:0], ALERTS, date(2025, 12, 1), 15, 30), [])[
        "pushed"
    ].empty
