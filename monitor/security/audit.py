"""The audit log: append-only entries in a SHA-256 hash chain, its verification, and archiving after retention."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.storage import store

ACTIONS = (
    "登录",
    "登录失败",
    "退出",
    "查看明细",
    "导出",
    "推送",
    "反馈导入",
    "办结",
    "走访记录",
    "用户变更",
    "安全策略",
    "载入",
    "审计校验",
    "审计归档",
)
FIELDS = ("id", "at", "username", "action", "object", "detail", "rows", "result")
GENESIS = "0" * 64  # the previous hash of the very first entry


def entry_hash(entry: dict, prev_hash: str) -> str:
    """The hash of one entry: its fields, in a fixed order and encoding, chained to the previous entry's hash.
    This format is fixed forever: archived files and stored rows are verified with it."""
    fields = [entry[f] if f not in ("id", "rows") or entry[f] is None else int(entry[f]) for f in FIELDS]
    text = json.dumps([prev_hash, *fields], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _head(conn: sa.Connection) -> dict:
    """The chain's head row, locked for this transaction (a no-op update takes the write lock on both databases,
    so concurrent writers queue instead of forking the chain)."""
    chain = store.audit_chain
    if not conn.execute(chain.update().where(chain.c.id == 1).values(last_id=chain.c.last_id)).rowcount:
        conn.execute(
            chain.insert().values(id=1, last_id=0, last_hash=GENESIS, archived_through_id=0, archived_hash=GENESIS)
        )
    return dict(conn.execute(sa.select(chain).where(chain.c.id == 1)).mappings().one())


def record(
    engine: Engine,
    username: str,
    action: str,
    object_: str,
    detail: str = "",
    rows: int | None = None,
    result: str = "成功",
    now: datetime | None = None,
) -> None:
    """Append one entry: who, when, what, on which object, with which filter, how many rows, and the result."""
    at = (now or datetime.now()).replace(microsecond=0)
    with engine.begin() as conn:
        head = _head(conn)
        entry = {
            "id": head["last_id"] + 1,
            "at": str(at),
            "username": username,
            "action": action,
            "object": object_,
            "detail": detail,
            "rows": rows,
            "result": result,
        }
        digest = entry_hash(entry, head["last_hash"])
        conn.execute(store.audit_log.insert().values(**entry, prev_hash=head["last_hash"], hash=digest))
        conn.execute(
            store.audit_chain.update().where(store.audit_chain.c.id == 1).values(last_id=entry["id"], last_hash=digest)
        )


def entries(
    engine: Engine, username: str | None = None, action: str | None = None, since: str | None = None
) -> pd.DataFrame:
    """Entries newest first, optionally for one user, one action, from a date on (without the chain's hashes)."""
    where: sa.ColumnElement[bool] = sa.true()
    if username:
        where &= store.audit_log.c.username == username
    if action:
        where &= store.audit_log.c.action == action
    if since:
        where &= store.audit_log.c.at >= since
    with engine.connect() as conn:
        frame = store.read_table(conn, store.audit_log, where, [store.audit_log.c.id.desc()])
    return frame.drop(columns=["prev_hash", "hash"])


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    message: str
    bad_id: int | None = None


def check_chain(rows: list[dict], start_id: int, start_hash: str) -> Verification:
    """Walk entries in id order from (start_id, start_hash): each previous hash the one before, each hash recomputed
    from the fields. An edited field, a deleted or inserted row breaks it."""
    expected_id, prev = start_id + 1, start_hash
    for row in rows:
        if row["prev_hash"] != prev:
            if row["id"] > expected_id:
                return Verification(False, len(rows), f"第 {expected_id} 至 {row['id'] - 1} 条记录缺失", expected_id)
            return Verification(False, len(rows), f"第 {row['id']} 条记录与前一条不衔接", row["id"])
        if entry_hash(row, prev) != row["hash"]:
            return Verification(False, len(rows), f"第 {row['id']} 条记录内容已被修改", row["id"])
        expected_id, prev = row["id"] + 1, row["hash"]
    return Verification(True, len(rows), "")


def _archived_rows(folder: Path | None) -> list[dict]:
    rows: list[dict] = []
    for path in sorted(folder.glob("audit_*.jsonl")) if folder and folder.is_dir() else []:
        with open(path, encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh if line.strip())
    return rows


def verify(engine: Engine, archives: Path | None = None) -> Verification:
    """Check the whole chain: the archive files from the first entry (when a folder is given), the stored entries
    from where the archive ends, up to the recorded head."""
    with engine.connect() as conn:
        head = conn.execute(sa.select(store.audit_chain).where(store.audit_chain.c.id == 1)).mappings().first()
        rows = [dict(r) for r in conn.execute(sa.select(store.audit_log).order_by(store.audit_log.c.id)).mappings()]
    if head is None:
        return Verification(not rows, len(rows), "审计链完整，共 0 条" if not rows else "审计链头记录缺失")
    archived = _archived_rows(archives) if archives is not None else []
    if archives is not None:
        result = check_chain(archived, 0, GENESIS)
        if not result.ok:
            return Verification(False, len(archived), "归档文件：" + result.message, result.bad_id)
        end = (archived[-1]["id"], archived[-1]["hash"]) if archived else (0, GENESIS)
        if end != (head["archived_through_id"], head["archived_hash"]):
            return Verification(
                False,
                len(archived),
                f"归档文件止于第 {end[0]} 条，数据库记录从第 {head['archived_through_id'] + 1} 条开始，二者不衔接",
                end[0] + 1,
            )
    result = check_chain(rows, head["archived_through_id"], head["archived_hash"])
    if not result.ok:
        return result
    last_id, last_hash = (
        (rows[-1]["id"], rows[-1]["hash"]) if rows else (head["archived_through_id"], head["archived_hash"])
    )
    if (last_id, last_hash) != (head["last_id"], head["last_hash"]):
        return Verification(
            False, len(rows), f"最后的记录（第 {last_id + 1} 至 {head['last_id']} 条）已被删除", last_id + 1
        )
    total = len(rows) + len(archived)
    where = f"（其中归档 {len(archived)} 条）" if archived else ""
    return Verification(True, total, f"审计链完整，共 {total} 条{where}")


def verify_and_record(
    engine: Engine, by: str, archives: Path | None = None, now: datetime | None = None
) -> Verification:
    """verify(), with the outcome kept for the security page and written to the audit log itself."""
    result = verify(engine, archives)
    at = (now or datetime.now()).replace(microsecond=0)
    with engine.begin() as conn:
        conn.execute(
            store.audit_verifications.insert().values(
                at=str(at), by=by, ok=result.ok, entries=result.entries, message=result.message
            )
        )
    record(
        engine,
        by,
        "审计校验",
        "审计日志",
        result.message,
        rows=result.entries,
        result="成功" if result.ok else "失败",
        now=at,
    )
    return result


def last_verification(engine: Engine) -> dict | None:
    table = store.audit_verifications
    with engine.connect() as conn:
        row = conn.execute(sa.select(table).order_by(table.c.id.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def archive(engine: Engine, folder: Path, retention_days: int, by: str, now: datetime | None = None) -> Path | None:
    """Move entries older than retention_days to a JSON-lines file (fields and hashes, so the file can be verified
    and continues the chain) and remove them from the database; the file is complete on disk before any row goes.
    Returns the file, or None when nothing is old enough."""
    at = (now or datetime.now()).replace(microsecond=0)
    cutoff = str(at - timedelta(days=retention_days))
    table = store.audit_log
    with engine.begin() as conn:
        head = _head(conn)
        rows = [
            dict(r) for r in conn.execute(sa.select(table).where(table.c.at < cutoff).order_by(table.c.id)).mappings()
        ]
        # only a leading run of old entries: the chain must stay whole from the new start on
        first = head["archived_through_id"] + 1
        rows = [r for n, r in enumerate(rows) if r["id"] == first + n]
        if not rows:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"audit_{rows[0]['id']:09d}-{rows[-1]['id']:09d}.jsonl"
        part = target.with_suffix(".part")
        with open(part, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps({k: row[k] for k in (*FIELDS, "prev_hash", "hash")}, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, target)
        conn.execute(table.delete().where(table.c.id <= rows[-1]["id"]))
        conn.execute(
            store.audit_chain.update()
            .where(store.audit_chain.c.id == 1)
            .values(archived_through_id=rows[-1]["id"], archived_hash=rows[-1]["hash"])
        )
    record(engine, by, "审计归档", target.name, f"{cutoff} 之前的记录", rows=len(rows), now=at)
    return target
