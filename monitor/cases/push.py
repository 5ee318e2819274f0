"""Pushing alerts to a department (SPEC §10): batches kept byte for byte, and the monthly drafts a person approves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from monitor.cases.alert_case import (
    AlertState,
    WorkflowError,
    in_state,
    need_user,
    read_states,
    record_events,
    stamp,
)
from monitor.config import Settings
from monitor.outputs import workbooks
from monitor.rules.divisions import town_of
from monitor.security import audit
from monitor.security.access import AccessDenied, Viewer
from monitor.storage import queries, store

DRAFT_PENDING, DRAFT_DISCARDED = "待审批", "已放弃"  # and 已推送 (AlertState.PUSHED) once approved
DISCARD_ACTION = "放弃推送草稿"  # the audit log's action for a discarded draft


@dataclass
class PushResult:
    batch_no: str
    rows: int
    content: bytes


def _next_batch_no(conn: Connection, day: date) -> str:
    stem = day.strftime("%Y%m%d")
    taken = (
        conn.execute(
            sa.select(sa.func.count())
            .select_from(store.push_batches)
            .where(store.push_batches.c.batch_no.startswith(stem))
        ).scalar()
        or 0
    )
    return f"{stem}-{taken + 1:03d}"


def _push_rows(alerts: pd.DataFrame, names: pd.Series, batch_no: str) -> pd.DataFrame:
    town = town_of(alerts["village_code"])
    yuan = {
        c: alerts[c].astype("float64") / 100
        for c in ("total_cost", "basic_paid", "critical_paid", "assistance_paid", "measure")
    }
    return pd.DataFrame(
        {
            "序号": range(1, len(alerts) + 1),
            "姓名": alerts["name"],
            "身份证号": alerts["id_number"],
            "乡镇": town.map(names).fillna("").where(alerts["village_code"] != "", "不在人口底册"),
            "村社区": alerts["village_code"].map(names).fillna(""),
            "身份类别": alerts["identity_type"].fillna(""),
            "医疗总费用": yuan["total_cost"],
            "基本医保支付": yuan["basic_paid"],
            "大病保险支付": yuan["critical_paid"],
            "医疗救助支付": yuan["assistance_paid"],
            "个人负担": yuan["measure"],
            "预警等级": alerts["level"],
            "触发日期": alerts["trigger_date"].fillna(""),
            "推送批次": batch_no,
        }
    )


def push(
    engine: Engine,
    year: int,
    ids: list[str],
    department: str,
    user: str,
    names: pd.Series,
    settings: Settings,
    filters: str = "",
    now: datetime | None = None,
    viewer: Viewer | None = None,
) -> PushResult:
    """Push the chosen alerts that are 待推送 to a department: write the batch file, keep it, mark them 已推送.
    With a viewer, every chosen person must lie in the viewer's towns. The push is audited."""
    if department not in settings.departments:
        raise WorkflowError(f"接收部门 {department} 不在配置的部门中（{'、'.join(settings.departments)}）")
    need_user(user)
    at = stamp(now)
    with engine.begin() as conn:
        ready = in_state(conn, year, ids, viewer, AlertState.TO_PUSH, "所选预警中没有待推送的")
        alerts = store.read_table(
            conn,
            store.alerts,
            (store.alerts.c.year == year) & store.alerts.c.id_number.in_(ready["id_number"].tolist()),
            [store.alerts.c.seq],
        )
        batch_no = _next_batch_no(conn, at.date())
        bureau = queries.bureau_name(engine, settings, names)  # the title row of the printed batch
        content = workbooks.push_batch(_push_rows(alerts, names, batch_no), batch_no, department, at, bureau)
        conn.execute(
            store.push_batches.insert().values(
                batch_no=batch_no,
                year=year,
                department=department,
                created_at=str(at),
                created_by=user,
                rows=len(alerts),
                filters=filters,
                content=content,
            )
        )
        pushed = alerts["id_number"].tolist()
        conn.execute(
            store.alert_states.update()
            .where((store.alert_states.c.year == year) & store.alert_states.c.id_number.in_(pushed))
            .values(
                state=AlertState.PUSHED,
                batch_no=batch_no,
                department=department,
                pushed_at=str(at),
                upgraded=False,
                updated_at=str(at),
                updated_by=user,
            )
        )
        level = alerts.set_index("id_number")["level"]
        record_events(
            conn,
            [
                {
                    "year": year,
                    "id_number": p,
                    "at": str(at),
                    "by": user,
                    "action": "推送",
                    "state_before": AlertState.TO_PUSH,
                    "state_after": AlertState.PUSHED,
                    "level": level[p],
                    "detail": f"批次 {batch_no}，接收部门 {department}",
                }
                for p in pushed
            ],
        )
    audit.record(engine, user, "推送", f"批次 {batch_no} → {department}", filters, len(pushed), now=at)
    return PushResult(batch_no, len(pushed), content)


