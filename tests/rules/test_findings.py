"""Data-quality findings on the engine (rules/findings.py) by hand, case by case, against the pandas oracle
(tests/rules/oracles.py), and on the demo district's lake files."""

from __future__ import annotations

import ibis
import oracles
import pandas as pd
import pytest

from monitor.rules.findings import COLUMNS, PARTS, findings
from monitor.storage import sets

YEAR = 2025
SOURCES = {
    "BIRTH_MISMATCH": "population",
    "ENROLLED_NOT_IN_REGISTER": "enrollment",
    "IDENTITY_NOT_IN_REGISTER": "identities",
    "SETTLEMENT_WITHOUT_ENROLLMENT": "settlements",
    "NAME_MISMATCH": "enrollment",
}
ENROLLED_OUTSIDE = f"{YEAR} 年参保，人口底册中无此人"
UNENROLLED = f"{YEAR} 年有结算，无正常参保记录"
OTHER_NAME = "参保登记姓名与人口底册不一致"


def person(id_number: str, name: str | None = "张三", born: str = "1990-01-01", stated: str | None = None) -> tuple:
    return (id_number, name, born, stated)


def enrolled(
    id_number: str, name: str | None, scheme: str = "居民", year: int = YEAR, status: str = "正常参保"
) -> tuple:
    return (id_number, name, scheme, year, status)


def holder(id_number: str, name: str | None, kind: str = "低保对象", start: str = "2024-01-01") -> tuple:
    return (id_number, name, kind, start)


def settled(serial: str, id_number: str, name: str | None, day: str = f"{YEAR}-03-01", reverses: str = "") -> tuple:
    return (serial, id_number, name, day, reverses)


def _frames(population: list, enrollment: list, identities: list, settlements: list) -> list[pd.DataFrame]:
    """The columns the rule reads, as the lake gives them back (years as Int64; a blank may be NULL or "")."""
    return [
        pd.DataFrame(population, columns=["id_number", "name", "birth_date", "stated_birth_date"]),
        pd.DataFrame(enrollment, columns=["id_number", "name", "scheme", "year", "status"]).astype({"year": "Int64"}),
        pd.DataFrame(identities, columns=["id_number", "name", "identity_type", "start_date"]),
        pd.DataFrame(settlements, columns=["settlement_id", "id_number", "name", "settle_date", "reverses"]),
    ]


