"""Display helpers and charts as values: small hand-built inputs, one rule per case."""

from __future__ import annotations

from fractions import Fraction

import pandas as pd
import pytest
import shapely

from monitor.web import charts
from monitor.web.views import coverage_map
from monitor.web.views.common import BANDS, METRIC_BY_LABEL, band

SQUARE = shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])  # counter-clockwise, as GeoJSON has it


@pytest.mark.parametrize(
    "rate, expected",
    [
        (95.0, BANDS[0]),
        (99.99, BANDS[0]),
        (94.5, BANDS[1]),
        (94.0, BANDS[1]),
        (93.99, BANDS[2]),
        (92.0, BANDS[2]),
        (91.5, BANDS[3]),
        (90.0, BANDS[3]),
        (89.99, BANDS[4]),
        (None, BANDS[5]),
    ],
)
def test_band_by_distance_below_target(rate, expected):
    rates = pd.Series([rate], dtype="Float64")
    assert band(rates, Fraction(95)).iloc[0] == expected


def test_breadcrumb_runs_from_root_to_parent():
    names = pd.Series({"990101000000": "青禾区", "990101002000": "石园街道"})
    assert coverage_map.breadcrumb("990101002000", "990101000000", names) == [
        ("990101000000", "青禾区"),
        ("990101002000", "石园街道"),
    ]
    assert coverage_map.breadcrumb("990101000000", "990101000000", names) == [("990101000000", "青禾区")]


def test_choropleth_is_a_value_with_a_click_selection_on_code():
    features = [
        {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(SQUARE),
            "properties": {},
            "code": "990101001000",
            "name": "甲",
            "value": 96.5,
            "band": BANDS[0],
        }
    ]
    spec = charts.choropleth(features, METRIC_BY_LABEL["参保率"], ["#000000"] * 6, "#cccccc").to_dict()
    assert spec["mark"]["type"] == "geoshape"
    assert spec["params"][0]["select"]["fields"] == ["code"]
    assert spec["encoding"]["color"]["scale"]["domain"] == list(BANDS)
    counts = charts.choropleth(features, METRIC_BY_LABEL["预警人数"], ["#000000"] * 6, "#cccccc").to_dict()
    assert counts["encoding"]["color"]["field"] == "value"
    assert "null" in counts["encoding"]["color"]["condition"]["test"]  # no data gets its own colour


def test_town_ranking_has_the_target_rule():
    rows = pd.DataFrame({"name": ["甲", "乙"], "rate": [96.0, 93.0]})
    spec = charts.town_ranking(rows, 95.0, "#00ff00", "#ff0000").to_dict()
    rule = spec["layer"][1]
    assert rule["mark"]["type"] == "rule"
    assert {"target": 95.0} in [row for rows in spec["datasets"].values() for row in rows]
