"""District-scale benchmark: generate the demo, load it, export, query the pages; results to bench/results/.

    .venv/bin/python bench/run.py [--sizes 150000,500000,1500000] [--repeat 5] [--keep DIR] [--postgres URL]

Each load runs in its own process (`python -m etl run`) so its wall time, CPU time and peak memory (RSS)
are those of the whole process. A plain DuckDB query over the same settlement file gives the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.config import load_settings  # noqa: E402
from monitor.outputs import exports  # noqa: E402
from monitor.security.access import ADMIN, Viewer  # noqa: E402
from monitor.storage import queries  # noqa: E402
from monitor.storage.store import connect  # noqa: E402
from monitor.web import charts  # noqa: E402
from monitor.web.views import alerts as alert_views  # noqa: E402
from monitor.web.views import coverage_map, overview  # noqa: E402
from monitor.web.views import outreach as outreach_views  # noqa: E402
from monitor.web.views.common import METRIC_BY_LABEL, band_colours  # noqa: E402

PYTHON = sys.executable


def _measured(command: list[str]) -> dict:
    """Run a command; its wall time, CPU time and peak RSS, from the kernel's accounting of that one child."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {err.read().decode(errors='replace')[-500:]}")
        return {
            "wall_s": round(wall, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "stdout": out.read().decode(errors="replace"),
            "stages": _stages(err.read().decode(errors="replace"), time.time() - wall, wall),
        }


def _stages(progress: str, started_at: float, wall: float) -> dict:
    """Seconds spent in each stage, from the run's progress lines ([HH:MM:SS] stage) on stderr."""
    marks = []
    for line in progress.splitlines():
        if line.startswith("[") and "] " in line:
            clock, stage = line[1:9], line[11:]
            h, m, sec = (int(x) for x in clock.split(":"))
            marks.append((h * 3600 + m * 60 + sec, stage))
    if not marks:
        return {}
    start = time.localtime(started_at)
    first = start.tm_hour * 3600 + start.tm_min * 60 + start.tm_sec
    ends = [t for t, _ in marks[1:]] + [first + round(wall)]
    stages = {"启动": marks[0][0] - first}
    for (t, stage), end in zip(marks, ends, strict=False):
        stages[stage] = max(0, end - t)
    return stages


def _rows_per_second(engine, run_id: int, wall: float) -> dict:
    files = queries.run_files(engine, run_id)
    per_source = files.groupby("source")["rows_read"].sum()
    # rows per second of the whole load (each stage's own time is in "stages")
    return {source: {"rows": int(n), "rows_per_s": round(int(n) / wall)} for source, n in per_source.items()}


def _timed(fn, repeat: int) -> dict:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return {"median_ms": round(statistics.median(times) * 1000, 1), "worst_ms": round(max(times) * 1000, 1)}


def _duckdb_floor(settlements: list[Path]) -> dict | None:
    try:
        import duckdb
    except ImportError:
        return None
    files = ", ".join(f"'{p}'" for p in settlements)
    started = time.perf_counter()
    duckdb.sql(f"""
        SELECT "身份证号", sum(CAST("医疗总费用" AS DECIMAL(14,2))) AS total,
               sum(CAST("医疗总费用" AS DECIMAL(14,2)) - coalesce(CAST(NULLIF("基本医保支付", '') AS DECIMAL(14,2)), 0)
                   - coalesce(CAST(NULLIF("大病保险支付", '') AS DECIMAL(14,2)), 0)
                   - coalesce(CAST(NULLIF("医疗救助支付", '') AS DECIMAL(14,2)), 0)
                   - coalesce(CAST(NULLIF("其他支付", '') AS DECIMAL(14,2)), 0)) AS oop
        FROM read_csv([{files}], all_varchar = true, header = true)
        WHERE try_cast("医疗总费用" AS DECIMAL(14,2)) IS NOT NULL
        GROUP BY 1""").fetchall()
    return {"wall_s": round(time.perf_counter() - started, 2)}


def _fresh_postgres(server: str, name: str) -> str:
    """A new empty database on the server (any database URL of it); returns its URL."""
    import sqlalchemy as sa

    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.rsplit("/", 1)[0] + "/" + name


def bench_size(persons: int, repeat: int, work: Path, settings, postgres: str | None = None) -> dict:
    folder = work / f"demo-{persons}"
    main, followup, db = folder / "2025-11", folder / "2025-12", folder / "monitor.db"
    url = _fresh_postgres(postgres, f"bench_{persons}") if postgres else f"sqlite:///{db}"
    shutil.rmtree(folder, ignore_errors=True)  # a kept work folder from an earlier run: start from nothing
    result: dict = {"persons": persons, "database": "postgresql" if postgres else "sqlite"}
    print(f"[{persons}] generating …", flush=True)
    result["generate"] = _measured(
        [PYTHON, "-m", "etl", "demo", "--out", str(main), "--persons", str(persons), "--followup", str(followup)]
    )
    result["generate"].pop("stdout")
    result["input_mib"] = round(sum(p.stat().st_size for p in main.iterdir()) / 2**20, 1)

    print(f"[{persons}] full load …", flush=True)
    full = _measured([PYTHON, "-m", "etl", "run", "--inbox", str(main), "--db", url])
    full.pop("stdout")
    engine = connect(url)
    full["sources"] = _rows_per_second(engine, queries.latest_run(engine)["id"], full["wall_s"])
    result["full_load"] = full

    print(f"[{persons}] incremental load (one month) …", flush=True)
    increment = _measured([PYTHON, "-m", "etl", "run", "--inbox", str(followup), "--db", url])
    increment.pop("stdout")
    increment["sources"] = _rows_per_second(engine, queries.latest_run(engine)["id"], increment["wall_s"])
    result["incremental_load"] = increment

    print(f"[{persons}] exports …", flush=True)
    result["exports"] = {}
    for what in (["coverage", "--level", "村社区"], ["outreach"], ["alerts"], ["rejects"]):
        out = folder / f"{what[0]}.csv"
        timing = _measured([PYTHON, "-m", "etl", "export", *what, "--out", str(out), "--db", url])
        timing.pop("stdout")
        result["exports"][what[0]] = timing

    print(f"[{persons}] page queries …", flush=True)
    year, root = 2025, queries.root(engine, settings)
    admin = Viewer("bench", ADMIN)
    names = queries.division_names(engine)
    towns = queries.coverage(engine, year, "乡镇", root).sort_values("in_scope")
    largest = towns["code"].iloc[-1]
    metric = METRIC_BY_LABEL["参保率"]

    def map_chart(parent: str):
        rows = coverage_map.with_bands(coverage_map.children(engine, year, parent), metric, settings)
        return chart_of(rows)

    def chart_of(rows):
        features, _missing = coverage_map.features(engine, rows)
        return charts.choropleth(features, metric, band_colours(settings), "#bdbdbd").to_dict()

    # every village of the district in one chart (issue 8: a map of 300+ villages built in 1 s)
    villages = coverage_map.with_bands(
        pd.concat([coverage_map.children(engine, year, town) for town in towns["code"]], ignore_index=True),
        metric,
        settings,
    )

    alert_rows = alert_views.rows(engine, year, names, admin)
    person = alert_rows["id_number"].iloc[0]
    result["queries"] = {
        "overview.headlines": _timed(lambda: overview.headlines(engine, year, settings), repeat),
        "overview.towns": _timed(lambda: overview.towns(engine, year, root), repeat),
        "overview.alerts_by_level": _timed(lambda: overview.alerts_by_level(engine, year), repeat),
        "map.children(root)": _timed(lambda: coverage_map.children(engine, year, root), repeat),
        "map.chart(root)": _timed(lambda: map_chart(root), repeat),
        "map.chart(largest town)": _timed(lambda: map_chart(largest), repeat),
        f"map.chart({len(villages)} villages)": _timed(lambda: chart_of(villages), repeat),
        "outreach.rows": _timed(lambda: outreach_views.rows(engine, year, names, admin), repeat),
        "alerts.rows": _timed(lambda: alert_views.rows(engine, year, names, admin), repeat),
        "alerts.person_settlements": _timed(
            lambda: alert_views.person_settlements(engine, year, person, settings, admin), repeat
        ),
        "data.rejects": _timed(lambda: exports.rejects_frame(queries.rejects(engine)), repeat),
    }
    floor = _duckdb_floor(sorted(main.glob("settlements*.csv")))
    if floor:
        floor["full_load_ratio"] = round(full["wall_s"] / floor["wall_s"], 1)
    result["duckdb_floor"] = floor
    engine.dispose()
    return result


def machine() -> dict:
    mem = next(
        (line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "0"
    )
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(int(mem) / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="150000,500000,1500000", help="register sizes to run, comma-separated")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each page query")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one, removed)")
    parser.add_argument(
        "--postgres",
        help="load into PostgreSQL instead of SQLite: a database URL of the server "
        "(each size gets a new database bench_<size>)",
    )
    args = parser.parse_args()
    settings = load_settings(None)
    work = args.keep or Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    results = {"when": datetime.now().isoformat(timespec="seconds"), "machine": machine(), "sizes": []}
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            results["sizes"].append(bench_size(size, args.repeat, work, settings, args.postgres))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "bench" / "results" / f"{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    for size in results["sizes"]:
        print(
            f"{size['persons']:>9,} persons: generate {size['generate']['wall_s']} s; full load "
            f"{size['full_load']['wall_s']} s / {size['full_load']['peak_rss_mib']} MiB; month "
            f"{size['incremental_load']['wall_s']} s / {size['incremental_load']['peak_rss_mib']} MiB; "
            f"slowest query {max(q['median_ms'] for q in size['queries'].values())} ms (median)"
        )
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
