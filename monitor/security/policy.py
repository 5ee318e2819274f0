"""The security policy in force: config.toml's [security] values, as changed by the security administrator."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.config import Settings
from monitor.security import audit
from monitor.storage import store


@dataclass(frozen=True)
class Rule:
    key: str  # the Settings field
    label: str
    minimum: int


RULES = (
    Rule("password_min_length", "密码最短长度（位）", 10),
    Rule("password_max_age_days", "密码有效期（天，0 为不过期）", 0),
    Rule("lockout_failures", "锁定前允许的连续失败次数", 1),
    Rule("lockout_window_minutes", "失败次数的统计时间窗（分钟）", 1),
    Rule("lockout_minutes", "锁定时长（分钟）", 1),
    Rule("session_timeout_minutes", "无操作自动退出（分钟）", 1),
    Rule("totp_for_everyone", "所有角色登录都需动态口令（1 是，0 否）", 0),
)
BY_KEY = {r.key: r for r in RULES}


class PolicyError(ValueError):
    """A policy value out of range; the message names the rule."""


def effective(engine: Engine, settings: Settings) -> Settings:
    """Settings with the security administrator's stored values in place of config's."""
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.select(store.security_policy.c.key, store.security_policy.c.value)).all())
    changes: dict[str, Any] = {
        k: (bool(v) if k == "totp_for_everyone" else int(v)) for k, v in stored.items() if k in BY_KEY
    }
    return dataclasses.replace(settings, **changes)


def current(settings: Settings) -> dict[str, int]:
    return {r.key: int(getattr(settings, r.key)) for r in RULES}


def change(
    engine: Engine, values: dict[str, int], by: str, settings: Settings, now: datetime | None = None
) -> list[str]:
    """Store the values that differ from the policy in force; returns what changed (each one audited)."""
    before = current(effective(engine, settings))
    for key, value in values.items():
        rule = BY_KEY.get(key)
        if rule is None:
            raise PolicyError(f"没有策略项 {key}")
        if int(value) < rule.minimum or (key == "totp_for_everyone" and int(value) > 1):
            raise PolicyError(f"{rule.label}：不能小于 {rule.minimum}")
    at = str((now or datetime.now()).replace(microsecond=0))
    changed = [k for k, v in values.items() if int(v) != before[k]]
    with engine.begin() as conn:
        for key in changed:
            conn.execute(store.security_policy.delete().where(store.security_policy.c.key == key))
            conn.execute(
                store.security_policy.insert().values(key=key, value=int(values[key]), changed_at=at, changed_by=by)
            )
    for key in changed:
        audit.record(engine, by, "安全策略", BY_KEY[key].label, f"{before[key]} → {int(values[key])}", now=now)
    return changed
