"""Vectorised normalisers of SPEC §4: ID numbers, dates, amounts, division codes, enumerations.

Each takes a column of raw strings and returns (normalised values, bad mask); a blank input is
never "bad" here (required-value checks come first and are the validator's job).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from monitor.base.text import extract_groups, fixed_width_bytes, fold_series, parse_floats, text_array

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_BYTES = np.frombuffer(b"10X98765432", dtype=np.uint8)
_DATE_PLACES = 10 ** np.arange(7, -1, -1, dtype=np.int64)
_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def blank(values: pd.Series) -> pd.Series:
    """True where a raw cell is empty after trimming. Folding first would change nothing: the only full-width
    character that folds to a space (U+3000) is already whitespace to the trim."""
    return values.fillna("").str.strip() == ""


def _digits(values: pa.Array, width: int) -> np.ndarray:
    """Numbers the regex found all `width` digits long, as an (n, width) array of their bytes."""
    digits = fixed_width_bytes(values, width)
    assert digits is not None  # the regex matched only numbers of this length
    return digits


def _real_birth_dates(body: np.ndarray, run_date: date) -> np.ndarray:
    """For 17-digit bodies (bytes): True where digits 7–14 are a real date from 1900-01-01 to the run's day."""
    whole = body[:, 6:14].astype(np.int64) @ _DATE_PLACES - 48 * _DATE_PLACES.sum()  # YYYYMMDD as a number
    year, month, day = whole // 10000, whole // 100 % 100, whole % 100
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    last = _DAYS[np.clip(month, 0, 12)] + ((month == 2) & leap)
    today = run_date.year * 10000 + run_date.month * 100 + run_date.day
    return (month >= 1) & (month <= 12) & (day >= 1) & (day <= last) & (whole >= 19000101) & (whole <= today)


def id_numbers(raw: pd.Series, run_date: date) -> tuple[pd.Series, pd.Series]:
    """GB 11643 ID numbers: 15-digit legacy numbers converted, check digit and birth date verified. Arrow's RE2 finds
    the numbers of 18 and 15 ASCII digits, numpy checks them over their bytes (pandas' row-wise path took a third of
    a settlement chunk's validation)."""
    s = fold_series(raw.fillna(""))
    text = text_array(s)
    cand = pc.match_substring_regex(text, r"^[0-9]{15}(?:[0-9]{2}[0-9Xx])?$").to_numpy(zero_copy_only=False)
    is18 = cand & (pc.binary_length(text).to_numpy(zero_copy_only=False) == 18)
    is15 = cand & ~is18
    long, short = _digits(text.filter(pa.array(is18)), 18), _digits(text.filter(pa.array(is15)), 15)
    body = np.empty((int(cand.sum()), 17), dtype=np.uint8)
    first18 = is18[cand]  # the candidates in row order: which are 18 digits long
    body[first18] = long[:, :17]
    body[~first18] = np.hstack([short[:, :6], np.full((len(short), 2), (ord("1"), ord("9")), np.uint8), short[:, 6:]])
    check = _CHECK_BYTES[(body.astype(np.int64) @ _ID_WEIGHTS - 48 * _ID_WEIGHTS.sum()) % 11]
    ok_cand = _real_birth_dates(body, run_date)
    ok_cand[first18] &= check[first18] == np.where(long[:, 17] == ord("x"), ord("X"), long[:, 17])
    full = np.hstack([body, check[:, None]])[ok_cand]
    normalised = pa.LargeStringArray.from_buffers(
        len(full), pa.py_buffer(np.arange(0, 18 * len(full) + 1, 18, dtype=np.int64)), pa.py_buffer(full.tobytes())
    )
    ok = np.zeros(len(s), dtype=bool)
    ok[np.flatnonzero(cand)[ok_cand]] = True
    out = pc.replace_with_mask(pa.nulls(len(s), pa.large_string()), pa.array(ok), normalised)
    bad = ~ok & (s != "").to_numpy()
    return pd.Series(out, index=s.index, dtype="str"), pd.Series(bad, index=s.index)


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
    """Amounts in yuan (separators, full-width digits, trailing 元) as integer cents, rounded half-up. The common
    form is found and parsed by Arrow's kernels over numpy masks (six amounts are most of a settlement's checks)."""
    s = fold_series(raw.fillna(""))
    if s.str.contains("元", regex=False).any():
        s = s.str.removesuffix("元").str.strip()
    text = text_array(s)
    # Up to 13 integer digits and 2 decimals fit a double exactly enough to round to the cent.
    simple = pc.match_substring_regex(text, r"^[+-]?[0-9]{1,13}(?:\.[0-9]{1,2})?$").to_numpy(zero_copy_only=False)
    filled = pc.not_equal(text, "").to_numpy(zero_copy_only=False)
    whole_cents = np.zeros(len(s), dtype="int64")  # filled in place, not by masked assignment (slow on millions)
    if simple.all():
        whole_cents[:] = np.round(parse_floats(s) * 100)
    elif simple.any():
        whole_cents[simple] = np.round(parse_floats(s[simple]) * 100)
    ok = simple.copy()
    rest = np.flatnonzero(filled & ~simple)
    if len(rest):
        parts = extract_groups(s.iloc[rest], _AMOUNT)
        whole = parts["int"].str.replace(",", "", regex=False)
        good = (whole.notna() & (whole.str.len() <= 13)).to_numpy()
        if good.any():
            w = whole[good].astype("int64")
            frac = parts.loc[good, "frac"].fillna("").str.ljust(3, "0")
            c = w * 100 + frac.str.slice(0, 2).astype("int64") + (frac.str.slice(2, 3).astype("int64") >= 5)
            whole_cents[rest[good]] = c.where(parts.loc[good, "sign"] != "-", -c).to_numpy()
            ok[rest[good]] = True
    cents = pd.Series(pd.arrays.IntegerArray(whole_cents, ~ok), index=s.index)
    return cents, pd.Series(filled & ~ok, index=s.index)


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
