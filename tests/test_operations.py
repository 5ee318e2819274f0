"""Operations: the single-load lock, inbox loads with archive and failed folders, the scheduler, migrations."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl.cli import main
from monitor import queries, store
from monitor.config import load_settings
from monitor.locks import LockBusy, holding
from monitor.operations import DataDirs, load_inbox, settled_files
from monitor.pipeline import RunError
from monitor.store import connect

from conftest import GOLDEN, ROOT


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                for t in store.metadata.sorted_tables if t.name not in ("runs", "locks")}


def test_a_second_load_is_refused_while_one_holds_the_lock(sqlite_url, capsys):
    engine = connect(sqlite_url)
    with holding(engine, "页面上传"):
        with pytest.raises(LockBusy, match="页面上传"):
            with holding(engine, "命令行"):
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
        conn.execute(store.locks.insert().values(name="load", holder="崩溃的进程", host=socket.gethostname(),
                                                 pid=2 ** 22 + 12345, acquired_at="2026-01-01 00:00:00"))
    with holding(engine, "命令行"):
        with engine.connect() as conn:
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
        if message.startswith("校验 settlements"):
            shutil.copy(late, dirs.inbox / late.name)

    result = load_inbox(settings, engine, dirs, "收件箱监测", settle_seconds=0, year=2025, progress=drop_a_file)
    archived = dirs.archive / str(result.run_id)
    assert sorted(p.name for p in archived.iterdir()) == sorted(
        [p.name for p in (GOLDEN / "load1").iterdir()] + ["SHA256SUMS"])
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
    assert _counts(engine) == before
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

    from monitor.scheduler import JOBS_TABLE

    jobs = SQLAlchemyJobStore(url=url, tablename=JOBS_TABLE)
    jobs.start(BackgroundScheduler(timezone="Asia/Shanghai"), "default")
    job = jobs.lookup_job(job_id)
    job.next_run_time = datetime.now(job.next_run_time.tzinfo) - timedelta(minutes=minutes)
    jobs.update_job(job)
    jobs.shutdown()


def test_a_restarted_scheduler_keeps_its_jobs_and_catches_up_a_missed_load(tmp_path, sqlite_url):
    from monitor import scheduler

    config = _config_with_data_dir(tmp_path)
    settings = load_settings(config)
    service = scheduler.build(settings, sqlite_url, str(config))
    jobs = {job.id: job.next_run_time for job in service.get_jobs()}
    assert set(jobs) == {"nightly_load", "watch_inbox", "monthly_draft", "audit_maintenance"}
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


def test_monthly_draft_waits_for_approval(sqlite_url, settings):
    from monitor import workflow

    engine = connect(sqlite_url)
    assert main(["run", "--inbox", str(GOLDEN / "load1"), "--year", "2025", "--as-of", "2025-06-30",
                 "--db", sqlite_url]) == 0
    draft = workflow.prepare_draft(engine, 2025, "民政")
    pending = queries.alerts(engine, 2025)
    assert set(pending["state"]) == {"待推送"}  # nothing pushed by the job itself
    names = queries.division_names(engine)
    result = workflow.approve_draft(engine, draft, "审批人", names, settings)
    assert result.rows == len(pending)
    assert workflow.drafts(engine, 2025)[["status", "batch_no"]].values.tolist() == [["已推送", result.batch_no]]
    with pytest.raises(workflow.WorkflowError, match="已推送"):
        workflow.discard_draft(engine, draft, "审批人")
    assert workflow.prepare_draft(engine, 2025, "民政") is None  # nothing left to push


def test_migrations_create_exactly_the_declared_schema(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = connect(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), store.metadata)
    assert diff == []
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0006"


def test_a_database_from_before_migrations_is_refused_with_advice(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = sa.create_engine(url)
    store.runs.create(old)
    with pytest.raises(store.SchemaError, match="迁移功能之前"):
        connect(url)


def test_bulk_reads_and_copy_writes_give_back_what_was_loaded(db_url, settings):
    """PostgreSQL loads write through COPY and read back through ADBC; both must round-trip every value."""
    from monitor.pipeline import run_load

    engine = connect(db_url)
    run_load(GOLDEN / "load1", settings, engine, year=2025)
    for table in (store.settlements, store.population, store.identities, store.enrollment):
        bulk = store.read_bulk(engine, table)
        assert len(bulk) > 0
        assert bulk.equals(store.read_table(engine, table)), table.name
    stored = store.read_table(engine, store.settlements)
    assert stored["policy_cost"].isna().any()  # NULLs survive COPY and the Arrow read
    year, order = store.outreach.c.year == 2025, [store.outreach.c.seq]
    listed = store.read_bulk(engine, store.outreach, year, order)
    assert len(listed) > 0 and listed.equals(store.read_table(engine, store.outreach, year, order))
    alerts, states = store.alerts, store.alert_states
    with engine.begin() as conn:  # one alert without a state row: the join's NULLs must read the same both ways
        conn.execute(states.delete().where(states.c.id_number == store.read_table(conn, alerts)["id_number"].iloc[0]))
    joined = sa.select(alerts, states.c.state, states.c.upgraded).select_from(alerts.outerjoin(
        states, (states.c.year == alerts.c.year) & (states.c.id_number == alerts.c.id_number))).order_by(alerts.c.seq)
    for _ in range(2):  # the second read reuses the pooled ADBC connection on PostgreSQL
        with engine.connect() as conn:
            assert store.read_bulk_select(engine, joined).equals(store.read_select(conn, joined))


def test_copy_csv_keeps_text_blanks_nulls_and_concatenated_frames():
    """PostgreSQL's COPY gets CSV written by Arrow: '' quoted, NULL bare, and frames glued by pd.concat intact."""
    import io

    import pandas as pd

    empty = pd.DataFrame({"source": pd.Series([], dtype="str"), "row": pd.Series([], dtype="int64"),
                          "original": pd.Series([], dtype="str")})
    rows = pd.DataFrame({"source": pd.Series(["结算", "", None], dtype="str"), "row": [2, 3, 4],
                         "original": pd.Series(['a|"b"', "x,y\nz", ""], dtype="str")})
    frame = pd.concat([empty, empty, rows], ignore_index=True)
    data = store._csv(store._arrow(frame, ["source", "row", "original"]))
    assert data == '"结算",2,"a|""b"""\n"",3,"x,y\nz"\n,4,""\n'.encode()
    assert pd.read_csv(io.BytesIO(data), header=None, keep_default_na=False)[1].tolist() == [2, 3, 4]
    assert store._arrow(frame.assign(content=b"x"), ["content"]) is None  # binary: row by row


