"""Display helpers and charts as values: small hand-built inputs, one rule per case."""

from __future__ import annotations

from fractions import Fraction

import pandas as pd
import pytest
import shapely

from monitor.web import charts
from monitor.web.views import alerts, coverage_map
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
    chart = charts.choropleth(features, METRIC_BY_LABEL["参保率"], ["#000000"] * 6, "#cccccc").to_dict()
    [spec] = chart["layer"]
    assert spec["mark"]["type"] == "geoshape"
    assert chart["params"][0]["select"]["fields"] == ["code"] and chart["params"][0]["views"] == [spec["name"]]
    assert spec["encoding"]["color"]["scale"]["domain"] == list(BANDS)
    [counts] = charts.choropleth(features, METRIC_BY_LABEL["预警人数"], ["#000000"] * 6, "#cccccc").to_dict()["layer"]
    assert counts["encoding"]["color"]["field"] == "value"
    assert "null" in counts["encoding"]["color"]["condition"]["test"]  # no data gets its own colour
    assert counts["encoding"]["color"]["legend"]["orient"] == "top"
    named = charts.choropleth(
        features, METRIC_BY_LABEL["参保率"], ["#000000"] * 6, "#cccccc", labels=coverage_map.labels(features)
    ).to_dict()
    assert [layer["mark"]["type"] for layer in named["layer"]] == ["geoshape", "text", "text"]
    assert named["params"][0]["views"] == [named["layer"][0]["name"]]  # a click selects a shape, never a name


def _square(x: float, y: float, side: float, code: str, name: str) -> dict:
    shape = shapely.box(x, y, x + side, y + side)
    return {"type": "Feature", "geometry": shapely.geometry.mapping(shape), "code": code, "name": name}


def test_labels_go_inside_their_shape_and_only_where_the_name_fits():
    # a wide town beside a sliver: at a 520 px map the first holds its name, the second cannot at any size
    features = [
        _square(120.0, 30.0, 0.1, "990101001000", "甲镇"),
        {
            **_square(120.1, 30.0, 0.1, "990101002000", "乙街道"),
            "geometry": shapely.geometry.mapping(shapely.box(120.1, 30.0, 120.1005, 30.1)),
        },
        _square(120.0, 30.1, 0.1, "990101003000", ""),  # no name, nothing to write
    ]
    labels = coverage_map.labels(features)
    assert [label["name"] for label in labels] == ["甲镇"]
    [first] = labels
    assert shapely.box(120.0, 30.0, 120.1, 30.1).contains(shapely.Point(first["lon"], first["lat"]))
    assert first["lon"] == pytest.approx(120.05, abs=1e-3)  # midway across; Mercator makes the square tall
    # drawn at the least scale the name's box fits, and not below: 2 characters of 12 px and a halo in 0.1 degrees
    mercator = first["scale"] * first["down"]  # the map's height in px at which the name is written
    assert 0 < mercator < coverage_map.MAP_HEIGHT
    assert coverage_map.labels(features, height=int(mercator) - 1) == []  # a smaller map: no room
    assert coverage_map.labels([]) == []


def test_town_ranking_names_every_town_and_labels_the_target_rule():
    rows = pd.DataFrame({"name": ["甲", "乙"], "rate": [96.0, 93.0]})
    spec = charts.town_ranking(rows, 95.0, "#00ff00", "#ff0000").to_dict()
    bars, rule, label = spec["layer"]
    assert bars["encoding"]["y"]["axis"]["labelOverlap"] is False  # no town's name dropped
    assert rule["mark"]["type"] == "rule" and label["mark"]["type"] == "text"
    assert {"target": 95.0, "label": "目标 95%"} in [row for rows in spec["datasets"].values() for row in rows]


def test_the_campaign_curve_names_its_target_line():
    daily = pd.DataFrame(
        {
            "day": ["2025-09-01", "2025-09-02"],
            "enrolled": [10, 25],
            "previous_enrolled": [8, 20],
            "target": [1500.0] * 2,
        }
    )
    spec = charts.campaign_curve(daily, "2025-09-02").to_dict()
    label = spec["layer"][2]
    assert label["mark"]["type"] == "text" and label["encoding"]["y"]["field"] == "target"
    rows = [row for rows in spec["datasets"].values() for row in rows]
    assert any(row.get("label") == "目标 1,500 人" for row in rows)


@pytest.mark.parametrize(
    "totals, title",
    [
        ([120.0, 35.5], "全年结算 2 笔"),
        ([120.0, 0.0, 35.5], "全年结算 3 笔（净额为正、计入结算次数的 2 笔）"),  # one reversed to nothing
        ([], "全年结算 0 笔"),
    ],
)
def test_the_settlements_title_says_which_the_headers_count_counts(totals, title):
    assert alerts.settlements_title(pd.DataFrame({"total": pd.Series(totals, dtype="float64")})) == title
