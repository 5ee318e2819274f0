"""Text helpers: folding shared by header matching and value normalising (full-width → half-width), and fast
membership tests on text columns."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# U+FF01..U+FF5E are the full-width forms of ASCII 0x21..0x7E; U+3000 is the ideographic space.
_FULL_TO_HALF = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def fold_width(text: str) -> str:
    """Fold full-width ASCII characters and the ideographic space to their half-width forms."""
    return text.translate(_FULL_TO_HALF)


def fold_series(values: pd.Series) -> pd.Series:
    """fold_width and strip, for a whole column of strings (translating only rows that need it)."""
    wide = values.str.contains("[\uFF01-\uFF5E\u3000]", regex=True).fillna(False).astype(bool)
    if wide.any():
        values = values.copy()
        values[wide] = values[wide].str.translate(_FULL_TO_HALF)
    return values.str.strip()


def is_in(values: pd.Series, pool) -> pd.Series:
    """values.isin(pool) for text columns, as one Arrow kernel: pandas' own isin turns every member of the pool into
    a Python scalar first, which costs seconds when the pool holds a million ID numbers."""
    members = pool.dropna() if isinstance(pool, pd.Series) else pd.Series(list(pool), dtype="str")
    found = pc.is_in(pa.array(values.astype("str"), type=pa.large_string(), from_pandas=True),
                     value_set=pa.array(members.astype("str"), type=pa.large_string(), from_pandas=True))
    return pd.Series(found.fill_null(False).to_numpy(zero_copy_only=False), index=values.index, dtype=bool)
