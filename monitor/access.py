"""Who may see what: roles, their pages and actions, town scope, and masking of personal data on screen."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from monitor.coverage import at_level

LEADER, ENROLLMENT, ASSISTANCE = "领导", "扩面专员", "救助专员"
# 三员分立: three administrators whose duties never meet in one account (an account has exactly one role).
ADMIN, SECURITY, AUDITOR = "系统管理员", "安全管理员", "审计管理员"
ROLES = (LEADER, ENROLLMENT, ASSISTANCE, ADMIN, SECURITY, AUDITOR)
ADMIN_ROLES = (ADMIN, SECURITY, AUDITOR)
UNASSIGNED = ""  # an account the system administrator created, waiting for the security administrator's role
# Pages by their file; 领导 sees aggregates only; the security and audit administrators see no resident data.
PAGES = {
    "1_overview.py": (LEADER, ENROLLMENT, ASSISTANCE, ADMIN),
    "2_map.py": (LEADER, ENROLLMENT, ASSISTANCE, ADMIN),
    "3_outreach.py": (ENROLLMENT, ADMIN),
    "4_alerts.py": (ASSISTANCE, ADMIN),
    "5_data.py": (ADMIN,),
    "6_admin.py": (ADMIN,),
    "7_campaign.py": (LEADER, ENROLLMENT, ADMIN),
    "8_security.py": (SECURITY,),
    "9_audit.py": (AUDITOR,),
}
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
    session: str = ""  # the token of the signed-in session (monitor.sessions)

    def require(self, action: str) -> None:
        if self.role not in ACTIONS[action]:
            raise AccessDenied(f"{self.role}无权访问（{action}）")

    def sees_page(self, page_file: str) -> bool:
        return self.role in PAGES.get(page_file, ())

    def in_scope(self, codes: pd.Series) -> pd.Series:
        """True for rows whose town (from a town or village code) lies in the viewer's towns. Persons without a
        village (not in the register) are visible only to viewers with every town."""
        if self.towns is None:
            return pd.Series(True, index=codes.index)
        town = at_level(codes.fillna(""), "乡镇")
        return town.isin(self.towns) & (codes.fillna("") != "")


def mask_id(values: pd.Series) -> pd.Series:
    """First 6 + ******** + last 4."""
    text = values.fillna("").astype("str")
    return text.where(text.str.len() < 10, text.str.slice(0, 6) + "********" + text.str.slice(-4))


def mask_name(values: pd.Series) -> pd.Series:
    """All but the first character masked."""
    text = values.fillna("").astype("str")
    return text.str.slice(0, 1) + text.str.len().sub(1).clip(lower=0).map(lambda n: "*" * n)


def mask_phone(values: pd.Series) -> pd.Series:
    """First 3 + **** + last 4 for mobile numbers; other non-empty values fully masked."""
    text = values.fillna("").astype("str")
    masked = text.str.slice(0, 3) + "****" + text.str.slice(-4)
    return masked.where(text.str.len() >= 11, text.map(lambda v: "*" * len(v)))


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_text(value: str) -> str:
    """One cell: a leading apostrophe when a spreadsheet would run it as a formula (plain numbers stay)."""
    if value.startswith(FORMULA_START) and not re.fullmatch(r"[-+]?\d+(\.\d+)?", value):
        return "'" + value
    return value


def neutralise(values: pd.Series) -> pd.Series:
    """Cells a spreadsheet would run as formulas get a leading apostrophe; plain numbers like -12.30 stay."""
    text = values.astype("str")
    risky = text.str.startswith(FORMULA_START) & ~text.str.fullmatch(r"[-+]?\d+(\.\d+)?").fillna(False)
    return text.where(~risky.fillna(False), "'" + text)


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text column of an export neutralised (formula injection); numeric columns as they are."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            filled = out[column].fillna("")
            out[column] = neutralise(filled).where(out[column].notna(), out[column])
    return out
