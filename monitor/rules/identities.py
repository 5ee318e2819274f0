"""Vulnerable identities (SPEC §6): active at as_of, primary identity, subsidy, change list.

Twice, as the netting is (rules.costs): engine-neutral (Ibis: `active`, `primary`, `holders`, `changes`) for a load,
which scans a city's identity lists where they lie in the lake, and in pandas (`active_at`, `primary_identities`)
for the pages and the demo, which hold one household's or a generated list's rows. A test holds the two to the
same results (tests/rules/test_identities.py).
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from monitor.config import IdentityType

SUBSIDY_LABELS = {"full": "全额资助", "fixed": "定额资助", "none": "无"}
# A person's primary identity: its type and what the type gives, with the name and household of its record.
PRIMARY = ("id_number", "identity_type", "assistance_class", "subsidy", "subsidy_cents", "name", "household_id")


def type_table(types: tuple[IdentityType, ...]) -> pd.DataFrame:
    """Identity types with their priority rank (classed before unclassed, then list order)."""
    rows = [
        {
            "identity_type": t.name,
            "assistance_class": t.assistance_class,
            "subsidy": t.subsidy,
            "subsidy_cents": t.subsidy_cents,
            "order": i,
        }
        for i, t in enumerate(types)
    ]
    table = pd.DataFrame(rows)
    table["rank"] = table["assistance_class"].isna().astype(int) * len(types) + table["order"]
    return table.drop(columns="order")


def active_at(identities: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Identity rows active at as_of: start_date ≤ A and (no end_date or end_date > A)."""
    a = as_of.isoformat()
    end = identities["end_date"]
    mask = (identities["start_date"] <= a) & (end.isna() | (end == "") | (end > a))
    return identities[mask.fillna(False).astype(bool)]


def primary_identities(identities: pd.DataFrame, as_of: date, types: tuple[IdentityType, ...]) -> pd.DataFrame:
    """One row per person with an active identity: the first in priority order, with its subsidy.

    Columns: id_number, identity_type, assistance_class, subsidy, subsidy_cents, name, household_id.
    """
    active = active_at(identities, as_of).merge(type_table(types), on="identity_type", how="inner")
    if active.empty:
        return pd.DataFrame(columns=list(PRIMARY))
    first = active.sort_values(["id_number", "rank", "start_date"], kind="stable").drop_duplicates("id_number")
    return first[list(PRIMARY)].reset_index(drop=True)


def _ranked_types(types: tuple[IdentityType, ...]) -> ir.Table:
    """type_table as a table of the engine's (its rank named priority: rank is a function's name in SQL)."""
    frame = type_table(types)
    columns = {
        "identity_type": pa.string(),
        "assistance_class": pa.int64(),
        "subsidy": pa.string(),
        "subsidy_cents": pa.int64(),
        "priority": pa.int64(),
    }
    arrays = [pa.array(frame["rank" if n == "priority" else n], type=t, from_pandas=True) for n, t in columns.items()]
    return ibis.memtable(pa.table(arrays, names=list(columns)))  # from_pandas: a missing class or amount is null


def active(identities: ir.Table, as_of: date) -> ir.Table:
    """active_at, engine-neutral."""
    a, end = as_of.isoformat(), identities.end_date
    return identities.filter((identities.start_date <= a) & (end.isnull() | (end == "") | (end > a)))


def primary(identities: ir.Table, as_of: date, types: tuple[IdentityType, ...]) -> ir.Table:
    """primary_identities, engine-neutral: one row per person with an active identity of the year's list, the first
    by priority then start date (a person's type and start date never repeat: SPEC §5's duplicate key)."""
    ranked = active(identities, as_of).inner_join(_ranked_types(types), "identity_type")
    order = ibis.window(group_by=ranked.id_number, order_by=[ranked.priority, ranked.start_date])
    numbered = ranked.mutate(nth=ibis.row_number().over(order))
    return numbered.filter(numbered.nth == 0).select(*PRIMARY)


def holders(identities: ir.Table, as_of: date, types: tuple[IdentityType, ...]) -> ir.Table:
    """(id_number, identity_type) of every identity of the year's list active at as_of, primary or not (the alert
    rules that name identity types count them all)."""
    rows = active(identities, as_of)
    return rows.filter(rows.identity_type.isin([t.name for t in types])).select("id_number", "identity_type").distinct()


def changes(before: ir.Table, after: ir.Table, as_of: date, types: tuple[IdentityType, ...]) -> ir.Table:
    """The identity changes between two identity lists (SPEC §6), judged by each person's primary identity at as_of:
    新增 (none before), 取消 (none after), 变更 (another type); the name after, else before. Ordered by change then
    ID number."""
    old = primary(before, as_of, types)
    old = old.select("id_number", identity_type_before=old.identity_type, name_before=old.name)
    new = primary(after, as_of, types)
    new = new.select("id_number", identity_type_after=new.identity_type, name_after=new.name)
    both = old.outer_join(new, "id_number")
    was, now = both.identity_type_before, both.identity_type_after
    change = ibis.cases((was.isnull(), "新增"), (now.isnull(), "取消"), (was != now, "变更"), else_=None)
    out = both.select(
        id_number=both.id_number.coalesce(both.id_number_right),
        name=both.name_after.coalesce(both.name_before),
        change=change,
        identity_type_before=was,
        identity_type_after=now,
    )
    return out.filter(out.change.notnull()).order_by(["change", "id_number"])
