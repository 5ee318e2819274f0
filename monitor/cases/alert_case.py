"""The alert case (SPEC §10): its states, the list of a year's alerts with them, the states a load creates and
moves, the history and the statistics. This package is the only writer of alert states: a load syncs them
here, pushes, feedback, closing and drafts move them in cases.push and cases.feedback.

Every change is one transaction and leaves an event row saying who did what and when.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from monitor.base.text import positions_in
from monitor.rules.alert_rules import LEVEL_ORDER
from monitor.rules.divisions import town_of
from monitor.security.access import AccessDenied, Viewer
from monitor.storage import store, table_copies


class AlertState(StrEnum):
    """Where an alert case stands (SPEC §10); the values are the words the pages, exports and database use."""

    TO_PUSH = "待推送"
    PUSHED = "已推送"
    VERIFIED = "已核实"
    CLOSED = "已办结"


STATES = tuple(AlertState)


def reached(state: AlertState) -> tuple[AlertState, ...]:
    """The states of an alert that has got at least as far as `state` (the case only moves forward)."""
    return STATES[STATES.index(state) :]


RESULTS = ("纳入监测", "已落实救助", "不符合条件", "无法联系")
# The case columns an alert list shows, and their value for an alert that has no state row yet.
STATE_COLUMNS = {"state": AlertState.TO_PUSH.value, "upgraded": False, "batch_no": "", "department": "", "result": ""}


class WorkflowError(ValueError):
    """A workflow request that cannot be carried out; the message says why, in Chinese."""


def stamp(now: datetime | None) -> datetime:
    return (now or datetime.now()).replace(microsecond=0)


def record_events(conn: Connection, rows: list[dict]) -> None:
    store.write_frame(conn, store.alert_events, pd.DataFrame(rows))


def read_states(conn: Connection, year: int, ids: list[str] | None = None) -> pd.DataFrame:
    where = store.alert_states.c.year == year
    if ids is not None:
        where &= store.alert_states.c.id_number.in_(ids)
    return store.read_table(conn, store.alert_states, where)


def check_scope(
    conn: Connection, year: int, ids: list[str], viewer: Viewer | None, action: str, table: sa.Table = store.alerts
) -> None:
    """Every person must lie in the viewer's towns (alerts or outreach list of the year)."""
    if viewer is None:
        return
    viewer.require(action)
    villages = pd.Series(
        conn.execute(sa.select(table.c.village_code).where((table.c.year == year) & table.c.id_number.in_(list(ids))))
        .scalars()
        .all(),
        dtype="str",
    )
    if len(villages) < len(set(ids)) or not viewer.in_scope(villages).all():
        raise AccessDenied("所选人员超出您的乡镇范围")


def need_user(user: str) -> None:
    if not user.strip():
        raise WorkflowError("请填写操作人")


def in_state(
    conn: Connection, year: int, ids: list[str], viewer: Viewer | None, state: str, none_message: str
) -> pd.DataFrame:
    """The chosen alerts (inside the viewer's towns) that are in a state; WorkflowError when there are none."""
    check_scope(conn, year, list(ids), viewer, "alerts")
    states = read_states(conn, year, list(ids))
    ready = states[states["state"] == state]
    if ready.empty:
        raise WorkflowError(none_message)
    return ready


