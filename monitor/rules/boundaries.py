"""Division boundaries: checked against the divisions snapshot, simplified for display, kept as GeoJSON text."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import shapely

from monitor.rules.divisions import level_of, within

BOUNDARY_COLUMNS = ["code", "level", "geometry"]


def prepare(
    frame: pd.DataFrame, label: str, divisions: pd.DataFrame, root: str, tolerance: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Valid boundaries (code, level, simplified GeoJSON, _row, _original) and rejected features (SPEC §5 reject rows).

    A feature's row number is its position in the file (the first feature is row 1). A code outside the root or
    missing from divisions is UNKNOWN_DIVISION; a second feature with the same code is DUPLICATE_ID; a feature
    without geometry is MISSING_VALUE.
    """
    code = frame["code"].where(~frame["code"].str.fullmatch(r"\d{6}|\d{9}"), frame["code"].str.ljust(12, "0"))
    known = set(divisions["code"])
    geometry = np.asarray(frame.geometry.values, dtype=object)
    empty = np.array([g is None or g.is_empty for g in geometry], dtype=bool)
    unknown = ~code.map(lambda c: len(c) == 12 and c.isdigit() and within(c, root) and c in known).to_numpy()
    repeated = code.duplicated().to_numpy()
    reason = np.select([empty, unknown, repeated], ["MISSING_VALUE", "UNKNOWN_DIVISION", "DUPLICATE_ID"], "")
    original = frame["code"].astype(str) + "|" + frame["name"].astype(str)
    bad = reason != ""
    rejects = pd.DataFrame(
        {
            "source": "boundaries",
            "file": label,
            "row": np.flatnonzero(bad) + 1,
            "reason": reason[bad],
            "column": "code",
            "original": original[bad].to_numpy(),
        }
    )
    good = ~bad
    shapes = shapely.make_valid(geometry[good].astype(object))
    shapes = shapely.simplify(shapes, tolerance, preserve_topology=True)
    valid = pd.DataFrame(
        {
            "code": code[good].to_numpy(),
            "level": [level_of(c) for c in code[good]],
            "geometry": [json.dumps(shapely.geometry.mapping(g), separators=(",", ":")) for g in shapes],
            "_row": np.flatnonzero(good) + 1,
            "_original": original[good].to_numpy(),
        }
    )
    return valid, rejects


def display_features(rows: pd.DataFrame) -> list[dict]:
    """GeoJSON features for Vega: exterior rings clockwise (Vega's convention). The other columns sit at the
    feature's top level, so encodings and selections name them directly (`code`, not `properties.code`)."""
    features = []
    for record in rows.to_dict("records"):
        shape = shapely.orient_polygons(shapely.geometry.shape(json.loads(record.pop("geometry"))), exterior_cw=True)
        features.append({**record, "type": "Feature", "geometry": shapely.geometry.mapping(shape), "properties": {}})
    return features
