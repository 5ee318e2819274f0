"""The whole-load floor: one plain DuckDB pass over a load folder's files, with no validation and no storage.

    .venv/bin/python bench/floor.py FOLDER [--year 2025]

- Files that are not UTF-8 (the register is GB18030) are transcoded to UTF-8 in Python, into a scratch folder.
- The register and enrollment, read as text, give each village's in-scope persons (人员状态 正常) and how many of
  them are enrolled (参保年度 Y, 参保状态 正常参保).
- The settlements, read as text, give each person's out-of-pocket sum (个人负担: total less every fund) over the
  ordinary settlements of Y, with each reversal's amounts added to the settlement it names (the netting of
  monitor.rules.costs.person_year; a missing fund counts 0, an unreadable amount is left out).

Prints one JSON object: the seconds of each stage and the totals (villages, in-scope and enrolled persons, persons
with settlements, settlements netted, the sum of oop in yuan), to set beside the load's. bench/run.py runs this in
its own process, so its wall time, CPU time and peak RSS are measured the way a load's are.
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.compute as pc

FUNDS = ("basic_paid", "critical_paid", "assistance_paid", "other_paid")
CHUNK = 16 * 2**20  # bytes transcoded at a time

# Each person's netted oop over the ordinary settlements of the year, from a relation `settlements` with the
# columns settlement_id, id_number, settle_date, reverses ('' on an ordinary settlement) and the amounts in cents.
# The settlements are read twice rather than through a CTE that DuckDB would hold whole (as in person_year).
_FUNDS_PAID = " + ".join(f"coalesce({f}, 0)" for f in FUNDS)
NETTED_OOP_SQL = f"""
WITH corrections AS (
    SELECT reverses, sum(coalesce(total_cost, 0) - ({_FUNDS_PAID})) AS oop
    FROM settlements WHERE reverses <> '' GROUP BY reverses),
ordinary AS (
    SELECT settlement_id, id_number, total_cost - ({_FUNDS_PAID}) AS oop
    FROM settlements WHERE reverses = '' AND starts_with(settle_date, $year_prefix))
SELECT o.id_number, sum(o.oop + coalesce(c.oop, 0))::BIGINT AS oop, count(*) AS settlements
FROM ordinary AS o LEFT JOIN corrections AS c ON c.reverses = o.settlement_id
GROUP BY o.id_number
"""

COVERAGE_SQL = """
WITH register AS (
    SELECT DISTINCT "身份证号" AS id_number, "村社区代码" AS village
    FROM read_csv($register, all_varchar = true, header = true)
    WHERE "人员状态" = '正常'),
enrolled AS (
    SELECT DISTINCT "身份证号" AS id_number
    FROM read_csv($enrollment, all_varchar = true, header = true)
    WHERE "参保年度" = $year AND "参保状态" = '正常参保')
SELECT r.village, count(*) AS in_scope, count(e.id_number) AS enrolled
FROM register AS r LEFT JOIN enrolled AS e USING (id_number)
GROUP BY r.village
"""

# Settlement files' columns as the netting reads them: text as is, amounts in cents (NULL when unreadable).
_CSV_AMOUNTS = {
    "total_cost": "医疗总费用",
    "basic_paid": "基本医保支付",
    "critical_paid": "大病保险支付",
    "assistance_paid": "医疗救助支付",
    "other_paid": "其他支付",
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _files(paths: list[Path]) -> str:
    return "[" + ", ".join(_literal(str(p)) for p in paths) + "]"


def settlements_from_csv(paths: list[Path]) -> str:
    """A view `settlements` over settlement files read as text."""
    amounts = ",\n       ".join(
        f'CAST(try_cast("{header}" AS DECIMAL(18, 2)) * 100 AS BIGINT) AS {name}'
        for name, header in _CSV_AMOUNTS.items()
    )
    return f"""
CREATE OR REPLACE TEMP VIEW settlements AS
SELECT "结算流水号" AS settlement_id, "身份证号" AS id_number, "结算日期" AS settle_date,
       coalesce("原结算流水号", '') AS reverses,
       {amounts}
