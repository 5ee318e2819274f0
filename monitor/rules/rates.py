"""Rates (SPEC §7): 100 × part ÷ whole in hundredths of a percent, rounded half-up with integers only.

The one rate function of the product: coverage, campaign progress, the bulletin's completion, the exports and
every page take their rates from here, so 1 of 800 reads 0.13 wherever it is shown (a float rounding of
0.125 gives 0.12).
"""

from __future__ import annotations

import pandas as pd


def rate_hundredths(part: pd.Series, whole: pd.Series) -> pd.Series:
    """100 × part / whole in hundredths of a percent, rounded half-up; NA where whole is 0 or missing."""
    num = part.astype("int64") * 10000
    den = whole.astype("Int64").fillna(0).astype("int64")
    safe = den.where(den > 0, 1)
    quotient = (2 * num + safe) // (2 * safe)
    return quotient.where(den > 0).astype("Int64")


def rate_percent(part: pd.Series, whole: pd.Series) -> pd.Series:
    """The same rate as a number of percent with two decimals (for tables and charts); NA where whole is 0."""
    return hundredths_to_percent(rate_hundredths(part, whole))


def hundredths_to_percent(hundredths: pd.Series) -> pd.Series:
    """9735 → 97.35 (Float64; NA stays NA)."""
    return (hundredths.astype("Int64") / 100).astype("Float64")


def format_rate(hundredths: pd.Series) -> pd.Series:
    """'97.35' from 9735; blank for NA (the exports' text form, SPEC §11)."""
    h = hundredths.astype("Int64")
    text = (h // 100).astype("str") + "." + (h % 100).astype("str").str.zfill(2)
    return text.where(h.notna(), "")
