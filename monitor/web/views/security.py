"""Tables of the user and security pages: accounts with password age, second factor and lock, open sessions."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine

from monitor.config import Settings
from monitor.security import auth, second_factor, sessions


def _password_state(row: pd.Series, max_age: int) -> str:
    if row["must_change"]:
        return "待本人修改"
    if max_age and row["password_age_days"] > max_age:
        return "已过期"
    return "有效"


def user_table(engine: Engine, towns: dict[str, str], settings: Settings, now: datetime | None = None) -> pd.DataFrame:
    """Every account as the administrators see it (Chinese headers): role, towns, password age and state, second
    factor, lock."""
    at = now or datetime.now()
    frame = auth.users(engine)
    locked = auth.locked_accounts(engine, settings, at)
    changed = pd.to_datetime(frame["password_changed_at"], errors="coerce")
    frame["password_age_days"] = (pd.Timestamp(at) - changed).dt.days.astype("Int64")
    needs = frame["role"].map(lambda r: second_factor.required(r, settings.totp_for_everyone))
    return pd.DataFrame(
        {
            "用户名": frame["username"],
            "姓名": frame["display_name"],
            "角色": frame["role"].replace("", "待分配").fillna("待分配"),
            "负责乡镇": frame["towns"].map(lambda t: "、".join(towns.get(c, c) for c in t.split(",")) if t else "全部"),
            "启用": frame["active"].astype(bool),
            "密码已用天数": frame["password_age_days"],
            "密码状态": frame.apply(_password_state, axis=1, max_age=settings.password_max_age_days),
            "动态口令": [
                ("已绑定" if e else "未绑定") if n else ("已绑定" if e else "不需要")
                for e, n in zip(frame["totp_enrolled"], needs, strict=False)
            ],
            "锁定至": frame["username"].map(lambda u: f"{locked[u]:%Y-%m-%d %H:%M}" if u in locked else ""),
            "创建时间": frame["created_at"],
        }
    )


def session_table(engine: Engine, settings: Settings, now: datetime | None = None) -> pd.DataFrame:
    frame = sessions.open_sessions(engine, settings.session_timeout_minutes, now)
    return frame.rename(columns={"username": "用户名", "started_at": "登录时间", "last_seen": "最近操作"})
