"""A 150,000-resident demo district loaded by a deployment with [engine] kind = "spark" (master local[2]) and by one
with the default DuckDB, through the same command line: every export is the same file, byte for byte, and so are
the findings and the campaign's progress the pages read (issue 21).

About 80 s with Spark in local mode on two cores; ./test.sh runs it (conftest.spark_config).
"""

from __future__ import annotations

import pandas as pd
import pytest

from etl.cli import main
from monitor.storage import queries, sets
from monitor.storage.store import connect

PERSONS = 150_000
YEAR = 2025
EXPORTS = {
    "coverage_区县.csv": ["coverage", "--level", "区县"],
    "coverage_乡镇.csv": ["coverage", "--level", "乡镇"],
    "coverage_村社区.csv": ["coverage", "--level", "村社区"],
    "outreach.csv": ["outreach"],
    "alerts.csv": ["alerts"],
    "watch.csv": ["watch"],
    "rejects.csv": ["rejects"],
}


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    """The generated district's two monthly inboxes."""
    folder = tmp_path_factory.mktemp("district")
    assert (
        main(
            ["demo", "--out", str(folder / "2025-11"), "--persons", str(PERSONS)]
            + ["--followup", str(folder / "2025-12")]
        )
        == 0
    )
    return folder


def _deployment(district, folder, config: list[str]) -> tuple[dict[str, bytes], dict[str, pd.DataFrame]]:
    """Both months loaded into a new SQLite database; every export's bytes, and the tables the pages read that no
    export writes."""
    url = f"sqlite:///{folder / 'monitor.db'}"
    for month in ("2025-11", "2025-12"):
        assert main([*config, "run", "--inbox", str(district / month), "--db", url]) == 0
    exported = {}
    for name, args in EXPORTS.items():
        out = folder / name
        assert main([*config, "export", *args, "--out", str(out), "--db", url]) == 0
        exported[name] = out.read_bytes()
    engine = connect(url)
    read = {"findings": queries.findings(engine, YEAR)}
    engine.dispose()
    return exported, read


def test_a_spark_deployment_exports_what_a_duckdb_one_does(district, tmp_path, spark_config, monkeypatch):
    engines: list[str] = []
    connect_engine = sets.backend

    def counted(settings=None):
        engines.append(settings.engine_kind if settings else "duckdb")
        return connect_engine(settings)

    monkeypatch.setattr(sets, "backend", counted)
    (tmp_path / "duckdb").mkdir()
    (tmp_path / "spark").mkdir()
    duckdb_exports, duckdb_read = _deployment(district, tmp_path / "duckdb", [])
    assert engines and set(engines) == {"duckdb"}
    engines.clear()
    spark_exports, spark_read = _deployment(district, tmp_path / "spark", ["--config", str(spark_config)])
    assert engines and set(engines) == {"spark"}  # the rules ran on Spark, not on a DuckDB beside it
    for name in EXPORTS:
        assert spark_exports[name] == duckdb_exports[name], name
    for name, frame in duckdb_read.items():
        pd.testing.assert_frame_equal(spark_read[name], frame, obj=name)
    lines = {name: data.count(b"\n") for name, data in duckdb_exports.items()}
    assert lines["coverage_村社区.csv"] > 100 and lines["outreach.csv"] > 1000
    assert lines["alerts.csv"] > 100 and lines["watch.csv"] > 10 and lines["rejects.csv"] > 10
    assert len(duckdb_read["findings"]) > 100
