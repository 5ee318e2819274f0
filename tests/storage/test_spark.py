"""The engine-neutral rules on Spark (issue 21): each rule monitor.storage.sets runs gives the same frame on Spark in
local mode as on DuckDB, on the demo district's lake files and on hand-built frames with the odd values (missing text
and amounts, None in object columns, empty tables, reversals, a leap day); and the shared session's lifecycle.

The session starts once for the whole run (about 7 s); conftest.spark_config says when these tests skip.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import date

import numpy as np
import pandas as pd
import pytest

from monitor.config import load_settings
from monitor.rules.alert_rules import candidates, stay_sets
from monitor.rules.costs import person_year
from monitor.rules.findings import findings
from monitor.storage import lake, sets

AS_OF = date(2025, 12, 31)
ROOT, TOWN, VILLAGE, OTHER_VILLAGE = "990101000000", "990101001000", "990101001001", "990101001002"


@pytest.fixture(scope="session")
def spark_settings(spark_config):
    """The shipped settings with [engine] kind = "spark", master = "local[2]" (conftest.spark_config); the process's
    session is started here, once."""
    spark = load_settings(spark_config)
    sets.backend(spark).disconnect()
    return spark


def _on_both(settings, spark_settings, run) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """run(connection, settings) → frames by name, on DuckDB and on Spark, each on a connection of its own."""
    results = []
    for chosen in (settings, spark_settings):
        engine = sets.backend(chosen)
        try:
            results.append(run(engine, chosen))
        finally:
            engine.disconnect()
    return results[0], results[1]


def _assert_same(duckdb: dict[str, pd.DataFrame], spark: dict[str, pd.DataFrame]) -> None:
    """Identical frames, dtypes and row order included."""
    assert duckdb.keys() == spark.keys()
    for name in duckdb:
        pd.testing.assert_frame_equal(spark[name], duckdb[name], obj=name)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a fixed order, for a rule that promises none (a set of persons, of village-day counts)."""
    return frame.sort_values(list(frame.columns), kind="stable").reset_index(drop=True)


def test_a_load_computes_the_same_results_on_spark(demo_db, settings, spark_settings):
    """8,000 generated residents, two monthly loads and the year before: every result a load computes (coverage of
    every level, the outreach list, alerts, the watch list, the findings, the campaign's progress), by
    compute.compute_results on each engine over the same lake files."""
    from monitor.load.compute import compute_results
    from monitor.storage import queries
    from monitor.storage.store import connect, read_bulk
    from monitor.storage.store import divisions as division_table

    db = connect(demo_db)
    files = {key: lake.paths(db, key) for key in lake.LAKE_TABLES}
    snapshots = {"identities": lake.read(db, "identities"), "divisions": read_bulk(db, division_table)}
    root = queries.root(db, settings)
    db.dispose()
    duckdb, spark = (compute_results(snapshots, files, s, 2025, AS_OF, root) for s in (settings, spark_settings))
    _assert_same(duckdb, spark)
    sizes = {name: len(frame) for name, frame in duckdb.items()}
    assert sizes["coverage"] > 100 and sizes["outreach"] > 100 and sizes["alerts"] > 10 and sizes["watch"] > 10
    assert sizes["findings"] > 10 and sizes["campaign"] > 100


