"""Enrollment follow-up: the outcome of a visit (未参保原因) recorded per person of the outreach list."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.cases.alert_case import WorkflowError, check_scope, need_user, stamp
from monitor.security.access import Viewer
from monitor.storage import store

OUTCOMES = ("已动员参保", "已在外地参保", "拒绝参保", "无法联系", "已死亡或迁出")
OUTCOMES_NEEDING_REMARK = ("已死亡或迁出",)


def record_outcome(
    engine: Engine,
    year: int,
    id_number: str,
    outcome: str,
    remark: str,
    user: str,
    now: datetime | None = None,
    viewer: Viewer | None = None,
) -> None:
    """Record a campaign outcome (未参保原因) for a person of the outreach list; earlier ones stay in history."""
    if outcome not in OUTCOMES:
        raise WorkflowError(f"走访结果 {outcome} 无效（可选：{'、'.join(OUTCOMES)}）")
    if outcome in OUTCOMES_NEEDING_REMARK and not remark.strip():
        raise WorkflowError(f"「{outcome}」需填写备注（如死亡或迁出日期、去向）")
    need_user(user)
    with engine.begin() as conn:
        listed = conn.execute(
            sa.select(sa.func.count())
            .select_from(store.outreach)
            .where((store.outreach.c.year == year) & (store.outreach.c.id_number == id_number))
        ).scalar()
        if not listed:
            raise WorkflowError("此人不在本年度的扩面名单中")
        check_scope(conn, year, [id_number], viewer, "outreach", store.outreach)
        conn.execute(
            store.outreach_outcomes.insert().values(
                year=year, id_number=id_number, outcome=outcome, remark=remark, at=str(stamp(now)), by=user
            )
        )


def outcomes(engine: Engine, year: int) -> pd.DataFrame:
    """Every recorded outcome of the year, oldest first."""
    with engine.connect() as conn:
        return store.read_table(
            conn, store.outreach_outcomes, store.outreach_outcomes.c.year == year, [store.outreach_outcomes.c.at]
        )


def current_outcomes(engine: Engine, year: int) -> pd.DataFrame:
    """The latest outcome per person (the 未参保原因 reported upward)."""
    every = outcomes(engine, year)
    return every.drop_duplicates("id_number", keep="last").reset_index(drop=True)
