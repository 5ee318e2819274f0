"""Alert workflow (SPEC §10): push batches, feedback, closing, draft batches, history.

Every change is one transaction and leaves an event row saying who did what and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from monitor import audit, store, workbooks
from monitor.access import AccessDenied, Viewer
from monitor.config import Settings
from monitor.coverage import at_level
from monitor.read import read_source
from monitor.validate import Context, validate_source

STATES = ("待推送", "已推送", "已核实", "已办结")
RESULTS = ("纳入监测", "已落实救助", "不符合条件", "无法联系")
# Feedback rows that are well-formed but name no alert the department could verify.
FEEDBACK_REASONS = {"UNKNOWN_PERSON": "该年度无此人的预警", "NOT_PUSHED": "预警尚未推送", "ALREADY_CLOSED": "预警已办结"}


class WorkflowError(ValueError):
    """A workflow request that cannot be carried out; the message says why, in Chinese."""


@dataclass
class PushResult:
    batch_no: str
    rows: int
    content: bytes


@dataclass
class FeedbackResult:
    import_id: int
    rows_read: int
    rows_loaded: int
    rejects: pd.DataFrame  # file, row, reason, column, original


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now()).replace(microsecond=0)


def _events(conn: Connection, rows: list[dict]) -> None:
    store.write_frame(conn, store.alert_events, pd.DataFrame(rows))


def _states(conn: Connection, year: int, ids: list[str] | None = None) -> pd.DataFrame:
    where = store.alert_states.c.year == year
    if ids is not None:
        where &= store.alert_states.c.id_number.in_(ids)
    return store.read_table(conn, store.alert_states, where)


def _check_scope(conn: Connection, year: int, ids: list[str], viewer: Viewer | None, action: str,
                 table: sa.Table = store.alerts) -> None:
    """Every person must lie in the viewer's towns (alerts or outreach list of the year)."""
    if viewer is None:
        return
    viewer.require(action)
    villages = pd.Series(conn.execute(sa.select(table.c.village_code).where(
        (table.c.year == year) & table.c.id_number.in_(list(ids)))).scalars().all(), dtype="str")
    if len(villages) < len(set(ids)) or not viewer.in_scope(villages).all():
        raise AccessDenied("所选人员超出您的乡镇范围")


def _need_user(user: str) -> None:
    if not user.strip():
        raise WorkflowError("请填写操作人")


def _in_state(conn: Connection, year: int, ids: list[str], viewer: Viewer | None, state: str,
              none_message: str) -> pd.DataFrame:
    """The chosen alerts (inside the viewer's towns) that are in a state; WorkflowError when there are none."""
    _check_scope(conn, year, list(ids), viewer, "alerts")
    states = _states(conn, year, list(ids))
    ready = states[states["state"] == state]
    if ready.empty:
        raise WorkflowError(none_message)
    return ready


# ---------------------------------------------------------------- push

def _next_batch_no(conn: Connection, day: date) -> str:
    stem = day.strftime("%Y%m%d")
    taken = conn.execute(sa.select(sa.func.count()).select_from(store.push_batches).where(
        store.push_batches.c.batch_no.startswith(stem))).scalar() or 0
    return f"{stem}-{taken + 1:03d}"


def _push_rows(alerts: pd.DataFrame, names: pd.Series, batch_no: str) -> pd.DataFrame:
    town = at_level(alerts["village_code"], "乡镇")
    yuan = {c: alerts[c].astype("float64") / 100 for c in ("total_cost", "basic_paid", "critical_paid",
                                                           "assistance_paid", "measure")}
    return pd.DataFrame({
        "序号": range(1, len(alerts) + 1), "姓名": alerts["name"], "身份证号": alerts["id_number"],
        "乡镇": town.map(names).fillna("").where(alerts["village_code"] != "", "不在人口底册"),
        "村社区": alerts["village_code"].map(names).fillna(""), "身份类别": alerts["identity_type"].fillna(""),
        "医疗总费用": yuan["total_cost"], "基本医保支付": yuan["basic_paid"], "大病保险支付": yuan["critical_paid"],
        "医疗救助支付": yuan["assistance_paid"], "个人负担": yuan["measure"], "预警等级": alerts["level"],
        "触发日期": alerts["trigger_date"].fillna(""), "推送批次": batch_no,
    })


