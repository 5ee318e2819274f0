"""Division codes (PP CC DD TTT VVV): levels read from the code, ancestry and the root's subtree."""

from __future__ import annotations

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
    return list(LEVELS[LEVELS.index(level_of(root)):])


def within(code: str, root: str) -> bool:
    """True when a 12-digit code is the root or lies inside it."""
    return code.startswith(prefix(root))
