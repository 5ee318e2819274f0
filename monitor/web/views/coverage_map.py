"""参保地图: one division's children with their coverage, alert counts and display polygons."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.config import Settings
from monitor.rules.boundaries import display_features
from monitor.rules.divisions import LEVEL_DIGITS, LEVELS, at_level, level_of, prefix
from monitor.rules.rates import rate_percent
from monitor.storage import store
from monitor.web.views.common import METRICS, Metric, band

MAP_HEIGHT = 520  # px: the map's height; beside the table it is about as wide, so names are fitted in a square of it
LABEL_SIZE = 12  # px: the font size of a name on the map (a Chinese character is about as wide)
TABLE_HEADERS = {
    "code": "区划代码",
    "name": "名称",
    "in_scope": "应参保人数",
    "enrolled": "已参保人数",
    "rate": "参保率",
    "vulnerable_in_scope": "困难群众应参保",
    "vulnerable_enrolled": "困难群众已参保",
    "vulnerable_rate": "困难群众参保率",
    "newborn_in_scope": "新生儿应参保",
    "newborn_enrolled": "新生儿已参保",
    "newborn_rate": "新生儿参保率",
    "unenrolled": "未参保人数",
    "alerts": "预警人数",
}


def children(engine: Engine, year: int, parent: str) -> pd.DataFrame:
    """The parent's child divisions with counts, rates (percent, 2 decimals), 未参保 and alert counts."""
    with engine.connect() as conn:
        rows = store.read_table(
            conn,
            store.coverage,
            (store.coverage.c.year == year) & (store.coverage.c.parent_code == parent),
            [store.coverage.c.code],
        )
        level = rows["level"].iloc[0] if not rows.empty else None
        counts: dict[str, int] = {}
        if level:
            # counted per child by the database from the index on (year, village_code): a city's 99,000 alerts
            # read as rows took 0.3 s of the map's 0.45
            child = sa.func.substr(store.alerts.c.village_code, 1, LEVEL_DIGITS[level])
            counts = dict(
                conn.execute(
                    sa.select(child, sa.func.count())
                    .where((store.alerts.c.year == year) & store.alerts.c.village_code.startswith(prefix(parent)))
                    .group_by(child)
                ).all()
            )
    for m in METRICS[:3]:
        rows[m.key] = rate_percent(rows[m.numerator], rows[m.denominator])
    rows["unenrolled"] = rows["in_scope"] - rows["enrolled"]
    if level:
        rows["alerts"] = rows["code"].str.slice(0, LEVEL_DIGITS[level]).map(counts).fillna(0).astype("int64")
    else:
        rows["alerts"] = 0
    return rows.reset_index(drop=True)


def with_bands(rows: pd.DataFrame, metric: Metric, settings: Settings) -> pd.DataFrame:
    """The metric's value and, for rates, the distance-below-target band of each division."""
    out = rows.copy()
    out["value"] = out[metric.key].astype("Float64")
    if metric.target:
        out["band"] = band(out[metric.key], getattr(settings, metric.target))
    else:
        out["band"] = ""
    return out


def features(engine: Engine, rows: pd.DataFrame) -> tuple[list[dict], pd.DataFrame]:
    """Display features (GeoJSON, Vega orientation) of the rows that have a polygon, and the rows that have none."""
    codes = rows["code"].tolist()
    with engine.connect() as conn:
        shapes = (
            store.read_table(conn, store.boundaries, store.boundaries.c.code.in_(codes))
            if codes
            else pd.DataFrame(columns=["code", "level", "geometry"])
        )
    drawn = rows.merge(shapes[["code", "geometry"]], on="code", how="inner")
    missing = rows[~rows["code"].isin(set(shapes["code"]))]
    props = drawn.drop(columns=["geometry"]).astype(object).where(drawn.drop(columns=["geometry"]).notna(), None)
    frame = props.assign(geometry=drawn["geometry"].to_numpy())
    keep = [
        "code",
        "name",
        "level",
        "in_scope",
        "enrolled",
        "rate",
        "vulnerable_rate",
        "newborn_rate",
        "unenrolled",
        "alerts",
        "value",
        "band",
        "geometry",
    ]
    return display_features(frame[[c for c in keep if c in frame.columns]]), missing


