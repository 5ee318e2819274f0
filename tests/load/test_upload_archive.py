"""Uploads are archived after their run like the inbox's and removed after their retention time; the data folders
and the files of personal data in them are the owner's only (0700 and 0600)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import GOLDEN

from etl.cli import main
from monitor.files.uploads import NAMES_FILE, save_uploads
from monitor.load.operations import DataDirs, load_inbox, load_upload, remove_expired_uploads
from monitor.load.pipeline import RunError
from monitor.storage import queries, store
from monitor.storage.store import connect


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def data_settings(tmp_path, settings):
    return dataclasses.replace(settings, data_dir=str(tmp_path / "data"))


def _upload(data_settings, load: str = "load1") -> Path:
    """An upload as the data page saves it (default file modes, as uploads.py leaves them)."""
    files = [(p.name, p.read_bytes()) for p in sorted((GOLDEN / load).iterdir())]
    return save_uploads(files, Path(data_settings.data_dir) / "uploads", data_settings)


def test_an_uploaded_folder_is_archived_after_its_run_owner_only(data_settings, sqlite_url):
    engine = connect(sqlite_url)
    folder = _upload(data_settings)
    result = load_upload(folder, data_settings, engine, "页面上传（admin）", year=2025, trigger="页面上传")
    archived = Path(data_settings.data_dir) / "archive" / str(result.run_id)
    assert not folder.exists() and (archived / NAMES_FILE).is_file() and (archived / "SHA256SUMS").is_file()
    assert queries.runs(engine)["archived_to"].iloc[0] == str(archived)
    assert _mode(archived) == 0o700 and _mode(archived.parent) == 0o700
    assert {_mode(p) for p in archived.iterdir()} == {0o600}
    files = queries.run_files(engine, result.run_id)  # under the user's own names, with their counts
    assert "population_2025.csv" in set(files["file"]) and (files["rows_read"] > 0).all()


def test_an_upload_is_owner_only_from_the_start(data_settings):
    folder = _upload(data_settings)
    assert _mode(folder) == 0o700 and _mode(folder.parent) == 0o700
    assert {_mode(p) for p in folder.iterdir()} == {0o600}


def test_a_failed_upload_goes_to_failed_and_says_where(data_settings, sqlite_url):
    engine = connect(sqlite_url)
    folder = save_uploads(
        [("population_x.csv", "姓名\n张三\n".encode())], Path(data_settings.data_dir) / "uploads", data_settings
    )
    with pytest.raises(RunError) as failure:
        load_upload(folder, data_settings, engine, "页面上传（admin）", year=2025, trigger="页面上传")
    failed = Path(data_settings.data_dir) / "failed" / str(failure.value.run_id)
    assert failure.value.folder == failed and (failed / "失败原因.txt").is_file() and not folder.exists()
    assert {_mode(p) for p in failed.iterdir()} == {0o600} and _mode(failed) == 0o700


def test_a_folder_outside_the_data_folder_is_loaded_where_it_is(data_settings, sqlite_url, tmp_path):
    folder = tmp_path / "elsewhere"
    shutil.copytree(GOLDEN / "load1", folder)
    load_upload(folder, data_settings, connect(sqlite_url), "页面上传（admin）", year=2025)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in (GOLDEN / "load1").iterdir())


def _aged(folder: Path, days: float, uploaded: bool = True) -> Path:
    """A folder set aside `days` ago; an uploaded one holds the upload's list of original names."""
    folder.mkdir(parents=True)
    (folder / "population_00_ab.csv").write_text("x")
    if uploaded:
        (folder / NAMES_FILE).write_text("population_00_ab.csv\tpopulation.csv\n", encoding="utf-8")
    past = time.time() - days * 86400
    os.utime(folder, (past, past))
    return folder


def test_uploads_past_their_retention_are_removed_and_the_history_says_so(data_settings, sqlite_url):
    data = Path(data_settings.data_dir)
    engine = connect(sqlite_url)
    old = _aged(data / "archive" / "1", 91)
    recent = _aged(data / "archive" / "2", 89)
    inbox_old = _aged(data / "archive" / "3", 400, uploaded=False)  # the inbox's archive: kept
    failed_old = _aged(data / "failed" / "4", 95)
    left_old = _aged(data / "uploads" / "20250101-000000-000000", 100)  # saved, its load never ran
    with engine.begin() as conn:
        conn.execute(store.runs.insert().values(status="ok", archived_to=str(old)))
    removed = remove_expired_uploads(data_settings, engine=engine)
    assert sorted(removed) == sorted([old, failed_old, left_old])
    assert recent.exists() and inbox_old.exists() and not old.exists()
    note = queries.runs(engine)["archived_to"].iloc[0]
    assert note.startswith("已删除（") and "保留期 90 天" in note


def test_a_fresh_upload_waits_a_day_whatever_the_retention(data_settings):
    fresh = _aged(Path(data_settings.data_dir) / "uploads" / "20260101-000000-000000", 0.5)
    zero = dataclasses.replace(data_settings, upload_retention_days=0)
    assert remove_expired_uploads(zero, now=datetime.now()) == []
    assert remove_expired_uploads(zero, now=datetime.now() + timedelta(days=2)) == [fresh]


def test_the_database_is_created_owner_only_and_an_older_one_tightened(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'monitor.db'}"
    engine = connect(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE probe (x)")
    database = tmp_path / "new" / "monitor.db"
    assert _mode(database.parent) == 0o700 and _mode(database) == 0o600
    assert _mode(database.with_name("monitor.db-wal")) == 0o600
    engine.dispose()
    database.chmod(0o644)
    connect(url).dispose()
    assert _mode(database) == 0o600


def test_inbox_staging_and_archives_are_owner_only(tmp_path, sqlite_url, settings):
    dirs = DataDirs.under(tmp_path / "data")
    dirs.inbox.mkdir(parents=True)
    for path in (GOLDEN / "load1").iterdir():
        shutil.copy(path, dirs.inbox / path.name)
        (dirs.inbox / path.name).chmod(0o644)
    result = load_inbox(settings, connect(sqlite_url), dirs, "收件箱监测", settle_seconds=0, year=2025)
    archived = dirs.archive / str(result.run_id)
    assert _mode(dirs.staging) == 0o700 and _mode(dirs.archive) == 0o700 and _mode(archived) == 0o700
    assert {_mode(p) for p in archived.iterdir()} == {0o600}


def test_the_command_line_makes_private_files_and_restores_the_mask(sqlite_url, tmp_path):
    assert main(["run", "--inbox", str(GOLDEN / "load1"), "--db", sqlite_url]) == 0
    before = os.umask(0o022)
    try:
        out = tmp_path / "rejects.csv"
        assert main(["export", "rejects", "--out", str(out), "--db", sqlite_url]) == 0
        assert _mode(out) == 0o600 and os.umask(0o022) == 0o022
    finally:
        os.umask(before)
