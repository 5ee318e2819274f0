"""Columnar copies of the year's outreach and alert lists: used only when they match the database, rebuilt when they
do not."""

from __future__ import annotations

import shutil
import stat

import pandas as pd
import pytest
from conftest import GOLDEN

from monitor.cases import alert_case
from monitor.load.pipeline import RunError, run_load
from monitor.storage import queries, store, table_copies
from monitor.storage.store import connect


def _results(engine) -> dict[str, pd.DataFrame]:
    return {
        t.name: store.read_table(engine, t).drop(columns=["run_id"], errors="ignore")
        for t in (store.alerts, store.outreach, store.coverage, store.findings)
    }


def _files(engine) -> list[str]:
    return sorted(p.name for p in table_copies.folder(engine).iterdir())


def test_each_year_gets_a_private_file_and_they_read_back_what_the_database_holds(sqlite_url, settings):
    engine = connect(sqlite_url)
    run_load(GOLDEN / "load1", settings, engine, year=2025)
    run_load(GOLDEN / "load2", settings, engine, year=2025)
    assert _files(engine) == ["alerts-year-2025.parquet", "outreach-year-2025.parquet"]
    assert stat.S_IMODE(table_copies.folder(engine).stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in table_copies.folder(engine).iterdir()} == {0o600}
    for table in table_copies.COPIED.values():
        pd.testing.assert_frame_equal(table_copies.read(engine, table), store.read_table(engine, table))


@pytest.mark.parametrize("damage", ["delete", "alter", "swap", "unrecorded"])
def test_a_missing_or_altered_file_is_not_used_and_the_next_load_rebuilds_it(sqlite_url, settings, tmp_path, damage):
    engine = connect(sqlite_url)
    run_load(GOLDEN / "load1", settings, engine, year=2025)
    run_load(GOLDEN / "load2", settings, engine, year=2025)
    expected = _results(engine)
    alerts = table_copies.folder(engine) / "alerts-year-2025.parquet"
    outreach = table_copies.folder(engine) / "outreach-year-2025.parquet"
    if damage == "delete":
        alerts.unlink()
    elif damage == "alter":
        alerts.write_bytes(alerts.read_bytes()[:-40] + b"\0" * 40)
    elif damage == "swap":
        shutil.copy(outreach, alerts)
    else:  # as an older version stored it: rows in the database, no copy recorded
        with engine.begin() as conn:
            conn.execute(store.meta.delete().where(store.meta.c.key == "copy_alerts-year-2025"))
    assert table_copies.read(engine, store.alerts, 2025) is None
    assert table_copies.read(engine, store.outreach, 2025) is not None  # each table stands on its own
    run_load(None, settings, engine, year=2025)  # a recompute writes the files again
    for name, frame in _results(engine).items():
        pd.testing.assert_frame_equal(frame, expected[name])
    pd.testing.assert_frame_equal(table_copies.read(engine, store.alerts, 2025), store.read_table(engine, store.alerts))


def test_a_failed_load_leaves_no_file_behind(sqlite_url, settings, tmp_path, monkeypatch):
    engine = connect(sqlite_url)
    run_load(GOLDEN / "load1", settings, engine, year=2025)
    before = {p.name: p.read_bytes() for p in table_copies.folder(engine).iterdir()}

    def broken(*_args, **_kwargs):
        raise RunError("写入失败（测试）")

    monkeypatch.setattr("monitor.load.pipeline._store_results", broken)
    with pytest.raises(RunError):
        run_load(GOLDEN / "load2", settings, engine, year=2025)
    assert {p.name: p.read_bytes() for p in table_copies.folder(engine).iterdir()} == before  # no temporary file
    assert queries.latest_run(engine)["id"] == 1
    pd.testing.assert_frame_equal(table_copies.read(engine, store.alerts, 2025), store.read_table(engine, store.alerts))


def test_only_a_sqlite_file_database_has_copies(db_url, settings):
    engine = connect(db_url)
    run_load(GOLDEN / "load1", settings, engine, year=2025)
    if engine.url.get_backend_name() == "sqlite":
        assert table_copies.read(engine, store.alerts, 2025) is not None
    else:
        assert table_copies.folder(engine) is None and table_copies.read(engine, store.alerts, 2025) is None
    assert table_copies.folder(connect("sqlite://")) is None


def test_the_outreach_page_reads_its_year_from_the_copy_only_while_it_matches(sqlite_url, settings):
    engine = connect(sqlite_url)
    run_load(GOLDEN / "load1", settings, engine, year=2025)
    run_load(GOLDEN / "load2", settings, engine, year=2025)
    with engine.connect() as conn:
        stored = store.read_table(conn, store.outreach, store.outreach.c.year == 2025, [store.outreach.c.seq])
    assert len(stored) > 0
    pd.testing.assert_frame_equal(table_copies.read(engine, store.outreach, 2025), stored)
    pd.testing.assert_frame_equal(queries.outreach(engine, 2025), stored)
    assert table_copies.read(engine, store.outreach, 2024) is None  # no list for that year
    with engine.begin() as conn:  # the database changes behind the copy's back: the copy is out of step
        conn.execute(store.outreach.delete().where(store.outreach.c.id_number == stored["id_number"].iloc[0]))
    assert table_copies.read(engine, store.outreach, 2025) is None
    pd.testing.assert_frame_equal(queries.outreach(engine, 2025), stored.iloc[1:].reset_index(drop=True))


def test_the_alert_list_reads_the_same_from_its_copy_as_from_the_database(sqlite_url, settings, monkeypatch):
    engine = connect(sqlite_url)
    run_load(GOLDEN / "load1", settings, engine, year=2025)
    run_load(GOLDEN / "load2", settings, engine, year=2025)
    someone = store.read_table(engine, store.alerts)["id_number"].iloc[0]
    with engine.begin() as conn:  # a state the workflow changed after the load, and one with no state row
        conn.execute(
            store.alert_states.update()
            .where(store.alert_states.c.id_number == someone)
            .values(state="已推送", upgraded=True, batch_no="B1", department="民政")
        )
        last = store.read_table(engine, store.alerts)["id_number"].iloc[-1]
        conn.execute(store.alert_states.delete().where(store.alert_states.c.id_number == last))
    assert "alerts-year-2025.parquet" in _files(engine)
    from_copy = alert_case.alert_list(engine, 2025)
    monkeypatch.setattr(table_copies, "read", lambda *_args, **_kw: None)
    from_database = alert_case.alert_list(engine, 2025)
    pd.testing.assert_frame_equal(from_copy, from_database)
    assert from_copy.loc[from_copy["id_number"] == someone, "state"].item() == "已推送"
    assert from_copy["state"].iloc[-1] == "待推送"
