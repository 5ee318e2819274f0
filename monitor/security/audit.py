"""The audit log: append-only entries in a hash chain, its verification, and archiving after retention.

Each entry's hash covers its fields and the previous entry's hash. From the chain head's keyed_from_id on (the first
entry written by this version) it is an HMAC-SHA256 keyed with the secret of trail.key(), kept outside the database,
so a rewritten entry cannot be rehashed; earlier entries keep their plain SHA-256 (they verify as before and are
covered by the first keyed entry's HMAC). Checkpoints (count and head) are appended outside the database after every
load, every verification and hourly by the scheduler, and sent to syslog when configured, as is every entry: a
chain cut short and its head rewound in the database no longer verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.security import syslog_out, trail
from monitor.security.access import mask_id
from monitor.security.trail import configured as configured
from monitor.storage import store

log = logging.getLogger("monitor.security.audit")

ACTIONS = (
    "登录",
    "登录失败",
    "退出",
    "查看明细",
    "导出",
    "推送",
    "反馈导入",
    "办结",
    "帮扶",
    "走访记录",
    "用户变更",
    "安全策略",
    "载入",
    "审计校验",
    "审计归档",
)
FIELDS = ("id", "at", "username", "action", "object", "detail", "rows", "result")
GENESIS = "0" * 64  # the previous hash of the very first entry


def _text(entry: dict, prev_hash: str) -> bytes:
    """What an entry's hash covers: its fields, in a fixed order and encoding, and the previous entry's hash.
    This format is fixed forever: archived files and stored rows are verified with it."""
    fields = [entry[f] if f not in ("id", "rows") or entry[f] is None else int(entry[f]) for f in FIELDS]
    return json.dumps([prev_hash, *fields], ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_hash(entry: dict, prev_hash: str) -> str:
    """The plain SHA-256 of an entry written before the chain was keyed (and of the migration that chained them)."""
    return hashlib.sha256(_text(entry, prev_hash)).hexdigest()


def keyed_hash(entry: dict, prev_hash: str, key: bytes) -> str:
    """The HMAC-SHA256 of an entry from the chain's keyed_from_id on: without the key nobody can rehash it."""
    return hmac.new(key, _text(entry, prev_hash), hashlib.sha256).hexdigest()


