"""A run's row from its start: written as 'running' before its data, ended once; a load killed on its way is marked
interrupted by the next holder of the load lock, which removes the staging files and table copies it left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import GOLDEN, ROOT

from etl.cli import main
from monitor.load.locks import LockBusy, finish_killed_loads, holding
from monitor.load.pipeline import RunError, run_load
from monitor.storage import lake, queries, store, table_copies
from monitor.storage.database import begin_run, database_file
from monitor.storage.store import connect

YEAR = ["--year", "2025", "--as-of", "2025-06-30"]

# The killed load: every write staged (BULK_ROWS 1, as on a big district), stopped for good once its data is in the
# open transaction, with its staging files and temporary copies on disk.
CHILD = """
import sys, time
from pathlib import Path
from monitor.config import load_settings
from monitor.load.operations import locked_run
from monitor.storage import store
from monitor.storage.store import connect

store.BULK_ROWS = 1


def progress(message):
    if message == "写入结果":
        print("WRITING", flush=True)
        time.sleep(600)


locked_run(Path(sys.argv[2]), load_settings(None), connect(sys.argv[1]), "命令行", year=2025, user="wang",
           progress=progress)
"""


def _coverage(engine) -> pd.DataFrame:
    """The village figures, without the id of the run that computed them."""
    return queries.coverage(engine, 2025, "村社区", "990101000000").drop(columns="run_id")


def _leftovers(engine) -> list[str]:
    """Staging files, temporary copies, and lake files that no committed run records."""
    with engine.connect() as conn:
        recorded = set(conn.execute(sa.select(store.lake_files.c.path)).scalars())
    where = lake.folder(engine)
    unrecorded = [p.relative_to(where).as_posix() for p in where.glob("*/*")] if where.is_dir() else []
    leftovers = [name for name in unrecorded if name not in recorded]
    database = database_file(engine)
    if database is None:
        return leftovers
    staged = [p.name for p in database.parent.glob(f"{database.name}.stage-*")]
    copies = table_copies.folder(engine)
    return leftovers + staged + ([p.name for p in copies.glob("*.tmp")] if copies and copies.exists() else [])


def _killed_load(url: str) -> int:
    """Start the load of load2 in a child process and SIGKILL it once its row says 'running' and its data is in
    its transaction; returns the killed run's id."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(GOLDEN / "load2")], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "WRITING", "the child load did not reach its writes"
        running = queries.latest_run(connect(url), status=None)
        assert running is not None and running["status"] == "running"
        assert running["message"].startswith("由 wang 启动（主机 ") and f"进程 {child.pid}" in running["message"]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    return int(running["id"])


def test_a_killed_load_is_marked_interrupted_by_the_next_and_leaves_nothing(db_url):
    engine = connect(db_url)
    assert main(["run", "--inbox", str(GOLDEN / "load1"), *YEAR, "--db", db_url]) == 0
    first = _coverage(engine)
    killed = _killed_load(db_url)
    assert any(name.startswith("settlements/") for name in _leftovers(engine)), "the killed load wrote no lake file"
    pd.testing.assert_frame_equal(_coverage(engine), first)  # its transaction never committed
    assert queries.latest_run(engine)["id"] == 1

    assert main(["recompute", *YEAR, "--db", db_url, "--user", "li"]) == 0  # the next load, under the lock
    runs = queries.runs(engine).set_index("id")
    assert list(runs["status"]) == ["ok", "interrupted", "ok"]
    message = runs.loc[killed, "message"]
    assert message.startswith("中断：进程在运行中终止，未应用任何数据；") and "由「命令行」发现" in message
    assert "由 wang 启动" in message  # who started the killed run
    assert pd.isna(runs.loc[killed, "finished_at"])  # when it stopped is unknown
    assert _leftovers(engine) == []
    pd.testing.assert_frame_equal(_coverage(engine), first)  # the figures of the last run that ended well
    engine.dispose()


def test_the_run_row_is_committed_before_the_data_and_ends_once(sqlite_url, settings):
    engine = connect(sqlite_url)
    seen = []

    def progress(message: str) -> None:
        if message == "写入结果":  # another connection sees the row while the data's transaction is open
            seen.append(queries.latest_run(engine, status=None))

    result = run_load(GOLDEN / "load1", settings, engine, year=2025, user="wang", progress=progress)
    assert seen[0]["id"] == result.run_id and seen[0]["status"] == "running" and seen[0]["as_of"] is None
    runs = queries.runs(engine)
    assert len(runs) == 1 and runs.iloc[0]["status"] == "ok" and runs.iloc[0]["message"] == ""
    assert runs.iloc[0]["as_of"] == "2025-12-31" and runs.iloc[0]["root"] == "990101000000"

    bad = Path(sqlite_url.removeprefix("sqlite:///")).parent / "bad"
    bad.mkdir()
    (bad / "population_x.csv").write_text("姓名\n张三\n", encoding="utf-8")
    with pytest.raises(RunError) as failure:
        run_load(bad, settings, engine, year=2025)
    runs = queries.runs(engine)
    assert len(runs) == 2 and runs.iloc[0]["id"] == failure.value.run_id  # the same row, turned 'failed'
    assert runs.iloc[0]["status"] == "failed" and "身份证号" in runs.iloc[0]["message"]


def test_a_run_that_ends_changes_the_data_version_of_cached_pages(sqlite_url, settings):
    engine = connect(sqlite_url)
    before = queries.data_version(engine)
    versions = []
    run_load(
        GOLDEN / "load1",
        settings,
        engine,
        year=2025,
        progress=lambda m: versions.append(queries.data_version(engine)) if m == "写入结果" else None,
    )
    assert len({before, versions[0], queries.data_version(engine)}) == 3  # started, then ended


def test_runs_are_marked_only_by_the_holder_of_the_load_lock(sqlite_url):
    engine = connect(sqlite_url)
    with holding(engine, "页面上传"):
        live = begin_run(engine, store.now(), 2025, "", "页面上传", "admin")  # a load going on right now
        assert finish_killed_loads(engine, "调度启动") is False
        with pytest.raises(LockBusy):
            holding(engine, "命令行").__enter__()
        assert queries.latest_run(engine, status=None)["status"] == "running"
    # the process went away without ending its run (as if killed): the next start finds it
    assert finish_killed_loads(engine, "调度启动") is True
    run = queries.latest_run(engine, status=None)
    assert (run["id"], run["status"]) == (live, "interrupted") and "由「调度启动」发现" in run["message"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.locks)).scalar() == 0


def test_a_staging_file_left_beside_the_database_goes_with_the_next_lock(sqlite_url):
    engine = connect(sqlite_url)
    database = database_file(engine)
    left = database.with_name(f"{database.name}.stage-{os.getpid() + 1}-deadbeef")
    left.write_bytes(b"personal data")
    copies = database.with_name(database.name + ".copies")
    copies.mkdir()
    (copies / "settlements-run_id-7.parquet.123.tmp").write_bytes(b"x")
    kept = copies / "settlements-run_id-6.parquet"
    kept.write_bytes(b"x")
    with holding(engine, "收件箱监测"):
        pass
    assert not left.exists() and sorted(p.name for p in copies.iterdir()) == [kept.name]
