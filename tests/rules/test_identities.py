"""Identities: which are active at the as-of date and which one is primary, in pandas and on the engine, and the
changes between two lists."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from monitor.rules import identities
from monitor.rules.identities import active_at, primary_identities
from monitor.storage import sets
from tests.rules.oracles import change_list

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


def _random_identities(rng, n, types):
    names = [t.name for t in types] + ["未知类别"]
    days = ["2024-01-01", "2025-03-01", "2025-06-30", "2025-07-01"]
    rows = {
        (f"p{rng.integers(0, n // 3)}", names[rng.integers(0, len(names))], days[rng.integers(0, len(days))])
        for _ in range(n)
    }  # the duplicate key (ID, type, start) never repeats in a stored list
    return _identities(
        [
            [pid, f"名{i % 5}", kind, start, [None, "", "2025-06-30", "2026-01-01"][i % 4], f"h{i % 9}"]
            for i, (pid, kind, start) in enumerate(sorted(rows))
        ]
    ).replace({"None": None})


def test_the_engine_finds_the_primary_identities_pandas_finds(settings):
    types = settings.identity_types_for(2025)
    frame = _random_identities(np.random.default_rng(5), 400, types)
    want = primary_identities(frame, A, types)
    got = sets.evaluate(identities.primary(sets.table(frame), A, types)).sort_values("id_number", ignore_index=True)
    assert len(want) > 50
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_the_identity_changes_on_the_engine_match_the_oracle(settings):
    types = settings.identity_types_for(2025)
    rng = np.random.default_rng(9)
    before, after = _random_identities(rng, 300, types), _random_identities(rng, 300, types)
    want = change_list(before, after, A, types)
    got = sets.evaluate(identities.changes(sets.table(before), sets.table(after), A, types))
    assert set(want["change"]) == {"新增", "变更", "取消"}
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