# Hand-built frames: one person per case of tests/rules/test_coverage_sets.py, with missing values as None in object
# columns (the way into Spark that needs care) and the lake's dtypes elsewhere.
DIVISIONS = pd.DataFrame(
    {
        "code": [ROOT, TOWN, VILLAGE, OTHER_VILLAGE],
        "name": ["青禾区", "东镇", "一村", "二村"],
        "urban_rural": ["111", "121", "210", None],
        "level": ["区县", "乡镇", "村社区", "村社区"],
    }
)
# id: (changes to a plain person, enrollments (changes to a plain one), identity rows (changes), death date)
PEOPLE = {
    "P01": ({}, [{}], [], None),
    "P02": ({"status": None, "household_id": None, "phone": None}, [{}], [], None),
    "P03": ({"status": "迁出", "status_date": "2025-12-31"}, [{}], [], None),
    "P04": ({"status": "迁出", "status_date": "2025-03-01"}, [{}], [], None),
    "P05": ({"birth_date": "2026-01-01"}, [], [], None),
    "P06": ({"birth_date": "2025-02-01", "household_id": None}, [], [{}], None),
    "P07": ({}, [{}], [], "2025-12-31"),
    "P08": ({}, [{}], [], "2026-01-01"),
    "P09": ({}, [{"insured_place": "360101000000"}], [], None),
    "P10": ({}, [{"insured_place": None}], [], None),
    "P11": ({}, [{}, {"scheme": "职工", "paid_date": None}], [], None),
    "P12": ({}, [{"year": 2024}], [], None),
    "P13": ({}, [{"status": "暂停参保"}], [], None),
    "P14": ({"village_code": OTHER_VILLAGE}, [], [{}], None),
    "P15": ({}, [{}], [{"end_date": "2025-05-01"}], None),
    "P16": ({"village_code": OTHER_VILLAGE, "phone": None}, [{"paid_date": "2025-09-03"}], [{}], None),
    "P17": ({"household_id": ""}, [], [{"identity_type": "孤儿"}], None),
}
PERSON = {
    "name": "张三",
    "village_code": VILLAGE,
    "household_id": "H1",
    "birth_date": "1980-01-01",
    "stated_birth_date": "1980-01-01",
    "status": "正常",
    "status_date": None,
    "phone": "13912345678",
    "address": "一组",
}
ENROLLED = {
    "scheme": "城乡居民",
    "year": 2025,
    "status": "正常参保",
    "insured_place": ROOT,
    "paid_date": "2024-12-01",
    "subsidy_type": None,
    "subsidy_amount": None,
}
IDENTITY = {
    "name": "张三",
    "identity_type": "特困人员",
    "department": "民政",
    "start_date": "2024-01-01",
    "end_date": None,
    "household_id": "H9",
    "income_per_capita": None,
}


def _typed(source: str, rows: list[dict]) -> pd.DataFrame:
    """Rows in the lake's dtypes (text as str, whole numbers as Int64), as lake.read gives them."""
    empty = lake.empty(source)
    return pd.DataFrame(rows, columns=empty.columns).astype(empty.dtypes.to_dict()) if rows else empty


def _snapshots(with_enrollment: bool = True) -> dict[str, pd.DataFrame]:
    population = [{**PERSON, **person, "id_number": pid} for pid, (person, _e, _i, _d) in PEOPLE.items()]
    enrollment = [
        {**ENROLLED, **e, "id_number": pid, "name": "张三"} for pid, (_p, es, _i, _d) in PEOPLE.items() for e in es
    ]
    identities = [{**IDENTITY, **i, "id_number": pid} for pid, (_p, _e, ids, _d) in PEOPLE.items() for i in ids]
    identities += [{**IDENTITY, "id_number": "X01", "household_id": None}, {**IDENTITY, "id_number": "X02"}]
    enrollment += [{**ENROLLED, "id_number": "X02", "name": "李四"}]  # an identity holder outside, enrolled
    enrollment += [{**ENROLLED, "id_number": "P01", "year": 2026, "paid_date": "2025-09-02", "name": "张三"}]
    deaths = [{"id_number": pid, "name": "张三", "death_date": d} for pid, (_p, _e, _i, d) in PEOPLE.items() if d]
    return {
        "population": pd.DataFrame(population, dtype=object),  # None stays None, not NaN
        "deaths": _typed("deaths", deaths if with_enrollment else []),
        "enrollment": _typed("enrollment", enrollment if with_enrollment else []),
        "identities": _typed("identities", identities),
        "divisions": DIVISIONS,
    }


def test_coverage_of_hand_built_frames_is_the_same_on_spark(settings, spark_settings):
    snapshots = _snapshots()

    def run(engine, chosen):
        covered = sets.covered(snapshots, chosen, 2025, AS_OF, ROOT, engine)
        return {
            "counts": covered.counts,
            "outreach": covered.outreach,
            "persons": _sorted(sets.frame(engine, covered.persons)),
        }

    duckdb, spark = _on_both(settings, spark_settings, run)
    _assert_same(duckdb, spark)
    assert len(duckdb["outreach"]) >= 4 and duckdb["counts"]["in_scope"].iloc[0] >= 10


