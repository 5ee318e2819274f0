"""The audit log: sign-ins, unmasked views, exports, pushes, user changes. Rows are only ever inserted."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor import store

ACTIONS = ("登录", "登录失败", "退出", "查看明细", "导出", "推送", "反馈导入", "办结", "走访记录", "用户变更", "载入")


def record(engine: Engine, username: str, action: str, object_: str, detail: str = "", rows: int | None = None,
           result: str = "成功", now: datetime | None = None) -> None:
    """Append one entry: who, when, what, on which object, with which filter, how many rows, and the result."""
    at = (now or datetime.now()).replace(microsecond=0)
    with engine.begin() as conn:
        conn.execute(store.audit_log.insert().values(at=str(at), username=username, action=action, object=object_,
                                                     detail=detail, rows=rows, result=result))


def entries(engine: Engine, username: str | None = None, action: str | None = None,
            since: str | None = None) -> pd.DataFrame:
    """Entries newest first, optionally for one user, one action, from a date on."""
    where = sa.true()
    if username:
        where &= store.audit_log.c.username == username
    if action:
        where &= store.audit_log.c.action == action
    if since:
        where &= store.audit_log.c.at >= since
    with engine.connect() as conn:
        return store.read_table(conn, store.audit_log, where, [store.audit_log.c.id.desc()])
