"""Loads as operations run them: under the single-load lock, from the inbox or an upload, archived or set aside on
failure; uploads removed after their retention time. Data folders are made owner-only (0700) and the files set aside
in them (personal data) owner-only too (0600)."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.config import Settings, audit_archive_path, data_path
from monitor.files.read import checksum
from monitor.files.uploads import NAMES_FILE
from monitor.load.locks import holding
from monitor.load.pipeline import RunError, RunResult, run_load
from monitor.security import audit
from monitor.storage import store

FAILURE_FILE = "失败原因.txt"


@dataclass(frozen=True)
class DataDirs:
    """Where the inbox is and where processed files go (all under the configured data folder)."""

    inbox: Path
    archive: Path
    failed: Path
    staging: Path

    @classmethod
    def under(cls, data: Path, inbox: Path | None = None) -> DataDirs:
        return cls(inbox or data / "inbox", data / "archive", data / "failed", data / "staging")


def private_folder(path: Path) -> Path:
    """The folder, made with its missing parents owner-only (0700); an existing one is left as it is."""
    for folder in reversed([p for p in (path, *path.parents) if not p.exists()]):
        folder.mkdir(mode=0o700, exist_ok=True)
    return path


def _private_tree(folder: Path) -> None:
    """Owner-only access to a folder set aside and the files in it (uploads were saved with the default mode)."""
    folder.chmod(0o700)
    for path in folder.iterdir():
        if path.is_file():
            path.chmod(0o600)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def settled_files(inbox: Path, settle_seconds: float, now: float | None = None) -> list[Path]:
    """Files of the inbox that have not changed for settle_seconds (a copy still being written is left alone)."""
    if not inbox.is_dir():
        return []
    now = time.time() if now is None else now
    return sorted(
        p
        for p in inbox.iterdir()
        if p.is_file() and not p.name.startswith((".", "~$")) and now - p.stat().st_mtime >= settle_seconds
    )


def locked_run(
    inbox: Path | None, settings: Settings, engine: Engine, holder: str, wait_seconds: float = 0, **kwargs
) -> RunResult:
    """run_load under the single-load lock (LockBusy when another load holds it past wait_seconds)."""
    with holding(engine, holder, wait_seconds=wait_seconds):
        return run_load(inbox, settings, engine, **kwargs)


def _write_checksums(folder: Path) -> None:
    lines = [f"{checksum(p)}  {p.name}" for p in sorted(folder.iterdir()) if p.is_file() and p.name != "SHA256SUMS"]
    _write_private(folder / "SHA256SUMS", "\n".join(lines) + "\n")


def _set_aside(staging: Path, target: Path) -> Path:
    private_folder(target.parent)
    if target.exists():  # never overwrite an earlier folder of the same run id
        target = target.with_name(f"{target.name}-{datetime.now():%H%M%S%f}")
    shutil.move(str(staging), str(target))
    _private_tree(target)
    return target


def _archive(engine: Engine, dirs: DataDirs, folder: Path, result: RunResult | RunError) -> Path:
    """Move a loaded folder to archive/<run id>/ with SHA256SUMS, or a failed one to failed/<run id>/ with
    失败原因.txt, and record where it went in the run history."""
    if isinstance(result, RunError):
        target = _set_aside(folder, dirs.failed / str(result.run_id or "unrecorded"))
        _write_private(target / FAILURE_FILE, f"{result}\n")
    else:
        (folder / FAILURE_FILE).unlink(missing_ok=True)  # an upload held before, now run with the shrink accepted
        _write_checksums(folder)
        target = _set_aside(folder, dirs.archive / str(result.run_id))
    _record_folder(engine, result.run_id, target)
    return target


def load_inbox(
    settings: Settings,
    engine: Engine,
    dirs: DataDirs,
    trigger: str,
    settle_seconds: float,
    wait_seconds: float = 0,
    **run_options,
) -> RunResult | None:
    """Load the settled files of the inbox, if any. They move out of the inbox first, so files dropped in while the
    run goes on wait for the next one; afterwards they sit in archive/<run id>/ with SHA256SUMS, or, when the load
    fails, in failed/<run id>/ with 失败原因.txt. Returns None when there was nothing to load. run_options go to
    run_load (year, as_of, region, user, progress, accept_shrink)."""
    with holding(engine, f"{trigger}（收件箱）", wait_seconds=wait_seconds):
        files = settled_files(dirs.inbox, settle_seconds)
        if not files:
            return None
        staging = private_folder(dirs.staging / datetime.now().strftime("%Y%m%d-%H%M%S-%f"))
        for path in files:
            shutil.move(str(path), str(staging / path.name))
        try:
            result = run_load(staging, settings, engine, trigger=trigger, **run_options)
        except RunError as exc:
            exc.folder = _archive(engine, dirs, staging, exc)
            raise
        _archive(engine, dirs, staging, result)
        return result


def load_upload(
    folder: Path, settings: Settings, engine: Engine, holder: str, wait_seconds: float = 0, **run_options
) -> RunResult:
    """Load a folder uploaded on the data page (or one of its uploads set aside before, run again with a shrink
    accepted) under the single-load lock. A folder inside the data folder is then archived as the inbox's is: in
    archive/<run id>/, or failed/<run id>/ on failure (RunError.folder says where); one elsewhere stays put. Uploads
    past their retention time are removed first."""
    remove_expired_uploads(settings, engine=engine)
    dirs = DataDirs.under(data_path(settings))
    ours = folder.resolve().is_relative_to(data_path(settings).resolve())
    with holding(engine, holder, wait_seconds=wait_seconds):
        try:
            result = run_load(folder, settings, engine, **run_options)
        except RunError as exc:
            if ours:
                exc.folder = _archive(engine, dirs, folder, exc)
            raise
        if ours:
            _archive(engine, dirs, folder, result)
        return result


def remove_expired_uploads(settings: Settings, now: datetime | None = None, engine: Engine | None = None) -> list[Path]:
    """Remove the uploaded folders (those holding the upload's list of original names) older than
    upload_retention_days: archived under archive/ or failed/, or left in uploads/ by a load that never ran (these
    after a day at least, so a load about to start keeps its files). Age is the folder's last change: when it was
    set aside. With an engine, the run history says so where it named the folder. Returns the folders removed.
    The scheduler calls it nightly; each load started on the data page calls it too."""
    data = data_path(settings)
    now = now or datetime.now()
    removed = []
    for where, days in (("archive", 0), ("failed", 0), ("uploads", 1)):
        limit = (now - timedelta(days=max(settings.upload_retention_days, days))).timestamp()
        parent = data / where
        for folder in sorted(parent.iterdir()) if parent.is_dir() else []:
            if folder.is_dir() and (folder / NAMES_FILE).is_file() and folder.stat().st_mtime < limit:
                shutil.rmtree(folder)
                removed.append(folder)
    if engine is not None and removed:
        note = f"已删除（{now:%Y-%m-%d} 超过上传文件保留期 {settings.upload_retention_days} 天）"
        with engine.begin() as conn:
            conn.execute(
                sa.update(store.runs)
                .where(store.runs.c.archived_to.in_([str(f) for f in removed]))
                .values(archived_to=note)
            )
    return removed


def _record_folder(engine: Engine, run_id: int | None, folder: Path) -> None:
    if run_id is None:
        return
    with engine.begin() as conn:
        conn.execute(sa.update(store.runs).where(store.runs.c.id == run_id).values(archived_to=str(folder)))


def archive_audit(settings: Settings, engine: Engine, by: str) -> Path | None:
    """Audit entries past the retention time go to a file under data/audit_archive/ (see audit.archive)."""
    return audit.archive(engine, audit_archive_path(settings), settings.audit_retention_days, by)
