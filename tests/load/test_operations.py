"""Operations: the single-load lock, inbox loads with archive and failed folders, the scheduler."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import GOLDEN, ROOT

from etl.cli import main
from monitor.config import load_settings
from monitor.load.locks import LockBusy, holding
from monitor.load.operations import DataDirs, load_inbox, settled_files
from monitor.load.pipeline import RunError
from monitor.security import audit
from monitor.storage import queries, store
from monitor.storage.store import connect


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for t in store.metadata.sorted_tables
            if t.name not in ("runs", "locks")
        }


def test_a_second_load_is_refused_while_one_holds_the_lock(sqlite_url, capsys):
    engine = connect(sqlite_url)
    with holding(engine, "页面上传"):
        with pytest.raises(LockBusy, match="页面上传"), holding(engine, "命令行"):
            pass
        assert main(["run", "--inbox", str(GOLDEN / "load1"), "--db", sqlite_url]) == 1
        assert "另一个载入正在进行（页面上传" in capsys.readouterr().err
    assert queries.latest_run(engine, status=None) is None  # the refused run changed nothing at all


def test_a_waiting_load_goes_ahead_when_the_lock_is_released(sqlite_url):
    engine = connect(sqlite_url)
    taken, release = threading.Event(), threading.Event()

    def other_load():
        with holding(engine, "定时任务"):
            taken.set()
            release.wait(10)

    thread = threading.Thread(target=other_load)
    thread.start()
    taken.wait(10)
    threading.Timer(1.0, release.set).start()
    started = time.monotonic()
    assert main(["run", "--inbox", str(GOLDEN / "load1"), "--wait", "20", "--db", sqlite_url]) == 0
    assert time.monotonic() - started >= 0.9
    thread.join()
    assert queries.latest_run(engine)["status"] == "ok"


def test_a_lock_left_by_a_dead_process_is_taken_over(sqlite_url):
    engine = connect(sqlite_url)
    with engine.begin() as conn:
        conn.execute(
            store.locks.insert().values(
                name="load",
                holder="崩溃的进程",
                host=socket.gethostname(),
                pid=2**22 + 12345,
                acquired_at="2026-01-01 00:00:00",
            )
        )
    with holding(engine, "命令行"), engine.connect() as conn:
        assert conn.execute(sa.select(store.locks.c.pid)).scalar() == os.getpid()


def _inbox_with(tmp_path: Path, load: str) -> DataDirs:
    dirs = DataDirs.under(tmp_path / "data")
    dirs.inbox.mkdir(parents=True)
    for path in (GOLDEN / load).iterdir():
        shutil.copy(path, dirs.inbox / path.name)
    return dirs


def test_inbox_load_archives_files_and_leaves_a_file_dropped_during_the_run(tmp_path, sqlite_url, settings):
    engine = connect(sqlite_url)
    dirs = _inbox_with(tmp_path, "load1")
    late = GOLDEN / "load2" / "settlements_2025b.csv"

    def drop_a_file(message: str) -> None:
        if message.startswith("读取并校验 settlements"):
            shutil.copy(late, dirs.inbox / late.name)

    result = load_inbox(settings, engine, dirs, "收件箱监测", settle_seconds=0, year=2025, progress=drop_a_file)
    archived = dirs.archive / str(result.run_id)
    assert sorted(p.name for p in archived.iterdir()) == sorted(
        [p.name for p in (GOLDEN / "load1").iterdir()] + ["SHA256SUMS"]
    )
    assert "population_2025.csv" in (archived / "SHA256SUMS").read_text(encoding="utf-8")
    assert [p.name for p in dirs.inbox.iterdir()] == [late.name]  # waits for the next run
    assert queries.runs(engine)["archived_to"].iloc[0] == str(archived)
    again = load_inbox(settings, engine, dirs, "收件箱监测", settle_seconds=0, year=2025)
    assert [p.name for p in (dirs.archive / str(again.run_id)).iterdir() if p.name != "SHA256SUMS"] == [late.name]
    assert load_inbox(settings, engine, dirs, "收件箱监测", settle_seconds=0) is None  # nothing left


def test_a_file_still_being_written_is_not_taken(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    old, fresh = inbox / "population.csv", inbox / "settlements.csv"
    old.write_text("x")
    fresh.write_text("y")
    past = time.time() - 120
    os.utime(old, (past, past))
    assert settled_files(inbox, settle_seconds=30) == [old]


def test_a_failed_inbox_load_changes_nothing_and_lands_in_failed(tmp_path, sqlite_url, settings):
    engine = connect(sqlite_url)
    assert main(["run", "--inbox", str(GOLDEN / "load1"), "--db", sqlite_url]) == 0
    before = _counts(engine)
    dirs = DataDirs.under(tmp_path / "data")
    dirs.inbox.mkdir(parents=True)
    (dirs.inbox / "population_bad.csv").write_text("姓名,村社区代码\n张三,990101001001\n", encoding="utf-8")
    with pytest.raises(RunError) as failure:
        load_inbox(settings, engine, dirs, "收件箱监测", settle_seconds=0, year=2025)
    assert _counts(engine) == before | {"audit_log": before["audit_log"] + 1}  # the failure is audited, nothing else
    entry = audit.entries(engine).iloc[0]
    assert (entry["username"], entry["action"], entry["object"]) == (
        "收件箱监测",
        "载入",
        f"运行 #{failure.value.run_id}",
    )
    assert entry["result"].startswith("失败：") and "缺少必需列 身份证号" in entry["result"]
    failed = dirs.failed / str(failure.value.run_id)
    assert (failed / "population_bad.csv").exists()
    assert "缺少必需列 身份证号" in (failed / "失败原因.txt").read_text(encoding="utf-8")
    last = queries.latest_run(engine, status=None)
    assert (last["status"], last["archived_to"]) == ("failed", str(failed))
    assert list(dirs.inbox.iterdir()) == []


def _config_with_data_dir(tmp_path: Path) -> Path:
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('data_dir = "data"', f'data_dir = "{tmp_path / "data"}"')
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _miss(url: str, job_id: str, minutes: int) -> None:
    """Move a stored job's next run time into the past, through the job store as the scheduler would."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from monitor.load.scheduler import JOBS_TABLE

    jobs = SQLAlchemyJobStore(url=url, tablename=JOBS_TABLE)
    jobs.start(BackgroundScheduler(timezone="Asia/Shanghai"), "default")
    job = jobs.lookup_job(job_id)
    job.next_run_time = datetime.now(job.next_run_time.tzinfo) - timedelta(minutes=minutes)
    jobs.update_job(job)
    jobs.shutdown()


