"""The department's answer (SPEC §10): feedback files that verify pushed alerts, and closing verified ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from monitor.cases.alert_case import (
    AlertState,
    WorkflowError,
    in_state,
    need_user,
    record_events,
    stamp,
)
from monitor.config import Settings
from monitor.files.read import read_source
from monitor.rules.validate import Context, validate_source
from monitor.security import audit
from monitor.security.access import Viewer
from monitor.storage import store

# Feedback rows that are well-formed but name no alert the department could verify.
FEEDBACK_REASONS = {
    "UNKNOWN_PERSON": "该年度无此人的预警",
    "NOT_PUSHED": "预警尚未推送",
    "ALREADY_CLOSED": "预警已办结",
}


@dataclass
class FeedbackResult:
    import_id: int
    rows_read: int
    rows_loaded: int
    rejects: pd.DataFrame  # file, row, reason, column, original


def import_feedback(
    engine: Engine,
    path: Path,
    settings: Settings,
    user: str,
    root: str,
    run_date: date | None = None,
    now: datetime | None = None,
    label: str | None = None,
    viewer: Viewer | None = None,
) -> FeedbackResult:
    """Read a department's feedback (xlsx or csv); valid rows move pushed alerts to 已核实, every other row is
    rejected with a reason (SPEC §5 reasons, plus UNKNOWN_PERSON, NOT_PUSHED, ALREADY_CLOSED)."""
    need_user(user)
    at = stamp(now)
    tables = read_source([path], "feedback", settings)
    if label:
        for table in tables:
            table.file_name = label
    checked = validate_source(
        "feedback", tables, Context(settings, root, settings.year, run_date or date.today(), frozenset(), None)
    )
    valid = checked.valid
    rejects = checked.rejects[["file", "row", "reason", "column", "original"]]
    with engine.begin() as conn:
        known = (
            store.read_table(
                conn,
                store.alert_states,
                store.alert_states.c.id_number.in_(valid["id_number"].dropna().unique().tolist()),
            )
            if not valid.empty
            else pd.DataFrame(columns=["year", "id_number", "state", "level"])
        )
        merged = valid.merge(known[["year", "id_number", "state", "level"]], on=["year", "id_number"], how="left")
        if viewer is not None:  # alerts outside the viewer's towns are as unknown as absent ones
            viewer.require("alerts")
            village = store.read_table(
                conn, store.alerts, store.alerts.c.id_number.in_(merged["id_number"].dropna().unique().tolist())
            )[["year", "id_number", "village_code"]]
            merged = merged.merge(village, on=["year", "id_number"], how="left")
            merged.loc[~viewer.in_scope(merged["village_code"].fillna("")), "state"] = pd.NA
        reason = pd.Series("", index=merged.index, dtype="str")
        reason[merged["state"].isna()] = "UNKNOWN_PERSON"
        reason[merged["state"] == AlertState.TO_PUSH] = "NOT_PUSHED"
        reason[merged["state"] == AlertState.CLOSED] = "ALREADY_CLOSED"
        bad = reason != ""
        if bad.any():
            originals = {}
            for table in tables:
                for number, text in zip(table.row_numbers, table.originals(table.cells.index), strict=False):
                    originals[(table.label, int(number))] = text
            late = pd.DataFrame(
                {
                    "file": merged.loc[bad, "_file"],
                    "row": merged.loc[bad, "_row"],
                    "reason": reason[bad],
                    "column": "身份证号",
                }
            )
            late["original"] = [originals.get((f, int(r)), "") for f, r in zip(late["file"], late["row"], strict=False)]
            rejects = pd.concat([rejects, late], ignore_index=True).sort_values(["file", "row"], kind="stable")
        good = merged[~bad]
        key = conn.execute(
            store.feedback_imports.insert().values(
                at=str(at),
                by=user,
                file=label or path.name,
                rows_read=len(checked.valid) + len(checked.rejects),
                rows_loaded=len(good),
                rows_rejected=len(rejects),
            )
        ).inserted_primary_key
        assert key is not None  # an INSERT of one row always has its key
        import_id = int(key[0])
        for row in good.itertuples():
            match = (store.alert_states.c.year == int(row.year)) & (store.alert_states.c.id_number == row.id_number)
            conn.execute(
                store.alert_states.update()
                .where(match)
                .values(
                    state=AlertState.VERIFIED,
                    result=row.result,
                    verified_on=row.verified_on,
                    remark=row.remark or "",
                    updated_at=str(at),
                    updated_by=user,
                )
            )
        record_events(
            conn,
            [
                {
                    "year": int(r.year),
                    "id_number": r.id_number,
                    "at": str(at),
                    "by": user,
                    "action": "核实",
                    "state_before": r.state,
                    "state_after": AlertState.VERIFIED,
                    "level": r.level,
                    "detail": f"{r.result}（{r.verified_on}）{('：' + r.remark) if r.remark else ''}",
                }
                for r in good.itertuples()
            ],
        )
        store.write_frame(conn, store.feedback_rejects, rejects.assign(import_id=import_id))
    audit.record(
        engine,
        user,
        "反馈导入",
        label or path.name,
        f"核实 {len(good)}，拒收 {len(rejects)}",
        len(checked.valid) + len(checked.rejects),
        now=at,
    )
    return FeedbackResult(
        import_id, len(checked.valid) + len(checked.rejects), len(good), rejects.reset_index(drop=True)
    )


def feedback_rejects(engine: Engine, import_id: int) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.read_table(
            conn,
            store.feedback_rejects,
            store.feedback_rejects.c.import_id == import_id,
            [store.feedback_rejects.c.file, store.feedback_rejects.c.row],
        )


def feedback_imports(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.read_table(conn, store.feedback_imports, None, [store.feedback_imports.c.id.desc()])


def close(
    engine: Engine,
    year: int,
    ids: list[str],
    remark: str,
    user: str,
    now: datetime | None = None,
    viewer: Viewer | None = None,
) -> int:
    """已核实 → 已办结 with a remark; other states are left alone. Returns how many were closed."""
    if not remark.strip():
        raise WorkflowError("办结需填写备注")
    need_user(user)
    at = stamp(now)
    with engine.begin() as conn:
        none_verified = "所选预警中没有已核实的（只有已核实的预警可以办结）"
        ready = in_state(conn, year, ids, viewer, AlertState.VERIFIED, none_verified)
        conn.execute(
            store.alert_states.update()
            .where(
                (store.alert_states.c.year == year) & store.alert_states.c.id_number.in_(ready["id_number"].tolist())
            )
            .values(state=AlertState.CLOSED, closed_at=str(at), remark=remark, updated_at=str(at), updated_by=user)
        )
        record_events(
            conn,
            [
                {
                    "year": year,
                    "id_number": r.id_number,
                    "at": str(at),
                    "by": user,
                    "action": "办结",
                    "state_before": AlertState.VERIFIED,
                    "state_after": AlertState.CLOSED,
                    "level": r.level,
                    "detail": remark,
                }
                for r in ready.itertuples()
            ],
        )
    audit.record(engine, user, "办结", f"{year} 年预警", remark, len(ready), now=at)
    return len(ready)