def _head(conn: sa.Connection) -> dict:
    """The chain's head row, locked for this transaction (a no-op update takes the write lock on both databases,
    so concurrent writers queue instead of forking the chain)."""
    chain = store.audit_chain
    if not conn.execute(chain.update().where(chain.c.id == 1).values(last_id=chain.c.last_id)).rowcount:
        conn.execute(
            chain.insert().values(
                id=1, last_id=0, last_hash=GENESIS, archived_through_id=0, archived_hash=GENESIS, keyed_from_id=None
            )
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
    """Append one entry: who, when, what, on which object, with which filter, how many rows, and the result. The
    entry goes to syslog too when configured; a load's entry is followed by a checkpoint."""
    at = (now or datetime.now()).replace(microsecond=0)
    key = trail.signing_key()
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
        keyed_from = head["keyed_from_id"] or entry["id"]  # the first entry of this version starts the keyed part
        digest = keyed_hash(entry, head["last_hash"], key)
        conn.execute(store.audit_log.insert().values(**entry, prev_hash=head["last_hash"], hash=digest))
        conn.execute(
            store.audit_chain.update()
            .where(store.audit_chain.c.id == 1)
            .values(last_id=entry["id"], last_hash=digest, keyed_from_id=keyed_from)
        )
    target = trail.places().syslog
    if target:
        severity = (
            syslog_out.INFO if result == "成功" else syslog_out.ERROR if action == "审计校验" else syslog_out.NOTICE
        )
        syslog_out.send(target, syslog_out.rfc5424("audit", {**entry, "hash": digest}, severity))
    if action == "载入":
        _checkpoint_logged(engine, "载入")


def record_full_view(engine: Engine, username: str, list_name: str, year: int, village: str, id_number: str) -> None:
    """The entry of one person's full details shown on screen (显示完整信息): the list, the year, the village and
    the person's ID number masked as every list shows it, so that an auditor can tell whose details were seen
    while the trail (and syslog, when configured) never holds a whole number."""
    masked = mask_id(pd.Series([id_number], dtype="str")).iloc[0]
    record(engine, username, "查看明细", list_name, f"{year} 年，{village}，{masked}", 1)


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


def check_chain(
    rows: list[dict], start_id: int, start_hash: str, keyed_from: int | None = None, key: bytes | None = None
) -> Verification:
    """Walk entries in id order from (start_id, start_hash): each previous hash the one before, each hash recomputed
    from the fields (keyed from id keyed_from on). An edited field, a deleted or inserted row breaks it, and so does
    a keyed entry rehashed without the key."""
    expected_id, prev = start_id + 1, start_hash
    for row in rows:
        if row["prev_hash"] != prev:
            if row["id"] > expected_id:
                return Verification(False, len(rows), f"第 {expected_id} 至 {row['id'] - 1} 条记录缺失", expected_id)
            return Verification(False, len(rows), f"第 {row['id']} 条记录与前一条不衔接", row["id"])
        keyed = keyed_from is not None and row["id"] >= keyed_from
        expected = keyed_hash(row, prev, key or b"") if keyed else entry_hash(row, prev)
        if expected != row["hash"]:
            why = "（密钥校验不符）" if keyed else ""
            return Verification(False, len(rows), f"第 {row['id']} 条记录内容已被修改{why}", row["id"])
        expected_id, prev = row["id"] + 1, row["hash"]
    return Verification(True, len(rows), "")


def _archived_rows(folder: Path | None) -> list[dict]:
    rows: list[dict] = []
    for path in sorted(folder.glob("audit_*.jsonl")) if folder and folder.is_dir() else []:
        with open(path, encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh if line.strip())
    return rows


def _against_checkpoints(head: dict | None, known: dict[int, str], marks: list[dict]) -> str:
    """Why the chain disagrees with a checkpoint written of this database outside it ('' when it does not): cut
    shorter than a checkpoint (entries deleted and the head rewound, the table emptied or replaced by an older copy),
    another entry where a checkpoint's head was, or the keyed part moved."""
    last_id = head["last_id"] if head else 0
    for mark in reversed(marks):  # the newest first: the message names the last checkpoint that disagrees
        at, mark_id = mark.get("at", "?"), int(mark.get("last_id") or 0)
        if mark_id > last_id:
            return f"审计链比 {at} 的检查点短：检查点记到第 {mark_id} 条，数据库只到第 {last_id} 条（记录被截去）"
        if known.get(mark_id, mark.get("head")) != mark.get("head"):
            return f"第 {mark_id} 条记录与 {at} 的检查点不符（记录被替换）"
        if mark.get("keyed_from") is not None and (head is None or mark["keyed_from"] != head["keyed_from_id"]):
            return f"审计链密钥校验的起点与 {at} 的检查点不符"
    return ""


def verify(engine: Engine, archives: Path | None = None) -> Verification:
    """Check the whole chain: the archive files from the first entry (when a folder is given), the stored entries
    from where the archive ends, up to the recorded head; keyed entries with the key; and every checkpoint written
    of this database (none may be longer than the chain or disagree with it)."""
    with engine.connect() as conn:
        head = conn.execute(sa.select(store.audit_chain).where(store.audit_chain.c.id == 1)).mappings().first()
        rows = [dict(r) for r in conn.execute(sa.select(store.audit_log).order_by(store.audit_log.c.id)).mappings()]
    marks = trail.checkpoints(trail.database_id(engine))
    if head is None:
        if rows:
            return Verification(False, len(rows), "审计链头记录缺失")
        cut = _against_checkpoints(None, {}, marks)
        return Verification(not cut, 0, cut or "审计链完整，共 0 条")
    keyed_from = head["keyed_from_id"]
    key = trail.key(create=False) if keyed_from is not None else None
    if keyed_from is not None and key is None:
        return Verification(
            False, len(rows), f"审计密钥文件 {trail.places().key_file} 不存在，第 {keyed_from} 条起的记录无法校验"
        )
    archived = _archived_rows(archives) if archives is not None else []
    if archives is not None:
        result = check_chain(archived, 0, GENESIS, keyed_from, key)
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
    result = check_chain(rows, head["archived_through_id"], head["archived_hash"], keyed_from, key)
    if not result.ok:
        return result
    last_id, last_hash = (
        (rows[-1]["id"], rows[-1]["hash"]) if rows else (head["archived_through_id"], head["archived_hash"])
    )
    if (last_id, last_hash) != (head["last_id"], head["last_hash"]):
        return Verification(
            False, len(rows), f"最后的记录（第 {last_id + 1} 至 {head['last_id']} 条）已被删除", last_id + 1
        )
    known = {r["id"]: r["hash"] for r in (*archived, *rows)} | {head["last_id"]: head["last_hash"]}
    if cut := _against_checkpoints(dict(head), known, marks):
        return Verification(False, len(rows) + len(archived), cut)
    total = len(rows) + len(archived)
    where = f"（其中归档 {len(archived)} 条）" if archived else ""
    return Verification(True, total, f"审计链完整，共 {total} 条{where}")


def checkpoint(engine: Engine, why: str = "", now: datetime | None = None) -> dict | None:
    """Append the chain's head (last id and hash), the entries stored and where the keyed part starts to the
    checkpoint file outside the database, and send it to syslog when configured; returns the line (None while the
    chain is empty). Raises OSError when the file cannot be written."""
    with engine.connect() as conn:
        head = conn.execute(sa.select(store.audit_chain).where(store.audit_chain.c.id == 1)).mappings().first()
        count = conn.execute(sa.select(sa.func.count()).select_from(store.audit_log)).scalar_one()
    if head is None:
        return None
    line = {
        "at": str((now or datetime.now()).replace(microsecond=0)),
        "db": trail.database_id(engine),
        "count": count,
        "last_id": head["last_id"],
        "head": head["last_hash"],
        "keyed_from": head["keyed_from_id"],
        "why": why,
    }
    trail.append_checkpoint(line)
    if target := trail.places().syslog:
        syslog_out.send(target, syslog_out.rfc5424("checkpoint", line, syslog_out.NOTICE))
    return line


def _checkpoint_logged(engine: Engine, why: str, now: datetime | None = None) -> None:
    """A checkpoint whose failure (a checkpoint file that cannot be written) is logged, not raised: a load or a
    verification is not undone by it."""
    try:
        checkpoint(engine, why, now)
    except OSError as exc:
        log.error("audit checkpoint not written (%s): %s", why, exc)


def verify_and_record(
    engine: Engine, by: str, archives: Path | None = None, now: datetime | None = None
) -> Verification:
    """verify(), with the outcome kept for the security page and written to the audit log itself, then a checkpoint
    (after a failed verification too: every checkpoint is checked, so a later, shorter one excuses no cut)."""
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
    _checkpoint_logged(engine, "审计校验" if result.ok else "审计校验（未通过）")
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
