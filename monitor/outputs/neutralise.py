"""Formula injection: text cells a spreadsheet would run as formulas get a leading apostrophe (plain numbers stay).

Every file that leaves the system goes through here: CSV exports (outputs.release), xlsx workbooks, bulletins.
"""

from __future__ import annotations

import re

import pandas as pd

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
