"""The department's answer (SPEC §10): feedback files that verify pushed alerts, and closing verified ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from monitor.cases.alert_case import (
    AlertState,
    WorkflowError,
    in_state,
    need_user,
    record_events,
    stamp,
)
from monitor.cases.assistance import help_event
from monitor.config import Settings
from monitor.files.read import read_source
from monitor.rules.loop import HELP_RESULTS
from monitor.rules.validate import Context, validate_source
from monitor.security import audit
from monitor.security.access import Viewer
from monitor.storage import store

# Feedback rows that are well-formed but name no alert the department could verify.
FEEDBACK_REASONS = {
    "UNKNOWN_PERSON": "该年度无此人的预警",
    "NOT_PUSHED": "预警尚未推送",
    "ALREADY_CLOSED": "预警已办结",
    "HELP_NOT_NEEDED": "核实结果无需帮扶，不能登记帮扶措施",
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
            else pd.DataFrame(columns=["year", "id_number", "state", "level", "department"])
        )
        merged = valid.merge(
            known[["year", "id_number", "state", "level", "department"]], on=["year", "id_number"], how="left"
        )
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
        helping = merged["help_measure"].fillna("") != ""
        reason[(reason == "") & helping & ~merged["result"].isin(HELP_RESULTS)] = "HELP_NOT_NEEDED"
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
                    "column": np.where(reason[bad] == "HELP_NOT_NEEDED", "帮扶措施", "身份证号"),
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
        verifications = good.drop_duplicates(["year", "id_number"])  # one row per measure repeats the verification
        for row in verifications.itertuples():
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
                for r in verifications.itertuples()
            ],
        )
        _store_measures(conn, good[good["help_measure"].fillna("") != ""], import_id, user, at)
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


def _store_measures(conn: Connection, rows: pd.DataFrame, import_id: int, user: str, at: datetime) -> None:
    """The help measures of a feedback file's rows (SPEC §10: one row per measure; the department is the batch's)."""
    if rows.empty:
        return
    amounts = rows["help_amount"].astype("Int64")
    store.write_frame(
        conn,
        store.alert_measures,
        pd.DataFrame(
            {
                "year": rows["year"].astype("int64").to_numpy(),
                "id_number": rows["id_number"].to_numpy(),
                "kind": rows["help_measure"].to_numpy(),
                "taken_on": rows["help_date"].to_numpy(),
                "amount": amounts.to_numpy(),
                "department": rows["department"].fillna("").to_numpy(),
                "recorded_at": str(at),
                "recorded_by": user,
                "source": f"反馈导入 #{import_id}",
            }
        ),
    )
    record_events(
        conn,
        [
            help_event(
                int(r.year),
                r.id_number,
                at,
                user,
                r.level,
                r.help_measure,
                r.help_date,
                None if pd.isna(amount) else int(amount),
            )
            for r, amount in zip(rows.itertuples(), amounts, strict=True)
        ],
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
    """已核实 → 已办结 (SPEC §10): after at least one help measure for 纳入监测 and 已落实救助, with a remark
    for a result that needs none (不符合条件, 无法联系). Other states and alerts not yet closable are left
    alone. Returns how many were closed; WorkflowError says why when none can be."""
    need_user(user)
    at = stamp(now)
    with engine.begin() as conn:
        none_verified = "所选预警中没有已核实的（只有已核实的预警可以办结）"
        verified = in_state(conn, year, ids, viewer, AlertState.VERIFIED, none_verified)
        helped = conn.execute(
            sa.select(store.alert_measures.c.id_number)
            .where((store.alert_measures.c.year == year) & store.alert_measures.c.id_number.in_(list(ids)))
            .distinct()
        ).scalars()
        needs_help = verified["result"].isin(HELP_RESULTS)
        with_measure = verified["id_number"].isin(set(helped))
        ready = verified[(needs_help & with_measure) | (~needs_help & bool(remark.strip()))]
        if ready.empty:
            if (needs_help & ~with_measure).any():
                raise WorkflowError("纳入监测、已落实救助的预警须先登记至少一项帮扶措施，才能办结")
            raise WorkflowError("核实结果为不符合条件、无法联系的预警，办结需填写备注")
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
