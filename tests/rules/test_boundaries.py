"""Boundaries: which features are accepted and how they are prepared for display."""

from __future__ import annotations

import json

import pandas as pd
import shapely

from monitor.rules.boundaries import display_features, prepare

SQUARE = shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])  # counter-clockwise, as GeoJSON has it


def _boundaries(codes: list[str], shapes: list) -> pd.DataFrame:
    return pd.DataFrame({"code": codes, "name": [f"n{c}" for c in codes], "geometry": shapes})


def test_prepare_rejects_unknown_repeated_and_empty_features():
    divisions = pd.DataFrame({"code": ["990101000000", "990101001000", "990101002000"]})
    frame = _boundaries(["990101001", "990101001000", "980101001000", "990101002000"], [SQUARE, SQUARE, SQUARE, None])
    valid, rejects = prepare(frame, "b.geojson", divisions, "990101000000", 0.0)
    assert valid["code"].tolist() == ["990101001000"]  # the 9-digit code is padded to 12
    assert rejects[["row", "reason"]].values.tolist() == [
        [2, "DUPLICATE_ID"],
        [3, "UNKNOWN_DIVISION"],
        [4, "MISSING_VALUE"],
    ]
    assert json.loads(valid["geometry"].iloc[0])["type"] == "Polygon"


def test_display_features_are_clockwise_with_flat_properties():
    rows = pd.DataFrame(
        {"code": ["990101001000"], "rate": [96.5], "geometry": [json.dumps(shapely.geometry.mapping(SQUARE))]}
    )
    feature = display_features(rows)[0]
    assert feature["code"] == "990101001000" and feature["rate"] == 96.5
    ring = shapely.LinearRing(feature["geometry"]["coordinates"][0])
    assert not ring.is_ccw  # Vega wants exterior rings clockwise
    assert rows.columns.tolist() == ["code", "rate", "geometry"]  # input not mutated
