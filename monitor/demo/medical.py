"""Demo settlements: visits with long-tailed costs, fund shares by scheme and assistance class, reversals."""

from __future__ import annotations

import numpy as np
import pandas as pd

VISITS = np.array(["药店购药", "普通门诊", "门诊慢特病", "住院"], dtype=object)
# log-normal cost per visit type: median yuan and spread.
MEDIAN = np.array([60.0, 160.0, 480.0, 7000.0])
SIGMA = np.array([0.8, 0.9, 0.7, 0.85])
PROVIDERS = {
    "药店购药": ["青禾大药房中心店", "青禾大药房东街店", "仁和堂药店", "百姓平价药房"],
    "普通门诊": ["青禾区人民医院", "青禾区中医院", "乡镇卫生院", "村卫生室"],
    "门诊慢特病": ["青禾区人民医院", "青禾区中医院", "市第一人民医院"],
    "住院": ["青禾区人民医院", "青禾区中医院", "市第一人民医院", "省肿瘤医院", "省人民医院"],
}


def _visit_counts(rng: np.random.Generator, persons: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Outpatient-like visits and inpatient stays per person for a year (about 6.7 settlements a head)."""
    age = persons["age"].to_numpy()
    frailty = rng.gamma(1.5, 1 / 1.5, len(persons)) * np.where(persons["vulnerable"], 1.3, 1.0)
    base = np.where(age < 15, 4.5, np.where(age < 60, 5.0, 10.5)) * frailty
    stay_p = np.clip(np.where(age < 15, 0.07, np.where(age < 60, 0.11, 0.3)) * frailty, 0, 0.95)
    stays = (rng.random(len(persons)) < stay_p) * (1 + rng.poisson(0.35, len(persons)))
    return rng.poisson(base), stays


def settlements(
    rng: np.random.Generator, persons: pd.DataFrame, start: pd.Timestamp, days: int, first_serial: int, year: int
) -> pd.DataFrame:
    """Ordinary settlements of enrolled persons between start and start+days, amounts in cents."""
    visits, stays = _visit_counts(rng, persons)
    visits, stays = (
        (visits * days / 365).round().astype(int),
        (stays * days / 365 + rng.random(len(persons)) * (days < 365)).astype(int),
    )
    owner = np.r_[np.repeat(np.arange(len(persons)), visits), np.repeat(np.arange(len(persons)), stays)]
    kind = np.r_[rng.choice(3, int(visits.sum()), p=[0.45, 0.42, 0.13]), np.full(int(stays.sum()), 3)]
    n = owner.size
    total = rng.lognormal(np.log(MEDIAN[kind]), SIGMA[kind])
    # Major illness: a few stays cost several times a usual one (the long tail that drives alerts).
    major = (kind == 3) & (rng.random(n) < 0.05)
    total = np.where(major, total * rng.lognormal(np.log(5), 0.6, n), total)
    policy = total * np.where(kind == 3, rng.uniform(0.7, 0.95, n), rng.uniform(0.85, 1.0, n))
    scheme = persons["scheme"].to_numpy()[owner]
    worker = scheme == "职工"
    share = np.select(
        [kind == 3, kind == 2, kind == 1],
        [np.where(worker, 0.8, 0.62), 0.6, np.where(worker, 0.7, 0.5)],
        np.where(worker, 0.7, 0.0),
    )
    deductible = np.where(kind == 3, np.where(worker, 1200, 800), 0)
    insured = scheme != ""  # a settlement of someone not enrolled: no insurance fund pays
    basic = np.maximum(0, policy - deductible) * share * insured
    critical = np.where((kind == 3) & insured, np.maximum(0, policy - basic - 15000) * 0.6, 0)
    rest = np.maximum(0, policy - basic - critical)
    assist_rate = persons["assist_rate"].to_numpy()[owner]
    assistance = np.where(kind >= 2, rest * assist_rate, 0)
    other = np.where((kind == 3) & (total > 30000) & (rng.random(n) < 0.3), (total - policy) * 0.5, 0)
    cents = {
        name: np.round(values * 100).astype(np.int64)
        for name, values in (
            ("total_cost", total),
            ("policy_cost", policy),
            ("basic_paid", basic),
            ("critical_paid", critical),
            ("assistance_paid", assistance),
            ("other_paid", other),
        )
    }
    # Rounding each fund separately must not push their sum past the total.
    excess = (
        cents["basic_paid"]
        + cents["critical_paid"]
        + cents["assistance_paid"]
        + cents["other_paid"]
        - cents["total_cost"]
    )
    cents["basic_paid"] -= np.maximum(excess, 0)
    dates = start + pd.to_timedelta(rng.integers(0, days, n), unit="D")
    visit = VISITS[kind]
    provider = np.empty(n, dtype=object)
    for i, name in enumerate(VISITS):
        mask = kind == i
        provider[mask] = np.array(PROVIDERS[name], dtype=object)[rng.integers(0, len(PROVIDERS[name]), mask.sum())]
    frame = pd.DataFrame(
        {
            "settlement_id": [f"JS{year}{s:010d}" for s in range(first_serial, first_serial + n)],
            "id_number": persons["id_number"].to_numpy()[owner],
            "name": persons["name"].to_numpy()[owner],
            "settle_date": dates,
            "visit_type": visit,
            "provider": provider,
            **cents,
            "reverses": "",
        }
    )
    return frame


def reversals(
    rng: np.random.Generator, ordinary: pd.DataFrame, share: float, first_serial: int, year: int, latest: pd.Timestamp
) -> pd.DataFrame:
    """冲销 rows for a share of settlements (negative amounts, naming the original); most are re-settled."""
    picked = ordinary[rng.random(len(ordinary)) < share]
    n = len(picked)
    amounts = ["total_cost", "policy_cost", "basic_paid", "critical_paid", "assistance_paid", "other_paid"]
    undo = picked.copy()
    undo[amounts] = -picked[amounts]
    undo["reverses"] = picked["settlement_id"].to_numpy()
    undo["settle_date"] = (picked["settle_date"] + pd.to_timedelta(rng.integers(1, 20, n), unit="D")).clip(upper=latest)
    redo = picked[rng.random(n) < 0.6].copy()
    factor = rng.uniform(0.8, 1.0, len(redo))
    for col in amounts:
        redo[col] = np.floor(redo[col].to_numpy() * factor).astype(np.int64)
    redo["settle_date"] = undo.loc[redo.index, "settle_date"]
    both = pd.concat([undo, redo], ignore_index=True)
    both["settlement_id"] = [f"JS{year}{s:010d}" for s in range(first_serial, first_serial + len(both))]
    return both
