"""The lake: each run's files recorded in its transaction, only recorded files read, the rest swept; the migration that
moved the big tables into it."""

from __future__ import annotations

import stat
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import GOLDEN

from monitor.load.locks import holding
from monitor.load.pipeline import RunError, run_load
from monitor.storage import lake, queries, store
from monitor.storage.store import connect


def _recorded(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(store.lake_files.c.path, store.lake_files.c.sha256)).all())


def _on_disk(engine) -> list[str]:
    where = lake.folder(engine)
    return sorted(p.relative_to(where).as_posix() for p in where.glob("*/*"))


def test_each_run_records_its_files_and_a_snapshot_replaces_the_last(db_url, settings):
    engine = connect(db_url)
    first = run_load(GOLDEN / "load1", settings, engine, year=2025).run_id
    second = run_load(GOLDEN / "load2", settings, engine, year=2025).run_id
    recorded = _recorded(engine)
    assert f"settlements/run-{first}.parquet" in recorded and f"settlements/run-{second}.parquet" in recorded
    assert f"population/run-{first}.parquet" in recorded  # load2 has no register: load1's stays in force
    assert f"identities/run-{second}.parquet" in recorded and f"identities/run-{first}.parquet" not in recorded
    where = lake.folder(engine)
    assert stat.S_IMODE(where.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in where.glob("*/*")} == {0o600}
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.select(store.lake_files.c.path, store.lake_files.c.rows)).all())
    settlements = lake.read(engine, "settlements")
    assert len(settlements) == sum(n for p, n in rows.items() if p.startswith("settlements/"))
    assert list(settlements["run_id"].unique()) == [first, second]  # in run order
    assert settlements["policy_cost"].isna().any()  # NULLs survive the files
    someone = settlements["id_number"].iloc[len(settlements) // 2]
    pd.testing.assert_frame_equal(
        lake.rows_of(engine, "settlements", "id_number", [someone]),
        settlements[settlements["id_number"] == someone].reset_index(drop=True),
    )


def test_a_failed_run_leaves_the_recorded_files_and_removes_its_own(sqlite_url, settings, monkeypatch):
    engine = connect(sqlite_url)
    run_load(GOLDEN / "load1", settings, engine, year=2025)
    before, files, stored = _recorded(engine), _on_disk(engine), lake.read(engine, "settlements")

    def broken(*_args, **_kwargs):
        raise RunError("写入失败（测试）")

    monkeypatch.setattr("monitor.load.pipeline._store_results", broken)
    with pytest.raises(RunError):
        run_load(GOLDEN / "load2", settings, engine, year=2025)
    assert _recorded(engine) == before and _on_disk(engine) == files
    pd.testing.assert_frame_equal(lake.read(engine, "settlements"), stored)


def test_the_load_lock_sweeps_files_no_run_records(sqlite_url, settings):
    engine = connect(sqlite_url)
    run_load(GOLDEN / "load1", settings, engine, year=2025)
    run_load(GOLDEN / "load2", settings, engine, year=2025)
    stray = lake.folder(engine) / "settlements" / "run-99.parquet"  # a killed run's
    stray.write_bytes(b"personal data")
    assert "identities/run-1.parquet" in _on_disk(engine)  # replaced by run 2, still there for readers
    with holding(engine, "命令行"):
        pass
    assert _on_disk(engine) == sorted(_recorded(engine))


def test_a_recorded_file_that_is_gone_is_named_in_the_error(sqlite_url, settings):
    engine = connect(sqlite_url)
    run_load(GOLDEN / "load1", settings, engine, year=2025)
    (lake.folder(engine) / "enrollment" / "run-1.parquet").unlink()
    with pytest.raises(lake.LakeError, match="数据湖文件缺失：enrollment/run-1.parquet"):
        lake.read(engine, "enrollment")
    with pytest.raises(RunError, match="数据湖文件缺失"):
        run_load(None, settings, engine, year=2025)


def test_the_lake_of_a_server_database_is_named_after_it(monkeypatch, tmp_path):
    monkeypatch.setenv(lake.ENV_LAKE, str(tmp_path / "lake"))
    engine = sa.create_engine("postgresql+psycopg://u:p@db.example:5433/monitor")
    assert lake.folder(engine) == tmp_path / "lake" / "db.example-5433-monitor"
    monkeypatch.delenv(lake.ENV_LAKE)
    assert lake.folder(sa.create_engine(f"sqlite:///{tmp_path / 'a.db'}")) == tmp_path / "a.db.lake"


def test_the_migration_moves_the_big_tables_into_the_lake(tmp_path, settings):
    """A database of revision 0009 with its rows in tables: after the upgrade the lake holds the same rows, the tables
    are gone, and a recompute gives the same figures."""
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    done = connect(f"sqlite:///{tmp_path / 'new.db'}")
    run_load(GOLDEN / "load1", settings, done, year=2025)
    run_load(GOLDEN / "load2", settings, done, year=2025)
    old = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(store.MIGRATIONS))
    with old.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0009")
    rows = {source: lake.read(done, source) for source in lake.LAKE_TABLES}
    with old.begin() as conn:  # the rows as version 0009 kept them, and the results of the same runs
        for table in store.metadata.sorted_tables:
            if table.name in ("runs", "alerts", "coverage", "outreach", "divisions", "meta"):
                store.write_frame(conn, table, store.read_table(done, table))
        for source, frame in rows.items():
            store.write_frame(conn, lake.LAKE_TABLES[source], frame)
    engine = connect(url)  # migrates
    assert not {"population", "settlements"} & set(sa.inspect(engine).get_table_names())
    for source, frame in rows.items():
        moved = lake.read(engine, source)
        key = ["run_id", "settlement_id"] if source == "settlements" else list(frame.columns)
        pd.testing.assert_frame_equal(
            moved.sort_values(key).reset_index(drop=True), frame.sort_values(key).reset_index(drop=True)
        )
    before = queries.coverage(engine, 2025, "村社区", "990101000000").drop(columns="run_id")
    run_load(None, settings, engine, year=2025)
    after = queries.coverage(engine, 2025, "村社区", "990101000000").drop(columns="run_id")
    pd.testing.assert_frame_equal(after, before)
    assert Path(str(lake.folder(engine))).is_dir()