def batch_file(engine: Engine, batch_no: str) -> bytes:
    """The batch's xlsx exactly as it was first written."""
    with engine.connect() as conn:
        content = conn.execute(
            sa.select(store.push_batches.c.content).where(store.push_batches.c.batch_no == batch_no)
        ).scalar()
    if content is None:
        raise WorkflowError(f"没有推送批次 {batch_no}")
    return bytes(content)


def batches(engine: Engine, year: int) -> pd.DataFrame:
    columns = [c for c in store.push_batches.c if c.name != "content"]
    query = sa.select(*columns).where(store.push_batches.c.year == year).order_by(store.push_batches.c.batch_no.desc())
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).mappings().all(), columns=[c.name for c in columns])


def prepare_draft(
    engine: Engine, year: int, department: str, by: str = "scheduler", now: datetime | None = None
) -> int | None:
    """A draft batch of every alert still 待推送; None when there is none. Nothing is pushed until approved."""
    with engine.begin() as conn:
        ready = read_states(conn, year)
        ids = ready.loc[ready["state"] == AlertState.TO_PUSH, "id_number"].tolist()
        if not ids:
            return None
        key = conn.execute(
            store.push_drafts.insert().values(
                year=year,
                department=department,
                created_at=str(stamp(now)),
                created_by=by,
                ids=",".join(ids),
                rows=len(ids),
                status=DRAFT_PENDING,
            )
        ).inserted_primary_key
        assert key is not None  # an INSERT of one row always has its key
        return int(key[0])


def drafts(engine: Engine, year: int) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.read_table(
            conn, store.push_drafts, store.push_drafts.c.year == year, [store.push_drafts.c.id.desc()]
        )


def _draft(conn: Connection, draft_id: int) -> dict:
    row = conn.execute(sa.select(store.push_drafts).where(store.push_drafts.c.id == draft_id)).mappings().first()
    if row is None:
        raise WorkflowError(f"没有草稿批次 #{draft_id}")
    if row["status"] != DRAFT_PENDING:
        raise WorkflowError(f"草稿批次 #{draft_id} {row['status']}")  # the status says it: 已推送, 已放弃
    return dict(row)


@dataclass(frozen=True)
class DraftParts:
    """A draft's alerts still 待推送 inside the viewer's towns (`mine`) and outside them (`others`), and how many of
    its persons, whatever their state, lie outside them (`foreign`). A person no longer among the year's alerts
    (a later load recomputed them away) is in no part: there is nothing left to push."""

    mine: list[str]
    others: list[str]
    foreign: int


def _parts(conn: Connection, draft: dict, viewer: Viewer | None) -> DraftParts:
    year, ids = int(draft["year"]), list(dict.fromkeys(i for i in str(draft["ids"] or "").split(",") if i))
    states = read_states(conn, year, ids)
    waiting = set(states.loc[states["state"] == AlertState.TO_PUSH, "id_number"])
    found = store.read_select(
        conn,
        sa.select(store.alerts.c.id_number, store.alerts.c.village_code).where(
            (store.alerts.c.year == year) & store.alerts.c.id_number.in_(ids)
        ),
    )
    known = set(found["id_number"])
    inside = known if viewer is None else set(found.loc[viewer.in_scope(found["village_code"]), "id_number"])
    return DraftParts(
        [i for i in ids if i in waiting and i in inside],
        [i for i in ids if i in waiting and i in known and i not in inside],
        len(known - inside),
    )


