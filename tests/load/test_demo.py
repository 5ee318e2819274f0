"""The generated demo district: it passes the ETL with exactly its documented bad rows, its map tiles and
nests, and its figures fall in the ranges the demo promises (docs/demo.md)."""

from __future__ import annotations

import hashlib

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from monitor.cases import alert_case
from monitor.config import load_settings
from monitor.demo import people
from monitor.demo.generate import generate
from monitor.load.pipeline import run_load
from monitor.storage import queries
from monitor.storage.store import connect

PERSONS = 20_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    settings = load_settings(None)
    report = generate(root / "main", settings, persons=PERSONS, seed=7, followup=root / "next")
    engine = connect(f"sqlite:///{root / 'demo.db'}")
    run_load(root / "main", settings, engine)
    first_rejects = queries.rejects(engine)
    run_load(root / "next", settings, engine)
    return {"root": root, "report": report, "engine": engine, "first_rejects": first_rejects}


def test_exactly_the_documented_rows_are_rejected(demo):
    expected = demo["report"].rejects[["file", "row", "reason", "column"]]
    stored = queries.rejects(demo["engine"])[["file", "row", "reason", "column"]]
    key = ["file", "row"]
    got = stored.astype({"row": "int64"}).sort_values(key).reset_index(drop=True)
    want = expected.astype({"row": "int64"}).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    # Every rejection reason of SPEC §5 occurs.
    assert set(got["reason"]) == {
        "MISSING_VALUE",
        "BAD_ID",
        "BAD_DATE",
        "BAD_AMOUNT",
        "UNKNOWN_DIVISION",
        "UNKNOWN_VALUE",
        "OUT_OF_RANGE",
        "INCONSISTENT_AMOUNTS",
        "DUPLICATE_ROW",
        "DUPLICATE_ID",
        "ORPHAN_REVERSAL",
    }


def test_polygons_are_valid_tile_the_district_and_nest(demo):
    shapes = gpd.read_file(demo["root"] / "main" / "boundaries_青禾区.geojson")
    assert shapes.crs.to_epsg() == 4326
    assert shapes.geometry.is_valid.all()
    district = shapes[shapes["level"] == "区县"].geometry.iloc[0]
    towns = shapes[shapes["level"] == "乡镇"]
    villages = shapes[shapes["level"] == "村社区"]
    assert 20 <= len(towns) <= 30 and 250 <= len(villages) <= 350
    tolerance = district.area * 1e-9  # planar areas in degrees: enough to show tiling and nesting
    # No overlaps: the parts' areas add up to the area of their union, which is the whole.
    assert abs(shapely.area(towns.geometry.values).sum() - district.area) < tolerance
    assert abs(shapely.union_all(towns.geometry.values).area - district.area) < tolerance
    for town in towns.itertuples():
        own = villages[villages["code"].str[:9] == town.code[:9]]
        assert len(own) >= 4
        assert abs(shapely.area(own.geometry.values).sum() - town.geometry.area) < tolerance
        assert shapely.union_all(own.geometry.values).symmetric_difference(town.geometry).area < tolerance
    # Uneven: the largest town is at least twice the smallest.
    areas = shapely.area(towns.geometry.values)
    assert areas.max() > 2 * areas.min()
    # The district is irregular, not a disc or a box.
    assert district.area < 0.97 * district.convex_hull.area


def test_coverage_and_identities_fall_in_the_promised_ranges(demo):
    engine = demo["engine"]
    root = queries.coverage(engine, 2025, "区县", "990101000000").iloc[0]
    assert 93 <= 100 * root["enrolled"] / root["in_scope"] <= 97.5
    towns = queries.coverage(engine, 2025, "乡镇", "990101000000")
    rates = 100 * towns["enrolled"] / towns["in_scope"]
    assert rates.min() >= 88 and rates.max() <= 99.9 and rates.max() - rates.min() >= 4
    villages = queries.coverage(engine, 2025, "村社区", "990101000000")
    villages = villages[villages["in_scope"] >= 30]
    assert ((villages["enrolled"] / villages["in_scope"]) < 0.9).sum() >= 3  # a few villages well behind
    assert 0.08 <= root["vulnerable_in_scope"] / root["in_scope"] <= 0.12
    assert root["vulnerable_enrolled"] / root["vulnerable_in_scope"] >= 0.98
    assert root["newborn_in_scope"] > 0.005 * PERSONS
    assert root["enrolled_elsewhere"] > 0 and root["duplicate_enrolled"] > 0