def test_rows_come_back_in_the_files_order_whatever_the_engine_does(sqlite_url):
    """Half the persons of two runs' files (300,000 rows, several each): exactly the rows and the order of reading
    the files whole and filtering (a rule keeps a person's first row)."""
    import numpy as np

    engine = connect(sqlite_url)
    rng = np.random.default_rng(3)
    files = []
    for run_id in (1, 2):
        n = 150_000
        people = rng.integers(0, 40_000, n)
        frame = lake.empty("settlements").reindex(range(n))
        frame = frame.assign(
            settlement_id=[f"S{run_id}-{i}" for i in range(n)],
            id_number=[f"P{p:06d}" for p in people],
            name=[f"N{i}" for i in range(n)],
            settle_date="2025-01-01",
            reverses="",
        )
        files.append(lake.path_of(engine, lake.write(engine, "settlements", run_id, frame)))
    whole = pd.concat([lake.rows_in([f], "settlements", "id_number", []) for f in files])  # empty: no values
    assert whole.empty
    every = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    wanted = sorted(set(every["id_number"]))[::2]
    got = lake.rows_in(files, "settlements", "id_number", wanted)
    expected = every[every["id_number"].isin(wanted)].reset_index(drop=True)
    assert got["settlement_id"].tolist() == expected["settlement_id"].tolist()


@pytest.mark.parametrize(
    "ids",
    [
        ["99010119900101001X", "990101199001010010", "110105194912310021", "990101199001010010", "11010519491231002X"],
        ["99010119900101001X", "abc", "", "990101199001010010"],  # not all normalised: Arrow's sort of the strings
        ["99010119900101001X", None, "990101199001010010"],
        [],
    ],
)
def test_rows_are_ordered_by_id_number_as_arrows_stable_sort_orders_them(ids):
    column = lake.pa.array(ids, lake.pa.string())
    assert lake.by_id_number(column).to_pylist() == lake.pc.sort_indices(column).to_pylist()


def test_many_normalised_id_numbers_are_ordered_as_arrows_sort_orders_them():
    rng = lake.np.random.default_rng(20261202)
    areas = rng.choice(["990101", "110105", "360402"], size=20_000)
    middles = rng.integers(0, 10**11, size=20_000)
    lasts = rng.choice(list("0123456789X"), size=20_000)
    ids = [f"{area}{middle:011d}{last}" for area, middle, last in zip(areas, middles, lasts, strict=True)]
    ids += ids[:5_000]  # repeated numbers keep their rows' order
    column = lake.pa.chunked_array([ids[:9_000], ids[9_000:]], lake.pa.string())
    assert lake.by_id_number(column).to_pylist() == lake.pc.sort_indices(column).to_pylist()
