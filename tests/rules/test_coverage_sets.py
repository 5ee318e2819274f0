"""Coverage on the engine (rules/coverage_sets.py) against the pandas oracle, case by case, and by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from oracles import coverage_by_division, enrolled_persons, outreach_list, scope

from monitor.rules import coverage_sets
from monitor.rules.coverage import COUNT_COLUMNS
from monitor.storage import sets

ROOT = "990101000000"
AS_OF = date(2025, 6, 30)
TOWN, VILLAGE, OTHER_VILLAGE = "990101001000", "990101001001", "990101001002"
DIVISIONS = pd.DataFrame(
    {
        "code": [ROOT, TOWN, VILLAGE, OTHER_VILLAGE],
        "name": ["青禾区", "东镇", "一村", "二村"],
        "urban_rural": ["111", "121", "210", "220"],
        "level": ["区县", "乡镇", "村社区", "村社区"],
    }
)
PERSON = {
    "id_number": "990101198001010011",
    "name": "张三",
    "village_code": VILLAGE,
    "household_id": "H1",
    "birth_date": "1980-01-01",
    "stated_birth_date": "1980-01-01",
    "status": "正常",
    "status_date": None,
    "phone": "",
    "address": "",
}
ENROLLED = {
    "id_number": PERSON["id_number"],
    "name": "张三",
    "scheme": "城乡居民",
    "year": 2025,
    "status": "正常参保",
    "insured_place": ROOT,
    "paid_date": "2024-12-01",
    "subsidy_type": None,
    "subsidy_amount": None,
}
IDENTITY = {
    "id_number": PERSON["id_number"],
    "name": "张三",
    "identity_type": "特困人员",
    "department": "民政",
    "start_date": "2024-01-01",
    "end_date": None,
    "household_id": "H1",
    "income_per_capita": None,
}

# name → (changes to the person, enrollment rows (changes to ENROLLED), identity rows, death date)
CASES = {
    "enrolled here": ({}, [{}], [], None),
    "no status": ({"status": None}, [{}], [], None),
    "moved out after A": ({"status": "迁出", "status_date": "2025-08-01"}, [{}], [], None),
    "moved out before A": ({"status": "迁出", "status_date": "2025-03-01"}, [{}], [], None),
    "born after A": ({"birth_date": "2025-07-01"}, [], [], None),
    "newborn": ({"birth_date": "2025-02-01"}, [], [], None),
    "dead by A": ({}, [{}], [], "2025-06-30"),
    "dead after A": ({}, [{}], [], "2025-07-01"),
    "enrolled elsewhere": ({}, [{"insured_place": "360101000000"}], [], None),
    "no insured place": ({}, [{"insured_place": None}], [], None),
    "both schemes": ({}, [{}, {"scheme": "职工"}], [], None),
    "last year only": ({}, [{"year": 2024}], [], None),
    "suspended": ({}, [{"status": "暂停参保"}], [], None),
    "vulnerable, not enrolled": ({}, [], [{}], None),
    "identity ended by A": ({}, [{}], [{"end_date": "2025-05-01"}], None),
    "other village": ({"village_code": OTHER_VILLAGE}, [{}], [{}], None),
}


def _covered(snapshots, settings, year, as_of, root):
    """The in-scope persons (as a frame), the counts and the outreach list, as a load computes them."""
    engine = sets.backend(settings)
    try:
        covered = sets.covered(snapshots, settings, year, as_of, root, engine)
    finally:
        engine.disconnect()
    return sets.in_scope(snapshots, settings, year, as_of, root), covered.counts, covered.outreach


def _snapshots(person: dict, enrollments: list[dict], identities: list[dict], death: str | None):
    """The case's person beside a second, plain one (so no table is ever empty), as the lake gives them back."""
    other = {**PERSON, "id_number": "990101199001010022", "name": "李四"}
    population = pd.DataFrame([{**PERSON, **person}, other]).astype({"status_date": "str"})
    enrollment = pd.DataFrame(
        [*({**ENROLLED, **e} for e in enrollments), {**ENROLLED, "id_number": other["id_number"]}]
    )
    identity_rows = [{**IDENTITY, **i} for i in identities] or [{**IDENTITY, "id_number": "990101200001010033"}]
    deaths = pd.DataFrame(
        {"id_number": [PERSON["id_number"] if death else "x"], "name": ["张三"], "death_date": [death]}
    )
    return {
        "population": population.replace({np.nan: None}),
        "enrollment": enrollment.astype({"year": "Int64", "subsidy_amount": "Int64"}),
        "identities": pd.DataFrame(identity_rows).astype({"income_per_capita": "Int64"}),
        "deaths": deaths,
        "divisions": DIVISIONS,
    }


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_scope_and_counts_match_the_oracle(case, settings):
    snapshots = _snapshots(*CASES[case])
    types = settings.identity_types_for(2025)
    persons, counts, outreach = _covered(snapshots, settings, 2025, AS_OF, ROOT)
    enrolled = sets.evaluate(coverage_sets.enrolled_persons(sets.table(snapshots["enrollment"]), 2025, ROOT))
    expected = scope(
        snapshots["population"],
        snapshots["deaths"],
        snapshots["enrollment"],
        snapshots["identities"],
        2025,
        AS_OF,
        ROOT,
        types,
    )
    columns = ["id_number", "village_code", "newborn", "vulnerable", "enrolled", "local", "duplicate", "identity_type"]
    got = persons.sort_values("id_number")[columns].reset_index(drop=True)
    want = expected.sort_values("id_number")[columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    pd.testing.assert_frame_equal(
        counts, coverage_by_division(expected, DIVISIONS, ROOT), check_dtype=False, check_index_type=False
    )
    expected_enrolled = enrolled_persons(snapshots["enrollment"], 2025, ROOT)
    pd.testing.assert_frame_equal(
        enrolled.sort_values("id_number").reset_index(drop=True),
        expected_enrolled.sort_values("id_number").reset_index(drop=True),
        check_dtype=False,
    )
    listed = outreach_list(
        expected, snapshots["population"], expected_enrolled, snapshots["identities"], 2025, AS_OF, types
    )
    pd.testing.assert_frame_equal(outreach, listed, check_dtype=False)


def test_counts_by_hand(settings):
    """Two persons in 一村 (one enrolled in both schemes, one newborn and vulnerable, not enrolled), one in 二村
    enrolled elsewhere, one dead: the village, town and district rows."""
    people = [
        {**PERSON, "id_number": "A"},
        {**PERSON, "id_number": "B", "birth_date": "2025-03-01"},
        {**PERSON, "id_number": "C", "village_code": OTHER_VILLAGE},
        {**PERSON, "id_number": "D"},
    ]
    enrollment = [
        {**ENROLLED, "id_number": "A"},
        {**ENROLLED, "id_number": "A", "scheme": "职工"},
        {**ENROLLED, "id_number": "C", "insured_place": "360101000000"},
        {**ENROLLED, "id_number": "D"},
    ]
    snapshots = {
        "population": pd.DataFrame(people),
        "enrollment": pd.DataFrame(enrollment).astype({"year": "Int64", "subsidy_amount": "Int64"}),
        "identities": pd.DataFrame([{**IDENTITY, "id_number": "B"}]).astype({"income_per_capita": "Int64"}),
        "deaths": pd.DataFrame({"id_number": ["D"], "name": ["x"], "death_date": ["2025-01-01"]}),
        "divisions": DIVISIONS,
    }
    counts = _covered(snapshots, settings, 2025, AS_OF, ROOT)[1].set_index("code")
    assert list(counts.index) == [ROOT, TOWN, VILLAGE, OTHER_VILLAGE]  # by level, then code
    # in_scope, enrolled, vulnerable (in scope, enrolled), newborn (in scope, enrolled), local, elsewhere, duplicate
    assert counts.loc[VILLAGE, COUNT_COLUMNS].tolist() == [2, 1, 1, 0, 1, 0, 1, 0, 1]
    assert counts.loc[OTHER_VILLAGE, COUNT_COLUMNS].tolist() == [1, 1, 0, 0, 0, 0, 0, 1, 0]
    assert (
        counts.loc[ROOT, COUNT_COLUMNS].tolist()
        == counts.loc[TOWN, COUNT_COLUMNS].tolist()
        == [3, 2, 1, 0, 1, 0, 1, 1, 1]
    )
    assert counts.loc[VILLAGE, "parent_code"] == TOWN and counts.loc[ROOT, "parent_code"] == ""


def test_the_demo_district_gives_the_oracles_figures(demo_db, settings):
    """8,000 generated residents with the demo's deliberate oddities: the same persons, flags and counts."""
    from monitor.storage import lake, queries
    from monitor.storage.store import connect, read_bulk
    from monitor.storage.store import divisions as division_table

    engine = connect(demo_db)
    snapshots = {key: lake.read(engine, key) for key in ("population", "deaths", "enrollment", "identities")}
    snapshots["divisions"] = read_bulk(engine, division_table)
    root, as_of = queries.root(engine, settings), date(2025, 12, 31)
    persons, counts, outreach = _covered(snapshots, settings, 2025, as_of, root)
    expected = scope(
        *(snapshots[k] for k in ("population", "deaths", "enrollment", "identities")),
        2025,
        as_of,
        root,
        settings.identity_types_for(2025),
    )
    assert len(persons) > 7000
    columns = list(expected.columns)
    pd.testing.assert_frame_equal(
        persons.sort_values("id_number")[columns].reset_index(drop=True),
        expected.sort_values("id_number").reset_index(drop=True),
        check_dtype=False,
    )
    pd.testing.assert_frame_equal(
        counts, coverage_by_division(expected, snapshots["divisions"], root), check_dtype=False, check_index_type=False
    )
    enrolled = enrolled_persons(snapshots["enrollment"], 2025, root)
    types = settings.identity_types_for(2025)
    listed = outreach_list(expected, snapshots["population"], enrolled, snapshots["identities"], 2025, as_of, types)
    assert len(listed) > 100 and (listed["remark"] == "不在人口底册").any()
    pd.testing.assert_frame_equal(outreach, listed, check_dtype=False)