def test_a_restarted_scheduler_keeps_its_jobs_and_catches_up_a_missed_load(tmp_path, sqlite_url):
    from monitor.load import scheduler

    config = _config_with_data_dir(tmp_path)
    settings = load_settings(config)
    service = scheduler.build(settings, sqlite_url, str(config))
    jobs = {job.id: job.next_run_time for job in service.get_jobs()}
    assert set(jobs) == {"nightly_load", "watch_inbox", "monthly_draft", "audit_maintenance", "audit_checkpoint"}
    service.remove_job("watch_inbox")  # only the nightly job may load in this test
    service.shutdown()
    _miss(sqlite_url, "nightly_load", minutes=5)  # as if the server was down when the load was due

    dirs = _inbox_with(tmp_path, "load1")
    for path in dirs.inbox.iterdir():
        os.utime(path, (time.time() - 600, time.time() - 600))
    restarted = scheduler.build(settings, sqlite_url, str(config))
    restarted.remove_job("watch_inbox")
    try:
        kept = {job.id: job.next_run_time for job in restarted.get_jobs()}
        assert kept["monthly_draft"] == jobs["monthly_draft"]  # the stored job, not a new one
        engine = connect(sqlite_url)
        deadline = time.time() + 30
        while queries.latest_run(engine) is None and time.time() < deadline:
            time.sleep(0.2)
        run = queries.latest_run(engine)
        assert run is not None and run["trigger"] == "定时任务"
        assert list(dirs.inbox.iterdir()) == []
    finally:
        restarted.shutdown()
