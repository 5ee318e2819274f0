"""Reading a boundary file (GeoJSON, GeoPackage, zipped Shapefile) into the divisions' outlines (SPEC §2)."""

from __future__ import annotations

from pathlib import Path

from monitor.files.errors import LoadError


def read_boundaries(path: Path, code_property: str):  # -> geopandas.GeoDataFrame
    """A boundary file (GeoJSON, GeoPackage, zipped Shapefile) in EPSG:4326 with `code` and `name` columns."""
    import geopandas as gpd

    target = f"zip://{path}" if path.suffix.lower() == ".zip" else path
    try:
        frame = gpd.read_file(target)
    except Exception as exc:  # pyogrio raises its own error types for unreadable files
        raise LoadError(f"{path.name}: 无法读取的边界文件（{type(exc).__name__}）") from None
    if code_property not in frame.columns:
        found = "、".join(c for c in frame.columns if c != "geometry") or "(none)"
        raise LoadError(f"{path.name}: 缺少区划代码属性 {code_property}（文件中的属性：{found}）")
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    names = frame["name"].astype(str) if "name" in frame.columns else ""
    return gpd.GeoDataFrame(
        {"code": frame[code_property].astype(str).str.strip(), "name": names},
        geometry=frame.geometry.values,
        crs="EPSG:4326",
    )
