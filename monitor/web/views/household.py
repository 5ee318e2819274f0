"""预警 · 家庭: the register household of a person in the alert detail, each member's cost, alert and identity, and
the household's out-of-pocket total as a share of its income (the catastrophic-spending view civil affairs decides on).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy.engine import Engine

from monitor.config import Settings
from monitor.rules.costs import netted_settlements
from monitor.rules.identities import active_at, primary_identities
from monitor.rules.rates import rate_hundredths
from monitor.security.access import Viewer, mask_id, mask_name
from monitor.storage import lake, queries, store

COLUMNS = [
    "id_number",
    "name",
    "village_code",
    "household_id",
    "identity_type",
    "total_cost",
    "measure",
    "level",
    "alert_type",
    "threshold",
    "watched",
    "mark",
    "income_per_capita",
    "income_since",
]
HEADERS = {
    "name": "姓名",
    "id_number": "身份证号",
    "identity_type": "身份类别",
    "total_yuan": "医疗总费用(元)",
    "measure_yuan": "个人负担(元)",
    "mark": "预警",
}
WATCHED = "临界关注"


def _blank(values: pd.Series) -> pd.Series:
    return values.astype("object").where(values.notna(), "").astype("str").str.strip()


def _register(engine: Engine, id_number: str) -> pd.DataFrame:
    """The register rows of the person's household (户号), or the person's own rows when the 户号 is blank; empty for a
    person outside the register."""
    own = lake.rows_of(engine, "population", "id_number", [id_number])
    households = sorted(h for h in _blank(own["household_id"]) if h)
    if not households:
        return own
    # the register is sorted by ID number, not 户号: one scan of that column (a household is opened one at a time)
    return lake.rows_of(engine, "population", "household_id", households[:1])


def _as_of(engine: Engine, year: int, settings: Settings) -> date:
    stored = queries.as_of(engine, year)
    return date.fromisoformat(stored) if stored else settings.resolve_as_of(year)


def _stored(engine: Engine, year: int, ids: list[str]) -> tuple[pd.DataFrame, ...]:
    """The members' settlements, identities, alerts and watch-list rows of the year (indexed reads by ID number)."""
    settlements = lake.rows_of(engine, "settlements", "id_number", ids)
    identities = lake.rows_of(engine, "identities", "id_number", ids)
    with engine.connect() as conn:
        alerts = store.read_table(conn, store.alerts, (store.alerts.c.year == year) & store.alerts.c.id_number.in_(ids))
        watch = store.read_table(conn, store.watch, (store.watch.c.year == year) & store.watch.c.id_number.in_(ids))
    return settlements, identities, alerts, watch


def _first(frame: pd.DataFrame, column: str) -> pd.Series:
    """column by ID number (the first non-blank value of each person)."""
    rows = frame[frame[column].notna() & (_blank(frame[column]) != "")]
    return rows.drop_duplicates("id_number").set_index("id_number")[column]


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="str") for c in COLUMNS})
    for column in ("total_cost", "measure", "threshold", "income_per_capita"):
        frame[column] = frame[column].astype("Int64")
    frame["watched"] = frame["watched"].astype(bool)
    return frame


