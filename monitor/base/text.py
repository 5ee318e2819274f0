"""Text helpers: folding shared by header matching and value normalising (full-width → half-width), and Arrow
kernels for whole text columns (membership, joining, regex extraction, number parsing)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# U+FF01..U+FF5E are the full-width forms of ASCII 0x21..0x7E; U+3000 is the ideographic space.
_FULL_TO_HALF = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def fold_width(text: str) -> str:
    """Fold full-width ASCII characters and the ideographic space to their half-width forms."""
    return text.translate(_FULL_TO_HALF)


# The UTF-8 lead bytes of U+3000..U+3FFF and U+F000..U+FFFF: a text without either holds nothing to fold.
_WIDE_LEADS = (0xE3, 0xEF)


def _may_hold_wide(values: pd.Series) -> bool:
    """False when no character of the column can be full-width, from its UTF-8 bytes alone: names and addresses
    (Chinese characters lead with other bytes) skip the regex search, which took a fifth of a register's checks."""
    text = _arrow(values)
    for chunk in text.chunks if isinstance(text, pa.ChunkedArray) else [text]:
        data = chunk.buffers()[2]
        if data is not None:
            raw = np.frombuffer(data, dtype=np.uint8)
            if ((raw == _WIDE_LEADS[0]) | (raw == _WIDE_LEADS[1])).any():
                return True
    return False


def fold_series(values: pd.Series) -> pd.Series:
    """fold_width and strip, for a whole column of strings (translating only rows that need it)."""
    if not _may_hold_wide(values):  # ID numbers, dates, amounts, most names: nothing wide
        return values.str.strip()
    wide = values.str.contains("[\uff01-\uff5e\u3000]", regex=True).fillna(False).astype(bool)
    if wide.any():
        values = values.copy()
        values[wide] = values[wide].str.translate(_FULL_TO_HALF)
    return values.str.strip()


def _arrow(values: pd.Series) -> pa.Array:
    return pa.array(values.astype("str"), type=pa.large_string(), from_pandas=True)


def text_array(values: pd.Series) -> pa.Array:
    """A text column as one Arrow array of large strings (a column read by Arrow comes in its reader's blocks)."""
    text = _arrow(values)
    return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text


def fixed_width_bytes(text: pa.Array, width: int) -> np.ndarray | None:
    """Strings all `width` bytes long as an (n, width) array of their bytes, a view of Arrow's buffers (no copy);
    None when one is NULL or of another length."""
    if not len(text):  # an empty array may have no data buffer
        return np.empty((0, width), dtype=np.uint8)
    if text.null_count:
        return None
    offsets_type = np.int64 if pa.types.is_large_string(text.type) else np.int32
    offsets = np.frombuffer(text.buffers()[1], dtype=offsets_type)[text.offset : text.offset + len(text) + 1]
    if not (np.diff(offsets) == width).all():
        return None
    return np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(-1, width)


def join_columns(columns: list[pd.Series], separator: str) -> pd.Series:
    """Text columns joined row by row with a separator, in one Arrow kernel (no intermediate columns)."""
    joined = pc.binary_join_element_wise(
        *(_arrow(c.astype("str").fillna("")) for c in columns), pa.scalar(separator, pa.large_string())
    )
    return pd.Series(joined, index=columns[0].index, dtype="str")


def extract_groups(values: pd.Series, pattern: str) -> pd.DataFrame:
    """values.str.extract(pattern) in one Arrow (RE2) kernel: a column per named group, missing where the pattern
    does not match; an optional group that took no part is ''. pandas would run Python's re row by row. RE2's digit
    class is ASCII digits only (Python's takes any script's), so fold full-width digits first."""
    parts = pc.extract_regex(_arrow(values), pattern)
    names = [parts.type.field(i).name for i in range(parts.type.num_fields)]
    return pd.DataFrame(
        {name: pd.Series(pc.struct_field(parts, name), index=values.index, dtype="str") for name in names},
        index=values.index,
    )


def parse_floats(values: pd.Series) -> np.ndarray:
    """Decimal strings already checked for their form, as doubles (Arrow's parser: pandas' to_numeric goes through
    Python objects)."""
    return pc.cast(_arrow(values), pa.float64()).to_numpy(zero_copy_only=False)


def is_in(values: pd.Series, pool) -> pd.Series:
    """values.isin(pool) for text columns, as one Arrow kernel: pandas' own isin turns every member of the pool into
    a Python scalar first, which costs seconds when the pool holds a million ID numbers."""
    members = pool.dropna() if isinstance(pool, pd.Series) else pd.Series(list(pool), dtype="str")
    found = pc.is_in(_arrow(values), value_set=_arrow(members))
    return pd.Series(found.fill_null(False).to_numpy(zero_copy_only=False), index=values.index, dtype=bool)


def repeated(values: pd.Series) -> pd.Series:
    """values.duplicated(keep=False) for a text column (missing values equal each other), by sorting: equal values
    end up side by side. Hashing held a table of every distinct value: 1 GB more for 8.5 M settlement IDs, and 3–5 s
    where sorting IDs that come mostly in order takes about one (7 s when they come in random order)."""
    arrow = _arrow(values)
    order = pc.sort_indices(arrow)  # missing values last
    ordered = arrow.take(order)
    before, after = ordered[:-1], ordered[1:]
    same = pc.fill_null(pc.equal(before, after), pc.and_(pc.is_null(before), pc.is_null(after)))
    same = same.to_numpy(zero_copy_only=False) if len(same) else np.zeros(0, dtype=bool)
    in_run = np.zeros(len(arrow), dtype=bool)  # in sorted order: equal to a neighbour
    in_run[:-1] |= same
    in_run[1:] |= same
    found = np.empty(len(arrow), dtype=bool)
    found[order.to_numpy()] = in_run
    return pd.Series(found, index=values.index, dtype=bool)


def positions_in(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """Where each value stands in keys (the first match), -1 where it is absent: one Arrow kernel, for looking values
    up in a column of unique keys without a merge or a pandas index over millions of strings."""
    found = pc.index_in(_arrow(values), value_set=_arrow(keys))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def lookup(values: pd.Series, keys: pd.Series, results: pd.Series) -> pd.Series:
    """For each value, the result beside its key (keys unique), missing where it has none: what a left merge on one
    key gives, by positions_in."""
    where = positions_in(values, keys)
    return pd.Series(results.array.take(where, allow_fill=True), index=values.index)
