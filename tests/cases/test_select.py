"""The one alert filter of the 预警 page, `etl push` and the monthly draft (cases.alert_case.select)."""

from __future__ import annotations

import pandas as pd
import pytest

from monitor.cases.alert_case import STATES, AlertState, reached, select

ALERTS = pd.DataFrame(
    {
        "id_number": ["A", "B", "C", "D"],
        "level": ["红", "橙", "黄", "红"],
        "alert_type": ["致贫预警", "返贫预警", "致贫预警", "致贫预警"],
        "state": ["待推送", "已推送", "待推送", "已核实"],
        "village_code": ["990101001001", "990101001002", "990101002001", ""],
        "identity_type": ["低保对象", None, "脱贫人口", None],
    }
)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["A", "B", "C", "D"]),
        ({"levels": ["红"]}, ["A", "D"]),
        ({"types": ["返贫预警"]}, ["B"]),
        ({"states": [AlertState.TO_PUSH]}, ["A", "C"]),
        ({"towns": ["990101001000"]}, ["A", "B"]),
        ({"towns": [""]}, ["D"]),  # outside the register: no town
        ({"identities": [""]}, ["B", "D"]),
        ({"states": [AlertState.TO_PUSH], "levels": ["红", "黄"], "towns": ["990101002000"]}, ["C"]),
    ],
)
def test_select_keeps_the_alerts_matching_every_filter(filters, expected):
    assert select(ALERTS, **filters)["id_number"].tolist() == expected


def test_states_only_move_forward():
    assert [s.value for s in STATES] == ["待推送", "已推送", "已核实", "已办结"]
    assert reached(AlertState.VERIFIED) == (AlertState.VERIFIED, AlertState.CLOSED)