def _index_sql(engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        return set(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                        "AND sql IS NOT NULL").all())


def test_a_bulk_write_into_an_empty_table_rebuilds_its_indexes(sqlite_url, settings, monkeypatch):
    """Big writes into empty SQLite tables drop and rebuild the indexes: the same indexes must come back, and a
    failed load must leave them as they were."""
    from monitor.pipeline import run_load

    engine = connect(sqlite_url)
    before = _index_sql(engine)
    monkeypatch.setattr(store, "BULK_ROWS", 1)
    dropped = []
    real = store._indexes_rebuilt_after

    @contextmanager
    def spy(conn, table, adding):
        with real(conn, table, adding):
            left = conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                                        "AND tbl_name = ?", (table.name,)).scalar()
            if left == 0:
                dropped.append(table.name)
            yield

    monkeypatch.setattr(store, "_indexes_rebuilt_after", spy)
    run_load(GOLDEN / "load1", settings, engine, year=2025)
    assert {"settlements", "population", "enrollment"} <= set(dropped)
    assert _index_sql(engine) == before
    with engine.connect() as conn:
        plan = " ".join(str(r) for r in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT * FROM settlements WHERE id_number = 'x'").all())
    assert "ix_settlements_person" in plan

    people = store.read_table(engine, store.population)
    with pytest.raises(ValueError), engine.begin() as conn:
        store.replace_rows(conn, store.population, people.head(3))  # empty table, so the indexes go
        raise ValueError("the load fails after the write")
    assert _index_sql(engine) == before
    assert store.read_table(engine, store.population).equals(people)


def _stored_cells(engine) -> dict[str, list[tuple]]:
    """Every stored value with its SQLite storage class, table by table, in a fixed order."""
    cells = {}
    with engine.connect() as conn:
        for table in store.metadata.sorted_tables:
            if table.name in ("runs", "locks", "meta", "sessions", "audit_log", "audit_chain"):
                continue
            names = [c.name for c in table.columns if c.name not in ("started_at", "finished_at", "updated_at", "at")]
            pairs = ", ".join(f'"{n}", typeof("{n}")' for n in names)
            cells[table.name] = sorted(conn.exec_driver_sql(f'SELECT {pairs} FROM "{table.name}"').all(), key=repr)
    return cells


def test_staged_sqlite_writes_store_what_row_by_row_writes_store(tmp_path, settings, monkeypatch):
    """Big SQLite writes of a load go through ADBC staging files: every value must be stored with the same storage
    class as a row-by-row insert, and no staging file may be left, after a good load or a failed one."""
    from monitor import pipeline
    from monitor.pipeline import RunError, run_load

    row_by_row = connect(f"sqlite:///{tmp_path / 'rows.db'}")
    run_load(GOLDEN / "load1", settings, row_by_row, year=2025, run_date=datetime(2026, 1, 10).date())
    monkeypatch.setattr(store, "BULK_ROWS", 1)
    staged_writes = []
    real = store.write_staged
    monkeypatch.setattr(store, "write_staged", lambda conn, table, *rest, **constants: (
        staged_writes.append(table.name), real(conn, table, *rest, **constants)))
    staged = connect(f"sqlite:///{tmp_path / 'staged.db'}")
    run_load(GOLDEN / "load1", settings, staged, year=2025, run_date=datetime(2026, 1, 10).date())
    assert {"settlements", "population", "enrollment", "identities"} <= set(staged_writes)
    assert _stored_cells(staged) == _stored_cells(row_by_row)
    assert sorted(p.name for p in tmp_path.iterdir() if ".stage-" in p.name) == []

    before = _stored_cells(staged)
    copies = sorted(p.name for p in (tmp_path / "staged.db.copies").iterdir())
    real_validate, real_stage = pipeline.validate_source, store.stage
    for where, fail in [("_store_results", lambda *a: (_ for _ in ()).throw(RunError("写入失败"))),
                        # settlements, the register and enrollment are staged by then
                        ("validate_source", lambda key, *a: (_ for _ in ()).throw(RunError("校验失败"))
                         if key == "identities" else real_validate(key, *a))]:
        files = []
        with monkeypatch.context() as patched:
            patched.setattr(pipeline, where, fail)
            patched.setattr(store, "stage", lambda *a: files.append(real_stage(*a)) or files[-1])
            with pytest.raises(RunError):
                run_load(GOLDEN / "load1", settings, staged, year=2025, run_date=datetime(2026, 1, 10).date())
        assert len([f for f in files if f is not None]) >= 3
        assert _stored_cells(staged) == before
        assert sorted(p.name for p in tmp_path.iterdir() if ".stage-" in p.name) == []
        assert sorted(p.name for p in (tmp_path / "staged.db.copies").iterdir()) == copies