def push(engine: Engine, year: int, ids: list[str], department: str, user: str, names: pd.Series,
         settings: Settings, filters: str = "", now: datetime | None = None,
         viewer: Viewer | None = None) -> PushResult:
    """Push the chosen alerts that are 待推送 to a department: write the batch file, keep it, mark them 已推送.
    With a viewer, every chosen person must lie in the viewer's towns. The push is audited."""
    if department not in settings.departments:
        raise WorkflowError(f"接收部门 {department} 不在配置的部门中（{'、'.join(settings.departments)}）")
    _need_user(user)
    at = _now(now)
    with engine.begin() as conn:
        ready = _in_state(conn, year, ids, viewer, "待推送", "所选预警中没有待推送的")
        alerts = store.read_table(conn, store.alerts, (store.alerts.c.year == year) &
                                  store.alerts.c.id_number.in_(ready["id_number"].tolist()), [store.alerts.c.seq])
        batch_no = _next_batch_no(conn, at.date())
        content = workbooks.push_batch(_push_rows(alerts, names, batch_no), batch_no, department, at)
        conn.execute(store.push_batches.insert().values(
            batch_no=batch_no, year=year, department=department, created_at=str(at), created_by=user,
            rows=len(alerts), filters=filters, content=content))
        pushed = alerts["id_number"].tolist()
        conn.execute(store.alert_states.update().where(
            (store.alert_states.c.year == year) & store.alert_states.c.id_number.in_(pushed)).values(
            state="已推送", batch_no=batch_no, department=department, pushed_at=str(at), upgraded=False,
            updated_at=str(at), updated_by=user))
        level = alerts.set_index("id_number")["level"]
        _events(conn, [{"year": year, "id_number": p, "at": str(at), "by": user, "action": "推送",
                        "state_before": "待推送", "state_after": "已推送", "level": level[p],
                        "detail": f"批次 {batch_no}，接收部门 {department}"} for p in pushed])
    audit.record(engine, user, "推送", f"批次 {batch_no} → {department}", filters, len(pushed), now=at)
    return PushResult(batch_no, len(pushed), content)


def batch_file(engine: Engine, batch_no: str) -> bytes:
    """The batch's xlsx exactly as it was first written."""
    with engine.connect() as conn:
        content = conn.execute(sa.select(store.push_batches.c.content).where(
            store.push_batches.c.batch_no == batch_no)).scalar()
    if content is None:
        raise WorkflowError(f"没有推送批次 {batch_no}")
    return bytes(content)


def batches(engine: Engine, year: int) -> pd.DataFrame:
    columns = [c for c in store.push_batches.c if c.name != "content"]
    query = sa.select(*columns).where(store.push_batches.c.year == year).order_by(
        store.push_batches.c.batch_no.desc())
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).mappings().all(), columns=[c.name for c in columns])


# ---------------------------------------------------------------- feedback

