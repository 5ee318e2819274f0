"""Argument parsing and dispatch for `python -m etl`; every command calls the monitor core."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from datetime import date
from pathlib import Path

from monitor import audit, auth, exports, queries, workflow
from monitor.access import ROLES
from monitor.config import ConfigError, Settings, audit_archive_path, data_path, database_url, load_settings
from monitor.divisions import LEVELS
from monitor.locks import LockBusy
from monitor.operations import DataDirs, archive_audit, load_inbox, locked_run
from monitor.pipeline import RunError
from monitor.read import LoadError
from monitor.store import SchemaError, connect


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

    run = sub.add_parser("run", help="load a folder of files and recompute coverage, outreach and alerts")
    run.add_argument("--inbox", type=Path, required=True, help="folder holding the load's files")
    run.add_argument("--year", type=_year, help="monitoring year Y (default: config run.year)")
    run.add_argument("--as-of", type=_date, help="统计截止日 inside Y (default: Y-12-31)")
    run.add_argument("--region", help="root division code; stored with the data for later runs and exports")
    run.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")
    run.add_argument("--wait", type=int, default=0, metavar="SECONDS",
                     help="wait this long for a load already running (default: refuse at once)")
    run.add_argument("--archive", action="store_true",
                     help="move the folder's files to data/archive/<run id>/ (data/failed/<run id>/ on failure), "
                          "as the scheduler does with data/inbox")

    schedule = sub.add_parser("schedule",
                              help="run the scheduler: nightly inbox load, inbox watch, monthly draft batch")
    schedule.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")

    again = sub.add_parser("recompute", help="recompute a year's results from the stored data (no files read), "
                                             "e.g. after a change of config or for the previous year")
    again.add_argument("--year", type=_year, help="monitoring year Y (default: config run.year)")
    again.add_argument("--as-of", type=_date, help="统计截止日 inside Y (default: Y-12-31)")
    again.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")

    demo = sub.add_parser("demo", help="generate the fictional demo district (青禾区) as a load folder")
    demo.add_argument("--out", type=Path, required=True, help="folder to write the load into")
    demo.add_argument("--persons", type=int, default=50_000, help="residents in the register (default 50000)")
    demo.add_argument("--seed", type=int, default=1, help="random seed; the same seed gives the same files")
    demo.add_argument("--year", type=_year, help="monitoring year (default: config run.year)")
    demo.add_argument("--followup", type=Path, help="also write the next month's load (identity changes, December "
                                                    "settlements, late reversals) into this folder")

    push = sub.add_parser("push",
                          help="push the alerts still 待推送 (optionally filtered) to a department as an xlsx batch")
    push.add_argument("--department", required=True, help="receiving department (config workflow.departments)")
    push.add_argument("--out", type=Path, required=True,
                      help="xlsx file to write (the batch is also kept in the database)")
    push.add_argument("--year", type=_year, help="year (default: the year of the latest successful run)")
    push.add_argument("--level", action="append", choices=["红", "橙", "黄"], help="only this level (repeatable)")
    push.add_argument("--type", dest="alert_type", choices=["返贫预警", "致贫预警"], help="only this alert type")
    push.add_argument("--town", help="only this town (12-digit code)")
    push.add_argument("--user", default=getpass.getuser(), help="who pushes (default: the login name)")
    push.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")

    feedback = sub.add_parser("feedback", help="import a department's verification results (xlsx or csv)")
    feedback.add_argument("--file", type=Path, required=True, help="columns 身份证号, 年度, 核实结果, 核实日期, 备注")
    feedback.add_argument("--rejects", type=Path, help="write the rejected rows to this CSV")
    feedback.add_argument("--user", default=getpass.getuser(), help="who imports (default: the login name)")
    feedback.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")

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
    action.add_parser("bootstrap", help="on a fresh install: create the three administrators admin, security and "
                                        "auditor (passwords printed once)")
    action.add_parser("demo", help="create the documented demo accounts of every role (demo district only)")
    for p in action.choices.values():
        p.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")

    audit_cmd = sub.add_parser("audit", help="the audit log: verify its hash chain, archive old entries")
    audit_action = audit_cmd.add_subparsers(dest="action", required=True)
    verify = audit_action.add_parser("verify", help="check the hash chain of the stored entries and of the archive "
                                                    "files; exit status 1 when an entry was changed or removed")
    verify.add_argument("--user", default=getpass.getuser(), help="who verifies (default: the login name)")
    audit_action.add_parser("archive", help="move entries past security.audit_retention_days to data/audit_archive/")
    for p in audit_action.choices.values():
        p.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")

    export = sub.add_parser("export", help="write a CSV export (UTF-8 with BOM)")
    what = export.add_subparsers(dest="what", required=True)
    cov = what.add_parser("coverage", help="coverage of every division of one level")
    cov.add_argument("--level", required=True, choices=LEVELS[1:], help="a level from the root down")
    for name, text in (("outreach", "the 未参保 outreach list"), ("alerts", "high-cost alerts"),
                       ("rejects", "every rejected input row of every load")):
        what.add_parser(name, help=text)
    for p in what.choices.values():
        p.add_argument("--out", type=Path, required=True, help="CSV file to write")
        p.add_argument("--db", help="SQLAlchemy database URL (default: config database.url)")
        if p.prog.split()[-1] != "rejects":
            p.add_argument("--year", type=_year, help="year (default: the year of the latest successful run)")
    return parser


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    engine = connect(database_url(settings, args.db))
    inbox = getattr(args, "inbox", None)
    if getattr(args, "archive", False):
        dirs = DataDirs.under(data_path(settings), inbox=args.inbox)
        result = load_inbox(settings, engine, dirs, "命令行", settle_seconds=0, wait_seconds=args.wait, year=args.year,
                            as_of=args.as_of, region=args.region, progress=_progress)
        if result is None:
            print(f"{args.inbox}: 没有可载入的文件")
            return 0
        print(f"文件已归档到 {data_path(settings) / 'archive' / str(result.run_id)}")
    else:
        result = locked_run(inbox, settings, engine, "命令行", wait_seconds=getattr(args, "wait", 0), year=args.year,
                            as_of=args.as_of, region=getattr(args, "region", None),
                            trigger="命令行" if inbox else "重算", progress=_progress)
    for source, files in result.counts.items():
        for label, (read, loaded, rejected) in files.items():
            print(f"{source:12} {label}: 读入 {read}，载入 {loaded}，拒收 {rejected}")
    print(f"运行 #{result.run_id} 完成：{result.year} 年（截至 {result.as_of}），区划 {result.root}，"
          f"未参保名单 {result.outreach} 人，预警 {result.alerts} 人")
    return 0


def cmd_schedule(args: argparse.Namespace, settings: Settings) -> int:
    import logging
    import signal
    import threading

    from monitor import scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    url = database_url(settings, args.db)
    connect(url).dispose()  # the schema (and its migrations) before the jobs
    service = scheduler.build(settings, url, str(args.config) if args.config else None)
    for job in service.get_jobs():
        print(f"{job.name}（{job.id}）：下次运行 {job.next_run_time:%Y-%m-%d %H:%M:%S %Z}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    service.shutdown(wait=True)
    print("调度已停止", flush=True)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from monitor.demo.generate import generate  # geopandas is imported only when a demo is made

    if args.persons < 1000:
        raise RunError(f"--persons: at least 1000, got {args.persons}")
    report = generate(args.out, settings, persons=args.persons, seed=args.seed, year=args.year,
                      followup=args.followup, progress=_progress)
    rows = "，".join(f"{k} {v}" for k, v in report.rows.items())
    print(f"演示数据已写入 {', '.join(str(f) for f in report.folders)}：{rows}；"
          f"其中故意写错 {len(report.rejects)} 行（见 docs/demo.md）")
    return 0


def cmd_push(args: argparse.Namespace, settings: Settings) -> int:
    engine = connect(database_url(settings, args.db))
    year = args.year or queries.default_year(engine, settings.year)
    alerts = queries.alerts(engine, year)
    chosen = alerts[alerts["state"] == "待推送"]
    if args.level:
        chosen = chosen[chosen["level"].isin(args.level)]
    if args.alert_type:
        chosen = chosen[chosen["alert_type"] == args.alert_type]
    if args.town:
        chosen = chosen[chosen["village_code"].str.startswith(args.town.ljust(12, "0")[:9])]
    filters = f"等级={','.join(args.level or [])} 类型={args.alert_type or ''} 乡镇={args.town or ''}"
    names = queries.division_names(engine)
    result = workflow.push(engine, year, chosen["id_number"].tolist(), args.department, args.user, names, settings,
                           filters=filters)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(result.content)
    print(f"推送批次 {result.batch_no}：{result.rows} 人推送给{args.department}，文件 {args.out}")
    return 0


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    engine = connect(database_url(settings, args.db))
    root = queries.root(engine, settings.region_code)
    result = workflow.import_feedback(engine, args.file, settings, args.user, root)
    print(f"反馈 {args.file.name}：读入 {result.rows_read}，核实 {result.rows_loaded}，拒收 {len(result.rejects)}")
    for row in result.rejects.head(20).itertuples():
        print(f"  第 {row.row} 行 {row.reason}（{row.column}）")
    if args.rejects is not None:
        exports.write_csv(exports.rejects_frame(result.rejects.assign(source="feedback")), args.rejects)
        print(f"拒收行已写入 {args.rejects}")
    return 0


def _town_set(text: str) -> frozenset[str] | None:
    codes = [c.strip() for c in text.split(",") if c.strip()]
    return frozenset(c.ljust(12, "0") for c in codes) or None


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    engine = connect(database_url(settings, args.db))
    by = f"命令行（{getpass.getuser()}）"
    if args.action == "add":
        password = auth.add_user(engine, args.username, args.role, by, towns=_town_set(args.towns),
                                 display_name=args.name, settings=settings)
        print(f"已新建 {args.username}（{args.role}），初始密码：{password}")
    elif args.action == "set-role":
        auth.set_role(engine, args.username, args.role, _town_set(args.towns), by)
        print(f"{args.username}：{args.role}，乡镇 {args.towns or '全部'}")
    elif args.action == "reset-password":
        print(f"{args.username} 的新密码：{auth.reset_password(engine, args.username, by, settings=settings)}（登录后须修改）")
    elif args.action == "unlock":
        auth.unlock(engine, args.username, by)
        print(f"{args.username} 已解除锁定")
    elif args.action == "reset-totp":
        auth.reset_second_factor(engine, args.username, by)
        print(f"{args.username} 的动态口令已重置，下次登录时重新绑定")
    elif args.action == "list":
        for row in auth.users(engine).itertuples():
            print(f"{row.username}\t{row.role}\t{row.towns or '全部'}\t{'启用' if row.active else '停用'}")
    elif args.action == "bootstrap":
        made = auth.bootstrap_admin(engine, settings)
        if not made:
            print("已有用户，未新建管理员")
        for username, role, password in made:
            print(f"已新建{role} {username}，初始密码：{password}（只显示这一次，首次登录须修改并绑定动态口令）")
    else:
        for username, role, password in auth.demo_accounts(engine, queries.towns(engine).index.tolist()):
            print(f"演示账号 {username}（{role}）密码 {password}")
    return 0


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    engine = connect(database_url(settings, args.db))
    if args.action == "archive":
        path = archive_audit(settings, engine, by=f"命令行（{getpass.getuser()}）")
        print(f"已归档到 {path}" if path else f"没有超过 {settings.audit_retention_days} 天的审计记录")
        return 0
    result = audit.verify_and_record(engine, by=f"命令行（{args.user}）", archives=audit_archive_path(settings))
    print(result.message if result.ok else f"审计链异常：{result.message}")
    return 0 if result.ok else 1


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    engine = connect(database_url(settings, args.db))
    if args.what == "rejects":
        frame = exports.rejects_frame(queries.rejects(engine))
    else:
        year = args.year or queries.default_year(engine, settings.year)
        if args.what == "coverage":
            root = queries.root(engine, settings.region_code)
            frame = exports.coverage_frame(queries.coverage(engine, year, args.level, root))
        elif args.what == "outreach":
            frame = exports.outreach_frame(queries.outreach(engine, year))
        else:
            frame = exports.alerts_frame(queries.alerts(engine, year))
    rows = exports.write_csv(frame, args.out)
    print(f"已导出 {rows} 行到 {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
        handler = {"run": cmd_run, "recompute": cmd_run, "schedule": cmd_schedule, "demo": cmd_demo,
                   "push": cmd_push, "feedback": cmd_feedback, "users": cmd_users, "audit": cmd_audit,
                   "export": cmd_export}[args.command]
        return handler(args, settings)
    except (ConfigError, RunError, queries.QueryError, workflow.WorkflowError, LoadError, LockBusy, SchemaError,
            auth.AuthError) as exc:
        print(f"错误: {exc}", file=sys.stderr)
        return 1
