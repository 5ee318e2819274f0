"""Vectorised normalisers of SPEC §4: ID numbers, dates, amounts, division codes, enumerations.

Each takes a column of raw strings and returns (normalised values, bad mask); a blank input is
never "bad" here (required-value checks come first and are the validator's job).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from monitor.base.text import extract_groups, fold_series, parse_floats

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_CHARS = np.array(list("10X98765432"))


def blank(values: pd.Series) -> pd.Series:
    """True where a raw cell is empty after trimming."""
    return fold_series(values.fillna("")) == ""


def _check_digits(body17: pd.Series) -> np.ndarray:
    """MOD 11-2 check characters of 17-digit strings."""
    if body17.empty:
        return np.array([], dtype=str)
    digits = np.frombuffer("".join(body17.tolist()).encode("ascii"), dtype=np.uint8).reshape(-1, 17) - 48
    return _CHECK_CHARS[(digits.astype(np.int64) @ _ID_WEIGHTS) % 11]


def id_numbers(raw: pd.Series, run_date: date) -> tuple[pd.Series, pd.Series]:
    """GB 11643 ID numbers: 15-digit legacy numbers converted, check digit and birth date verified."""
    s = fold_series(raw.fillna("")).str.upper()
    is18 = s.str.fullmatch(r"\d{17}[\dX]").fillna(False).astype(bool)
    is15 = s.str.fullmatch(r"\d{15}").fillna(False).astype(bool)
    out = pd.Series(pd.NA, index=s.index, dtype="str")
    body = pd.Series("", index=s.index, dtype="str")
    body[is18] = s[is18].str.slice(0, 17)
    body[is15] = s[is15].str.slice(0, 6) + "19" + s[is15].str.slice(6, 15)
    cand = is18 | is15
    checks = pd.Series(_check_digits(body[cand]), index=body[cand].index, dtype="str")
    ok = pd.Series(False, index=s.index)
    ok[is18] = checks[is18[cand][is18[cand]].index] == s[is18].str.slice(17, 18)
    ok[is15] = True
    full = body[cand] + checks
    births = pd.to_datetime(full.str.slice(6, 14), format="%Y%m%d", errors="coerce")
    good_birth = births.notna() & (births >= pd.Timestamp(1900, 1, 1)) & (births <= pd.Timestamp(run_date))
    ok[cand] = ok[cand] & good_birth
    out[ok] = full[ok[cand][ok[cand]].index]
    bad = ~ok & ~(s == "")
    return out, bad


def birth_dates_of(ids: pd.Series) -> pd.Series:
    """ISO birth dates read from normalised 18-digit ID numbers."""
    d = ids.str.slice(6, 14)
    return d.str.slice(0, 4) + "-" + d.str.slice(4, 6) + "-" + d.str.slice(6, 8)


_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DATE_PATTERNS = (
    rf"(?P<y>\d{{4}})-(?P<m>\d{{1,2}})-(?P<d>\d{{1,2}}){_TIME}",
    rf"(?P<y>\d{{4}})/(?P<m>\d{{1,2}})/(?P<d>\d{{1,2}}){_TIME}",
    rf"(?P<y>\d{{4}})\.(?P<m>\d{{1,2}})\.(?P<d>\d{{1,2}}){_TIME}",
    rf"(?P<y>\d{{4}})(?P<m>\d{{2}})(?P<d>\d{{2}}){_TIME}",
    rf"(?P<y>\d{{4}})年(?P<m>\d{{1,2}})月(?P<d>\d{{1,2}})日{_TIME}",
)


def dates(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates in the forms of §4 (with or without a time part) as ISO 'YYYY-MM-DD' strings."""
    s = fold_series(raw.fillna(""))
    iso = pd.Series(pd.NA, index=s.index, dtype="str")
    plain = s.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False).astype(bool)  # the common form, vectorised
    iso[plain] = s[plain]
    todo = (s != "") & ~plain
    for pattern in _DATE_PATTERNS:
        if not todo.any():
            break
        parts = extract_groups(s[todo], f"^{pattern}$")
        hit = parts["y"].notna()
        if hit.any():
            p = parts[hit]
            iso[p.index] = p["y"] + "-" + p["m"].str.zfill(2) + "-" + p["d"].str.zfill(2)
            todo[p.index] = False
    real = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce").notna()
    iso[~real] = pd.NA
    bad = (s != "") & ~real
    return iso, bad