def import_feedback(engine: Engine, path: Path, settings: Settings, user: str, root: str,
                    run_date: date | None = None, now: datetime | None = None,
                    label: str | None = None, viewer: Viewer | None = None) -> FeedbackResult:
    """Read a department's feedback (xlsx or csv); valid rows move pushed alerts to 已核实, every other row is
    rejected with a reason (SPEC §5 reasons, plus UNKNOWN_PERSON, NOT_PUSHED, ALREADY_CLOSED)."""
    _need_user(user)
    at = _now(now)
    tables = read_source([path], "feedback", settings)
    if label:
        for table in tables:
            table.file_name = label
    checked = validate_source("feedback", tables, Context(settings, root, settings.year, run_date or date.today(),
                                                          frozenset(), None))
    valid = checked.valid
    rejects = checked.rejects[["file", "row", "reason", "column", "original"]]
    with engine.begin() as conn:
        known = store.read_table(conn, store.alert_states, store.alert_states.c.id_number.in_(
            valid["id_number"].dropna().unique().tolist())) if not valid.empty else \
            pd.DataFrame(columns=["year", "id_number", "state", "level"])
        merged = valid.merge(known[["year", "id_number", "state", "level"]], on=["year", "id_number"], how="left")
        if viewer is not None:  # alerts outside the viewer's towns are as unknown as absent ones
            viewer.require("alerts")
            village = store.read_table(conn, store.alerts, store.alerts.c.id_number.in_(
                merged["id_number"].dropna().unique().tolist()))[["year", "id_number", "village_code"]]
            merged = merged.merge(village, on=["year", "id_number"], how="left")
            merged.loc[~viewer.in_scope(merged["village_code"].fillna("")), "state"] = pd.NA
        reason = pd.Series("", index=merged.index, dtype="str")
        reason[merged["state"].isna()] = "UNKNOWN_PERSON"
        reason[merged["state"] == "待推送"] = "NOT_PUSHED"
        reason[merged["state"] == "已办结"] = "ALREADY_CLOSED"
        bad = reason != ""
        if bad.any():
            originals = {}
            for table in tables:
                for number, text in zip(table.row_numbers, table.originals(table.cells.index)):
                    originals[(table.label, int(number))] = text
            late = pd.DataFrame({"file": merged.loc[bad, "_file"], "row": merged.loc[bad, "_row"],
                                 "reason": reason[bad], "column": "身份证号"})
            late["original"] = [originals.get((f, int(r)), "") for f, r in zip(late["file"], late["row"])]
            rejects = pd.concat([rejects, late], ignore_index=True).sort_values(["file", "row"], kind="stable")
        good = merged[~bad]
        import_id = int(conn.execute(store.feedback_imports.insert().values(
            at=str(at), by=user, file=label or path.name, rows_read=len(checked.valid) + len(checked.rejects),
            rows_loaded=len(good), rows_rejected=len(rejects))).inserted_primary_key[0])
        for row in good.itertuples():
            match = (store.alert_states.c.year == int(row.year)) & (store.alert_states.c.id_number == row.id_number)
            conn.execute(store.alert_states.update().where(match).values(
                state="已核实", result=row.result, verified_on=row.verified_on, remark=row.remark or "",
                updated_at=str(at), updated_by=user))
        _events(conn, [{"year": int(r.year), "id_number": r.id_number, "at": str(at), "by": user, "action": "核实",
                        "state_before": r.state, "state_after": "已核实", "level": r.level,
                        "detail": f"{r.result}（{r.verified_on}）{('：' + r.remark) if r.remark else ''}"}
                       for r in good.itertuples()])
        store.write_frame(conn, store.feedback_rejects, rejects.assign(import_id=import_id))
    audit.record(engine, user, "反馈导入", label or path.name, f"核实 {len(good)}，拒收 {len(rejects)}",
                 len(checked.valid) + len(checked.rejects), now=at)
    return FeedbackResult(import_id, len(checked.valid) + len(checked.rejects), len(good),
                          rejects.reset_index(drop=True))


def feedback_rejects(engine: Engine, import_id: int) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.read_table(conn, store.feedback_rejects, store.feedback_rejects.c.import_id == import_id,
                                [store.feedback_rejects.c.file, store.feedback_rejects.c.row])