def history(engine: Engine, year: int, id_number: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return store.read_table(
            conn,
            store.alert_events,
            (store.alert_events.c.year == year) & (store.alert_events.c.id_number == id_number),
            [store.alert_events.c.id],
        )


def statistics(engine: Engine, year: int) -> pd.DataFrame:
    """Pushed alerts per month of push, department and verification result (未反馈 when none yet)."""
    with engine.connect() as conn:
        states = read_states(conn, year)
    pushed = states[states["pushed_at"].fillna("") != ""]
    if pushed.empty:
        return pd.DataFrame(columns=["month", "department", "result", "count"])
    frame = pd.DataFrame(
        {
            "month": pushed["pushed_at"].str.slice(0, 7),
            "department": pushed["department"],
            "result": pushed["result"].where(pushed["result"].isin(RESULTS), "未反馈"),
        }
    )
    return (
        frame.value_counts()
        .rename("count")
        .reset_index()
        .sort_values(["month", "department", "result"])
        .reset_index(drop=True)
    )


def alert_list(engine: Engine, year: int) -> pd.DataFrame:
    """Alerts of a year with their workflow state. The alerts come from the year's columnar copy on SQLite when it
    matches the database (tens of thousands of rows of twenty columns cost sqlite3 a quarter of a second), the states
    from the database, where the workflow changes them."""
    copy = table_copies.read(engine, store.alerts, year)
    if copy is not None:
        states = store.alert_states
        # only the states a case has moved: the others read as no state does (a city's 99,000 alerts: 0.6 → 0.2 s)
        moved = sa.or_(
            *(sa.func.coalesce(states.c[column], default) != default for column, default in STATE_COLUMNS.items())
        )
        with engine.connect() as conn:
            current = store.read_select(
                conn,
                sa.select(states.c.id_number, *(states.c[c] for c in STATE_COLUMNS)).where(
                    (states.c.year == year) & moved
                ),
            )
        rows = copy.sort_values("seq", kind="stable").reset_index(drop=True)
        where = positions_in(rows["id_number"], current["id_number"])
        for column, default in STATE_COLUMNS.items():
            found = pd.Series(current[column].array.take(where, allow_fill=True), index=rows.index)
            rows[column] = found.fillna(default).astype(bool) if column == "upgraded" else found.fillna(default)
        return rows
    alerts, states = store.alerts, store.alert_states
    query = (
        sa.select(alerts, *(states.c[c] for c in STATE_COLUMNS))
        .select_from(
            alerts.outerjoin(states, (states.c.year == alerts.c.year) & (states.c.id_number == alerts.c.id_number))
        )
        .where(alerts.c.year == year)
        .order_by(alerts.c.seq)
    )
    rows = store.read_bulk_select(engine, query)
    for column, default in STATE_COLUMNS.items():
        if column != "upgraded":  # read as False where there is no state
            rows[column] = rows[column].fillna(default)
    return rows


def select(
    alerts: pd.DataFrame,
    *,
    levels: Iterable[str] = (),
    types: Iterable[str] = (),
    states: Iterable[str] = (),
    towns: Iterable[str] = (),
    identities: Iterable[str] = (),
) -> pd.DataFrame:
    """The alerts that match every given filter (an empty one keeps all): levels, alert types, states, towns (12-digit
    town codes; persons outside the register have none) and identity types ('' for none). The one filter of the
    预警 page, the command line's push and the monthly draft."""
    mask = pd.Series(True, index=alerts.index)
    identity = alerts["identity_type"].fillna("")
    town = town_of(alerts["village_code"]).where(alerts["village_code"].fillna("") != "", "")
    for values, chosen in (
        (alerts["level"], levels),
        (alerts["alert_type"], types),
        (alerts["state"], states),
        (town, towns),
        (identity, identities),
    ):
        wanted = list(chosen)
        if wanted:
            mask &= values.isin(wanted)
    return alerts[mask]


def sync_states(conn: sa.Connection, year: int, alerts: pd.DataFrame) -> None:
    """New alerts start 待推送; an unpushed alert follows its level; a level that rises after a push sends the
    alert back to 待推送 marked 升级 (the push, result and history stay). Recomputing never resets a state."""
    existing = store.read_table(conn, store.alert_states, store.alert_states.c.year == year)
    at = store.now()
    merged = alerts[["id_number", "level"]].merge(
        existing[["id_number", "state", "level"]], on="id_number", how="left", suffixes=("", "_before")
    )
    fresh = merged[merged["state"].isna()]
    store.write_frame(
        conn,
        store.alert_states,
        pd.DataFrame(
            {
                "year": year,
                "id_number": fresh["id_number"],
                "state": AlertState.TO_PUSH,
                "level": fresh["level"],
                "upgraded": False,
                "updated_at": at,
                "updated_by": "system",
            }
        ),
    )
    events = [
        {
            "year": year,
            "id_number": r.id_number,
            "at": at,
            "by": "system",
            "action": "生成",
            "state_before": "",
            "state_after": AlertState.TO_PUSH,
            "level": r.level,
            "detail": "",
        }
        for r in fresh.itertuples()
    ]
    known = merged[merged["state"].notna() & (merged["level"] != merged["level_before"])]
    # LEVEL_ORDER counts from the most severe level (红 = 0): a rise is a fall of the order; no level before = 3
    before = known["level_before"].map(LEVEL_ORDER).astype("float64").fillna(len(LEVEL_ORDER))
    rise = before - known["level"].map(LEVEL_ORDER).astype("float64")
    for row, rose in zip(known.itertuples(), rise, strict=True):
        match = (store.alert_states.c.year == year) & (store.alert_states.c.id_number == row.id_number)
        if row.state == AlertState.TO_PUSH:
            conn.execute(store.alert_states.update().where(match).values(level=row.level))
        elif rose > 0:
            conn.execute(
                store.alert_states.update()
                .where(match)
                .values(state=AlertState.TO_PUSH, level=row.level, upgraded=True, updated_at=at, updated_by="system")
            )
            events.append(
                {
                    "year": year,
                    "id_number": row.id_number,
                    "at": at,
                    "by": "system",
                    "action": "升级",
                    "state_before": row.state,
                    "state_after": AlertState.TO_PUSH,
                    "level": row.level,
                    "detail": f"{row.level_before} → {row.level}",
                }
            )
    store.write_frame(conn, store.alert_events, pd.DataFrame(events))
