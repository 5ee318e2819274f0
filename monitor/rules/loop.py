"""The loop from push to help (SPEC §10): deadlines, what is overdue or late, and the loop's figures by cohort.

Pure: frames in, frames out; `today` is given (tests inject it). Dates are ISO text; deadlines count calendar days
and include their last day (a verification due on the 16th is on time on the 16th).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from monitor.rules.divisions import town_of
from monitor.rules.rates import hundredths_to_percent, rate_hundredths

HELP_RESULTS = ("纳入监测", "已落实救助")  # results after which help is due; 不符合条件 and 无法联系 need none
CLOSED = "已办结"
FIGURE_COLUMNS = [
    "pushed",
    "verified",
    "helped",
    "closed",
    "overdue",
    "late",
    "median_days_to_push",
    "median_days_to_help",
    "closed_on_time",
    "loop_rate",
]


def _dates(text: pd.Series) -> pd.Series:
    text = text.astype("object").fillna("").astype("str")  # an empty lookup comes back as floats
    return pd.to_datetime(text.str.slice(0, 10).replace("", None), format="%Y-%m-%d")


def timelines(
    states: pd.DataFrame,
    measures: pd.DataFrame,
    alerts: pd.DataFrame,
    today: date,
    verify_days: int,
    help_days: int,
) -> pd.DataFrame:
    """One row per alert pushed at least once: its cohort (month of the push), department, town, the steps' dates,
    deadlines, and whether each step is overdue (deadline passed, step not done) or late (done after it).

    states: alert_states rows (id_number, state, department, pushed_at, result, verified_on, closed_at);
    measures: id_number, taken_on; alerts: id_number, village_code, trigger_date (of the same year)."""
    pushed = states[states["pushed_at"].fillna("") != ""].copy()
    first = measures.groupby("id_number")["taken_on"].min() if not measures.empty else pd.Series(dtype="str")
    place = alerts.set_index("id_number")
    out = pd.DataFrame(
        {
            "id_number": pushed["id_number"].to_numpy(),
            "department": pushed["department"].fillna("").to_numpy(),
            "cohort": pushed["pushed_at"].str.slice(0, 7).to_numpy(),
            "pushed_on": _dates(pushed["pushed_at"]).to_numpy(),
            "verified_on": _dates(pushed["verified_on"]).to_numpy(),
            "result": pushed["result"].fillna("").to_numpy(),
            "closed": (pushed["state"] == CLOSED).to_numpy(),
        }
    )
    village = out["id_number"].map(place["village_code"]).astype("object").fillna("").astype("str")
    out["town_code"] = town_of(village).where(village != "", "")
    out["trigger_on"] = _dates(out["id_number"].map(place["trigger_date"]))
    out["first_measure"] = _dates(out["id_number"].map(first))
    now = pd.Timestamp(today)
    out["verify_due"] = out["pushed_on"] + timedelta(days=verify_days)
    verified = out["verified_on"].notna()
    needs_help = verified & out["result"].isin(HELP_RESULTS)
    out["help_due"] = out["verified_on"].where(needs_help) + timedelta(days=help_days)
    helped = out["first_measure"].notna()
    out["helped"] = helped
    out["verify_late"] = verified & (out["verified_on"] > out["verify_due"])
    out["help_late"] = needs_help & helped & (out["first_measure"] > out["help_due"])
    verify_overdue = ~verified & (now > out["verify_due"])
    help_overdue = needs_help & ~helped & (now > out["help_due"])
    out["overdue_step"] = np.select([verify_overdue, help_overdue], ["核实", "帮扶"], "")
    due = out["verify_due"].where(verify_overdue, out["help_due"])
    out["overdue_days"] = ((now - due).dt.days).where(out["overdue_step"] != "").astype("Int64")
    out["overdue"] = out["overdue_step"] != ""
    out["late"] = out["verify_late"] | out["help_late"]
    out["closed_on_time"] = out["closed"] & verified & ~out["late"]
    out["days_to_push"] = (out["pushed_on"] - out["trigger_on"]).dt.days
    out["days_to_help"] = (out["first_measure"] - out["pushed_on"]).dt.days
    return out


def figures(lines: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The loop in figures per group (e.g. cohort, department, town_code): pushed, verified, helped, closed, overdue,
    late, median days from trigger to push and from push to the first measure (an even count takes the mean of the
    middle two), and 闭环率 = alerts closed with every step on time ÷ alerts pushed, in percent half-up."""
    if lines.empty:
        return pd.DataFrame(columns=[*by, *FIGURE_COLUMNS])
    keyed = lines.assign(verified=lines["verified_on"].notna())
    grouped = keyed.groupby(by, sort=True, dropna=False) if by else keyed.groupby(lambda _: 0)
    out = grouped.agg(
        pushed=("id_number", "size"),
        verified=("verified", "sum"),
        helped=("helped", "sum"),
        closed=("closed", "sum"),
        overdue=("overdue", "sum"),
        late=("late", "sum"),
        median_days_to_push=("days_to_push", "median"),
        median_days_to_help=("days_to_help", "median"),
        closed_on_time=("closed_on_time", "sum"),
    ).reset_index(drop=not by)
    out["loop_rate"] = hundredths_to_percent(rate_hundredths(out["closed_on_time"], out["pushed"])).astype("float64")
    return out[[*by, *FIGURE_COLUMNS]]