def pending_drafts(engine: Engine, year: int, viewer: Viewer | None = None) -> pd.DataFrame:
    """The year's drafts still 待审批, newest first, each with `mine` (its alerts still 待推送 inside the viewer's
    towns: what approving pushes), `others` (those outside: they stay a draft) and `whole` (the viewer's towns
    cover every person of it: they may discard it).
    Read at every click: a draft changes no data version."""
    frame = drafts(engine, year)
    frame = frame[frame["status"] == DRAFT_PENDING].reset_index(drop=True)
    with engine.connect() as conn:
        parts = [_parts(conn, row, viewer) for row in frame.to_dict("records")]
    frame["mine"] = pd.Series([len(p.mine) for p in parts], index=frame.index, dtype="int64")
    frame["others"] = pd.Series([len(p.others) for p in parts], index=frame.index, dtype="int64")
    frame["whole"] = pd.Series([p.foreign == 0 for p in parts], index=frame.index, dtype="bool")
    return frame


def approve_draft(
    engine: Engine,
    draft_id: int,
    user: str,
    names: pd.Series,
    settings: Settings,
    now: datetime | None = None,
    viewer: Viewer | None = None,
) -> PushResult:
    """Push the draft's alerts that are still 待推送 and lie in the approver's towns (all of them for a viewer of
    every town); the draft is marked 已推送 with its batch number and those persons. The alerts still 待推送
    outside the approver's towns stay a draft, under a new number, for an approver of their towns."""
    need_user(user)
    if viewer is not None:
        viewer.require("alerts")
    with engine.connect() as conn:
        draft = _draft(conn, draft_id)
        parts = _parts(conn, draft, viewer)
    if not parts.mine:
        raise WorkflowError(
            f"草稿批次 #{draft_id} 中没有待推送的预警"
            if not parts.others
            else f"草稿批次 #{draft_id} 中没有您乡镇范围内待推送的预警（范围外 {len(parts.others)} 人）"
        )
    result = push(
        engine,
        int(draft["year"]),
        parts.mine,
        draft["department"],
        user,
        names,
        settings,
        filters=f"草稿批次 #{draft_id}" + (f"（审批人乡镇范围内 {len(parts.mine)} 人）" if parts.others else ""),
        now=now,
        viewer=viewer,
    )
    at = str(stamp(now))
    with engine.begin() as conn:
        decided = conn.execute(
            store.push_drafts.update()
            .where((store.push_drafts.c.id == draft_id) & (store.push_drafts.c.status == DRAFT_PENDING))
            .values(
                status=AlertState.PUSHED,
                decided_at=at,
                decided_by=user,
                batch_no=result.batch_no,
                ids=",".join(parts.mine),
                rows=len(parts.mine),
            )
        )
        if parts.others and decided.rowcount:  # (decided meanwhile by another approver: theirs holds the rest)
            conn.execute(
                store.push_drafts.insert().values(
                    year=draft["year"],
                    department=draft["department"],
                    created_at=draft["created_at"],
                    created_by=draft["created_by"],
                    ids=",".join(parts.others),
                    rows=len(parts.others),
                    status=DRAFT_PENDING,
                )
            )
    return result


def discard_draft(
    engine: Engine, draft_id: int, user: str, now: datetime | None = None, viewer: Viewer | None = None
) -> None:
    """Discard a draft: nothing is pushed, the draft leaves the pending list (已放弃). Only a viewer whose towns
    cover every person of the draft may discard it. Audited."""
    need_user(user)
    if viewer is not None:
        viewer.require("alerts")
    with engine.begin() as conn:
        draft = _draft(conn, draft_id)
        if _parts(conn, draft, viewer).foreign:
            raise AccessDenied(f"草稿批次 #{draft_id} 含有您乡镇范围以外的人员，只能由负责其全部乡镇的人员放弃")
        done = conn.execute(
            store.push_drafts.update()
            .where((store.push_drafts.c.id == draft_id) & (store.push_drafts.c.status == DRAFT_PENDING))
            .values(status=DRAFT_DISCARDED, decided_at=str(stamp(now)), decided_by=user)
        ).rowcount
    if not done:
        raise WorkflowError(f"草稿批次 #{draft_id} 已由他人处理")
    detail = f"{draft['rows']} 人 → {draft['department']}（{draft['created_at']} 由 {draft['created_by']} 生成）"
    audit.record(engine, user, DISCARD_ACTION, f"草稿批次 #{draft_id}", detail, int(draft["rows"] or 0), now=now)
