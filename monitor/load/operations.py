"""Loads as operations run them: under the single-load lock, from the inbox, archived or set aside on failure."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.config import Settings, audit_archive_path
from monitor.files.read import checksum
from monitor.load.locks import holding
from monitor.load.pipeline import RunError, RunResult, run_load
from monitor.security import audit
from monitor.storage import store


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
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _set_aside(staging: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():  # never overwrite an earlier folder of the same run id
        target = target.with_name(f"{target.name}-{datetime.now():%H%M%S%f}")
    shutil.move(str(staging), str(target))
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
        staging = dirs.staging / datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        staging.mkdir(parents=True)
        for path in files:
            shutil.move(str(path), str(staging / path.name))
        try:
            result = run_load(staging, settings, engine, trigger=trigger, **run_options)
        except RunError as exc:
            target = _set_aside(staging, dirs.failed / str(exc.run_id or "unrecorded"))
            (target / "失败原因.txt").write_text(f"{exc}\n", encoding="utf-8")
            _record_folder(engine, exc.run_id, target)
            raise
        _write_checksums(staging)
        target = _set_aside(staging, dirs.archive / str(result.run_id))
        _record_folder(engine, result.run_id, target)
        return result


def _record_folder(engine: Engine, run_id: int | None, folder: Path) -> None:
    if run_id is None:
        return
    with engine.begin() as conn:
        conn.execute(sa.update(store.runs).where(store.runs.c.id == run_id).values(archived_to=str(folder)))


def archive_audit(settings: Settings, engine: Engine, by: str) -> Path | None:
    """Audit entries past the retention time go to a file under data/audit_archive/ (see audit.archive)."""
    return audit.archive(engine, audit_archive_path(settings), settings.audit_retention_days, by)
