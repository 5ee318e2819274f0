"""Database and disk faults: one Chinese message on the pages (no traceback, no path), a failing health check, a
one-line error from the command line; a missing default database is reported, never made anew, except by `init`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import GOLDEN, ROOT, open_page
from streamlit.testing.v1 import AppTest

from etl import commands
from etl.cli import main
from monitor.security.access import ADMIN, Viewer
from monitor.storage import database
from monitor.storage.store import connect
from monitor.web import serve, ui


def _read_only(url: str) -> sa.Engine:
    """An engine that can read the SQLite file of `url` and never write it (SQLite's mode=ro: even root cannot)."""
    return sa.create_engine(f"sqlite:///file:{url.removeprefix('sqlite:///')}?mode=ro&uri=true")


def _config(tmp_path: Path) -> Path:
    """config.toml with the data folder and the default database in tmp_path, written relative to the project
    root as the shipped `sqlite:///data/monitor.db` is."""
    data = os.path.relpath(tmp_path / "data", ROOT)
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    assert 'url = "sqlite:///data/monitor.db"' in text and 'data_dir = "data"' in text
    text = text.replace('url = "sqlite:///data/monitor.db"', f'url = "sqlite:///{data}/monitor.db"')
    path = tmp_path / "config.toml"
    path.write_text(text.replace('data_dir = "data"', f'data_dir = "{tmp_path / "data"}"'), encoding="utf-8")
    return path


def test_a_missing_default_database_is_refused_and_init_creates_it(tmp_path, capsys):
    config = ["--config", str(_config(tmp_path))]
    written = f"{os.path.relpath(tmp_path / 'data', ROOT)}/monitor.db"
    database_file = tmp_path / "data" / "monitor.db"
    for command in (["export", "rejects", "--out", str(tmp_path / "x.csv")], ["run", "--inbox", str(GOLDEN / "load1")]):
        assert main([*config, *command]) == 1
        assert capsys.readouterr().err.strip() == (
            f"错误: 数据库 {written} 不存在（数据文件夹被移走了？）；新装请先运行 python -m etl init"
        )
        assert not database_file.exists() and not (tmp_path / "data").exists()

    assert main([*config, "init"]) == 0
    assert "已新建" in capsys.readouterr().out
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE(database_file.stat().st_mode) == 0o600
    assert main([*config, "export", "rejects", "--out", str(tmp_path / "x.csv")]) == 0
    assert main([*config, "init"]) == 0 and "已存在" in capsys.readouterr().out


def test_a_db_url_that_never_held_a_database_may_still_be_created_by_run(tmp_path):
    config = ["--config", str(_config(tmp_path))]
    url = f"sqlite:///{tmp_path / 'other.db'}"
    assert main([*config, "run", "--inbox", str(GOLDEN / "load1"), "--db", url]) == 0


def test_a_read_only_database_ends_a_command_with_one_line(sqlite_url, tmp_path, capsys, monkeypatch):
    assert main(["run", "--inbox", str(GOLDEN / "load1"), "--db", sqlite_url]) == 0
    monkeypatch.setattr(commands, "connect", lambda _url: _read_only(sqlite_url))
    capsys.readouterr()
    assert main(["export", "rejects", "--out", str(tmp_path / "x.csv"), "--db", sqlite_url]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("错误: 数据库或磁盘出错（OperationalError）") and "\n" not in err and "Traceback" not in err
    assert main(["recompute", "--db", sqlite_url]) == 1  # taking the load lock writes: refused the same way
    assert capsys.readouterr().err.strip().startswith("错误: 数据库或磁盘出错（OperationalError）")


def test_a_disk_fault_ends_a_command_with_one_line(sqlite_url, tmp_path, capsys):
    assert main(["run", "--inbox", str(GOLDEN / "load1"), "--db", sqlite_url]) == 0
    blocked = tmp_path / "file"
    blocked.write_text("")  # a file where the export's folder should be
    capsys.readouterr()
    assert main(["export", "rejects", "--out", str(blocked / "x.csv"), "--db", sqlite_url]) == 1
    assert capsys.readouterr().err.startswith("错误: 文件或磁盘出错（")


def _fault_shown(at: AppTest, before: bool = False) -> None:
    """FAULT and no exception; nothing else either unless the page showed something `before` the fault."""
    assert not at.exception
    assert [e.value for e in at.error] == [ui.FAULT]
    assert before or not at.dataframe


def test_a_read_only_database_shows_one_message_on_the_pages(own_demo_db, monkeypatch):
    monkeypatch.setenv("MONITOR_DB_URL", own_demo_db)
    monkeypatch.setattr(ui, "_engine", lambda _url: _read_only(own_demo_db))
    for page in ("5_data.py", "1_overview.py"):  # signing the click in writes to the database
        _fault_shown(open_page(own_demo_db, page, Viewer("admin", ADMIN)))


def test_a_missing_database_shows_the_message_and_is_not_created(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'moved' / 'monitor.db'}"
    monkeypatch.setenv("MONITOR_DB_URL", url)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["viewer"] = Viewer("admin", ADMIN)
    _fault_shown(at.run())
    assert not (tmp_path / "moved").exists()


def test_a_fault_in_a_page_query_shows_the_message(own_demo_db, monkeypatch):
    def full(*_args):
        raise sa.exc.OperationalError("INSERT", {}, Exception("database or disk is full"))

    full.__module__, full.__qualname__ = "monitor.storage.queries", "reject_counts"  # how ui.cached finds it

    monkeypatch.setenv("MONITOR_DB_URL", own_demo_db)
    monkeypatch.setattr("monitor.storage.queries.reject_counts", full)
    at = open_page(own_demo_db, "5_data.py", Viewer("admin", ADMIN))
    _fault_shown(at, before=True)
    assert [s.value for s in at.subheader] == ["运行记录", "拒收行"]  # the page stopped at its failed query


def test_the_health_probe_names_each_fault_without_a_path(tmp_path, sqlite_url, monkeypatch):
    connect(sqlite_url).dispose()
    assert database.health(sqlite_url) == ""
    assert database.health(f"sqlite:///{tmp_path / 'gone.db'}") == "数据库不存在"
    assert not (tmp_path / "gone.db").exists()
    ro = f"sqlite:///file:{sqlite_url.removeprefix('sqlite:///')}?mode=ro&uri=true"
    assert database.health(ro) == "数据库不能写入（OperationalError）"
    busy = connect(sqlite_url)
    with busy.begin() as conn:  # a load writing right now: the database is in use, not broken
        conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('x', 'y')")
        assert database.health(sqlite_url) == ""
    monkeypatch.setattr(database, "MIN_FREE_BYTES", 1 << 62)
    assert database.health(sqlite_url) == "磁盘空间不足"


def test_the_health_probe_checks_the_data_folder(tmp_path, sqlite_url, monkeypatch):
    connect(sqlite_url).dispose()
    monkeypatch.setenv("MONITOR_DB_URL", sqlite_url)
    monkeypatch.setenv("MONITOR_CONFIG", str(_config(tmp_path)))
    serve._settings.cache_clear()
    try:
        assert serve.problem() == "数据文件夹不存在"
        (tmp_path / "data").mkdir()
        assert serve.problem() == ""
    finally:
        serve._settings.cache_clear()


def _health(base: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_served_app_fails_its_health_check_while_the_database_is_gone(tmp_path, sqlite_url):
    import socket

    connect(sqlite_url).dispose()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = ["--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port)]
    server = subprocess.Popen(
        [sys.executable, "-m", "monitor.web.serve", *args, "--browser.gatherUsageStats", "false"],
        cwd=ROOT,
        env={**os.environ, "MONITOR_DB_URL": sqlite_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                first = _health(base)
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail("the server did not answer within 60 s")
                time.sleep(0.3)
        assert first == (200, "ok")
        path = Path(sqlite_url.removeprefix("sqlite:///"))
        path.rename(path.with_name("moved.db"))
        assert _health(base) == (503, "数据库不存在")
        path.with_name("moved.db").rename(path)
        assert _health(base) == (200, "ok")
    finally:
        server.terminate()
        server.wait(timeout=20)
