"""The commands of `python -m etl`: each handler takes the parsed arguments and the settings, calls the core and
prints what it did; it returns the exit status."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path

from monitor.cases import alert_case, feedback, push
from monitor.cases.alert_case import AlertState
from monitor.config import Settings, audit_archive_path, data_path, database_url
from monitor.load.backup import backup
from monitor.load.locks import finish_killed_loads
from monitor.load.operations import (
    DataDirs,
    archive_audit,
    load_inbox,
    locked_run,
    private_folder,
    remove_expired_uploads,
)
from monitor.load.pipeline import RunError
from monitor.outputs import exports, release
from monitor.rules.divisions import ancestor
from monitor.security import audit, auth
from monitor.storage import queries
from monitor.storage.database import sqlite_file
from monitor.storage.store import MIGRATIONS, connect


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def missing_database(settings: Settings) -> str | None:
    """The configured default database as config writes it (data/monitor.db) when it is a SQLite file that does not
    exist, else None. Only the first start and `init` make it: a command that found it missing and made an empty
    one would hide a data folder moved away (and exit 0 with nothing in it)."""
    path = sqlite_file(settings.database_url)
    if path is None or path.exists():
        return None
    written = settings.database_url.removeprefix("sqlite:///")
    return written if not Path(written).is_absolute() else str(path)


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    """Create the data folder (owner-only) and the database with the latest schema; an existing one is migrated."""
    data = data_path(settings)
    existed = data.is_dir()
    private_folder(data)
    url = database_url(settings, args.db)
    path = sqlite_file(url)
    new = path is not None and not path.exists()
    connect(url).dispose()
    head = sorted(p.name[:4] for p in (MIGRATIONS / "versions").glob("0*.py"))[-1]
    shown = str(path) if path is not None else "数据库"
    print(f"数据文件夹 {data}{'' if existed else '（新建）'}；{shown}{'已新建' if new else '已存在'}，结构版本 {head}")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    engine = connect(database_url(settings, args.db))
    inbox = getattr(args, "inbox", None)
    accept_shrink = frozenset(getattr(args, "accept_shrink", None) or ())  # run only: recompute reads no snapshot
    if getattr(args, "archive", False):
        dirs = DataDirs.under(data_path(settings), inbox=args.inbox)
        result = load_inbox(
            settings,
            engine,
            dirs,
            "命令行",
            settle_seconds=0,
            wait_seconds=args.wait,
            year=args.year,
            as_of=args.as_of,
            region=args.region,
            user=args.user,
            progress=_progress,
            accept_shrink=accept_shrink,
        )
        if result is None:
            print(f"{args.inbox}: 没有可载入的文件")
            return 0
        print(f"文件已归档到 {data_path(settings) / 'archive' / str(result.run_id)}")
    else:
        result = locked_run(
            inbox,
            settings,
            engine,
            "命令行",
            wait_seconds=getattr(args, "wait", 0),
            year=args.year,
            as_of=args.as_of,
            region=getattr(args, "region", None),
            trigger="命令行" if inbox else "重算",
            user=args.user,
            progress=_progress,
            accept_shrink=accept_shrink,
        )
    for source, files in result.counts.items():
        for label, (read, loaded, rejected) in files.items():
            print(f"{source:12} {label}: 读入 {read}，载入 {loaded}，拒收 {rejected}")
    print(
        f"运行 #{result.run_id} 完成：{result.year} 年（截至 {result.as_of}），区划 {result.root}，"
        f"未参保名单 {result.outreach} 人，预警 {result.alerts} 人"
    )
    return 0


def cmd_schedule(args: argparse.Namespace, settings: Settings) -> int:
    import logging
    import signal
    import threading

    from monitor.load import scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    url = database_url(settings, args.db)
    engine = connect(url)  # the schema (and its migrations) before the jobs
    finish_killed_loads(engine, "调度启动")  # a load killed with the server: its run marked, its leftovers removed
    remove_expired_uploads(settings, engine=engine)
    engine.dispose()
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
    report = generate(
        args.out,
        settings,
        persons=args.persons,
        seed=args.seed,
        year=args.year,
        followup=args.followup,
        progress=_progress,
    )
    rows = "，".join(f"{k} {v}" for k, v in report.rows.items())
    print(
        f"演示数据已写入 {', '.join(str(f) for f in report.folders)}：{rows}；"
        f"其中故意写错 {len(report.rejects)} 行（见 docs/demo.md）"
    )
    return 0


def cmd_push(args: argparse.Namespace, settings: Settings) -> int:
    engine = connect(database_url(settings, args.db))
    year = args.year or queries.default_year(engine, settings.year)
    chosen = alert_case.select(
        alert_case.alert_list(engine, year),
        states=[AlertState.TO_PUSH],
        levels=args.level or (),
        types=[args.alert_type] if args.alert_type else (),
        towns=[ancestor(args.town.ljust(12, "0"), "乡镇")] if args.town else (),
    )
    filters = f"等级={','.join(args.level or [])} 类型={args.alert_type or ''} 乡镇={args.town or ''}"
    names = queries.division_names(engine)
    result = push.push(
        engine, year, chosen["id_number"].tolist(), args.department, args.user, names, settings, filters=filters
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(result.content)
    print(f"推送批次 {result.batch_no}：{result.rows} 人推送给{args.department}，文件 {args.out}")
    return 0


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    engine = connect(database_url(settings, args.db))
    root = queries.root(engine, settings)
    result = feedback.import_feedback(engine, args.file, settings, args.user, root)
    print(f"反馈 {args.file.name}：读入 {result.rows_read}，核实 {result.rows_loaded}，拒收 {len(result.rejects)}")
    for row in result.rejects.head(20).itertuples():
        print(f"  第 {row.row} 行 {row.reason}（{row.column}）")
    if args.rejects is not None:
        rejected = exports.rejects_frame(result.rejects.assign(source="feedback"))
        release.write(engine, args.user, release.csv_export(rejected, "反馈拒收记录", args.file.name), args.rejects)
        print(f"拒收行已写入 {args.rejects}")
    return 0


def _town_set(text: str) -> frozenset[str] | None:
    codes = [c.strip() for c in text.split(",") if c.strip()]
    return frozenset(c.ljust(12, "0") for c in codes) or None


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    """The server's own way in: no acting viewer, so the app's 三员分立 checks do not apply; every change is audited
    with the login name, keyed with this config's audit key."""
    with audit.configured(settings):
        engine = connect(database_url(settings, args.db))
        by = f"命令行（{getpass.getuser()}）"
        if args.action == "add":
            password = auth.add_user(
                engine,
                args.username,
                args.role,
                by,
                towns=_town_set(args.towns),
                display_name=args.name,
                settings=settings,
            )
            print(f"已新建 {args.username}（{args.role}），初始密码：{password}")
        elif args.action == "set-role":
            auth.set_role(engine, args.username, args.role, _town_set(args.towns), by)
            print(f"{args.username}：{args.role}，乡镇 {args.towns or '全部'}")
        elif args.action == "reset-password":
            password = auth.reset_password(engine, args.username, by, settings=settings)
            print(f"{args.username} 的新密码：{password}（登录后须修改）")
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
    """Archive, or verify (exit 1 when the chain is broken, cut shorter than a checkpoint, or a keyed entry fails
    its key check), with this config's audit key, checkpoint file and syslog target."""
    engine = connect(database_url(settings, args.db))
    with audit.configured(settings):
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
        export = release.csv_export(exports.rejects_frame(queries.rejects(engine)), "拒收记录", "命令行：全部运行")
    else:
        year = args.year or queries.default_year(engine, settings.year)
        if args.what == "coverage":
            root = queries.root(engine, settings)
            frame = exports.coverage_frame(queries.coverage(engine, year, args.level, root))
            export = release.csv_export(frame, f"参保率（{args.level}）", f"命令行：{year} 年")
        elif args.what == "outreach":
            frame = exports.outreach_frame(queries.outreach(engine, year))
            export = release.csv_export(frame, "未参保名单", f"命令行：{year} 年")
        elif args.what == "watch":
            frame = exports.watch_frame(queries.watch(engine, year))
            export = release.csv_export(frame, "临界关注名单", f"命令行：{year} 年")
        else:
            frame = exports.alerts_frame(alert_case.alert_list(engine, year))
            export = release.csv_export(frame, "预警名单", f"命令行：{year} 年")
    rows = release.write(engine, args.user, export, args.out)
    print(f"已导出 {rows} 行到 {args.out}")
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    engine = connect(database_url(settings, args.db))
    done = backup(engine, args.to, args.user)
    where = f"数据库 {done.database}；" if done.database else "数据库请用 pg_dump 另行备份（应在本命令之前）；"
    print(f"备份完成：{where}数据湖 {done.lake}（{done.files} 个文件，{done.bytes / 2**20:.1f} MiB）")
    return 0
