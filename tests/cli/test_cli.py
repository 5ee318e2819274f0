"""The command line: failed loads change nothing; messages name file and header; help lists every command."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import GOLDEN, ROOT

from etl.cli import build_parser, main
from monitor.config import Settings
from monitor.storage import queries
from monitor.storage.store import connect


def _export(db, tmp_path, *what):
    out = tmp_path / "out.csv"
    assert main(["export", *what, "--out", str(out), "--db", db]) == 0
    return out.read_bytes()


def test_missing_required_column_fails_the_run_and_changes_nothing(sqlite_url, tmp_path, capsys):
    assert (
        main(["run", "--inbox", str(GOLDEN / "load1"), "--year", "2025", "--as-of", "2025-06-30", "--db", sqlite_url])
        == 0
    )
    before = _export(sqlite_url, tmp_path, "coverage", "--level", "村社区"), _export(sqlite_url, tmp_path, "rejects")
    bad = tmp_path / "bad"
    shutil.copytree(GOLDEN / "load2", bad)
    (bad / "population_x.csv").write_text(
        "身份证号,姓名,村代码\n990101196005010119,张三,990101001001\n", encoding="utf-8"
    )
    capsys.readouterr()
    code = main(["run", "--inbox", str(bad), "--year", "2025", "--as-of", "2025-06-30", "--db", sqlite_url])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code != 0
    assert "population_x.csv" in err and "村社区代码" in err and "村代码" in err and err.startswith("错误")
    after = _export(sqlite_url, tmp_path, "coverage", "--level", "村社区"), _export(sqlite_url, tmp_path, "rejects")
    assert before == after
    runs = queries.runs(connect(sqlite_url))
    assert runs.iloc[0]["status"] == "failed" and "村社区代码" in runs.iloc[0]["message"]


def test_unsupported_file_type_is_refused(sqlite_url, tmp_path, capsys):
    (tmp_path / "enrollment_2025.xls").write_bytes(b"not really")
    assert main(["run", "--inbox", str(tmp_path), "--db", sqlite_url]) != 0
    assert "enrollment_2025.xls" in capsys.readouterr().err


def test_level_above_the_root_is_refused(sqlite_url, tmp_path, capsys):
    main(["run", "--inbox", str(GOLDEN / "load1"), "--year", "2025", "--db", sqlite_url])
    assert main(["export", "coverage", "--level", "市", "--out", str(tmp_path / "x.csv"), "--db", sqlite_url]) != 0
    assert "区县|乡镇|村社区" in capsys.readouterr().err


def test_region_is_stored_with_the_data(sqlite_url, tmp_path):
    main(["run", "--inbox", str(GOLDEN / "load1"), "--year", "2025", "--region", "990101", "--db", sqlite_url])
    assert queries.root(connect(sqlite_url), Settings(region_code="000000000000")) == "990101000000"


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse has no public accessor
    for name, _sub in commands.items():
        assert f"python -m etl {name}" in readme
    exports = commands["export"]._subparsers._group_actions[0].choices  # noqa: SLF001
    for what in exports:
        assert f"python -m etl export {what}" in readme


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["export", "coverage", "--help"]])
def test_help_runs(args):
    done = subprocess.run([sys.executable, "-m", "etl", *args], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and "usage" in done.stdout


def test_undecodable_csv_names_the_file(sqlite_url, tmp_path, capsys):
    (tmp_path / "deaths_bad.csv").write_bytes("身份证号,死亡日期\n".encode("utf-16"))
    assert main(["run", "--inbox", str(tmp_path), "--db", sqlite_url]) != 0
    assert "deaths_bad.csv" in capsys.readouterr().err.splitlines()[-1]
