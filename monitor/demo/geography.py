"""The demo district's map: an irregular outline, towns as Voronoi cells, villages cut from their town."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPoint, Polygon

from monitor.demo.names import place_names

# A fictional place: province code 99 does not exist; the coordinates only give the map a shape.
ROOT_CODE = "990101000000"
ROOT_NAME = "青禾区"
CENTRE = (115.62, 27.41)
RADIUS_DEG = 0.21  # about 23 km: a district of ~1,600 km²
TOWNS = 25
VILLAGES = 300


def outline(rng: np.random.Generator) -> Polygon:
    """A star-shaped, irregular district outline built from a few random harmonics."""
    theta = np.linspace(0, 2 * np.pi, 181)[:-1]
    radius = np.ones_like(theta)
    for k in range(2, 8):
        radius += rng.uniform(0.06, 0.2) / k**0.6 * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    radius += rng.normal(0, 0.006, theta.size)
    lat_scale = 1 / np.cos(np.radians(CENTRE[1]))
    x = CENTRE[0] + RADIUS_DEG * radius * np.cos(theta) * lat_scale
    y = CENTRE[1] + RADIUS_DEG * radius * np.sin(theta)
    return shapely.make_valid(Polygon(np.column_stack([x, y])))


def _points_inside(area: Polygon, count: int, rng: np.random.Generator) -> np.ndarray:
    minx, miny, maxx, maxy = area.bounds
    found: list[np.ndarray] = []
    while sum(len(f) for f in found) < count:
        xy = np.column_stack([rng.uniform(minx, maxx, count * 4), rng.uniform(miny, maxy, count * 4)])
        found.append(xy[shapely.contains_xy(area, xy[:, 0], xy[:, 1])])
    return np.concatenate(found)[:count]


def partition(area: Polygon, count: int, rng: np.random.Generator, relax: int = 1) -> list:
    """Cut an area into `count` cells: seeded Voronoi cells, lightly relaxed, clipped to the area."""
    seeds = _points_inside(area, count, rng)
    envelope = area.envelope.buffer(area.envelope.length)
    for step in range(relax + 1):
        cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=envelope, ordered=True).geoms
        clipped = [shapely.make_valid(cell.intersection(area)) for cell in cells]
        if step == relax:
            return clipped
        # Moving seeds halfway to their cell's centroid keeps sizes uneven but avoids slivers.
        centroids = np.array([[c.centroid.x, c.centroid.y] for c in clipped])
        seeds = (seeds + centroids) / 2
    raise ValueError(f"relax must be 0 or more, not {relax}")


def _village_counts(areas: np.ndarray, urban: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """About VILLAGES villages in all, more per town in big and urban towns, at least four each."""
    weight = areas / areas.sum() * rng.uniform(0.6, 1.5, areas.size) * np.where(urban, 1.6, 1.0)
    counts = np.maximum(4, np.round(weight / weight.sum() * VILLAGES)).astype(int)
    return counts


def build(rng: np.random.Generator) -> pd.DataFrame:
    """Every division with code, name, level, 城乡分类代码, parent and polygon (EPSG:4326)."""
    district = outline(rng)
    town_cells = partition(district, TOWNS, rng, relax=2)
    centre = shapely.Point(CENTRE)
    # Towns nearest the centre are 街道 (urban), the farthest few are 乡, the rest 镇.
    order = np.argsort([cell.centroid.distance(centre) for cell in town_cells])
    kinds = np.empty(TOWNS, dtype=object)
    kinds[order[:5]], kinds[order[5:21]], kinds[order[21:]] = "街道", "镇", "乡"
    names = place_names(rng, TOWNS + VILLAGES * 2)
    areas = np.array([cell.area for cell in town_cells])
    counts = _village_counts(areas, kinds == "街道", rng)

    rows = [
        {
            "code": ROOT_CODE,
            "name": ROOT_NAME,
            "level": "区县",
            "urban_rural": "",
            "parent_code": "",
            "geometry": district,
        }
    ]
    serial = {"街道": 1, "镇": 100, "乡": 200}
    used = 0
    for town in order:  # codes follow distance from the centre, as real 街道 → 镇 → 乡 numbering does
        kind = kinds[town]
        town_code = f"{ROOT_CODE[:6]}{serial[kind]:03d}000"
        serial[kind] += 1
        town_name = names[used] + kind
        used += 1
        rows.append(
            {
                "code": town_code,
                "name": town_name,
                "level": "乡镇",
                "urban_rural": "",
                "parent_code": ROOT_CODE,
                "geometry": town_cells[town],
            }
        )
        village_cells = partition(town_cells[town], int(counts[town]), rng)
        # The village holding the town's seat is a 社区; 街道 are all 社区, 乡 mostly 村.
        seat = int(np.argmin([c.centroid.distance(town_cells[town].centroid) for c in village_cells]))
        community_n, village_n = 1, 200
        for i, cell in enumerate(village_cells):
            is_community = kind == "街道" or i == seat or (kind == "镇" and rng.random() < 0.08)
            if is_community:
                code, suffix, community_n = f"{town_code[:9]}{community_n:03d}", "社区", community_n + 1
                urban_rural = "111" if kind == "街道" else "121"
            else:
                code, suffix, village_n = f"{town_code[:9]}{village_n:03d}", "村", village_n + 1
                urban_rural = "220" if rng.random() < 0.8 else "210"
            rows.append(
                {
                    "code": code,
                    "name": names[used] + suffix,
                    "level": "村社区",
                    "urban_rural": urban_rural,
                    "parent_code": town_code,
                    "geometry": cell,
                }
            )
            used += 1
    return pd.DataFrame(rows)