def members(engine: Engine, year: int, id_number: str, settings: Settings, viewer: Viewer) -> pd.DataFrame:
    """The members of the person's register household inside the viewer's towns, the person first, then by ID number.

    A person outside the register, or with a blank 户号, is a household of one. Nothing is shown when the person
    lies outside the viewer's towns. Columns: id_number, name, village_code, household_id, identity_type (primary at
    the year's as-of, '' for none), total_cost and measure (cents, the year's netted settlements under the configured
    cost measure), level, alert_type and threshold of the year's alert ('' / NA without one), watched (on the year's
    watch list), mark (预警 as shown: 「红 · 返贫预警」, 「临界关注」 or ''), income_per_capita (cents, 家庭人均年收入
    of the member's most recent active identity row that gives one) and income_since (that row's start date)."""
    viewer.require("alerts")
    register = _register(engine, id_number)
    people = register[["id_number", "name", "village_code", "household_id"]].drop_duplicates("id_number")
    if id_number not in set(people["id_number"]):  # outside the register: themselves, without a village
        people = pd.concat(
            [
                people,
                pd.DataFrame({"id_number": [id_number], "name": [""], "village_code": [""], "household_id": [""]}),
            ],
            ignore_index=True,
        )
    for column in ("name", "village_code", "household_id"):
        people[column] = _blank(people[column])
    own = people.loc[people["id_number"] == id_number, "village_code"]
    if not viewer.in_scope(own).all():
        return _empty()
    people = people[viewer.in_scope(people["village_code"])]
    people = pd.concat(
        [people[people["id_number"] == id_number], people[people["id_number"] != id_number].sort_values("id_number")],
        ignore_index=True,
    )
    ids = people["id_number"].tolist()
    settlements, identities, alerts, watch = _stored(engine, year, ids)
    as_of = _as_of(engine, year, settings)

    netted = netted_settlements(settlements, year, settings.cost_measure)
    sums = netted.groupby("id_number")[["total_cost", "measure"]].sum()
    for column in ("total_cost", "measure"):
        people[column] = people["id_number"].map(sums[column]).fillna(0).astype("Int64")

    primary = primary_identities(identities, as_of, settings.identity_types_for(year))
    identity = primary.set_index("id_number")["identity_type"]
    for stored in (watch, alerts):  # what the load stored for a listed person comes first
        identity = _first(stored, "identity_type").combine_first(identity)
    people["identity_type"] = _blank(people["id_number"].map(identity))

    alert = alerts.drop_duplicates("id_number").set_index("id_number")
    people["level"] = _blank(people["id_number"].map(alert["level"]))
    people["alert_type"] = _blank(people["id_number"].map(alert["alert_type"]))
    people["threshold"] = people["id_number"].map(alert["threshold"]).astype("Int64")
    people["watched"] = people["id_number"].isin(set(watch["id_number"]))
    people["mark"] = [
        f"{level} · {kind}" if level else WATCHED if watched else ""
        for level, kind, watched in zip(people["level"], people["alert_type"], people["watched"], strict=True)
    ]

    named = [f[["id_number", "name"]] for f in (register, alerts, watch, identities, settlements)]
    names = _first(pd.concat(named, ignore_index=True), "name")
    people["name"] = people["name"].where(people["name"] != "", _blank(people["id_number"].map(names)))

    active = active_at(identities, as_of)
    active = active[active["income_per_capita"].notna()].sort_values(["id_number", "start_date"], kind="stable")
    latest = active.drop_duplicates("id_number", keep="last").set_index("id_number")
    people["income_per_capita"] = people["id_number"].map(latest["income_per_capita"]).astype("Int64")
    people["income_since"] = _blank(people["id_number"].map(latest["start_date"]))
    return people[COLUMNS].reset_index(drop=True)


@dataclass(frozen=True)
class Summary:
    """The household's figures: amounts in cents, the share in hundredths of a percent (None without an income)."""

    members: int
    oop_cents: int
    income_per_capita_cents: int | None
    household_income_cents: int | None
    share_hundredths: int | None

    @property
    def oop_yuan(self) -> float:
        return self.oop_cents / 100

    @property
    def income_per_capita_yuan(self) -> float | None:
        return None if self.income_per_capita_cents is None else self.income_per_capita_cents / 100

    @property
    def household_income_yuan(self) -> float | None:
        return None if self.household_income_cents is None else self.household_income_cents / 100

    @property
    def share_percent(self) -> float | None:
        return None if self.share_hundredths is None else self.share_hundredths / 100

    def labelled(self) -> dict[str, str]:
        """The figures as the page shows them (blank where no income is known)."""
        return {
            "家庭人数": str(self.members),
            "家庭个人负担合计(元)": _yuan(self.oop_cents),
            "家庭人均年收入(元)": _yuan(self.income_per_capita_cents),
            "家庭年收入(元)": _yuan(self.household_income_cents),
            "个人负担占家庭年收入(%)": _yuan(self.share_hundredths),
        }


def _yuan(cents: int | None) -> str:
    """12345 → '123.45' (hundredths of a percent read the same way); '' for None."""
    if cents is None:
        return ""
    sign, whole = ("-" if cents < 0 else ""), abs(cents)
    return f"{sign}{whole // 100:,}.{whole % 100:02d}"


def summary(members: pd.DataFrame) -> Summary:
    """The household's total out-of-pocket (the cost measure) over the members shown; the household's income is
    家庭人均年收入 × members, taken from the members' active identity row with the most recent start date that gives
    one; the share is total ÷ income in hundredths of a percent, rounded half-up."""
    count = len(members)
    oop = int(members["measure"].fillna(0).sum()) if count else 0
    known = members[members["income_per_capita"].notna()]
    if known.empty:
        return Summary(count, oop, None, None, None)
    latest = known.sort_values(["income_since", "id_number"], kind="stable").iloc[-1]
    per_capita = int(latest["income_per_capita"])
    income = per_capita * count
    share = rate_hundredths(pd.Series([oop]), pd.Series([income])).iloc[0]
    return Summary(count, oop, per_capita, income, None if pd.isna(share) else int(share))


def display(members: pd.DataFrame, masked: bool = True) -> pd.DataFrame:
    """The members with Chinese headers, amounts in yuan, name and ID number masked unless asked otherwise."""
    shown = members.assign(
        total_yuan=members["total_cost"].astype("float64") / 100,
        measure_yuan=members["measure"].astype("float64") / 100,
    )[list(HEADERS)]
    if masked:
        shown["name"], shown["id_number"] = mask_name(shown["name"]), mask_id(shown["id_number"])
    return shown.rename(columns=HEADERS).reset_index(drop=True)