# name → (register, enrollment, identities, settlements, the findings: kind, ID number, name, detail)
CASES = {
    "nothing to report": (
        [person("A", stated="1990-01-01")],
        [enrolled("A", "张三")],
        [holder("A", "张三")],
        [settled("S1", "A", "张三")],
        [],
    ),
    "no rows at all": ([], [], [], [], []),
    "birth date stated otherwise": (
        [person("A", stated="1990-01-02")],
        [],
        [],
        [],
        [("BIRTH_MISMATCH", "A", "张三", "出生日期 1990-01-02 ≠ 身份证 1990-01-01")],
    ),
    "no stated birth date, NULL or empty": ([person("A", stated=None), person("B", stated="")], [], [], [], []),
    "birth mismatches in ID order": (
        [person("C", "王五", "1985-05-05", "1985-05-06"), person("B"), person("A", "李四", "1970-02-03", "1970-03-02")],
        [],
        [],
        [],
        [
            ("BIRTH_MISMATCH", "A", "李四", "出生日期 1970-03-02 ≠ 身份证 1970-02-03"),
            ("BIRTH_MISMATCH", "C", "王五", "出生日期 1985-05-06 ≠ 身份证 1985-05-05"),
        ],
    ),
    "enrolled outside the register: the smallest scheme's name": (
        [person("A")],
        [
            enrolled("X", "王五甲", "职工"),
            enrolled("X", "王五", "居民"),
            enrolled("X", "王五乙", "城乡居民", year=YEAR - 1),
        ],
        [],
        [],
        [("ENROLLED_NOT_IN_REGISTER", "X", "王五", ENROLLED_OUTSIDE)],
    ),
    "enrolled outside the register: one scheme twice, the smallest name": (
        [],
        [enrolled("X", "王五五"), enrolled("X", "王五")],
        [],
        [],
        [("ENROLLED_NOT_IN_REGISTER", "X", "王五", ENROLLED_OUTSIDE)],
    ),
    "enrolled outside the register, no name: NULL and empty": (
        [],
        [enrolled("X", None), enrolled("X", "王五", "职工"), enrolled("Y", "")],
        [],
        [],
        [
            ("ENROLLED_NOT_IN_REGISTER", "X", "", ENROLLED_OUTSIDE),
            ("ENROLLED_NOT_IN_REGISTER", "Y", "", ENROLLED_OUTSIDE),
        ],
    ),
    "outside the register, not enrolled in the year": (
        [],
        [enrolled("X", "王五", status="暂停参保"), enrolled("Y", "赵六", year=YEAR - 1)],
        [],
        [],
        [],
    ),
    "identity holder outside the register: the earliest start": (
        [person("A")],
        [],
        [
            holder("X", "赵六", "低保对象", "2024-01-01"),
            holder("X", "赵六", "特困人员", "2023-05-01"),
            holder("A", "张三"),
        ],
        [],
        [("IDENTITY_NOT_IN_REGISTER", "X", "赵六", "困难群众身份：特困人员")],
    ),
    "identity holder outside the register: one start, the smallest type": (
        [],
        [],
        [holder("X", "赵六", "特困人员"), holder("X", "赵六甲", "低保对象"), holder("Y", None)],
        [],
        [
            ("IDENTITY_NOT_IN_REGISTER", "X", "赵六甲", "困难群众身份：低保对象"),
            ("IDENTITY_NOT_IN_REGISTER", "Y", "", "困难群众身份：低保对象"),
        ],
    ),
    "settlement without enrollment: the first by date, then serial": (
        [],
        [],
        [],
        [
            settled("S3", "X", "钱七", f"{YEAR}-02-01"),
            settled("S2", "X", "钱七乙", f"{YEAR}-01-15"),
            settled("S1", "X", "钱七甲", f"{YEAR}-01-15"),
        ],
        [("SETTLEMENT_WITHOUT_ENROLLMENT", "X", "钱七甲", UNENROLLED)],
    ),
    "settlement without enrollment: reversals, other years, other statuses": (
        [person("A"), person("C", "孙八")],
        [
            enrolled("A", "张三"),
            enrolled("C", "孙八", status="暂停参保"),
            enrolled("D", "周九", year=YEAR - 1),
        ],
        [],
        [
            settled("S1", "A", "张三"),  # enrolled: nothing to report
            settled("S8", "B", "吴十", f"{YEAR - 1}-12-30"),
            settled("S9", "B", "吴十", f"{YEAR}-01-02", reverses="S8"),  # a reversal is no settlement of the year
            settled("S5", "C", "孙八"),  # in the register, suspended
            settled("S6", "D", None),  # outside the register, enrolled last year only; no name
        ],
        [
            ("SETTLEMENT_WITHOUT_ENROLLMENT", "C", "孙八", UNENROLLED),
            ("SETTLEMENT_WITHOUT_ENROLLMENT", "D", "", UNENROLLED),
        ],
    ),
    "name differs: the latest year, then the smallest scheme": (
        [person("A")],
        [
            enrolled("A", "张叁", "居民", YEAR - 1),
            enrolled("A", "张三丰", "职工"),
            enrolled("A", "张珊", "居民"),
            enrolled("A", "张三", "居民", YEAR + 1),  # the register's name
        ],
        [],
        [],
        [("NAME_MISMATCH", "A", "张珊", OTHER_NAME)],
    ),
    "name differs: one scheme twice, the smallest name": (
        [person("A")],
        [enrolled("A", "张珊珊"), enrolled("A", "张珊")],
        [],
        [],
        [("NAME_MISMATCH", "A", "张珊", OTHER_NAME)],
    ),
    "no enrolled name: NULL and empty": (
        [person("A"), person("B", "李四")],
        [enrolled("A", None), enrolled("B", "")],
        [],
        [],
        [],
    ),
    "no register name: NULL and empty": (
        [person("A", None), person("B", "")],
        [enrolled("A", "张三"), enrolled("B", "李四")],
        [],
        [],
        [("NAME_MISMATCH", "A", "张三", OTHER_NAME), ("NAME_MISMATCH", "B", "李四", OTHER_NAME)],
    ),
    "persons in both sources, in the parts' order": (
        [person("A", stated="1990-02-01")],
        [enrolled("X", "王五"), enrolled("A", "张叁")],
        [holder("Y", "赵六", "特困人员"), holder("X", "王五")],
        [settled("S2", "Y", "赵六"), settled("S1", "X", "王五")],
        [
            ("BIRTH_MISMATCH", "A", "张三", "出生日期 1990-02-01 ≠ 身份证 1990-01-01"),
            ("ENROLLED_NOT_IN_REGISTER", "X", "王五", ENROLLED_OUTSIDE),
            ("IDENTITY_NOT_IN_REGISTER", "X", "王五", "困难群众身份：低保对象"),
            ("IDENTITY_NOT_IN_REGISTER", "Y", "赵六", "困难群众身份：特困人员"),
            ("SETTLEMENT_WITHOUT_ENROLLMENT", "Y", "赵六", UNENROLLED),
            ("NAME_MISMATCH", "A", "张叁", OTHER_NAME),
        ],
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_findings_by_hand_and_as_the_oracle_finds_them(case):
    *rows, expected = CASES[case]
    frames = _frames(*rows)
    got = sets.evaluate(findings(*(sets.table(f) for f in frames), YEAR))
    assert list(got.columns) == COLUMNS
    assert got[["kind", "id_number", "name", "detail"]].values.tolist() == [list(r) for r in expected]
    assert got["source"].tolist() == [SOURCES[kind] for kind, *_ in expected]
    assert (got["file"] == "").all() and got["row"].isna().all() and str(got["row"].dtype) == "Int64"
    pd.testing.assert_frame_equal(got, oracles.data_quality_findings(*frames, YEAR))


def test_findings_compile_for_spark():
    """Plain Ibis, no DuckDB-only SQL: the same rule runs on a cluster (issue 21)."""
    frames = _frames(*CASES["persons in both sources, in the parts' order"][:4])
    sql = ibis.to_sql(findings(*(sets.table(f) for f in frames), YEAR), dialect="pyspark")
    assert "ROW_NUMBER()" in sql and sql.rstrip().endswith("`detail` ASC NULLS LAST")


def test_the_demo_district_gives_the_oracles_findings(demo_db):
    """8,000 generated residents with the demo's deliberate oddities, the rule scanning the lake's Parquet files:
    the same findings in the same order as the oracle over the stored snapshots and every settlement."""
    from monitor.storage import lake
    from monitor.storage.store import connect

    engine = connect(demo_db)
    keys = ("population", "enrollment", "identities", "settlements")
    backend = sets.backend()
    try:
        tables = [sets.files(backend, lake.paths(engine, key), key) for key in keys]
        got = sets.frame(backend, findings(*tables, YEAR))
    finally:
        backend.disconnect()
    expected = oracles.data_quality_findings(*(lake.read(engine, key) for key in keys), YEAR)
    engine.dispose()
    pd.testing.assert_frame_equal(got, expected)
    assert list(got["kind"].drop_duplicates()) == list(PARTS)  # the demo has every kind, in the parts' order
    assert (got["kind"] == "ENROLLED_NOT_IN_REGISTER").sum() > 50  # its migrants
