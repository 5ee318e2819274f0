"""Argument parsing and dispatch for `python -m etl`; every command calls the monitor core."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from etl.commands import (
    cmd_audit,
    cmd_backup,
    cmd_demo,
    cmd_export,
    cmd_feedback,
    cmd_init,
    cmd_push,
    cmd_run,
    cmd_schedule,
    cmd_users,
    missing_database,
)
from monitor.cases.alert_case import WorkflowError
from monitor.config import ConfigError, load_settings
from monitor.files.read import LoadError
from monitor.load.backup import BackupError
from monitor.load.inputs import SHRINK_CHECKED
from monitor.load.locks import LockBusy
from monitor.load.pipeline import RunError
from monitor.rules.alert_rules import ALERT_LEVELS
from monitor.rules.divisions import LEVELS
from monitor.security import audit, auth
from monitor.security.access import ROLES
from monitor.storage import queries
from monitor.storage.lake import LakeError
from monitor.storage.store import SchemaError


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def _year(text: str) -> int:
    if not (text.isdigit() and len(text) == 4):
        raise argparse.ArgumentTypeError(f"expected a four-digit year, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m etl", description="参保与防返贫监测: loads and exports.")
    parser.add_argument("--config", type=Path, help="settings file (default: config.toml in the project root)")
    sub = parser.add_subparsers(dest="command", required=True)

    init = sub.add_parser(
        "init", help="on a fresh install: create the data folder and the database with its schema (or migrate it)"
    )
    init.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")

    run = sub.add_parser("run", help="load a folder of files and recompute coverage, outreach and alerts")
    run.add_argument("--inbox", type=Path, required=True, help="folder holding the load's files")
    run.add_argument("--year", type=_year, help="monitoring year Y (default: config run.year)")
    run.add_argument("--as-of", type=_date, help="统计截止日 inside Y (default: Y-12-31)")
    run.add_argument("--region", help="root division code; stored with the data for later runs and exports")
    run.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")
    run.add_argument("--user", default=getpass.getuser(), help="who loads, for the audit log (default: the login name)")
    run.add_argument(
        "--wait",
        type=int,
        default=0,
        metavar="SECONDS",
        help="wait this long for a load already running (default: refuse at once)",
    )
    run.add_argument(
        "--accept-shrink",
        action="append",
        choices=SHRINK_CHECKED,
        metavar="SOURCE",
        help="apply this snapshot (population, enrollment or identities) even when it has more than run.max_shrink "
        "fewer ID numbers than the stored one, which is otherwise held (repeatable)",
    )
    run.add_argument(
        "--archive",
        action="store_true",
        help="move the folder's files to data/archive/<run id>/ (data/failed/<run id>/ on failure), "
        "as the scheduler does with data/inbox",
    )

    schedule = sub.add_parser(
        "schedule", help="run the scheduler: nightly inbox load, inbox watch, monthly draft batch"
    )
    schedule.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")

    again = sub.add_parser(
        "recompute",
        help="recompute a year's results from the stored data (no files read), "
        "e.g. after a change of config or for the previous year",
    )
    again.add_argument("--year", type=_year, help="monitoring year Y (default: config run.year)")
    again.add_argument("--as-of", type=_date, help="统计截止日 inside Y (default: Y-12-31)")
    again.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")
    again.add_argument("--user", default=getpass.getuser(), help="who recomputes, for the audit log")

    demo = sub.add_parser("demo", help="generate the fictional demo district (青禾区) as a load folder")
    demo.add_argument("--out", type=Path, required=True, help="folder to write the load into")
    demo.add_argument("--persons", type=int, default=50_000, help="residents in the register (default 50000)")
    demo.add_argument("--seed", type=int, default=1, help="random seed; the same seed gives the same files")
    demo.add_argument("--year", type=_year, help="monitoring year (default: config run.year)")
    demo.add_argument(
        "--followup",
        type=Path,
        help="also write the next month's load (identity changes, December "
        "settlements, late reversals) into this folder",
    )

    push_cmd = sub.add_parser(
        "push", help="push the alerts still 待推送 (optionally filtered) to a department as an xlsx batch"
    )
    push_cmd.add_argument("--department", required=True, help="receiving department (config workflow.departments)")
    push_cmd.add_argument(
        "--out", type=Path, required=True, help="xlsx file to write (the batch is also kept in the database)"
    )
    push_cmd.add_argument("--year", type=_year, help="year (default: the year of the latest successful run)")
    push_cmd.add_argument("--level", action="append", choices=ALERT_LEVELS, help="only this level (repeatable)")
    push_cmd.add_argument("--type", dest="alert_type", choices=["返贫预警", "致贫预警"], help="only this alert type")
    push_cmd.add_argument("--town", help="only this town (12-digit code)")
    push_cmd.add_argument("--user", default=getpass.getuser(), help="who pushes (default: the login name)")
    push_cmd.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")

    feedback_cmd = sub.add_parser("feedback", help="import a department's verification results (xlsx or csv)")
    feedback_cmd.add_argument(
        "--file", type=Path, required=True, help="columns 身份证号, 年度, 核实结果, 核实日期, 备注"
    )
    feedback_cmd.add_argument("--rejects", type=Path, help="write the rejected rows to this CSV")
    feedback_cmd.add_argument("--user", default=getpass.getuser(), help="who imports (default: the login name)")
    feedback_cmd.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")

    users = sub.add_parser("users", help="manage users: add, set roles and towns, reset passwords, list")
    action = users.add_subparsers(dest="action", required=True)
    add = action.add_parser("add", help="add a user; prints the random initial password once")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--towns", default="", help="comma-separated 12-digit town codes (default: every town)")
    add.add_argument("--name", default="", help="display name")
    role = action.add_parser("set-role", help="change a user's role and towns")
    role.add_argument("username")
    role.add_argument("--role", required=True, choices=ROLES)
    role.add_argument("--towns", default="", help="comma-separated 12-digit town codes (default: every town)")
    reset = action.add_parser("reset-password", help="give a user a new random password (printed once)")
    reset.add_argument("username")
    unlock = action.add_parser("unlock", help="end a user's lock-out after failed sign-ins")
    unlock.add_argument("username")
    totp = action.add_parser("reset-totp", help="forget a user's second factor (lost phone); bound again at sign-in")
    totp.add_argument("username")
    action.add_parser("list", help="list users, roles and towns")
    action.add_parser(
        "bootstrap",
        help="on a fresh install: create the three administrators admin, security and auditor (passwords printed once)",
    )
    action.add_parser("demo", help="create the documented demo accounts of every role (demo district only)")
    for p in action.choices.values():
        p.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")

    audit_cmd = sub.add_parser("audit", help="the audit log: verify its hash chain, archive old entries")
    audit_action = audit_cmd.add_subparsers(dest="action", required=True)
    verify = audit_action.add_parser(
        "verify",
        help="check the hash chain of the stored entries and of the archive "
        "files; exit status 1 when an entry was changed or removed",
    )
    verify.add_argument("--user", default=getpass.getuser(), help="who verifies (default: the login name)")
    audit_action.add_parser("archive", help="move entries past security.audit_retention_days to data/audit_archive/")
    for p in audit_action.choices.values():
        p.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")

    backup_cmd = sub.add_parser(
        "backup",
        help="copy the database (SQLite) and the lake files it names into a new folder, under the load lock "
        "(PostgreSQL: run pg_dump first; this copies the lake)",
    )
    backup_cmd.add_argument("--to", type=Path, required=True, help="a new folder for the backup")
    backup_cmd.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")
    backup_cmd.add_argument(
        "--user", default=getpass.getuser(), help="who backs up, for the audit log (default: login)"
    )

    export = sub.add_parser("export", help="write a CSV export (UTF-8 with BOM)")
    what = export.add_subparsers(dest="what", required=True)
    cov = what.add_parser("coverage", help="coverage of every division of one level")
    cov.add_argument("--level", required=True, choices=LEVELS[1:], help="a level from the root down")
    for name, text in (
        ("outreach", "the 未参保 outreach list"),
        ("alerts", "high-cost alerts"),
        ("watch", "the watch list (临界关注): persons close to a rule's threshold"),
        ("rejects", "every rejected input row of every load"),
    ):
        what.add_parser(name, help=text)
    for p in what.choices.values():
        p.add_argument("--out", type=Path, required=True, help="CSV file to write")
        p.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")
        p.add_argument("--user", default=getpass.getuser(), help="who exports, for the audit log (default: login)")
        if p.prog.split()[-1] != "rejects":
            p.add_argument("--year", type=_year, help="year (default: the year of the latest successful run)")
    return parser


CREATING = ("init", "demo")  # the commands that may run before the default database exists
FAULT = "数据库或磁盘出错（{kind}）：数据库只读、磁盘已满，或数据库、数据文件夹不见了？未完成本次操作"


def main(argv: list[str] | None = None) -> int:
    """Run one command; files it creates are private to the user (umask 077), the caller's mask is restored."""
    args = build_parser().parse_args(argv)
    mask = os.umask(0o077)
    try:
        settings = load_settings(args.config)
        missing = missing_database(settings)
        if missing and args.command not in CREATING and not getattr(args, "db", None):
            print(
                f"错误: 数据库 {missing} 不存在（数据文件夹被移走了？）；新装请先运行 python -m etl init",
                file=sys.stderr,
            )
            return 1
        handler = {
            "init": cmd_init,
            "run": cmd_run,
            "recompute": cmd_run,
            "schedule": cmd_schedule,
            "demo": cmd_demo,
            "push": cmd_push,
            "feedback": cmd_feedback,
            "users": cmd_users,
            "audit": cmd_audit,
            "export": cmd_export,
            "backup": cmd_backup,
        }[args.command]
        with audit.configured(settings):  # the audit key and checkpoints of this config's data folder
            return handler(args, settings)
    except (
        ConfigError,
        RunError,
        queries.QueryError,
        WorkflowError,
        LoadError,
        LockBusy,
        SchemaError,
        auth.AuthError,
        BackupError,
        LakeError,
    ) as exc:
        print(f"错误: {exc}", file=sys.stderr)
        return 1
    except sa.exc.DBAPIError as exc:  # a read-only or full database, one gone or unreachable: no traceback
        if isinstance(exc, sa.exc.IntegrityError):
            raise
        print(f"错误: {FAULT.format(kind=type(exc.orig).__name__)}", file=sys.stderr)
        return 1
    except OSError as exc:  # a full disk, a folder gone or read-only: the operator is told which file
        where = f"：{exc.filename}" if exc.filename else ""
        print(f"错误: 文件或磁盘出错（{type(exc).__name__}：{exc.strerror or exc}）{where}", file=sys.stderr)
        return 1
    finally:
        os.umask(mask)