def test_alerts_of_every_rule_and_level_occur_in_several_towns(demo):
    alerts = alert_case.alert_list(demo["engine"], 2025)
    alerts = alerts[alerts["village_code"] != ""]
    town = alerts["village_code"].str[:9]
    for level in ("红", "橙", "黄"):
        assert town[alerts["level"] == level].nunique() >= 3, level
    for rule in ("R1", "R2"):
        assert town[alerts["rules"].str.contains(rule)].nunique() >= 3, rule
    for kind in ("返贫预警", "致贫预警"):
        assert town[alerts["alert_type"] == kind].nunique() >= 3, kind


def test_findings_and_identity_changes_have_every_kind(demo):
    report = demo["report"]
    findings = queries.findings(demo["engine"], 2025)
    counts = findings["kind"].value_counts()
    assert set(counts.index) == {
        "ENROLLED_NOT_IN_REGISTER",
        "IDENTITY_NOT_IN_REGISTER",
        "SETTLEMENT_WITHOUT_ENROLLMENT",
        "NAME_MISMATCH",
        "BIRTH_MISMATCH",
    }
    # A few of the altered rows may belong to persons whose other rows were spoiled on purpose.
    for kind in ("BIRTH_MISMATCH", "NAME_MISMATCH"):
        assert report.warnings[kind] - 2 <= counts[kind] <= report.warnings[kind]
    changes = queries.identity_changes(demo["engine"])
    assert set(changes["change"]) == {"新增", "变更", "取消"}


def test_reversals_are_netted_across_loads(demo):
    from monitor.storage import lake

    stored = lake.read(demo["engine"], "settlements")
    reversal = stored[stored["reverses"] != ""]
    first_run = stored["run_id"].min()
    late = reversal[reversal["run_id"] > first_run]
    originals = stored.set_index("settlement_id")["run_id"]
    assert (late["reverses"].map(originals) == first_run).sum() > 10  # December reverses earlier bills


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_files(tmp_path):
    settings = load_settings(None)
    generate(tmp_path / "a", settings, persons=3000, seed=3)
    generate(tmp_path / "b", settings, persons=3000, seed=3)
    generate(tmp_path / "c", settings, persons=3000, seed=4)
    a, b, c = _digests(tmp_path / "a"), _digests(tmp_path / "b"), _digests(tmp_path / "c")
    assert a == b
    assert a["population_2025-11.csv"] != c["population_2025-11.csv"]


def test_enrollment_generator_does_not_mutate_its_inputs():
    import numpy as np

    from monitor.demo import geography

    rng = np.random.default_rng(5)
    geo = geography.build(rng)
    residents = people.residents(rng, geo, 2000, 2025)
    propensity = people.village_propensity(rng, geo)
    before = residents.copy(), propensity.copy()
    people.enrollment(rng, residents, propensity, pd.Series(dtype="str"), 2025)
    pd.testing.assert_frame_equal(residents, before[0])
    pd.testing.assert_series_equal(propensity, before[1])


def test_the_demo_has_a_running_campaign_uneven_by_town(demo):
    from monitor.storage import store

    engine = demo["engine"]
    latest = store.get_meta(engine, "campaign_latest_payment_2026")
    assert "2025-09-01" < latest <= "2025-12-31"
    with engine.connect() as conn:
        towns = store.read_table(
            conn,
            store.campaign_progress,
            (store.campaign_progress.c.level == "乡镇") & (store.campaign_progress.c.day == latest),
        )
    completion = 100 * towns["enrolled"] / towns["target"]
    assert completion.max() - completion.min() >= 15
    assert (towns["previous_enrolled"] > 0).all()  # last year's campaign is there to compare with
