"""Who may see what: roles, their pages and actions, town scope, and masking of personal data on screen."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from monitor.rules.divisions import town_of

LEADER, ENROLLMENT, ASSISTANCE = "领导", "扩面专员", "救助专员"
# 三员分立: three administrators whose duties never meet in one account (an account has exactly one role).
ADMIN, SECURITY, AUDITOR = "系统管理员", "安全管理员", "审计管理员"
ROLES = (LEADER, ENROLLMENT, ASSISTANCE, ADMIN, SECURITY, AUDITOR)
ADMIN_ROLES = (ADMIN, SECURITY, AUDITOR)
UNASSIGNED = ""  # an account the system administrator created, waiting for the security administrator's role


@dataclass(frozen=True)
class Page:
    """A page of the app: its file under pages/, title, icon, address, and the roles that may open it."""

    file: str
    title: str
    icon: str
    url_path: str
    roles: tuple[str, ...]


# The one page registry, in menu order: app.py builds the navigation from it, Viewer.sees_page reads the roles.
# 领导 sees aggregates only; the security and audit administrators see no resident data.
PAGES = (
    Page("1_overview.py", "总览", ":material/dashboard:", "home", (LEADER, ENROLLMENT, ASSISTANCE, ADMIN)),
    Page("2_map.py", "参保地图", ":material/map:", "coverage-map", (LEADER, ENROLLMENT, ASSISTANCE, ADMIN)),
    Page("3_outreach.py", "扩面名单", ":material/checklist:", "outreach-lists", (ENROLLMENT, ADMIN)),
    Page("4_alerts.py", "预警", ":material/warning:", "alert-list", (ASSISTANCE, ADMIN)),
    Page("7_campaign.py", "集中缴费期", ":material/campaign:", "collection-period", (LEADER, ENROLLMENT, ADMIN)),
    Page("5_data.py", "数据", ":material/database:", "data-runs", (ADMIN,)),
    Page("6_admin.py", "用户管理", ":material/group:", "users", (ADMIN,)),
    Page("8_security.py", "安全管理", ":material/admin_panel_settings:", "security-admin", (SECURITY,)),
    Page("9_audit.py", "审计日志", ":material/policy:", "audit-log", (AUDITOR,)),
    Page("10_help.py", "帮助", ":material/help:", "user-guide", ROLES),  # each role reads its own chapter of the manual
)
ROLES_BY_PAGE = {page.file: page.roles for page in PAGES}
# Actions that hand out personal data or change it.
ACTIONS = {
    "outreach": (ENROLLMENT, ADMIN),  # list, outcomes, door-to-door export
    "alerts": (ASSISTANCE, ADMIN),  # list, detail, push, feedback, close
    "load": (ADMIN,),
    "users": (ADMIN,),  # create accounts, reset passwords, enable and disable
    "security": (SECURITY,),  # roles, town scopes, unlocks, second factors, sessions, password policy
    "audit": (AUDITOR,),  # read, export and verify the audit log
}


class AccessDenied(PermissionError):
    """The viewer's role or scope does not allow the request."""


@dataclass(frozen=True)
class Viewer:
    username: str
    role: str
    towns: frozenset[str] | None = None  # 12-digit town codes; None = every town
    must_change: bool = False  # the password must be changed before anything else
    second_factor: str = ""  # "verify" or "enrol" while the TOTP step of the sign-in is still to come
    session: str = ""  # the token of the signed-in session (monitor.security.sessions)

    def require(self, action: str) -> None:
        if self.role not in ACTIONS[action]:
            raise AccessDenied(f"{self.role}无权访问（{action}）")

    def pages(self) -> list[Page]:
        """The pages this viewer may open, in menu order."""
        return [page for page in PAGES if self.role in page.roles]

    def sees_page(self, page_file: str) -> bool:
        return self.role in ROLES_BY_PAGE.get(page_file, ())

    def in_scope(self, codes: pd.Series) -> pd.Series:
        """True for rows whose town (from a town or village code) lies in the viewer's towns. Persons without a
        village (not in the register) are visible only to viewers with every town."""
        if self.towns is None:
            return pd.Series(True, index=codes.index)
        town = town_of(codes.fillna(""))
        return town.isin(self.towns) & (codes.fillna("") != "")


def mask_id(values: pd.Series) -> pd.Series:
    """First 6 + ******** + last 4."""
    text = values.fillna("").astype("str")
    return text.where(text.str.len() < 10, text.str.slice(0, 6) + "********" + text.str.slice(-4))


def mask_name(values: pd.Series) -> pd.Series:
    """All but the first character masked."""
    text = values.fillna("").astype("str")
    stars = text.map(lambda v: "*" * max(len(v) - 1, 0)).astype("str")  # str even when empty (no rows, no dtype)
    return text.str.slice(0, 1) + stars


def mask_phone(values: pd.Series) -> pd.Series:
    """First 3 + **** + last 4 for mobile numbers; other non-empty values fully masked."""
    text = values.fillna("").astype("str")
    masked = text.str.slice(0, 3) + "****" + text.str.slice(-4)
    return masked.where(text.str.len() >= 11, text.map(lambda v: "*" * len(v)).astype("str"))
