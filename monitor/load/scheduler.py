"""The scheduler service (APScheduler): nightly inbox load, the inbox watch, the monthly draft push batch, the
nightly audit archive and chain verification, and the hourly audit checkpoint (written outside the database).

Jobs live in the database (table `scheduler_jobs`), so a restart keeps them and their next run times; a job
missed while the service was down runs on start when it is late by at most `misfire_grace_seconds`.
Job functions take only plain values (config path, database URL) so the job store can keep them. Each runs with
its config's audit key, checkpoint file and syslog target (audit.configured).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from monitor.cases import push
from monitor.config import Settings, audit_archive_path, data_path, load_settings
from monitor.load.locks import LockBusy
from monitor.load.operations import DataDirs, archive_audit, load_inbox, remove_expired_uploads
from monitor.load.pipeline import RunError
from monitor.security import audit
from monitor.storage import queries
from monitor.storage.store import connect

log = logging.getLogger("monitor.load.scheduler")  # messages name runs and files, never persons
JOBS_TABLE = "scheduler_jobs"


@dataclass(frozen=True)
class JobSpec:
    id: str
    name: str
    func: object
    trigger: object


@contextmanager
def _context(config: str | None, url: str) -> Iterator[tuple[Settings, Engine]]:
    """A job's settings and engine, with the config's audit trail in force; the engine is disposed after."""
    settings = load_settings(config or None)
    engine = connect(url)
    try:
        with audit.configured(settings):
            yield settings, engine
    finally:
        engine.dispose()


def nightly_load(config: str | None, url: str) -> None:
    """Load whatever has settled in the inbox, waiting for a running load if need be."""
    _load(config, url, "定时任务", wait=True)


def watch_inbox(config: str | None, url: str) -> None:
    """Load settled inbox files; when another load runs, leave them for the next look."""
    _load(config, url, "收件箱监测", wait=False)


def _load(config: str | None, url: str, trigger: str, wait: bool) -> None:
    with _context(config, url) as (settings, engine):
        dirs = DataDirs.under(data_path(settings))
        try:
            result = load_inbox(
                settings,
                engine,
                dirs,
                trigger,
                settings.settle_seconds,
                wait_seconds=settings.lock_wait_seconds if wait else 0,
                user="定时任务",
            )
            if result is not None:
                log.info("%s: run #%s loaded", trigger, result.run_id)
        except LockBusy as exc:
            log.info("%s: %s", trigger, exc)
        except RunError as exc:  # recorded in the run history; the files are in failed/<run id>/
            log.warning("%s: run #%s failed: %s", trigger, exc.run_id, exc)
        if wait:  # the nightly job: uploads past their retention go (issue 24)
            removed = remove_expired_uploads(settings, engine=engine)
            if removed:
                log.info("%s: %s expired upload folders removed", trigger, len(removed))


def monthly_draft(config: str | None, url: str) -> None:
    """Prepare the month's draft push batch of the alerts still 待推送 (a person approves it on the 预警 page)."""
    with _context(config, url) as (settings, engine):
        year = queries.default_year(engine, settings.year)
        draft = push.prepare_draft(engine, year, settings.draft_department)
        log.info("monthly draft: %s", f"#{draft}" if draft else "nothing to push")


def audit_maintenance(config: str | None, url: str) -> None:
    """Archive audit entries past the retention time, then verify the chain (the result shows on 安全管理)."""
    with _context(config, url) as (settings, engine):
        archive_audit(settings, engine, by="定时任务")
        result = audit.verify_and_record(engine, by="定时任务", archives=audit_archive_path(settings))
        (log.info if result.ok else log.error)("audit chain: %s", result.message)


def audit_checkpoint(config: str | None, url: str) -> None:
    """The audit chain's count and head, appended to the checkpoint file outside the database (and sent to syslog
    when configured): entries cut from the database after it no longer verify."""
    with _context(config, url) as (_settings, engine):
        line = audit.checkpoint(engine, "每小时")
        log.info("audit checkpoint: %s", f"entry {line['last_id']}" if line else "empty chain")


def job_specs(settings) -> list[JobSpec]:
    tz = settings.timezone
    return [
        JobSpec(
            "nightly_load", "定时载入收件箱", nightly_load, CronTrigger.from_crontab(settings.load_cron, timezone=tz)
        ),
        JobSpec("watch_inbox", "收件箱监测", watch_inbox, IntervalTrigger(seconds=settings.watch_seconds, timezone=tz)),
        JobSpec(
            "monthly_draft", "每月推送草稿", monthly_draft, CronTrigger.from_crontab(settings.draft_cron, timezone=tz)
        ),
        JobSpec(
            "audit_maintenance",
            "审计归档与校验",
            audit_maintenance,
            CronTrigger.from_crontab(settings.audit_cron, timezone=tz),
        ),
        JobSpec("audit_checkpoint", "审计检查点", audit_checkpoint, IntervalTrigger(hours=1, timezone=tz)),
    ]


def build(settings, url: str, config: str | None) -> BackgroundScheduler:
    """A started scheduler whose jobs match the config. Jobs already stored with the same trigger are kept as they
    are (with their next run time, so a run missed during a restart is caught up within the grace time)."""
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=url, tablename=JOBS_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": settings.misfire_grace_seconds},
        timezone=settings.timezone,
    )
    scheduler.start(paused=True)
    for spec in job_specs(settings):
        stored = scheduler.get_job(spec.id)
        wanted = {"config": config, "url": url}
        if stored is None or str(stored.trigger) != str(spec.trigger) or stored.kwargs != wanted:
            scheduler.add_job(
                spec.func,
                spec.trigger,
                id=spec.id,
                name=spec.name,
                replace_existing=True,
                kwargs={"config": config, "url": url},
            )
    scheduler.resume()
    return scheduler
