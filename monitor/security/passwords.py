"""The password rule (length, character classes, not the user name) and random passwords that pass it."""

from __future__ import annotations

import re
import secrets

from monitor.config import Settings


def password_problems(password: str, username: str, settings: Settings) -> list[str]:
    """What is wrong with a new password (empty when it is acceptable)."""
    problems = []
    if len(password) < settings.password_min_length:
        problems.append(f"至少 {settings.password_min_length} 位")
    classes = sum(bool(re.search(pattern, password)) for pattern in (r"[A-Z]", r"[a-z]", r"\d", r"[^A-Za-z\d]"))
    if classes < 3:
        problems.append("须包含大写字母、小写字母、数字、其他字符中的至少三类")
    if username and username.lower() in password.lower():
        problems.append("不能包含用户名")
    return problems


def random_password(settings: Settings, username: str) -> str:
    """A random password that passes the rule for this user (random letters can spell a short user name)."""
    while True:
        candidate = secrets.token_urlsafe(12) + secrets.choice("!#%*+=?@")
        if not password_problems(candidate, username, settings):
            return candidate
