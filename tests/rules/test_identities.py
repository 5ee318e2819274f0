"""Identities: which are active at the as-of date and which one is primary."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from monitor.rules.identities import active_at, primary_identities

A = date(2025, 6, 30)


def _identities(rows):
    return pd.DataFrame(
        rows, columns=["id_number", "name", "identity_type", "start_date", "end_date", "household_id"]
    ).astype("str")


@pytest.mark.parametrize(
    "start, end, active",
    [
        ("2025-06-30", None, True),
        ("2025-07-01", None, False),
        ("2024-01-01", "2025-06-30", False),
        ("2024-01-01", "2025-07-01", True),
    ],
)
def test_identity_active_at_as_of(start, end, active):
    frame = _identities([["p", "", "低保对象", start, end, ""]])
    assert len(active_at(frame, A)) == int(active)


def test_primary_identity_prefers_classed_types_then_list_order(settings):
    types = settings.identity_types_for(2025)
    frame = _identities(
        [
            ["p", "", "脱贫人口", "2020-01-01", None, ""],
            ["p", "", "重度残疾人", "2020-01-01", None, ""],
            ["p", "", "因病致贫重病患者", "2020-01-01", None, ""],
            ["q", "", "特困人员", "2020-01-01", None, ""],
            ["q", "", "低保对象", "2020-01-01", None, ""],
        ]
    )
    before = frame.copy()
    got = primary_identities(frame, A, types).set_index("id_number")
    assert got.loc["p", "identity_type"] == "因病致贫重病患者"
    assert got.loc["q", "identity_type"] == "特困人员" and got.loc["q", "subsidy"] == "full"
    pd.testing.assert_frame_equal(frame, before)
