"""`etl backup`: the database and the lake files it names, together; restored side by side, they load on."""

from __future__ import annotations

import shutil

import pandas as pd
from conftest import GOLDEN

from etl.cli import main
from monitor.security import audit
from monitor.storage import lake, queries
from monitor.storage.store import connect

YEAR = ["--year", "2025"]


def _figures(engine) -> pd.DataFrame:
    return queries.coverage(engine, 2025, "村社区", "990101000000").drop(columns="run_id")


def test_a_backup_restores_beside_itself_and_loads_on(db_url, tmp_path, capsys):
    engine = connect(db_url)
    assert main(["run", "--inbox", str(GOLDEN / "load1"), *YEAR, "--db", db_url]) == 0
    assert main(["run", "--inbox", str(GOLDEN / "load2"), *YEAR, "--db", db_url]) == 0
    settlements, figures = lake.read(engine, "settlements"), _figures(engine)
    target = tmp_path / "backup-1"
    assert main(["backup", "--to", str(target), "--db", db_url, "--user", "wang"]) == 0
    said = capsys.readouterr().out
    # the four snapshots, each load's settlements, and the reversals of load 2 checked after its other rows (its tail)
    assert "备份完成" in said and "7 个文件" in said
    assert (target / "lake" / "settlements" / "run-2.parquet").is_file()
    assert (target / "lake" / "settlements" / "run-2.tail.parquet").is_file()
    assert {p.stat().st_mode & 0o777 for p in (target / "lake").rglob("*.parquet")} == {0o600}
    entry = audit.entries(engine).iloc[0]  # newest first
    assert (entry["action"], entry["username"], entry["rows"]) == ("备份", "wang", 7)
    assert main(["backup", "--to", str(target), "--db", db_url]) == 1  # never over an earlier backup
    assert "已存在" in capsys.readouterr().err

    if engine.url.get_backend_name() != "sqlite":
        return  # the database itself is pg_dump's; the lake is as checked above
    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copyfile(target / "monitor.db", restored / "monitor.db")
    shutil.copytree(target / "lake", restored / "monitor.db.lake")
    url = f"sqlite:///{restored / 'monitor.db'}"
    again = connect(url)
    pd.testing.assert_frame_equal(lake.read(again, "settlements"), settlements)
    pd.testing.assert_frame_equal(_figures(again), figures)
    assert main(["recompute", *YEAR, "--db", url]) == 0
    pd.testing.assert_frame_equal(_figures(again), figures)
