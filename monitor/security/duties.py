"""三员分立 in the app: which account changes an acting administrator may make.

The system administrator creates accounts (without a role), resets the staff's passwords and enables or disables
their accounts; the security administrator gives roles and town scopes, unlocks and resets second factors, and alone
changes, disables or resets the accounts of the three administrators (系统, 安全, 审计管理员). Nobody changes their
own account this way (their own password is changed with the old one). The command line on the server passes no
acting viewer and is not restricted here: it is the operator's way back in.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.security.access import ADMIN, ADMIN_ROLES, SECURITY, UNASSIGNED, Viewer
from monitor.storage import store

ADD, RESET_PASSWORD, SET_ACTIVE = "新建账户", "重置密码", "启用或停用账户"
SET_ROLE, UNLOCK, RESET_SECOND_FACTOR = "分配角色", "解除锁定", "重置动态口令"
# Who does each change to a staff account (an administrator's account: the security administrator only).
OWNERS = {
    ADD: (ADMIN,),
    RESET_PASSWORD: (ADMIN,),
    SET_ACTIVE: (ADMIN,),
    SET_ROLE: (SECURITY,),
    UNLOCK: (SECURITY,),
    RESET_SECOND_FACTOR: (SECURITY,),
}
OWN_ACCOUNT = "不能在此变更自己的账户"
ADMINISTRATORS_ONLY_BY_SECURITY = "系统管理员、安全管理员、审计管理员的账户只能由安全管理员变更（三员分立）"


def refusal(actor: Viewer, username: str, target_role: str | None, change: str, new_role: str | None = None) -> str:
    """Why `actor` may not make `change` to the account `username` whose role is `target_role` ('' when allowed)."""
    if actor.username == username:
        return OWN_ACCOUNT
    if change == ADD and new_role not in (None, UNASSIGNED):
        return "新建的账户由安全管理员分配角色"
    if target_role in ADMIN_ROLES:
        return "" if actor.role == SECURITY else ADMINISTRATORS_ONLY_BY_SECURITY
    if actor.role not in OWNERS[change]:
        return f"{actor.role or '未分配角色的账户'}无权{change}"
    return ""


def allowed(actor: Viewer, username: str, target_role: str | None, change: str) -> bool:
    """For pages: whether to offer the change at all."""
    return not refusal(actor, username, target_role, change)


def role_of(engine: Engine, username: str) -> str | None:
    """The account's role ('' while unassigned), None when there is no such account."""
    with engine.connect() as conn:
        return conn.execute(sa.select(store.users.c.role).where(store.users.c.username == username)).scalar()