_AMOUNT = r"^(?P<sign>[+-]?)(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?$"


def amounts(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Amounts in yuan (separators, full-width digits, trailing 元) as integer cents, rounded half-up."""
    s = fold_series(raw.fillna(""))
    if s.str.contains("元", regex=False).any():
        s = s.str.removesuffix("元").str.strip()
    # Up to 13 integer digits and 2 decimals fit a double exactly enough to round to the cent.
    simple = s.str.fullmatch(r"[+-]?\d{1,13}(?:\.\d{1,2})?").fillna(False).astype(bool)
    is_simple = simple.to_numpy()
    whole_cents = np.zeros(len(s), dtype="int64")  # filled in place, not by masked assignment (slow on millions)
    if is_simple.all():
        whole_cents[:] = np.round(parse_floats(s) * 100)
    elif is_simple.any():
        whole_cents[is_simple] = np.round(parse_floats(s[simple]) * 100)
    cents = pd.Series(pd.arrays.IntegerArray(whole_cents, ~is_simple), index=s.index)
    rest = (s != "") & ~simple
    ok = simple.copy()
    if rest.any():
        parts = extract_groups(s[rest], _AMOUNT)
        whole = parts["int"].str.replace(",", "", regex=False)
        good = whole.notna() & (whole.str.len() <= 13)
        if good.any():
            w = whole[good].astype("int64")
            frac = parts.loc[good, "frac"].fillna("").str.ljust(3, "0")
            c = w * 100 + frac.str.slice(0, 2).astype("int64") + (frac.str.slice(2, 3).astype("int64") >= 5)
            cents[c.index] = c.where(parts.loc[good, "sign"] != "-", -c).to_numpy()
            ok[c.index] = True
    bad = (s != "") & ~ok
    return cents, bad


def division_codes(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Division codes: 6, 9 or 12 digits, padded with zeros to 12."""
    s = fold_series(raw.fillna(""))
    ok = s.str.fullmatch(r"\d{6}|\d{9}|\d{12}").fillna(False).astype(bool)
    out = s.str.ljust(12, "0").where(ok, pd.NA)
    return out, (s != "") & ~ok


def place_codes(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """参保地代码: 6 to 12 digits, padded with zeros to 12."""
    s = fold_series(raw.fillna(""))
    ok = s.str.fullmatch(r"\d{6,12}").fillna(False).astype(bool)
    out = s.str.ljust(12, "0").where(ok, pd.NA)
    return out, (s != "") & ~ok


def enum_values(raw: pd.Series, aliases: dict[str, tuple[str, ...]]) -> tuple[pd.Series, pd.Series]:
    """Enumeration values matched after trimming through canonical names and their aliases."""
    s = fold_series(raw.fillna(""))
    lookup = {canon: canon for canon in aliases}
    for canon, names in aliases.items():
        for name in names:
            lookup.setdefault(name, canon)
    out = s.map(lookup)
    bad = (s != "") & out.isna()
    return out.astype("str").where(out.notna(), pd.NA), bad


def years(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A four-digit year as an integer; anything else is bad (reported as BAD_DATE)."""
    s = fold_series(raw.fillna(""))
    ok = s.str.fullmatch(r"\d{4}").fillna(False).astype(bool)
    out = pd.Series(pd.NA, index=s.index, dtype="Int64")
    out[ok] = s[ok].astype("int64").to_numpy()
    return out, (s != "") & ~ok


def texts(raw: pd.Series) -> pd.Series:
    """Free text trimmed and folded to half-width; blank becomes empty string."""
    return fold_series(raw.fillna(""))
