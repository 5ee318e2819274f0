"""Division codes (PP CC DD TTT VVV): levels read from the code, ancestry and the root's subtree."""

from __future__ import annotations

import pandas as pd

LEVELS = ("省", "市", "区县", "乡镇", "村社区")
# Significant digits of a code at each level.
LEVEL_DIGITS = {"省": 2, "市": 4, "区县": 6, "乡镇": 9, "村社区": 12}


def level_of(code: str) -> str:
    """Level name of a 12-digit code, read from its trailing zeros."""
    if code[2:] == "0" * 10:
        return "省"
    if code[4:] == "0" * 8:
        return "市"
    if code[6:] == "0" * 6:
        return "区县"
    if code[9:] == "000":
        return "乡镇"
    return "村社区"


def prefix(code: str) -> str:
    """The significant leading digits of a code (its descendants share them)."""
    return code[: LEVEL_DIGITS[level_of(code)]]


def ancestor(code: str, level: str) -> str:
    """The code of a division's ancestor (or itself) at a level."""
    digits = LEVEL_DIGITS[level]
    return code[:digits].ljust(12, "0")


def levels_below(root: str) -> list[str]:
    """Levels from the root down to the village: a county gives 区县, 乡镇, 村社区."""
    return list(LEVELS[LEVELS.index(level_of(root)) :])


def within(code: str, root: str) -> bool:
    """True when a 12-digit code is the root or lies inside it."""
    return code.startswith(prefix(root))


def at_level(codes: pd.Series, level: str) -> pd.Series:
    """Ancestor codes at a level for a column of 12-digit codes."""
    return codes.str.slice(0, LEVEL_DIGITS[level]).str.ljust(12, "0")


def town_of(codes: pd.Series) -> pd.Series:
    """The town (乡镇) code of each village or town code: the unit of a user's scope and of the town filters."""
    return at_level(codes, "乡镇")


def inside(codes: pd.Series, place: str) -> pd.Series:
    """True for the codes that are `place` or lie inside it (a town's villages, a county's towns, …); `place` may
    be given with its significant digits only (a 9-digit town code)."""
    return codes.fillna("").str.startswith(prefix(place.ljust(12, "0")))


def villages_in(codes: pd.Series, place: str) -> list[str]:
    """The village (村社区) codes among `codes` that lie in `place`, in code order."""
    found = codes[inside(codes, place)]
    return sorted(c for c in found if level_of(c) == "村社区")