def test_the_in_scope_persons_without_enrollment_or_deaths_are_the_same_on_spark(settings, spark_settings):
    """Empty tables: typed as the lake's columns, not as Arrow's null type, on the way into either engine."""
    snapshots = _snapshots(with_enrollment=False)
    duckdb, spark = (_sorted(sets.in_scope(snapshots, s, 2025, AS_OF, ROOT)) for s in (settings, spark_settings))
    pd.testing.assert_frame_equal(spark, duckdb)
    assert len(duckdb) >= 10 and not duckdb["enrolled"].any()


def _settlements(rows: list[tuple]) -> pd.DataFrame:
    columns = ["settlement_id", "id_number", "settle_date", "visit_type", "total_cost", "policy_cost", "basic_paid"]
    columns += ["critical_paid", "assistance_paid", "other_paid", "reverses"]
    return _typed("settlements", [dict(zip(columns, row, strict=True)) | {"name": "", "run_id": 1} for row in rows])


SETTLEMENTS = [
    ("A", "p", "2025-01-05", "住院", 10000, 6000, 7000, None, 500, None, ""),
    ("AR", "p", "2026-01-10", "住院", -10000, None, -7000, None, -500, None, "A"),  # nets A to 0
    ("B", "p", "2025-02-01", "普通门诊", 3000, None, 1000, 200, None, 100, ""),
    ("BR", "p", "2025-02-03", "普通门诊", -1000, -1000, None, None, None, None, "B"),
    ("C", "q", "2025-03-01", "住院", 9000, 3000, 4000, None, None, None, ""),  # policy cost below the funds
    ("C2", "q", "2025-04-01", "门诊慢特病", 12000, 11000, 2000, None, None, None, ""),
    ("D", "q", "2024-12-31", "住院", 50000, None, 0, None, None, None, ""),  # another year
    ("DR", "q", "2025-01-02", "住院", -50000, None, 0, None, None, None, "D"),  # reverses another year's
    ("E", "r", "2026-01-01", "住院", 8000, None, 0, None, None, None, ""),  # only in 2026
    ("F", "s", "2025-06-01", None, 4000, None, None, None, None, None, ""),  # no visit type, no fund
    ("G", "t", "2025-07-01", "住院", 0, 0, 0, 0, 0, 0, ""),  # nothing paid: no settlement counted
    ("H", "u", "2025-08-01", "住院", 90_000_000, None, 0, None, None, None, ""),  # past every alert threshold
]