FROM read_csv({_files(paths)}, all_varchar = true, header = true)"""


def settlements_from_lake(paths: list[Path]) -> str:
    """A view `settlements` over the lake's settlement files (what a load stored), for the same sums."""
    return f"""
CREATE OR REPLACE TEMP VIEW settlements AS
SELECT settlement_id, id_number, settle_date, coalesce(reverses, '') AS reverses, total_cost, {", ".join(FUNDS)}
FROM read_parquet({_files(paths)})"""


def connection(scratch: Path | None = None) -> duckdb.DuckDBPyConnection:
    """In memory; spills (if any) go to the scratch folder; no extension is fetched (an intranet cannot)."""
    return duckdb.connect(
        config={
            "temp_directory": str(scratch) if scratch else "",
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )


def netted_oop(con: duckdb.DuckDBPyConnection, view: str, year: int) -> dict:
    """Persons with ordinary settlements in the year, those settlements, and the sum of their netted oop."""
    con.execute(view)
    sums = con.sql(NETTED_OOP_SQL, params={"year_prefix": f"{year}-"}).to_arrow_table()
    oop = pc.sum(sums["oop"]).as_py() or 0
    return {
        "persons_with_settlements": sums.num_rows,
        "settlements_netted": pc.sum(sums["settlements"]).as_py() or 0,
        "oop_yuan": str(Decimal(oop) / 100),
    }


def utf8(path: Path, scratch: Path) -> Path:
    """The file itself when it reads as UTF-8 (a BOM is fine), else a UTF-8 copy of it from GB18030 (GBK's
    superset) in the scratch folder. The first chunk decides: it holds the Chinese headers."""
    with open(path, "rb") as source:
        head = source.read(CHUNK)
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
            return path
        except UnicodeDecodeError:
            pass
        decoder = codecs.getincrementaldecoder("gb18030")()
        copy = scratch / path.name
        with open(copy, "wb") as sink:
            while head:
                sink.write(decoder.decode(head).encode("utf-8"))
                head = source.read(CHUNK)
            sink.write(decoder.decode(b"", final=True).encode("utf-8"))
    return copy


def floor(folder: Path, year: int, scratch: Path) -> dict:
    stages: dict[str, float] = {}
    started = time.perf_counter()
    register = [utf8(p, scratch) for p in sorted(folder.glob("population*.csv"))]
    enrollment = [utf8(p, scratch) for p in sorted(folder.glob("enrollment*.csv"))]
    settlements = [utf8(p, scratch) for p in sorted(folder.glob("settlements*.csv"))]
    if not (register and enrollment and settlements):
        raise SystemExit(f"{folder}: needs population*.csv, enrollment*.csv and settlements*.csv")
    stages["transcode_s"] = round(time.perf_counter() - started, 2)

    with connection(scratch) as con:
        started = time.perf_counter()
        params = {"register": [str(p) for p in register], "enrollment": [str(p) for p in enrollment]}
        villages = con.sql(COVERAGE_SQL, params={**params, "year": str(year)}).to_arrow_table()
        stages["coverage_s"] = round(time.perf_counter() - started, 2)

        started = time.perf_counter()
        costs = netted_oop(con, settlements_from_csv(settlements), year)
        stages["settlements_s"] = round(time.perf_counter() - started, 2)
    return {
        "stages": stages,
        "villages": villages.num_rows,
        "in_scope": pc.sum(villages["in_scope"]).as_py() or 0,
        "enrolled": pc.sum(villages["enrolled"]).as_py() or 0,
        **costs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a load folder (python -m etl demo --out FOLDER)")
    parser.add_argument("--year", type=int, default=2025, help="the monitoring year (default 2025)")
    args = parser.parse_args()
    # the transcoded copies sit beside the load folder (same disk), and go when the pass ends
    with tempfile.TemporaryDirectory(prefix="floor-", dir=args.folder.resolve().parent) as scratch:
        print(json.dumps(floor(args.folder, args.year, Path(scratch)), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
