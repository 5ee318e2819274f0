"""Display helpers, charts as values, and uploads: small hand-built inputs, one rule per case."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction

import pandas as pd
import pytest
import shapely

from monitor import charts
from monitor.boundaries import display_features, prepare
from monitor.uploads import UploadError, safe_name, save_uploads
from monitor.views import coverage_map
from monitor.views.common import BANDS, METRIC_BY_LABEL, band


@pytest.mark.parametrize("rate, expected", [
    (95.0, BANDS[0]), (99.99, BANDS[0]), (94.5, BANDS[1]), (94.0, BANDS[1]), (93.99, BANDS[2]), (92.0, BANDS[2]),
    (91.5, BANDS[3]), (90.0, BANDS[3]), (89.99, BANDS[4]), (None, BANDS[5]),
])
def test_band_by_distance_below_target(rate, expected):
    rates = pd.Series([rate], dtype="Float64")
    assert band(rates, Fraction(95)).iloc[0] == expected


def test_breadcrumb_runs_from_root_to_parent():
    names = pd.Series({"990101000000": "青禾区", "990101002000": "石园街道"})
    assert coverage_map.breadcrumb("990101002000", "990101000000", names) == [
        ("990101000000", "青禾区"), ("990101002000", "石园街道")]
    assert coverage_map.breadcrumb("990101000000", "990101000000", names) == [("990101000000", "青禾区")]


SQUARE = shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])  # counter-clockwise, as GeoJSON has it


def _boundaries(codes: list[str], shapes: list) -> pd.DataFrame:
    return pd.DataFrame({"code": codes, "name": [f"n{c}" for c in codes], "geometry": shapes})


def test_prepare_rejects_unknown_repeated_and_empty_features():
    divisions = pd.DataFrame({"code": ["990101000000", "990101001000", "990101002000"]})
    frame = _boundaries(["990101001", "990101001000", "980101001000", "990101002000"],
                        [SQUARE, SQUARE, SQUARE, None])
    valid, rejects = prepare(frame, "b.geojson", divisions, "990101000000", 0.0)
    assert valid["code"].tolist() == ["990101001000"]  # the 9-digit code is padded to 12
    assert rejects[["row", "reason"]].values.tolist() == [[2, "DUPLICATE_ID"], [3, "UNKNOWN_DIVISION"],
                                                          [4, "MISSING_VALUE"]]
    assert json.loads(valid["geometry"].iloc[0])["type"] == "Polygon"


def test_display_features_are_clockwise_with_flat_properties():
    rows = pd.DataFrame({"code": ["990101001000"], "rate": [96.5],
                         "geometry": [json.dumps(shapely.geometry.mapping(SQUARE))]})
    feature = display_features(rows)[0]
    assert feature["code"] == "990101001000" and feature["rate"] == 96.5
    ring = shapely.LinearRing(feature["geometry"]["coordinates"][0])
    assert not ring.is_ccw  # Vega wants exterior rings clockwise
    assert rows.columns.tolist() == ["code", "rate", "geometry"]  # input not mutated


def test_choropleth_is_a_value_with_a_click_selection_on_code():
    features = [{"type": "Feature", "geometry": shapely.geometry.mapping(SQUARE), "properties": {},
                 "code": "990101001000", "name": "甲", "value": 96.5, "band": BANDS[0]}]
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


@pytest.mark.parametrize("name, expected", [
    ("population_2025.csv", "population_2025.csv"), ("../../etc/passwd", "passwd"),
    ("C:\\Users\\x\\enrollment.xlsx", "enrollment.xlsx"), ('a<b>:c.csv', "a_b__c.csv"),
])
def test_safe_name_keeps_only_the_file_name(name, expected):
    assert safe_name(name) == expected


def test_save_uploads_refuses_a_wrong_type_or_size_and_writes_nothing(tmp_path, settings):
    with pytest.raises(UploadError, match="evil.exe"):
        save_uploads([("population.csv", b"x"), ("evil.exe", b"x")], tmp_path, settings)
    with pytest.raises(UploadError, match="来源前缀"):
        save_uploads([("名单.csv", b"x")], tmp_path, settings)
    small = dataclasses.replace(settings, upload_max_mb=1)
    with pytest.raises(UploadError, match="1 MB"):
        save_uploads([("settlements.csv", b"x" * (1024 * 1024 + 1))], tmp_path, small)
    assert list(tmp_path.iterdir()) == []


def test_uploads_are_stored_under_generated_names_in_the_original_order(tmp_path, settings):
    folder = save_uploads([("settlements_b.csv", b"b"), ("../population.csv", b"p"), ("settlements_a.csv", b"a")],
                          tmp_path, settings)
    stored = sorted(p.name for p in folder.iterdir() if p.suffix == ".csv")
    assert [name.split("_")[0] for name in stored] == ["population", "settlements", "settlements"]
    assert [(folder / name).read_bytes() for name in stored] == [b"p", b"a", b"b"]
    listing = (folder / "原始文件名.txt").read_text(encoding="utf-8")
    assert "population.csv" in listing and "settlements_a.csv" in listing