def _random_settlements(n: int) -> list[tuple]:
    rng = np.random.default_rng(7)
    rows = []
    for i in range(n):
        total = int(rng.integers(0, 200_000))
        policy = [None, total * 4 // 5, total // 5][i % 3]
        basic = int(rng.integers(0, total + 1))
        kind = ["住院", "普通门诊", "门诊慢特病", None][i % 4]
        rows.append((f"S{i}", f"p{i % 97}", f"{2024 + i % 2}-{1 + i % 12:02d}-15", kind, total, policy, basic))
        rows[-1] += (None, int(rng.integers(0, 100)) if i % 5 else None, None, "")
        if i % 11 == 0:  # reversals of earlier rows, some of the other year
            rows.append((f"R{i}", f"p{i % 97}", "2026-01-05", kind, -total // 2, None, -basic // 2, None, None, None))
            rows[-1] += (f"S{i}",)
    return rows


def test_costs_alert_candidates_and_findings_of_hand_built_frames_are_the_same_on_spark(settings, spark_settings):
    settlements = _settlements(SETTLEMENTS + _random_settlements(600))
    snapshots = _snapshots()
    outside = [{**ENROLLED, "id_number": pid, "name": "王五"} for pid in ("p", "p5", "p6")]
    renamed = [{**ENROLLED, "id_number": "P01", "year": 2024, "name": "张叁"}]  # another name than the register's
    enrollment = pd.concat([snapshots["enrollment"], _typed("enrollment", outside + renamed)], ignore_index=True)
    stays = stay_sets(settings.alert_rules) + (("住院", "门诊慢特病"),)

    def run(engine, chosen):
        rows, none = sets.table(settlements), sets.files(engine, [], "settlements")
        sums = {
            f"{measure} {name}": sets.frame(engine, person_year(table, 2025, measure, stays))
            for measure in ("个人负担", "政策范围内个人负担")
            for name, table in (("hand-built", rows), ("none", none))
        }
        year_sums = person_year(rows, 2025, chosen.cost_measure, stay_sets(chosen.alert_rules))
        found = findings(
            sets.table(snapshots["population"]), sets.table(enrollment), sets.table(snapshots["identities"]), rows, 2025
        )
        return sums | {
            "candidates": sets.frame(engine, candidates(year_sums, chosen, 2025)),
            "findings": sets.frame(engine, found),
        }

    duckdb, spark = _on_both(settings, spark_settings, run)
    _assert_same(duckdb, spark)
    assert len(duckdb["个人负担 hand-built"]) > 90 and duckdb["个人负担 none"].empty
    assert set(duckdb["candidates"]["id_number"]) >= {"u"}
    kinds = set(duckdb["findings"]["kind"])
    assert {"SETTLEMENT_WITHOUT_ENROLLMENT", "IDENTITY_NOT_IN_REGISTER", "NAME_MISMATCH"} <= kinds


# (enrollment rows: id, target year, status, paid day; in-scope persons: id, village, vulnerable; period)
CAMPAIGN = {
    "autumn": (
        [
            ("A", 2026, "正常参保", "2025-09-03"),
            ("A", 2026, "正常参保", "2025-09-02"),  # two schemes: the first day
            ("B", 2026, "正常参保", None),  # no payment day: counts from the first day
            ("C", 2026, "正常参保", "2025-08-20"),  # paid before the period
            ("D", 2026, "暂停参保", "2025-09-02"),
            ("E", 2026, "正常参保", "2025-09-05"),  # after the end
            ("X", 2026, "正常参保", "2025-09-04"),  # not in scope: the latest day only
            ("A", 2025, "正常参保", "2024-09-02"),  # last year's campaign
            ("B", 2025, "正常参保", None),
        ],
        [
            ("A", VILLAGE, True),
            ("B", VILLAGE, False),
            ("C", OTHER_VILLAGE, False),
            ("D", None, False),
            ("E", VILLAGE, True),
        ],
        (date(2025, 9, 1), date(2025, 9, 4)),
    ),
    "29 February": (
        [("A", 2025, "正常参保", "2024-03-02"), ("A", 2024, "正常参保", "2023-02-20"), ("B", 2024, "正常参保", None)],
        [("A", VILLAGE, True), ("B", OTHER_VILLAGE, False)],
        (date(2024, 2, 29), date(2024, 3, 3)),
    ),
}


@pytest.mark.parametrize("case", CAMPAIGN, ids=list(CAMPAIGN))
def test_campaign_progress_of_hand_built_frames_is_the_same_on_spark(settings, spark_settings, case):
    rows, people, (start, end) = CAMPAIGN[case]
    enrollment = pd.DataFrame(rows, columns=["id_number", "year", "status", "paid_date"]).astype({"year": "Int64"})
    persons = pd.DataFrame(people, columns=["id_number", "village_code", "vulnerable"], dtype=object)

    def run(engine, chosen):
        return {"villages": _sorted(sets.campaign_villages(enrollment, persons, start, end, chosen, engine))}

    duckdb, spark = _on_both(settings, spark_settings, run)
    _assert_same(duckdb, spark)
    assert (duckdb["villages"]["part"] == "this").any() or case == "29 February"


def test_a_connection_leaves_the_shared_session_running_and_takes_its_tables_with_it(spark_settings):
    from monitor.storage import spark

    session = spark.session(spark_settings)
    before = {t.name for t in session.catalog.listTables()}
    engine = sets.backend(spark_settings)
    kept = engine.create_table("in_scope", sets.table(_snapshots()["population"]), temp=True)
    assert sets.frame(engine, kept.count().as_table()).iloc[0, 0] == len(PEOPLE)
    assert {t.name for t in session.catalog.listTables()} > before
    engine.disconnect()
    assert {t.name for t in session.catalog.listTables()} == before
    again = sets.backend(spark_settings)
    try:
        assert spark.session(spark_settings) is session  # the same session, still running
        assert session.conf.get("spark.sql.session.timeZone") == "Asia/Shanghai"
        assert sets.frame(again, sets.table(pd.DataFrame({"n": [1, 2]})).n.sum().as_table()).iloc[0, 0] == 3
    finally:
        again.disconnect()
    with pytest.raises(ValueError, match="local\\[2\\]"):
        spark.session(dataclasses.replace(spark_settings, engine_master="local[4]"))


def test_the_duckdb_default_does_not_import_pyspark():
    code = "import sys; from monitor.storage import sets; sets.backend().disconnect(); print('pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
