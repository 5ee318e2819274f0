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
    def reason(self) -> np.ndarray:
        """Each row's first reason (None while open); an array: as a Series pandas would convert it to text."""
        return self._reason

    @property
    def column(self) -> np.ndarray:
        return self._column

    def flag(self, mask: pd.Series, reason: str, header: str) -> None:
        """Mark rows of mask (which may cover only some rows) that have no reason yet."""
        hit = mask.reindex(self.index, fill_value=False).fillna(False).astype(bool).to_numpy() & self._open
        self._open[hit] = False
        self._reason[hit] = reason
        self._column[hit] = header


def _identity_aliases(settings: Settings, year: int) -> dict[str, tuple[str, ...]]:
    return {t.name: t.aliases for t in settings.identity_types_for(year)}


# Kinds whose columns repeat few values (a date on thousands of rows): they are normalised once per distinct value.
# Amounts and free text are mostly distinct, and so are ID numbers even among settlements (406 k in a chunk of 500 k),
# whose check over their bytes takes no longer than finding the distinct ones.
_BY_DISTINCT = ("date", "year", "enum:", "identity", "division", "village", "place", "code3")


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


@dataclass
class Checked:
    """One table, or a chunk of one, after the checks each row makes on its own: its open rows (normalised columns;
    _t the table's number in the source, _row the physical row, _pos the row's place among the table's cells; for the
    register, birth_date from the ID and the stated one beside it) and its rejected rows, in row order."""

    rows: pd.DataFrame
    rejects: pd.DataFrame  # REJECT_COLUMNS and _t
    read: int


def check_rows(source_key: str, table: RawTable, t: int, ctx: Context) -> Checked:
    """SPEC §5 for each row of one table (or chunk) on its own: required values, each column in table order, then the
    within-row rules. What depends on other rows (duplicates, references) is `cross_row`'s."""
    source = ALL_SOURCES[source_key]
    raw = table.canonical(source)
    v = _Verdicts(raw.index)
    _check_required(source, raw, v, ctx)
    values = pd.DataFrame(index=raw.index)
    for col in source.columns:
        normalised, bad, reason = _normalise_column(col.kind, raw[col.name], ctx)
        values[col.name] = normalised
        if bad is not None:
            v.flag(bad, reason, col.header)
    _within_row_rules(source, values, v, ctx)
    kept = v.open.to_numpy()
    rejected = ~kept
    rejects = pd.DataFrame(
        {
            "source": source.key,
            "file": table.label,
            "row": raw["_row"].to_numpy()[rejected],
            "reason": v.reason[rejected],
            "column": v.column[rejected],
            "original": table.originals(raw.index[rejected]).to_numpy(),
            "_t": t,
        }
    )
    # column by column, each taken out of values: a copy of the whole frame doubled the memory of a district's
    # settlements. Arrays, not Series: each filtered Series had its own index (67 MB each for 8.5 M settlements).
    columns = {name: values.pop(name).array[kept] for name in list(values.columns)}
    rows = pd.DataFrame(columns, copy=False)
    rows["_t"] = t
    rows["_row"] = raw["_row"].to_numpy()[kept]
    rows["_pos"] = np.flatnonzero(kept)
    if source.key == "population":  # the ID's birth date is used; the stated one is kept for the finding
        rows["stated_birth_date"] = rows["birth_date"]
        rows["birth_date"] = norm.birth_dates_of(rows["id_number"])
    return Checked(rows, rejects, len(raw))


