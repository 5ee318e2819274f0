"""The targets of issue 20, judged for each benchmarked size, and the summary bench/run.py prints for a size.

Up to 1.5 M persons (a district) a size is judged against the district's targets, above it against the city's;
a PostgreSQL run also against the newest SQLite run of the same size in bench/results/. Reported, not asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ALL_VILLAGES = "map.chart(all villages)"  # the page query that draws every village in one chart
DISTRICT = 1_500_000  # persons: the largest size judged as a district
MIB_PER_GIB = 1024


def _target(name: str, met: bool | None, value: str) -> dict:
    return {"target": name, "met": met, "value": value}


def _gib(mib: float) -> str:
    return f"{mib / MIB_PER_GIB:.2f} GiB"


def peak_mib(measured: dict) -> float:
    """A process's peak RSS: the larger of the kernel's figure for it and the sampled sum with its children (a
    Spark deployment's JVM); results written before the sampler have only the first."""
    return max(measured["peak_rss_mib"], measured.get("peak_tree_rss_mib", 0))


def slowest_page_query(queries: dict) -> tuple[str, float]:
    """The page query with the largest median (the all-villages chart has a target of its own)."""
    name = max((q for q in queries if q != ALL_VILLAGES), key=lambda q: queries[q]["median_ms"])
    return name, queries[name]["median_ms"]


def _sqlite_full_load(persons: int) -> tuple[float, str] | None:
    """The full load's wall time of the newest SQLite run of this size in bench/results/, and its file's name."""
    for path in sorted(RESULTS.glob("*.json"), reverse=True):
        try:
            sizes = json.loads(path.read_text(encoding="utf-8")).get("sizes", [])
        except (OSError, ValueError):
            continue
        for size in sizes:
            if size.get("persons") == persons and size.get("database", "sqlite") == "sqlite":
                return size["full_load"]["wall_s"], path.name
    return None


def _within(peak: float, gib: int, measured: dict, size: dict) -> bool | None:
    """Whether a peak is within a limit; unknown for a Spark run measured before the sampler (no JVM in it)."""
    if size.get("engine") == "spark" and "peak_tree_rss_mib" not in measured:
        return None
    return peak <= gib * MIB_PER_GIB


def judge(size: dict) -> dict:
    """{"set": which targets, "results": [{"target", "met", "value"}, …]} for one size's results."""
    full, month, queries = size["full_load"], size["incremental_load"], size["queries"]
    ratio, peak = full["floor_ratio"], peak_mib(full)
    results = []
    if size["persons"] <= DISTRICT:
        chosen = "district (set for 1.5 M)"
        name, slowest = slowest_page_query(queries)
        results += [
            _target("full load ≤ 3× the whole-load floor", ratio <= 3, f"{ratio}×"),
            _target("full load peak RSS ≤ 2 GiB", _within(peak, 2, full, size), _gib(peak)),
            _target("month ≤ 10 s", month["wall_s"] <= 10, f"{month['wall_s']} s"),
            _target("every page query ≤ 300 ms median", slowest <= 300, f"{slowest} ms ({name})"),
        ]
    else:
        chosen = "city (set for 5 M)"
        villages = queries[ALL_VILLAGES]["median_ms"]
        name, slowest = slowest_page_query(queries)
        results += [
            _target("full load ≤ 4× the whole-load floor", ratio <= 4, f"{ratio}×"),
            _target("full load peak RSS ≤ 3 GiB", _within(peak, 3, full, size), _gib(peak)),
            _target("every page query ≤ 300 ms median", slowest <= 300, f"{slowest} ms ({name})"),
            _target(f"map of all {size['villages_in_map']} villages ≤ 1 s median", villages <= 1000, f"{villages} ms"),
        ]
    if size["database"] == "postgresql":
        sqlite = _sqlite_full_load(size["persons"])
        if sqlite is None:
            results.append(_target("full load ≤ 2× SQLite's", None, "no SQLite run of this size in bench/results"))
        else:
            times = round(full["wall_s"] / sqlite[0], 2)
            value = f"{times}× (SQLite {sqlite[0]} s, {sqlite[1]})"
            results.append(_target("full load ≤ 2× SQLite's", times <= 2, value))
    return {"set": chosen, "results": results}


def _verdict(met: bool | None) -> str:
    return "met" if met else "unknown" if met is None else "NOT met"


def _yuan(text: str) -> str:
    return f"{float(text):,.2f}"


def summary(size: dict) -> str:
    """The printed lines of one size: floor, loads and their ratio to the floor, page queries, totals, targets."""
    floor, full, month = size["floor"], size["full_load"], size["incremental_load"]
    settlements = full["sources"].get("settlements", {}).get("rows", 0)
    stored = month["stored"]
    stages = ", ".join(f"{k.removesuffix('_s')} {v} s" for k, v in floor["stages"].items())
    lines = [
        f"{size['persons']:,} persons ({size['database']}, {size.get('engine', 'duckdb')}): "
        f"{settlements / 1e6:.2f} M settlements, "
        f"input {size['input_mib']} MiB, "
        + (f"generated in {size['generate']['wall_s']} s" if "generate" in size else "inputs of an earlier run"),
        f"  floor      {floor['wall_s']} s / {_gib(peak_mib(floor))} ({stages})",
        f"  full load  {full['wall_s']} s / {_gib(peak_mib(full))} = {full['floor_ratio']}× the floor",
        f"  month      {month['wall_s']} s / {_gib(peak_mib(month))}",
        f"  stored     database {stored['database_mib']} MiB, columnar copies {stored['copies_mib']} MiB, "
        f"lake {stored['lake_mib']} MiB (after the month)",
    ]
    medians = [f"{name} {q['median_ms']}" for name, q in size["queries"].items()]
    lines.append("  page queries, median ms:")
    lines += ["    " + "; ".join(medians[i : i + 4]) for i in range(0, len(medians), 4)]
    for who, totals in (("floor", floor), ("load ", full["totals"])):
        lines.append(
            f"  {who}      in scope {totals['in_scope']:,}, enrolled {totals['enrolled']:,}; "
            f"{totals['persons_with_settlements']:,} persons with {totals['settlements_netted']:,} settlements "
            f"of the year, oop {_yuan(totals['oop_yuan'])} yuan"
        )
    rejected = {k: full["sources"].get(k, {}).get("rejected", 0) for k in ("population", "enrollment", "settlements")}
    lines.append(
        f"  (the floor keeps what the load rejects: {rejected['population']} register, {rejected['enrollment']} "
        f"enrollment and {rejected['settlements']} settlement rows here, among them the demo's deliberate bad rows)"
    )
    lines.append(f"  targets, {size['targets']['set']}:")
    lines += [f"    {_verdict(t['met'])}: {t['target']}: {t['value']}" for t in size["targets"]["results"]]
    return "\n".join(lines)
