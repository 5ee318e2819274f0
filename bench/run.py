"""District- and city-scale benchmark: generate the demo, measure the whole-load floor, load it, export, query the
pages; results to bench/results/.

    .venv/bin/python bench/run.py [--sizes 150000,500000,1500000 | --persons N] [--repeat 5] [--keep DIR]
                                  [--postgres URL] [--engine duckdb|spark] [--reuse]

Each load runs in its own process (`python -m etl run`) so its wall time, CPU time and peak memory (RSS)
are those of the whole process. So does the floor (bench/floor.py): one plain DuckDB pass over the same files
(GBK transcoded in Python; in-scope and enrolled persons per village; netted out-of-pocket sums per person),
with no validation and no storage. Each load's time is given as a ratio to it, and each size is judged against
the targets of issue 20 (bench/targets.py); the summary prints them.
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

from bench import targets  # noqa: E402
from bench.engine_config import spark_config_text  # noqa: E402
from bench.floor import connection, netted_oop, settlements_from_lake  # noqa: E402
from bench.tree_memory import TreePeak, stage_peaks  # noqa: E402
from monitor.config import load_settings  # noqa: E402
from monitor.outputs import exports  # noqa: E402
from monitor.security.access import ADMIN, Viewer  # noqa: E402
from monitor.storage import lake, queries  # noqa: E402
from monitor.storage.store import connect  # noqa: E402
from monitor.web import charts  # noqa: E402
from monitor.web.views import alerts as alert_views  # noqa: E402
from monitor.web.views import coverage_map, overview  # noqa: E402
from monitor.web.views import outreach as outreach_views  # noqa: E402
from monitor.web.views.common import METRIC_BY_LABEL, band_colours  # noqa: E402

PYTHON = sys.executable
YEAR = 2025  # the demo's monitoring year


def _measured(command: list[str]) -> dict:
    """Run a command; its wall time, CPU time and peak RSS, from the kernel's accounting of that one child, and the
    peak RSS of the child with its own children (sampled)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err)
        tree = TreePeak(proc.pid)
        # the sampler stops while the ended child is still unreaped, so its pid cannot be another process's yet
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        tree_peak = tree.stop()
        ended_at = time.time()
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {err.read().decode(errors='replace')[-500:]}")
        starts = _stage_starts(err.read().decode(errors="replace"), ended_at - wall)
        return {
            "wall_s": round(wall, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            # with its children (Spark's JVM), sampled every 0.25 s
            "peak_tree_rss_mib": round(tree_peak / 2**20, 1),
            "stdout": out.read().decode(errors="replace"),
            "stages": _stages(starts, wall),
            # each stage's own peak (the process with its children), to tell which step holds the memory
            "stage_peak_mib": {k: round(v / 2**20) for k, v in stage_peaks(tree.samples, starts).items()},
        }


def _stage_starts(progress: str, started_at: float) -> list[tuple[float, str]]:
    """When each stage began (epoch seconds, whole seconds as the run prints them), from the run's progress lines
    ([HH:MM:SS] stage) on stderr; the first, 启动, is the process's own start."""
    start = time.localtime(started_at)
    first = start.tm_hour * 3600 + start.tm_min * 60 + start.tm_sec
    starts = [(started_at, "启动")]
    for line in progress.splitlines():
        if line.startswith("[") and "] " in line:
            clock, stage = line[1:9], line[11:]
            h, m, sec = (int(x) for x in clock.split(":"))
            since = (h * 3600 + m * 60 + sec - first) % 86400  # a run that passes midnight
            starts.append((int(started_at) + since, stage))
    return starts if len(starts) > 1 else []


def _stages(starts: list[tuple[float, str]], wall: float) -> dict:
    """Seconds spent in each stage."""
    if not starts:
        return {}
    ends = [t for t, _ in starts[1:]] + [starts[0][0] + wall]
    return {stage: max(0, round(end - t)) for (t, stage), end in zip(starts, ends, strict=True)}


def _rows_per_second(engine, wall: float) -> dict:
    """Rows read and rejected per source by the latest run, and rows read per second of its whole wall time."""
    run = queries.latest_run(engine)
    assert run is not None, "the load recorded no run"
    files = queries.run_files(engine, run["id"])
    per_source = files.groupby("source")[["rows_read", "rows_rejected"]].sum()
    # rows per second of the whole load (each stage's own time is in "stages")
    return {
        str(source): {"rows": int(n), "rows_per_s": round(int(n) / wall), "rejected": int(rejected)}
        for source, (n, rejected) in per_source.iterrows()
    }


def _timed(fn, repeat: int) -> dict:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return {"median_ms": round(statistics.median(times) * 1000, 1), "worst_ms": round(max(times) * 1000, 1)}


def _floor(folder: Path) -> dict:
    """The whole-load floor over a load folder, in its own process; its totals come back on its stdout."""
    floor = _measured([PYTHON, str(ROOT / "bench" / "floor.py"), str(folder), "--year", str(YEAR)])
    floor.pop("stages")
    floor.pop("stage_peak_mib")
    floor.update(json.loads(floor.pop("stdout")))
    return floor


def _load_totals(engine, settings) -> dict:
    """The load's figures to set beside the floor's: in-scope and enrolled persons (the coverage of the root's
    towns), and the netted oop of the stored settlements (the lake's files, summed by the floor's query)."""
    towns = queries.coverage(engine, YEAR, "乡镇", queries.root(engine, settings))
    with connection() as con:
        costs = netted_oop(con, settlements_from_lake(lake.paths(engine, "settlements")), YEAR)
    return {"in_scope": int(towns["in_scope"].sum()), "enrolled": int(towns["enrolled"].sum()), **costs}


def _mib(path: Path | None) -> float | None:
    if path is None or not path.exists():
        return None
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


def _stored(engine, db: Path, postgres: bool) -> dict:
    """Size on disk of what the loads stored: the database (SQLite: file and WAL), its columnar copies, the lake."""
    if postgres:
        with engine.connect() as conn:
            size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
        database: float | None = round(size / 2**20, 1)
    else:
        database = round(sum(_mib(p) or 0 for p in (db, db.with_name(db.name + "-wal"))), 1)
    copies = None if postgres else _mib(db.with_name(db.name + ".copies"))
    return {"database_mib": database, "copies_mib": copies, "lake_mib": _mib(lake.folder(engine))}


def _fresh_postgres(server: str, name: str) -> str:
    """A new empty database on the server (any database URL of it); returns its URL."""
    import sqlalchemy as sa

    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.rsplit("/", 1)[0] + "/" + name


def engine_config(engine: str, work: Path) -> list[str]:
    """The etl options that choose the engine: none for DuckDB (the shipped config.toml); for Spark, a copy of
    config.toml in the work folder with [engine] kind = "spark" (its master, local[2]) and the data folder (Spark's
    scratch files) there too."""
    if engine == "duckdb":
        return []
    path = work / f"{engine}.toml"
    path.write_text(spark_config_text((ROOT / "config.toml").read_text(encoding="utf-8"), work), encoding="utf-8")
    return ["--config", str(path)]


def bench_size(
    persons: int,
    repeat: int,
    work: Path,
    settings,
    postgres: str | None = None,
    config: list[str] | None = None,
    reuse: bool = False,
) -> dict:
    folder = work / f"demo-{persons}"
    main, followup, db = folder / "2025-11", folder / "2025-12", folder / "monitor.db"
    url = _fresh_postgres(postgres, f"bench_{persons}") if postgres else f"sqlite:///{db}"
    config = config or []
    engine_kind = "spark" if config else "duckdb"
    result: dict = {"persons": persons, "database": "postgresql" if postgres else "sqlite", "engine": engine_kind}
    if reuse and main.is_dir() and followup.is_dir():  # the inputs of an earlier run (--keep): loads start anew
        for stale in folder.iterdir():
            if stale in (main, followup):
                continue
            if stale.is_dir():
                shutil.rmtree(stale)
            else:
                stale.unlink()
        print(f"[{persons}] reusing the generated inputs in {folder}", flush=True)
    else:
        shutil.rmtree(folder, ignore_errors=True)  # a kept work folder from an earlier run: start from nothing
        print(f"[{persons}] generating …", flush=True)
        result["generate"] = _measured(
            [PYTHON, "-m", "etl", "demo", "--out", str(main), "--persons", str(persons), "--followup", str(followup)]
        )
        result["generate"].pop("stdout")
    result["input_mib"] = round(sum(p.stat().st_size for p in main.iterdir()) / 2**20, 1)

    print(f"[{persons}] whole-load floor …", flush=True)
    result["floor"] = floor = _floor(main)

    print(f"[{persons}] full load …", flush=True)
    full = _measured([PYTHON, "-m", "etl", *config, "run", "--inbox", str(main), "--db", url])
    full.pop("stdout")
    full["floor_ratio"] = round(full["wall_s"] / floor["wall_s"], 2)
    engine = connect(url)
    full["sources"] = _rows_per_second(engine, full["wall_s"])
    full["stored"] = _stored(engine, db, bool(postgres))
    full["totals"] = _load_totals(engine, settings)
    result["full_load"] = full

    print(f"[{persons}] incremental load (one month) …", flush=True)
    increment = _measured([PYTHON, "-m", "etl", *config, "run", "--inbox", str(followup), "--db", url])
    increment.pop("stdout")
    increment["sources"] = _rows_per_second(engine, increment["wall_s"])
    increment["stored"] = _stored(engine, db, bool(postgres))
    result["incremental_load"] = increment

    print(f"[{persons}] exports …", flush=True)
    result["exports"] = {}
    for what in (["coverage", "--level", "村社区"], ["outreach"], ["alerts"], ["rejects"]):
        out = folder / f"{what[0]}.csv"
        timing = _measured([PYTHON, "-m", "etl", "export", *what, "--out", str(out), "--db", url])
        timing.pop("stdout")
        result["exports"][what[0]] = timing

    print(f"[{persons}] page queries …", flush=True)
    year, root = YEAR, queries.root(engine, settings)
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

    # every village in one chart (issue 8: a map of 300+ villages built in 1 s; issue 20: a city's in 1 s)
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
        targets.ALL_VILLAGES: _timed(lambda: chart_of(villages), repeat),
        "outreach.rows": _timed(lambda: outreach_views.rows(engine, year, names, admin), repeat),
        "alerts.rows": _timed(lambda: alert_views.rows(engine, year, names, admin), repeat),
        "alerts.person_settlements": _timed(
            lambda: alert_views.person_settlements(engine, year, person, settings, admin), repeat
        ),
        "data.rejects": _timed(lambda: exports.rejects_frame(queries.rejects(engine)), repeat),
    }
    result["villages_in_map"] = len(villages)
    engine.dispose()
    result["targets"] = targets.judge(result)
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
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--sizes", default="150000,500000,1500000", help="register sizes to run, comma-separated")
    sizes.add_argument("--persons", type=int, help="one register size to run (5000000: a city)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each page query")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one, removed)")
    parser.add_argument(
        "--postgres",
        help="load into PostgreSQL instead of SQLite: a database URL of the server "
        "(each size gets a new database bench_<size>)",
    )
    parser.add_argument(
        "--engine", choices=("duckdb", "spark"), default="duckdb", help="the rules' engine of the loads ([engine] kind)"
    )
    parser.add_argument("--reuse", action="store_true", help="with --keep: load the inputs generated by an earlier run")
    args = parser.parse_args()
    settings = load_settings(None)
    work = args.keep or Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.postgres:  # unless one is chosen, the lake of a PostgreSQL database goes in the work folder
        os.environ.setdefault(lake.ENV_LAKE, str(work / "lake"))
    chosen = [args.persons] if args.persons else [int(s) for s in args.sizes.split(",")]
    results: dict = {"when": datetime.now().isoformat(timespec="seconds"), "machine": machine(), "sizes": []}
    out = ROOT / "bench" / "results" / f"{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        for size in chosen:
            config = engine_config(args.engine, work)
            results["sizes"].append(bench_size(size, args.repeat, work, settings, args.postgres, config, args.reuse))
            # written after every size: an hour-long larger size that fails keeps the smaller ones' figures
            out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    for size in results["sizes"]:
        print(targets.summary(size))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
