"""Bulk reads and writes: COPY and ADBC round trips, index rebuilds and staged SQLite writes."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

import pytest
import sqlalchemy as sa
from conftest import GOLDEN

from monitor.load.pipeline import RunError
from monitor.storage import lake, store
from monitor.storage.store import connect


def test_bulk_reads_and_copy_writes_give_back_what_was_loaded(db_url, settings):
    """PostgreSQL loads write through COPY and read back through ADBC; both must round-trip every value."""
    from monitor.load.pipeline import run_load

    engine = connect(db_url)
    run_load(GOLDEN / "load1", settings, engine, year=2025)
    for table in (store.coverage, store.alerts, store.rejects, store.run_files, store.divisions):
        bulk = store.read_bulk(engine, table)
        assert len(bulk) > 0
        assert bulk.equals(store.read_table(engine, table)), table.name
    assert store.read_table(engine, store.coverage)["vulnerable_in_scope"].notna().all()
    assert lake.read(engine, "settlements")["policy_cost"].isna().any()  # NULLs survive the lake's files
    year, order = store.outreach.c.year == 2025, [store.outreach.c.seq]
    listed = store.read_bulk(engine, store.outreach, year, order)
    assert len(listed) > 0 and listed.equals(store.read_table(engine, store.outreach, year, order))
    alerts, states = store.alerts, store.alert_states
    with engine.begin() as conn:  # one alert without a state row: the join's NULLs must read the same both ways
        conn.execute(states.delete().where(states.c.id_number == store.read_table(conn, alerts)["id_number"].iloc[0]))
    joined = (
        sa.select(alerts, states.c.state, states.c.upgraded)
        .select_from(
            alerts.outerjoin(states, (states.c.year == alerts.c.year) & (states.c.id_number == alerts.c.id_number))
        )
        .order_by(alerts.c.seq)
    )
    for _ in range(2):  # the second read reuses the pooled ADBC connection on PostgreSQL
        with engine.connect() as conn:
            assert store.read_bulk_select(engine, joined).equals(store.read_select(conn, joined))


def test_copy_csv_keeps_text_blanks_nulls_and_concatenated_frames():
    """PostgreSQL's COPY gets CSV written by Arrow: '' quoted, NULL bare, and frames glued by pd.concat intact."""
    import io

    import pandas as pd

    empty = pd.DataFrame(
        {
            "source": pd.Series([], dtype="str"),
            "row": pd.Series([], dtype="int64"),
            "original": pd.Series([], dtype="str"),
        }
    )
    rows = pd.DataFrame(
        {
            "source": pd.Series(["结算", "", None], dtype="str"),
            "row": [2, 3, 4],
            "original": pd.Series(['a|"b"', "x,y\nz", ""], dtype="str"),
        }
    )
    frame = pd.concat([empty, empty, rows], ignore_index=True)
    data = store._csv(store._arrow(frame, ["source", "row", "original"]))
    assert data == '"结算",2,"a|""b"""\n"",3,"x,y\nz"\n,4,""\n'.encode()
    assert pd.read_csv(io.BytesIO(data), header=None, keep_default_na=False)[1].tolist() == [2, 3, 4]
    assert store._arrow(frame.assign(content=b"x"), ["content"]) is None  # binary: row by row


def _index_sql(engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        return set(
            conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").all()
        )


def test_a_bulk_write_into_an_empty_table_rebuilds_its_indexes(sqlite_url, settings, monkeypatch):
    """Big writes into empty SQLite tables drop and rebuild the indexes: the same indexes must come back, and a
    failed load must leave them as they were."""
    from monitor.load.pipeline import run_load

    engine = connect(sqlite_url)
    before = _index_sql(engine)
    monkeypatch.setattr(store, "BULK_ROWS", 1)
    dropped = []
    real = store._indexes_rebuilt_after

    @contextmanager
    def spy(conn, table, adding):
        with real(conn, table, adding):
            left = conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name = ?",
                (table.name,),
            ).scalar()
            if left == 0:
                dropped.append(table.name)
            yield

    monkeypatch.setattr(store, "_indexes_rebuilt_after", spy)
    run_load(GOLDEN / "load1", settings, engine, year=2025)
    assert {"outreach", "alerts", "coverage"} <= set(dropped)
    assert _index_sql(engine) == before
    with engine.connect() as conn:
        query = "EXPLAIN QUERY PLAN SELECT * FROM alerts WHERE year = 2025 AND id_number = 'x'"
        plan = " ".join(str(r) for r in conn.exec_driver_sql(query).all())
    assert "ix_alerts_year" in plan

    listed = store.read_table(engine, store.outreach)
    with pytest.raises(ValueError), engine.begin() as conn:
        store.replace_rows(conn, store.outreach, listed.head(3))  # the whole table goes, so the indexes go
        raise ValueError("the load fails after the write")
    assert _index_sql(engine) == before
    assert store.read_table(engine, store.outreach).equals(listed)


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
    from monitor.load import pipeline
    from monitor.load.pipeline import run_load

    row_by_row = connect(f"sqlite:///{tmp_path / 'rows.db'}")
    run_load(GOLDEN / "load1", settings, row_by_row, year=2025, run_date=datetime(2026, 1, 10).date())
    monkeypatch.setattr(store, "BULK_ROWS", 1)
    staged_writes = []
    real = store.write_staged
    monkeypatch.setattr(
        store,
        "write_staged",
        lambda conn, table, *rest, **constants: (
            staged_writes.append(table.name),
            real(conn, table, *rest, **constants),
        ),
    )
    staged = connect(f"sqlite:///{tmp_path / 'staged.db'}")
    run_load(GOLDEN / "load1", settings, staged, year=2025, run_date=datetime(2026, 1, 10).date())
    assert {"divisions"} <= set(staged_writes)  # the big sources go to the lake, not the database
    assert _stored_cells(staged) == _stored_cells(row_by_row)
    assert sorted(p.name for p in tmp_path.iterdir() if ".stage-" in p.name) == []

    before = _stored_cells(staged)
    copies = sorted(p.name for p in (tmp_path / "staged.db.copies").iterdir())
    lake_files = sorted(p.name for p in (tmp_path / "staged.db.lake").rglob("*"))
    real_validate, real_stage = pipeline.stream_source, store.stage
    for where, fail in [
        ("_store_results", lambda *a: (_ for _ in ()).throw(RunError("写入失败"))),
        # the divisions are staged, and the settlements, register and enrollment written to the lake, by then
        (
            "stream_source",
            lambda engine, key, *a: (
                (_ for _ in ()).throw(RunError("校验失败")) if key == "identities" else real_validate(engine, key, *a)
            ),
        ),
    ]:
        files = []
        with monkeypatch.context() as patched:
            patched.setattr(pipeline, where, fail)
            patched.setattr(store, "stage", lambda *a, files=files: files.append(real_stage(*a)) or files[-1])
            with pytest.raises(RunError):
                run_load(GOLDEN / "load1", settings, staged, year=2025, run_date=datetime(2026, 1, 10).date())
        assert len([f for f in files if f is not None]) >= 1
        assert _stored_cells(staged) == before
        assert sorted(p.name for p in tmp_path.iterdir() if ".stage-" in p.name) == []
        assert sorted(p.name for p in (tmp_path / "staged.db.copies").iterdir()) == copies
        assert sorted(p.name for p in (tmp_path / "staged.db.lake").rglob("*")) == lake_files
