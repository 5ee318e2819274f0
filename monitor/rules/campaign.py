"""The collection period (集中参保缴费期) for next year's resident insurance: daily progress, bulletins, SMS lists.

Pure: tables in, tables out. Progress for target year T counts each person once, on the first 缴费日期 of a
正常参保 row of T (rows of T without a payment date, e.g. 职工, count from the first day). The base is the
in-scope population of the monitoring year Y = T − 1 (SPEC §7), so rates compare with the coverage figures.

A load's progress has two halves: the person-level one (millions of enrollment rows and persons down to a few
thousand village-day counts) is an engine-neutral Ibis expression, `village_progress`, run by storage.sets; the
daily grid of every level is pandas on those counts (`progress_all_levels`). The pandas version of the first half
stays in tests/rules/oracles.py. `payments` and `daily_progress` stay pandas for the SMS batches and small frames.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _

from monitor.base.text import is_in, lookup
from monitor.rules.divisions import at_level
from monitor.rules.rates import hundredths_to_percent, rate_hundredths, rate_percent


@dataclass(frozen=True)
class Period:
    target_year: int
    start: date
    end: date
    status_day: date  # the day the figures stand at
    running: bool


def period_on(start: date, end: date, today: date, latest_payment: date | None) -> Period:
    """The configured period and the day the figures stand at: today while the period runs, else the latest
    payment day the last run found inside the period (the demo's running campaign), else its first day."""
    target = start.year + 1
    if start <= today <= end:
        return Period(target, start, end, today, True)
    day = latest_payment or start
    return Period(target, start, end, day, latest_payment is not None and day < end)


MOBILE = re.compile(r"^1[3-9]\d{9}$")
SKIP_OUTCOMES = ("已在外地参保", "已死亡或迁出")  # a reminder text would be pointless


def payments(enrollment: pd.DataFrame, target_year: int, start: date) -> pd.DataFrame:
    """id_number → the day a person's enrollment for the target year was paid (start for rows without a date)."""
    rows = enrollment.loc[
        (enrollment["year"] == target_year) & (enrollment["status"] == "正常参保"), ["id_number", "paid_date"]
    ]
    first = pd.Timestamp(start)
    # a district's million payments fall on a few hundred days: each distinct text is parsed once
    day_codes, day_texts = pd.factorize(rows["paid_date"].astype("str"), use_na_sentinel=False)
    days = pd.to_datetime(pd.Series(day_texts, dtype="str"), format="%Y-%m-%d", errors="coerce")
    day = pd.Series(days.to_numpy()[day_codes]).fillna(first).clip(lower=first)
    person, ids = pd.factorize(rows["id_number"], sort=True)  # grouped by integer codes, not by the strings
    earliest = day.groupby(person).min()
    return pd.DataFrame({"id_number": ids.take(earliest.index.to_numpy()), "paid_on": earliest.to_numpy()})


def daily_progress(
    persons: pd.DataFrame,
    paid: pd.DataFrame,
    level: str,
    start: date,
    end: date,
    target_rate: float,
    targets: dict[str, int] | None = None,
) -> pd.DataFrame:
    """Cumulative enrolled persons per division and day of [start, end], with the in-scope base and the target.

    persons: in-scope persons of Y (id_number, village_code, vulnerable). Columns out: code, day, enrolled,
    vulnerable_enrolled, in_scope, vulnerable_in_scope, target, rate, vulnerable_rate.
    """
    return _daily_at_level(*_by_village(persons, paid, end), level, start, end, target_rate, targets)


def _by_village(persons: pd.DataFrame, paid: pd.DataFrame, end: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per village: the in-scope base, and persons enrolled per payment day up to end. Every level is summed from
    these few hundred rows instead of from every person again."""
    frame = persons[["id_number", "village_code", "vulnerable"]].reset_index(drop=True)
    frame["paid_on"] = lookup(frame["id_number"], paid["id_number"], paid["paid_on"])  # each person paid once
    base = frame.groupby("village_code").agg(in_scope=("id_number", "size"), vulnerable_in_scope=("vulnerable", "sum"))
    done = frame[frame["paid_on"].notna() & (frame["paid_on"] <= pd.Timestamp(end))]
    counts = done.groupby(["village_code", "paid_on"]).agg(
        enrolled=("id_number", "size"), vulnerable_enrolled=("vulnerable", "sum")
    )
    return base, counts


def _daily_at_level(
    village_base: pd.DataFrame,
    village_counts: pd.DataFrame,
    level: str,
    start: date,
    end: date,
    target_rate: float,
    targets: dict[str, int] | None,
) -> pd.DataFrame:
    base = village_base.groupby(at_level(village_base.index.to_series(), level).to_numpy()).sum()
    base.index.name = "code"
    counts = village_counts.reset_index()
    counts["code"] = at_level(counts["village_code"], level)
    counts = counts.groupby(["code", "paid_on"])[["enrolled", "vulnerable_enrolled"]].sum()
    days = pd.date_range(start, end, freq="D")
    grid = pd.MultiIndex.from_product([base.index, days], names=["code", "paid_on"])
    daily = counts.reindex(grid, fill_value=0).groupby(level="code").cumsum().reset_index()
    # merged on a column: merging on the index left an index named "code" beside the column when nobody was in
    # scope, which the next merge refused ('code' is both an index level and a column label)
    daily = daily.rename(columns={"paid_on": "day"}).merge(base.reset_index(), on="code")
    daily["day"] = daily["day"].dt.date
    daily["target"] = np.ceil(daily["in_scope"] * target_rate / 100 - 1e-9).astype("int64")
    if targets:
        daily["target"] = daily["code"].map(targets).fillna(daily["target"]).astype("int64")
    daily["rate"] = rate_percent(daily["enrolled"], daily["in_scope"]).astype("float64")
    daily["vulnerable_rate"] = rate_percent(daily["vulnerable_enrolled"], daily["vulnerable_in_scope"]).astype(
        "float64"
    )
    return daily[
        [
            "code",
            "day",
            "enrolled",
            "vulnerable_enrolled",
            "in_scope",
            "vulnerable_in_scope",
            "target",
            "rate",
            "vulnerable_rate",
        ]
    ]


def shifted(daily: pd.DataFrame, years: int = 1) -> pd.DataFrame:
    """A previous campaign's curve moved forward onto this campaign's days (same day of the period)."""
    out = daily.copy()
    out["day"] = out["day"].map(lambda d: _same_day(d, years))
    return out


def _same_day(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def bulletin(daily: pd.DataFrame, names: pd.Series, on: date, previous: date | None = None) -> pd.DataFrame:
    """Towns ranked by completion (enrolled ÷ target) on a day, with the change since the previous bulletin and the
    three lowest flagged."""
    today = daily[daily["day"] == on].set_index("code")
    rows = pd.DataFrame(
        {
            "code": today.index,
            "name": today.index.map(names).fillna(""),
            "in_scope": today["in_scope"].to_numpy(),
            "target": today["target"].to_numpy(),
            "enrolled": today["enrolled"].to_numpy(),
        }
    )
    completion = rate_hundredths(rows["enrolled"], rows["target"])
    rows["completion"] = hundredths_to_percent(completion).astype("float64")
    if previous is not None and (daily["day"] == previous).any():
        before = daily[daily["day"] == previous].set_index("code")
        earlier = rate_hundredths(before["enrolled"], before["target"])
        change = completion - rows["code"].map(earlier).astype("Int64").to_numpy()
        rows["change"] = hundredths_to_percent(change).astype("float64")
    else:
        rows["change"] = np.nan
    rows = rows.sort_values(["completion", "code"], ascending=[False, True], na_position="last").reset_index(drop=True)
    rows["rank"] = np.arange(1, len(rows) + 1)
    lowest = rows["completion"].notna()
    rows["lowest"] = False
    rows.loc[rows[lowest].tail(3).index, "lowest"] = True
    return rows


def sms_list(
    persons: pd.DataFrame,
    paid: pd.DataFrame,
    outcomes: pd.DataFrame,
    template: str,
    target_year: int,
    end: date,
    priorities: list[int] | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Reminder texts for in-scope persons not yet enrolled for the target year.

    persons: id_number, name, phone, priority (1 vulnerable, 2 newborn, 3 other), subsidy, subsidy_cents.
    Leaves out persons without a valid 11-digit mainland mobile and those whose latest outcome makes a text
    pointless; returns the list (phone, name, message) and how many were left out for which reason."""
    todo = persons[~is_in(persons["id_number"], paid["id_number"])]
    if priorities:
        todo = todo[todo["priority"].isin(priorities)]
    latest = (
        outcomes.drop_duplicates("id_number", keep="last").set_index("id_number")["outcome"]
        if not outcomes.empty
        else pd.Series(dtype="str")
    )
    pointless = todo["id_number"].map(latest).isin(SKIP_OUTCOMES)
    phone = todo["phone"].fillna("").astype("str").str.strip()
    valid = phone.str.match(MOBILE.pattern)
    chosen = todo[~pointless & valid]
    left_out = {"无有效手机号": int((~valid & ~pointless).sum()), "走访结果无需提醒": int(pointless.sum())}
    messages = [
        template.format(name=n, year=target_year, end=f"{end.month}月{end.day}日", subsidy=_subsidy_text(s, c))
        for n, s, c in zip(chosen["name"], chosen["subsidy"], chosen["subsidy_cents"], strict=False)
    ]
    return pd.DataFrame(
        {"phone": phone[chosen.index].to_numpy(), "name": chosen["name"].to_numpy(), "message": messages}
    ), left_out


def _subsidy_text(subsidy: object, cents: float | int | None) -> str:
    if subsidy == "full":
        return "您符合全额资助条件，个人无需缴费，"
    if subsidy == "fixed" and cents is not None and not (isinstance(cents, float) and math.isnan(cents)):
        return f"您可享受{int(cents) // 100}元参保资助，"
    return ""


def previous_bulletin_day(on: date, start: date) -> date | None:
    """The bulletin a week earlier, if the period had started by then."""
    earlier = on - timedelta(days=7)
    return earlier if earlier >= start else None


PROGRESS_COLUMNS = [
    "level",
    "code",
    "day",
    "enrolled",
    "vulnerable_enrolled",
    "in_scope",
    "vulnerable_in_scope",
    "target",
    "previous_enrolled",
]


VILLAGE_PROGRESS_COLUMNS = ["part", "village_code", "day", "persons", "vulnerable"]


def _first_paid(enrollment: ir.Table, periods: dict[str, tuple[int, date]]) -> ir.Table:
    """id_number → for each period (name → target year, first day), the day a person's enrollment for its year was
    paid, as ISO text (missing if none): the earliest of the 正常参保 rows of that year, a row without a date or
    paid before the first day counting from it. Both periods in one pass over the enrollment (payments, for an
    engine)."""
    years = [year for year, _first in periods.values()]
    rows = enrollment.filter(enrollment.year.isin(years) & (enrollment.status == "正常参保"))

    def day(year: int, start: date) -> ir.StringValue:
        first = start.isoformat()
        # dates are normalised ISO text or missing (SPEC §4), so text order is day order, on every engine
        paid = ibis.ifelse(rows.paid_date.notnull() & (rows.paid_date > first), rows.paid_date, first)
        return ibis.ifelse(rows.year == year, paid, ibis.null("string"))  # min() skips the other year's rows

    return rows.group_by("id_number").aggregate(**{name: day(*period).min() for name, period in periods.items()})


def village_progress(enrollment: ir.Table, persons: ir.Table, start: date, end: date) -> ir.Table:
    """The person-level half of the campaign's progress, engine-neutral, as one table of a few thousand rows.

    enrollment: id_number, year, status, paid_date; persons: the in-scope persons of Y (id_number, village_code,
    vulnerable). Rows by `part`: "base" (a village's in-scope persons and vulnerable ones; day missing), "this"
    and "last" (persons of a village enrolled per payment day up to the period's end, this campaign's and the one
    a year before), and one "latest" row (the latest payment day inside this period over everybody who paid, not
    only the in-scope persons; missing if none). Columns: VILLAGE_PROGRESS_COLUMNS; persons and vulnerable count.
    """
    target_year = start.year + 1
    ends = {"this": end.isoformat(), "last": _same_day(end, -1).isoformat()}
    paid = _first_paid(enrollment, {"this": (target_year, start), "last": (target_year - 1, _same_day(start, -1))})
    # a person without a village is in no division's figures (pandas' groupby left them out too)
    people = persons.filter(persons.village_code.notnull()).select(
        "id_number", "village_code", vulnerable=persons.vulnerable.cast("int64")
    )
    no_text = ibis.null("string")
    base = people.group_by("village_code").aggregate(persons=_.count(), vulnerable=_.vulnerable.sum())
    parts = [base.mutate(part=ibis.literal("base"), day=no_text)]
    joined = people.inner_join(paid, "id_number")  # one join for both periods: the costly step
    for part, last_day in ends.items():
        done = joined.filter(joined[part] <= last_day)  # missing days drop out too
        counts = done.group_by(["village_code", done[part].name("day")]).aggregate(
            persons=_.count(), vulnerable=_.vulnerable.sum()
        )
        parts.append(counts.mutate(part=ibis.literal(part)))
    inside = paid.filter(paid.this <= ends["this"])
    latest = inside.aggregate(day=inside.this.max()).mutate(
        part=ibis.literal("latest"),
        village_code=no_text,
        persons=ibis.literal(0, "int64"),
        vulnerable=ibis.literal(0, "int64"),
    )
    return ibis.union(*(p.select(*VILLAGE_PROGRESS_COLUMNS) for p in parts), latest.select(*VILLAGE_PROGRESS_COLUMNS))


def _village_frames(villages: pd.DataFrame, part: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One period's rows of village_progress in the shapes _daily_at_level takes (those of _by_village)."""
    base = villages[villages["part"] == "base"].sort_values("village_code")
    base = pd.DataFrame(
        {
            "in_scope": base["persons"].to_numpy("int64"),
            "vulnerable_in_scope": base["vulnerable"].to_numpy("int64"),
        },
        index=pd.Index(base["village_code"].to_numpy(), name="village_code", dtype="str"),
    )
    rows = villages[villages["part"] == part]
    day_codes, day_texts = pd.factorize(rows["day"])  # a few hundred days: each distinct text parsed once
    days = pd.to_datetime(pd.Series(day_texts, dtype="str"), format="%Y-%m-%d").to_numpy()
    counts = pd.DataFrame(
        {
            "village_code": rows["village_code"].to_numpy(),
            "paid_on": days[day_codes],
            "enrolled": rows["persons"].to_numpy("int64"),
            "vulnerable_enrolled": rows["vulnerable"].to_numpy("int64"),
        }
    )
    return base, counts.set_index(["village_code", "paid_on"]).sort_index()


def progress_all_levels(
    villages: pd.DataFrame,
    levels: list[str],
    start: date,
    end: date,
    target_rate: float,
    targets: dict[str, int] | None = None,
) -> tuple[pd.DataFrame, date | None]:
    """The campaign's daily progress at every level from village_progress's rows (run on an engine), last
    campaign's counts on the same days, and the latest payment day inside the period (None if none)."""
    last_start, last_end = _same_day(start, -1), _same_day(end, -1)
    this_year, last_year = _village_frames(villages, "this"), _village_frames(villages, "last")
    parts = []
    for level in levels:
        now = _daily_at_level(*this_year, level, start, end, target_rate, targets)
        before = shifted(_daily_at_level(*last_year, level, last_start, last_end, target_rate, targets))
        now = now.merge(
            before[["code", "day", "enrolled"]].rename(columns={"enrolled": "previous_enrolled"}),
            on=["code", "day"],
            how="left",
        )
        parts.append(now.assign(level=level))
    latest = villages.loc[villages["part"] == "latest", "day"].dropna()
    day = date.fromisoformat(latest.iloc[0]) if not latest.empty else None
    return pd.concat(parts, ignore_index=True)[PROGRESS_COLUMNS], day