def cross_row(source_key: str, rows: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """SPEC §5's checks across rows (duplicates, then for settlements orphan reversals) on open rows in source order,
    or on every row that shares a key or a reversal with one of them: the flagged rows (their index) with reason and
    column."""
    source = ALL_SOURCES[source_key]
    v = _Verdicts(rows.index)
    stated = rows.assign(birth_date=rows["stated_birth_date"]) if source.key == "population" else rows
    _duplicates(source, stated, v, ctx)
    if source.key == "settlements":
        _orphan_reversals(rows, v, ctx)
    flagged = ~v.open.to_numpy()
    return pd.DataFrame({"reason": v.reason[flagged], "column": v.column[flagged]}, index=rows.index[flagged])


def empty_rows(source_key: str) -> pd.DataFrame:
    """The open rows of a source with no rows (what check_rows gives, typed)."""
    source = ALL_SOURCES[source_key]
    frame = pd.DataFrame({c.name: pd.Series([], dtype="object") for c in source.columns})
    frame[["_t", "_row", "_pos"]] = pd.DataFrame({n: pd.Series([], dtype="int64") for n in ("_t", "_row", "_pos")})
    if source.key == "population":
        frame["stated_birth_date"] = pd.Series([], dtype="object")
    return frame


def cross_rejects(
    source_key: str, rows: pd.DataFrame, flags: pd.DataFrame, originals: pd.Series, labels: list[str]
) -> pd.DataFrame:
    """The reject rows of the rows `cross_row` flagged, with their original cells (`originals`, by the same index)."""
    tables = rows.loc[flags.index, "_t"].to_numpy().astype(np.int64)  # float beside rows that have none (stored)
    return pd.DataFrame(
        {
            "source": source_key,
            "file": np.asarray(labels, dtype=object)[tables] if len(tables) else np.array([], dtype=object),
            "row": rows.loc[flags.index, "_row"].to_numpy().astype(np.int64),
            "reason": flags["reason"].to_numpy(),
            "column": flags["column"].to_numpy(),
            "original": originals.loc[flags.index].to_numpy(),
            "_t": tables,
        }
    )


def originals_of(tables: list[RawTable], rows: pd.DataFrame) -> pd.Series:
    """The original cells of some open rows (by _t and _pos), joined as reject rows show them."""
    out = pd.Series("", index=rows.index, dtype="str")
    for t, group in rows.groupby("_t", sort=False):
        table = tables[int(t)]
        out.loc[group.index] = table.originals(table.cells.index[group["_pos"].to_numpy()]).to_numpy()
    return out


def finished(
    source_key: str,
    rows: pd.DataFrame,
    rejects: list[pd.DataFrame],
    labels: list[str],
    read: dict[str, int],
) -> Validated:
    """The Validated of a source: rows kept (open rows in source order; _file and _row), the rejects in file then
    row order, and each table's counts."""
    valid = rows.drop(columns=["_t", "_pos"]).reset_index(drop=True)
    valid.insert(
        len(valid.columns) - 1 - (source_key == "population"),
        "_file",
        pd.Categorical.from_codes(rows["_t"].to_numpy(), categories=pd.Index(labels, dtype="str"))
        if labels
        else pd.Series([], dtype="str"),
    )
    every = pd.concat([r for r in rejects if not r.empty] or [_no_rejects()], ignore_index=True)
    every = every.sort_values(["_t", "row"], kind="stable").drop(columns="_t").reset_index(drop=True)
    rejected = every["file"].value_counts()
    counts = {
        label: (read[label], read[label] - int(rejected.get(label, 0)), int(rejected.get(label, 0))) for label in labels
    }
    return Validated(source_key, valid, every, counts)


def _no_rejects() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([], dtype="int64" if c == "row" else "str") for c in REJECT_COLUMNS})
    frame["_t"] = pd.Series([], dtype="int64")
    return frame


def validate_source(source_key: str, tables: list[RawTable], ctx: Context) -> Validated:
    """Normalise and check every row of a source's tables (in file then row order), all in memory: a feedback
    import's file, a test's tables. A load streams its files through the same steps (`monitor.load.streamed`)."""
    checked = [check_rows(source_key, table, t, ctx) for t, table in enumerate(tables)]
    rows = pd.concat([c.rows for c in checked], ignore_index=True) if checked else empty_rows(source_key)
    flags = cross_row(source_key, rows, ctx)
    labels = [t.label for t in tables]
    late = cross_rejects(source_key, rows, flags, originals_of(tables, rows.loc[flags.index]), labels)
    read = {t.label: c.read for t, c in zip(tables, checked, strict=True)}
    return finished(source_key, rows.drop(index=flags.index), [*(c.rejects for c in checked), late], labels, read)
