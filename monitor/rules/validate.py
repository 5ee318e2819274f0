"""Validation of SPEC §5: normalise every column and give each bad row its first rejection reason.

Pure: takes raw tables and a context, returns valid rows and rejected rows; no I/O.
Order per row: required values present, then each column in table order, then within-row rules,
then duplicates and references.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from monitor.base.text import is_in, join_columns
from monitor.base.text import repeated as repeated_values
from monitor.config import Settings
from monitor.files.read import RawTable
from monitor.files.sources import ALL_SOURCES, FUNDS, SETTLEMENT_AMOUNTS, Source
from monitor.rules import normalize as norm
from monitor.rules.divisions import prefix


@dataclass(frozen=True)
class Context:
    settings: Settings
    root: str
    year: int
    run_date: date
    villages: frozenset[str] = frozenset()  # village codes of the divisions snapshot in force
    # Settlements stored by earlier loads whose ids this load mentions (settlement_id or reverses).
    stored_settlements: pd.DataFrame | None = None


@dataclass
class Validated:
    source: str
    valid: pd.DataFrame  # normalised columns plus _file and _row
    rejects: pd.DataFrame  # source, file, row, reason, column, original
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # label → read, loaded, rejected


REJECT_COLUMNS = ["source", "file", "row", "reason", "column", "original"]


class _Verdicts:
    """First-reason-wins bookkeeping for one frame (numpy arrays: flagging runs dozens of times per source)."""

    def __init__(self, index: pd.Index):
        self.index = index
        self._open = np.ones(len(index), dtype=bool)
        self._reason = np.full(len(index), None, dtype=object)
        self._column = np.full(len(index), None, dtype=object)

    @property
    def open(self) -> pd.Series:
        return pd.Series(self._open.copy(), index=self.index)

    @property
    def reason(self) -> pd.Series:
        return pd.Series(self._reason, index=self.index)

    @property
    def column(self) -> pd.Series:
        return pd.Series(self._column, index=self.index)

    def flag(self, mask: pd.Series, reason: str, header: str) -> None:
        """Mark rows of mask (which may cover only some rows) that have no reason yet."""
        hit = mask.reindex(self.index, fill_value=False).fillna(False).astype(bool).to_numpy() & self._open
        self._open[hit] = False
        self._reason[hit] = reason
        self._column[hit] = header


def _identity_aliases(settings: Settings, year: int) -> dict[str, tuple[str, ...]]:
    return {t.name: t.aliases for t in settings.identity_types_for(year)}


# Kinds whose columns repeat few values (a person's ID number on each settlement, a date on thousands of rows):
# they are normalised once per distinct value. Amounts and free text are mostly distinct.
_BY_DISTINCT = ("id", "date", "year", "enum:", "identity", "division", "village", "place", "code3")


def _normalise_column(kind: str, raw: pd.Series, ctx: Context) -> tuple[pd.Series, pd.Series | None, str]:
    """Normalised values, bad mask (None when nothing can be bad) and the reason for a bad value."""
    if not kind.startswith(_BY_DISTINCT) or raw.empty:
        return _normalise_values(kind, raw, ctx)
    codes, distinct = pd.factorize(raw, use_na_sentinel=False)
    values, bad, reason = _normalise_values(kind, pd.Series(distinct, dtype=raw.dtype), ctx)
    spread = pd.Series(values.array.take(codes), index=raw.index)
    return spread, None if bad is None else pd.Series(bad.to_numpy()[codes], index=raw.index), reason


def _normalise_values(kind: str, raw: pd.Series, ctx: Context) -> tuple[pd.Series, pd.Series | None, str]:
    if kind == "id":
        values, bad = norm.id_numbers(raw, ctx.run_date)
        return values, bad, "BAD_ID"
    if kind == "date":
        values, bad = norm.dates(raw)
        return values, bad, "BAD_DATE"
    if kind == "amount":
        values, bad = norm.amounts(raw)
        return values, bad, "BAD_AMOUNT"
    if kind == "year":
        values, bad = norm.years(raw)
        return values, bad, "BAD_DATE"
    if kind.startswith("enum:"):
        values, bad = norm.enum_values(raw, ctx.settings.value_aliases.get(kind[5:], {}))
        return values, bad, "UNKNOWN_VALUE"
    if kind == "identity":
        values, bad = norm.enum_values(raw, _identity_aliases(ctx.settings, ctx.year))
        return values, bad, "UNKNOWN_VALUE"
    if kind == "division":
        values, bad = norm.division_codes(raw)
        outside = values.notna() & ~values.fillna("").str.startswith(prefix(ctx.root))
        return values, bad | outside, "UNKNOWN_DIVISION"
    if kind == "village":
        values, bad = norm.division_codes(raw)
        unknown = values.notna() & ~values.isin(ctx.villages)
        return values, bad | unknown, "UNKNOWN_DIVISION"
    if kind == "place":
        values, bad = norm.place_codes(raw)
        return values, bad, "UNKNOWN_DIVISION"
    if kind == "code3":
        values = norm.texts(raw)
        bad = (values != "") & ~values.str.fullmatch(r"[12]\d{2}").fillna(False).astype(bool)
        return values.where(values != "", pd.NA), bad, "UNKNOWN_VALUE"
    if kind == "text":
        return norm.texts(raw), None, ""
    raise ValueError(f"unknown column kind {kind}")


def _signature(frame: pd.DataFrame, names: list[str]) -> pd.Series:
    """All normalised values of a row joined, for DUPLICATE_ROW comparisons."""
    return join_columns([frame[n] for n in names], "\x1f")


def _key(frame: pd.DataFrame, names: tuple[str, ...]) -> pd.Series:
    if len(names) == 1:  # as _signature gives it, without copying the column
        return frame[names[0]].astype("str").fillna("")
    return _signature(frame, list(names))


def _check_required(source: Source, raw: pd.DataFrame, v: _Verdicts, ctx: Context) -> None:
    for col in source.columns:
        if col.required:
            v.flag(norm.blank(raw[col.name]), "MISSING_VALUE", col.header)
        elif source.key == "population" and col.name == "status_date":
            status = norm.texts(raw["status"])
            mapped, _ = norm.enum_values(raw["status"], ctx.settings.value_aliases.get("person_status", {}))
            needs = (status != "") & (mapped.fillna(status) != "正常")
            v.flag(needs & norm.blank(raw["status_date"]), "MISSING_VALUE", col.header)
        elif source.key == "feedback" and col.name == "help_measure":  # a measure needs its date, and vice versa
            no_measure, no_date = norm.blank(raw["help_measure"]), norm.blank(raw["help_date"])
            v.flag(no_measure & (~no_date | ~norm.blank(raw["help_amount"])), "MISSING_VALUE", col.header)
            v.flag(~no_measure & no_date, "MISSING_VALUE", "帮扶日期")


def _within_row_rules(source: Source, values: pd.DataFrame, v: _Verdicts, ctx: Context) -> None:
    if source.key == "enrollment":
        year = values["year"]
        v.flag(year.notna() & ((year < 2000) | (year > 2100)), "OUT_OF_RANGE", "参保年度")
    elif source.key == "feedback":
        v.flag(values["help_amount"].notna() & (values["help_amount"] < 0), "OUT_OF_RANGE", "帮扶金额")
    elif source.key == "identities":
        v.flag(values["end_date"].notna() & (values["end_date"] < values["start_date"]), "OUT_OF_RANGE", "退出日期")
    elif source.key == "settlements":
        reversal = values["reverses"] != ""
        for name in SETTLEMENT_AMOUNTS:
            amount = values[name]
            v.flag(~reversal & amount.notna() & (amount < 0), "INCONSISTENT_AMOUNTS", source.column(name).header)
        funds = sum(values[f].fillna(0) for f in FUNDS)
        v.flag(~reversal & (funds > values["total_cost"] + 1), "INCONSISTENT_AMOUNTS", "医疗总费用")
        for name in SETTLEMENT_AMOUNTS:
            amount = values[name]
            v.flag(reversal & amount.notna() & (amount > 0), "INCONSISTENT_AMOUNTS", source.column(name).header)
        v.flag(values["settle_date"] > ctx.run_date.isoformat(), "OUT_OF_RANGE", "结算日期")


def _duplicates(source: Source, values: pd.DataFrame, v: _Verdicts, ctx: Context) -> None:
    if not source.duplicate_key:
        return
    names = [c.name for c in source.columns]
    header = source.column(source.duplicate_key[0]).header
    key = _key(values.loc[v.open, list(source.duplicate_key)], source.duplicate_key)
    stored = ctx.stored_settlements if source.key == "settlements" else None
    repeated = repeated_values(key)
    if stored is not None and not stored.empty:
        repeated |= is_in(key, stored["settlement_id"])
    if not repeated.any():
        return
    key = key[repeated]  # only rows sharing a key need their whole row compared
    live = values.loc[key.index]
    sig = _signature(live, names)
    kept_sig = sig.groupby(key, sort=False).transform("first")
    if stored is not None and not stored.empty:
        stored_sig = pd.Series(_signature(stored, names).to_numpy(), index=stored["settlement_id"].to_numpy())
        earlier = key.map(stored_sig)
        kept_sig = earlier.where(earlier.notna(), kept_sig)
        later = key.duplicated(keep="first") | earlier.notna()
    else:
        later = key.duplicated(keep="first")
    v.flag(later & (sig == kept_sig), "DUPLICATE_ROW", header)
    v.flag(later & (sig != kept_sig), "DUPLICATE_ID", header)


def _orphan_reversals(values: pd.DataFrame, v: _Verdicts, ctx: Context) -> None:
    reversal = values["reverses"] != ""
    if not reversal.any():
        return
    rev = values.loc[reversal & v.open, ["reverses", "id_number"]]
    ordinary = values.loc[v.open & ~reversal, ["settlement_id", "id_number"]]
    ordinary = ordinary[is_in(ordinary["settlement_id"], rev["reverses"])]  # only settlements reversed here matter
    stored = ctx.stored_settlements
    if stored is not None and not stored.empty:
        ordinary = pd.concat([ordinary, stored.loc[stored["reverses"] == "", ["settlement_id", "id_number"]]])
    targets = ordinary.drop_duplicates().rename(columns={"settlement_id": "reverses"}).assign(_found=True)
    found = rev.reset_index().merge(targets, on=["reverses", "id_number"], how="left").set_index("index")["_found"]
    v.flag(found.isna().reindex(values.index, fill_value=False), "ORPHAN_REVERSAL", "原结算流水号")


def validate_source(source_key: str, tables: list[RawTable], ctx: Context) -> Validated:
    """Normalise and check every row of a source's tables (in file then row order)."""
    source = ALL_SOURCES[source_key]
    frames = [t.canonical(source).assign(_t=i) for i, t in enumerate(tables)]
    raw = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(
            {
                **{c.name: pd.Series([], dtype="str") for c in source.columns},
                "_row": pd.Series([], dtype="int64"),
                "_t": pd.Series([], dtype="int64"),
            }
        )
    )
    v = _Verdicts(raw.index)
    _check_required(source, raw, v, ctx)
    values = pd.DataFrame(index=raw.index)
    for col in source.columns:
        normalised, bad, reason = _normalise_column(col.kind, raw[col.name], ctx)
        values[col.name] = normalised
        if bad is not None:
            v.flag(bad, reason, col.header)
    _within_row_rules(source, values, v, ctx)
    _duplicates(source, values, v, ctx)
    if source.key == "settlements":
        _orphan_reversals(values, v, ctx)

    rejected = ~v.open
    rejects = _reject_frame(source.key, tables, raw, v, rejected)
    kept = v.open.to_numpy()
    # column by column, each taken out of values: a copy of the whole frame doubled the memory of a district's
    # settlements at the peak of a load. Arrays, not Series: each filtered Series had its own index (67 MB each for
    # 8.5 M settlements).
    columns = {name: values.pop(name).array[kept] for name in list(values.columns)}
    valid = pd.DataFrame(columns, index=values.index[kept], copy=False)
    labels = pd.Index([t.label for t in tables], dtype="str")
    valid["_file"] = (
        pd.Categorical.from_codes(raw.loc[kept, "_t"].to_numpy(), categories=labels)
        if len(labels)
        else pd.Series([], dtype="str")
    )
    valid["_row"] = raw.loc[kept, "_row"]
    if source.key == "population":  # the ID's birth date is used; the stated one is kept for the finding
        valid["stated_birth_date"] = valid["birth_date"]
        valid["birth_date"] = norm.birth_dates_of(valid["id_number"])
    counts = {}
    for i, t in enumerate(tables):
        mine = raw["_t"] == i
        n_rej = int((mine & rejected).sum())
        counts[t.label] = (int(mine.sum()), int(mine.sum()) - n_rej, n_rej)
    return Validated(source.key, valid.reset_index(drop=True), rejects, counts)


def _reject_frame(
    source_key: str, tables: list[RawTable], raw: pd.DataFrame, v: _Verdicts, rejected: pd.Series
) -> pd.DataFrame:
    parts = []
    for i, t in enumerate(tables):
        mine = rejected & (raw["_t"] == i)
        if not mine.any():
            continue
        local = raw.index[mine] - raw.index[raw["_t"] == i][0]
        parts.append(
            pd.DataFrame(
                {
                    "source": source_key,
                    "file": t.label,
                    "row": raw.loc[mine, "_row"].to_numpy(),
                    "reason": v.reason[mine].to_numpy(),
                    "column": v.column[mine].to_numpy(),
                    "original": t.originals(t.cells.index[local]).to_numpy(),
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype="int64" if c == "row" else "str") for c in REJECT_COLUMNS})
    return pd.concat(parts, ignore_index=True)