def feedback_imports(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.read_table(conn, store.feedback_imports, None, [store.feedback_imports.c.id.desc()])


# ---------------------------------------------------------------- closing, history, statistics

def close(engine: Engine, year: int, ids: list[str], remark: str, user: str, now: datetime | None = None,
          viewer: Viewer | None = None) -> int:
    """已核实 → 已办结 with a remark; other states are left alone. Returns how many were closed."""
    if not remark.strip():
        raise WorkflowError("办结需填写备注")
    _need_user(user)
    at = _now(now)
    with engine.begin() as conn:
        ready = _in_state(conn, year, ids, viewer, "已核实", "所选预警中没有已核实的（只有已核实的预警可以办结）")
        conn.execute(store.alert_states.update().where(
            (store.alert_states.c.year == year) & store.alert_states.c.id_number.in_(ready["id_number"].tolist())
        ).values(state="已办结", closed_at=str(at), remark=remark, updated_at=str(at), updated_by=user))
        _events(conn, [{"year": year, "id_number": r.id_number, "at": str(at), "by": user, "action": "办结",
                        "state_before": "已核实", "state_after": "已办结", "level": r.level, "detail": remark}
                       for r in ready.itertuples()])
    audit.record(engine, user, "办结", f"{year} 年预警", remark, len(ready), now=at)
    return len(ready)


def history(engine: Engine, year: int, id_number: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.read_table(conn, store.alert_events, (store.alert_events.c.year == year) &
                                (store.alert_events.c.id_number == id_number), [store.alert_events.c.id])


def statistics(engine: Engine, year: int) -> pd.DataFrame:
    """Pushed alerts per month of push, department and verification result (未反馈 when none yet)."""
    with engine.connect() as conn:
        states = _states(conn, year)
    pushed = states[states["pushed_at"].fillna("") != ""]
    if pushed.empty:
        return pd.DataFrame(columns=["month", "department", "result", "count"])
    frame = pd.DataFrame({"month": pushed["pushed_at"].str.slice(0, 7), "department": pushed["department"],
                          "result": pushed["result"].where(pushed["result"].isin(RESULTS), "未反馈")})
    return frame.value_counts().rename("count").reset_index().sort_values(["month", "department", "result"]) \
        .reset_index(drop=True)


# ---------------------------------------------------------------- draft batches (prepared by the scheduler)

def prepare_draft(engine: Engine, year: int, department: str, by: str = "scheduler",
                  now: datetime | None = None) -> int | None:
    """A draft batch of every alert still 待推送; None when there is none. Nothing is pushed until approved."""
    with engine.begin() as conn:
        ready = _states(conn, year)
        ids = ready.loc[ready["state"] == "待推送", "id_number"].tolist()
        if not ids:
            return None
        return int(conn.execute(store.push_drafts.insert().values(
            year=year, department=department, created_at=str(_now(now)), created_by=by, ids=",".join(ids),
            rows=len(ids), status="待审批")).inserted_primary_key[0])


def drafts(engine: Engine, year: int) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.read_table(conn, store.push_drafts, store.push_drafts.c.year == year,
                                [store.push_drafts.c.id.desc()])


def _draft(conn: Connection, draft_id: int) -> dict:
    row = conn.execute(sa.select(store.push_drafts).where(store.push_drafts.c.id == draft_id)).mappings().first()
    if row is None:
        raise WorkflowError(f"没有草稿批次 #{draft_id}")
    if row["status"] != "待审批":
        raise WorkflowError(f"草稿批次 #{draft_id} 已{row['status']}")
    return dict(row)


def approve_draft(engine: Engine, draft_id: int, user: str, names: pd.Series, settings: Settings,
                  now: datetime | None = None, viewer: Viewer | None = None) -> PushResult:
    """Push a draft's alerts that are still 待推送 and mark the draft 已推送 with its batch number."""
    with engine.connect() as conn:
        draft = _draft(conn, draft_id)
    result = push(engine, int(draft["year"]), draft["ids"].split(","), draft["department"], user, names, settings,
                  filters=f"草稿批次 #{draft_id}", now=now, viewer=viewer)
    with engine.begin() as conn:
        conn.execute(store.push_drafts.update().where(store.push_drafts.c.id == draft_id).values(
            status="已推送", decided_at=str(_now(now)), decided_by=user, batch_no=result.batch_no))
    return result


def discard_draft(engine: Engine, draft_id: int, user: str, now: datetime | None = None) -> None:
    _need_user(user)
    with engine.begin() as conn:
        _draft(conn, draft_id)
        conn.execute(store.push_drafts.update().where(store.push_drafts.c.id == draft_id).values(
            status="已放弃", decided_at=str(_now(now)), decided_by=user))
