"""Side effects live in the core: a load and an export leave an audit entry whatever starts them."""

from __future__ import annotations

from etl.cli import main
from monitor.security import audit
from monitor.storage.store import connect
from tests.conftest import GOLDEN


def test_a_command_line_load_is_audited_with_who_the_sources_and_the_outcome(sqlite_url):
    assert main(["run", "--inbox", str(GOLDEN / "load1"), "--db", sqlite_url, "--user", "wang"]) == 0
    entry = audit.entries(connect(sqlite_url), action="载入").iloc[0]
    assert (entry["username"], entry["object"], entry["result"]) == ("wang", "运行 #1", "成功")
    assert "命令行" in entry["detail"] and "population" in entry["detail"] and "settlements" in entry["detail"]
    assert entry["rows"] >= 6  # the folder's files


def test_a_failed_command_line_load_is_audited_as_failed(sqlite_url, tmp_path):
    (tmp_path / "population_x.csv").write_text("姓名\n张三\n", encoding="utf-8")
    assert main(["run", "--inbox", str(tmp_path), "--db", sqlite_url, "--user", "wang"]) == 1
    entry = audit.entries(connect(sqlite_url), action="载入").iloc[0]
    assert entry["username"] == "wang" and entry["result"].startswith("失败：")


def test_a_recompute_is_audited(sqlite_url):
    assert main(["run", "--inbox", str(GOLDEN / "load1"), "--db", sqlite_url]) == 0
    assert main(["recompute", "--year", "2025", "--db", sqlite_url, "--user", "li"]) == 0
    entry = audit.entries(connect(sqlite_url), action="载入").iloc[0]
    assert entry["username"] == "li" and "重算" in entry["detail"]


def test_command_line_exports_are_audited_and_neutralised(sqlite_url, tmp_path):
    assert main(["run", "--inbox", str(GOLDEN / "load1"), "--db", sqlite_url]) == 0
    for what, extra in (("outreach", []), ("alerts", []), ("rejects", []), ("coverage", ["--level", "乡镇"])):
        out = tmp_path / f"{what}.csv"
        assert main(["export", what, *extra, "--out", str(out), "--db", sqlite_url, "--user", "zhao"]) == 0
        entry = audit.entries(connect(sqlite_url), action="导出").iloc[0]
        lines = out.read_text(encoding="utf-8-sig").splitlines()
        assert (entry["username"], entry["rows"]) == ("zhao", len(lines) - 1), what
        assert out.read_bytes().startswith(b"\xef\xbb\xbf")