def _mercator(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Vega's Mercator projection, up to its scale: what the map draws."""
    lam, phi = np.radians(lon), np.radians(lat)
    return np.column_stack([lam, -np.log(np.tan(np.pi / 4 + phi / 2))])


def _lon_lat(x: float, y: float) -> tuple[float, float]:
    return math.degrees(x), math.degrees(2 * math.atan(math.exp(-y)) - math.pi / 2)


def _smallest_scale(shape: shapely.Geometry, x: float, y: float, half_w: float, half_h: float, most: float) -> float:
    """The least scale (pixels per projected unit, up to `most`) at which a box of half_w × half_h pixels centred at
    (x, y) lies inside the shape; 0 when it does not even at `most`. The box shrinks as the scale grows."""

    def fits(scale: float) -> bool:
        return shape.contains(
            shapely.box(x - half_w / scale, y - half_h / scale, x + half_w / scale, y + half_h / scale)
        )

    if not fits(most):
        return 0.0
    low, high = most / 64, most
    if fits(low):
        return low
    for _ in range(20):  # to a few thousandths of the scale
        middle = (low + high) / 2
        low, high = (low, middle) if fits(middle) else (middle, high)
    return high


def labels(features: list[dict], height: int = MAP_HEIGHT, size: int = LABEL_SIZE) -> list[dict]:
    """The names the map can show: {code, name, lon, lat, across, down, scale}, each at the centre of the widest
    circle inside its shape (a centroid can fall outside a bent one, or on its edge). The map is fitted to its
    width and height, drawing min(width / across, height / down) pixels per projected unit; a name is written when
    that is at least its `scale`, at which the name's box (with its halo) lies inside the shape. A division too
    small for its name even at the map's full height gets none; the tooltip and the table still name it."""
    if not features:
        return []
    shapes = [
        shapely.transform(shapely.geometry.shape(f["geometry"]), lambda c: _mercator(c[:, 0], c[:, 1]))
        for f in features
    ]
    x0, y0, x1, y1 = shapely.total_bounds(shapes)
    across, down = max(x1 - x0, 1e-12), max(y1 - y0, 1e-12)
    most = height / down  # no wider map draws more pixels per unit than its full height does
    placed = []
    for feature, shape in zip(features, shapes, strict=True):
        name = str(feature.get("name") or "")
        widest = max(getattr(shape, "geoms", [shape]), key=lambda part: part.area)
        x, y = shapely.maximum_inscribed_circle(widest, tolerance=0.5 / most).coords[0]  # to half a pixel
        scale = _smallest_scale(widest, x, y, len(name) * size / 2 + 2, size / 2 + 1, most) if name else 0.0
        if scale:
            lon, lat = _lon_lat(x, y)
            at = {"lon": lon, "lat": lat, "across": across, "down": down, "scale": scale}
            placed.append({"code": feature["code"], "name": name, **at})
    return placed


def breadcrumb(parent: str, root: str, names: pd.Series) -> list[tuple[str, str]]:
    """(code, name) from the root down to the parent."""
    trail = []
    for level in LEVELS[LEVELS.index(level_of(root)) : LEVELS.index(level_of(parent)) + 1]:
        code = at_level(pd.Series([parent]), level).iloc[0]
        trail.append((code, str(names.get(code, code))))
    return trail


def table(rows: pd.DataFrame) -> pd.DataFrame:
    """The sortable table beside the map, Chinese headers."""
    return rows[list(TABLE_HEADERS)].rename(columns=TABLE_HEADERS)
