"""Demo residents: register, deaths, enrollment for Y and Y−1, vulnerable identities (typed frames, no I/O)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitor.demo.names import given_names, surnames

AREA = 990101  # fictional area code of the demo's ID numbers (province 99 does not exist)
OTHER_AREAS = np.array([990102, 990103, 990201, 990302])  # migrants and people registered elsewhere
ELSEWHERE_PLACES = np.array(["440300", "330100", "320500", "440100", "350200", "990201"])  # 异地参保 places
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK = np.array(list("10X98765432"), dtype=object)

# Household identity mix (rural, urban), and the department that certifies each type.
RURAL_MIX = {
    "脱贫人口": 0.52,
    "低保对象": 0.22,
    "防止返贫监测对象": 0.14,
    "低保边缘家庭成员": 0.07,
    "返贫致贫人口": 0.02,
    "特困人员": 0.03,
}
URBAN_MIX = {"低保对象": 0.6, "低保边缘家庭成员": 0.32, "特困人员": 0.08}
DEPARTMENT = {
    "特困人员": "民政",
    "孤儿": "民政",
    "低保对象": "民政",
    "低保边缘家庭成员": "民政",
    "因病致贫重病患者": "民政",
    "返贫致贫人口": "乡村振兴",
    "防止返贫监测对象": "乡村振兴",
    "脱贫人口": "乡村振兴",
    "重度残疾人": "残联",
}
# Medical-assistance rate by class (SPEC §6 defaults: 100%, ≥75%, ≥65%, ≥60%).
ASSIST_RATE = {1: 1.0, 2: 0.75, 3: 0.65, 4: 0.6}
CONTRIBUTION_YUAN = 400  # resident individual contribution, paid in full for 全额资助


def id_numbers(area: np.ndarray, birth: pd.Series, male: np.ndarray) -> np.ndarray:
    """Valid 18-digit ID numbers, unique per (area, birth date, sex) rank, with the MOD 11-2 check digit."""
    ymd = (birth.dt.year * 10000 + birth.dt.month * 100 + birth.dt.day).to_numpy(np.int64)
    key = pd.DataFrame({"a": area, "d": ymd, "m": male})
    rank = key.groupby(["a", "d", "m"]).cumcount().to_numpy(np.int64)
    if rank.max(initial=0) > 499:
        raise ValueError("more than 500 persons share an area, birth date and sex")
    body = area.astype(np.int64) * 10**11 + ymd * 1000 + rank * 2 + male.astype(np.int64)
    digits = np.stack([(body // 10 ** (16 - i)) % 10 for i in range(17)], axis=1)
    check = CHECK[(digits @ WEIGHTS) % 11]
    return np.char.add(body.astype(str), check.astype(str))


def _ages(rng: np.random.Generator, count: int) -> np.ndarray:
    ages = np.arange(0, 101)
    weight = np.where(ages < 15, 0.8, np.where(ages < 60, 1.0, np.exp(-(ages - 60) / 13)))
    return rng.choice(ages, count, p=weight / weight.sum())


def residents(rng: np.random.Generator, divisions: pd.DataFrame, count: int, year: int) -> pd.DataFrame:
    """The register: persons spread unevenly over villages in households, with status changes."""
    villages = divisions[divisions["level"] == "村社区"].reset_index(drop=True)
    urban = villages["urban_rural"].str.startswith("1").to_numpy()
    weight = rng.lognormal(0, 0.55, len(villages)) * np.where(urban, 1.5, 1.0)
    village_of = np.sort(rng.choice(len(villages), count, p=weight / weight.sum()))
    # Households: consecutive persons of a village, 1–6 members.
    sizes = rng.choice(np.arange(1, 7), count, p=[0.16, 0.26, 0.22, 0.19, 0.11, 0.06])
    household = np.repeat(np.arange(count), sizes)[:count]
    first_of = np.r_[True, (household[1:] != household[:-1]) | (village_of[1:] != village_of[:-1])]
    household_key = np.cumsum(first_of) - 1
    household_seq = household_key - pd.Series(household_key).groupby(village_of).transform("min").to_numpy()
    ages = _ages(rng, count)
    as_of = pd.Timestamp(year=year, month=12, day=31)
    birth = as_of - pd.to_timedelta(ages * 365 + rng.integers(0, 365, count), unit="D")
    birth = pd.Series(birth).dt.normalize()
    male = rng.random(count) < 0.51
    family = surnames(rng, int(household_key[-1]) + 1)[household_key]
    names = np.char.add(family.astype(str), given_names(rng, count).astype(str))
    codes = villages["code"].to_numpy()[village_of]
    people = pd.DataFrame(
        {
            "id_number": id_numbers(np.full(count, AREA), birth, male),
            "name": names,
            "village_code": codes,
            "town_code": np.char.add(codes.astype(str).astype("<U9"), "000"),
            "urban": urban[village_of],
            "household_id": np.char.add(codes.astype(str), np.char.zfill((household_seq + 1).astype(str), 4)),
            "birth": birth,
            "age": ages,
            "male": male,
        }
    )
    mobiles = np.char.add(
        np.char.add("1", rng.choice(list("3456789"), count)),
        np.char.zfill(rng.integers(0, 10**9, count).astype(str), 9),
    )
    people["phone"] = np.where(rng.random(count) < 0.72, mobiles, "")
    people["address"] = villages["name"].to_numpy()[village_of] + (household_seq + 1).astype(str) + "号"
    _statuses(rng, people, year)
    return people


def _statuses(rng: np.random.Generator, people: pd.DataFrame, year: int) -> None:
    """Deaths (register and fresher deaths list), moves out, military service."""
    n = len(people)
    u = rng.random(n)
    old = people["age"].to_numpy() >= 65
    died = u < np.where(old, 0.025, 0.001)
    moved = ~died & (u > 0.988) & (people["age"].to_numpy() >= 16)
    soldier = (
        ~died & ~moved & people["male"].to_numpy() & (people["age"].between(18, 22).to_numpy()) & (rng.random(n) < 0.03)
    )
    day = pd.Timestamp(year=year - 1, month=3, day=1) + pd.to_timedelta(rng.integers(0, 640, n), unit="D")
    status = np.select([died, moved, soldier], ["死亡", "迁出", "服兵役"], "正常")
    # A third of the deaths reach the register late: still 正常 there, but in the deaths list.
    late = died & (rng.random(n) < 0.33)
    status = np.where(late, "正常", status)
    people["status"] = status
    people["status_date"] = pd.Series(day).where(status != "正常")
    people["death_date"] = pd.Series(day).where(died)
    people["in_deaths_list"] = died & (rng.random(n) < 0.9) | late
    births_after_death = people["death_date"] < people["birth"]
    people.loc[births_after_death, "death_date"] = people.loc[births_after_death, "birth"]
    people.loc[births_after_death & (people["status"] == "死亡"), "status_date"] = people.loc[
        births_after_death, "birth"
    ]


def village_propensity(rng: np.random.Generator, divisions: pd.DataFrame) -> pd.Series:
    """Each village's chance of enrollment: a town level plus village noise, a few villages well behind."""
    villages = divisions[divisions["level"] == "村社区"]
    towns = divisions.loc[divisions["level"] == "乡镇", "code"].to_numpy()
    town_rate = pd.Series(rng.uniform(0.925, 0.99, len(towns)), index=towns)
    rate = villages["parent_code"].map(town_rate).to_numpy() + rng.normal(0, 0.01, len(villages))
    behind = rng.random(len(villages)) < 0.05
    rate = np.where(behind, rate - rng.uniform(0.05, 0.1, len(villages)), rate)
    return pd.Series(np.clip(rate, 0.8, 0.998), index=villages["code"].to_numpy())


def identities(rng: np.random.Generator, people: pd.DataFrame, year: int) -> pd.DataFrame:
    """Identity records by household and by person: several per person sometimes, some expired, some later."""
    hh = people.drop_duplicates("household_id")[["household_id", "urban"]]
    n_hh = len(hh)
    chosen = rng.random(n_hh) < np.where(hh["urban"], 0.05, 0.14)
    mix_r, mix_u = list(RURAL_MIX.items()), list(URBAN_MIX.items())
    types_r = rng.choice([k for k, _ in mix_r], n_hh, p=[v for _, v in mix_r])
    types_u = rng.choice([k for k, _ in mix_u], n_hh, p=[v for _, v in mix_u])
    hh_type = pd.Series(np.where(hh["urban"], types_u, types_r), index=hh["household_id"])[chosen]
    members = people[people["household_id"].isin(hh_type.index)][["id_number", "name", "household_id", "age"]]
    records = members.assign(identity_type=members["household_id"].map(hh_type))
    # 特困 are single elderly; elsewhere in such a household the others are 低保.
    records.loc[(records["identity_type"] == "特困人员") & (records["age"] < 60), "identity_type"] = "低保对象"
    extra = []
    # A quarter of 脱贫 households are also 低保: a second identity for the same persons.
    tuopin = records[records["identity_type"] == "脱贫人口"]
    extra.append(tuopin[rng.random(len(tuopin)) < 0.25].assign(identity_type="低保对象"))
    u = rng.random(len(people))
    extra.append(people[u < 0.007].assign(identity_type="重度残疾人"))
    extra.append(people[(u >= 0.007) & (u < 0.0085)].assign(identity_type="因病致贫重病患者"))
    extra.append(people[(people["age"] < 16) & (u > 0.9995)].assign(identity_type="孤儿"))
    records = pd.concat([records] + [e[records.columns] for e in extra], ignore_index=True)
    records = records.drop_duplicates(["id_number", "identity_type"])
    n = len(records)
    start = pd.Timestamp(year=2016, month=1, day=1) + pd.to_timedelta(rng.integers(0, (year - 2016) * 365, n), unit="D")
    as_of = pd.Timestamp(year=year, month=12, day=31)
    v = rng.random(n)
    expired = v < 0.07
    later = (v >= 0.07) & (v < 0.09)
    start = pd.Series(start).where(~later, as_of + pd.to_timedelta(rng.integers(1, 90, n), unit="D"))
    end = (start + pd.to_timedelta(rng.integers(60, 900, n), unit="D")).clip(upper=as_of - pd.Timedelta(days=1))
    end = end.where(expired & (end > start))
    records["start_date"] = start.to_numpy()
    records["end_date"] = end.to_numpy()
    records["department"] = records["identity_type"].map(DEPARTMENT)
    low_income = records["identity_type"].isin(["低保对象", "特困人员", "低保边缘家庭成员", "防止返贫监测对象"])
    records["income"] = np.where(low_income, rng.integers(2400, 11000, n), 0)
    return records.drop(columns="age").reset_index(drop=True)


def enrollment(
    rng: np.random.Generator, people: pd.DataFrame, propensity: pd.Series, active: pd.Series, year: int
) -> pd.DataFrame:
    """Enrollment rows for Y and Y−1. `active` maps id_number → subsidy kind ('full', 'fixed', 'none')."""
    n = len(people)
    age = people["age"].to_numpy()
    rate = people["village_code"].map(propensity).to_numpy()
    vulnerable = people["id_number"].isin(active.index).to_numpy()
    newborn = (people["birth"].dt.year == year).to_numpy()
    rate = np.where(vulnerable, 0.996, np.where(newborn, rate - 0.07, rate))
    enrolled = rng.random(n) < rate
    urban = people["urban"].to_numpy()
    worker_p = np.where(
        (age >= 18) & (age < 60), np.where(urban, 0.45, 0.12), np.where(age >= 60, np.where(urban, 0.3, 0.05), 0.0)
    )
    scheme = np.where(rng.random(n) < worker_p, "职工", "居民")
    elsewhere = enrolled & (rng.random(n) < np.where((age >= 18) & (age < 50), 0.06, 0.01))
    place = np.where(elsewhere, rng.choice(ELSEWHERE_PLACES, n), "")
    base = pd.DataFrame(
        {
            "id_number": people["id_number"],
            "name": people["name"],
            "scheme": scheme,
            "insured_place": place,
            "birth": people["birth"],
        }
    )
    subsidy = people["id_number"].map(active).astype(object).fillna("none").to_numpy()

    rows = [base[enrolled].assign(year=year, status="正常参保", subsidy=subsidy[enrolled])]
    # Not enrolled, but with a suspended or ended row: still not enrolled.
    lapsed = ~enrolled & (rng.random(n) < 0.05)
    rows.append(
        base[lapsed].assign(year=year, status=rng.choice(["暂停参保", "终止参保"], int(lapsed.sum())), subsidy="none")
    )
    # Duplicate enrolment: an active row in the other scheme too (a fund-safety finding).
    double = enrolled & (rng.random(n) < 0.003)
    rows.append(
        base[double].assign(
            year=year, status="正常参保", subsidy="none", scheme=np.where(scheme[double] == "职工", "居民", "职工")
        )
    )
    before = (people["birth"].dt.year < year).to_numpy() & (rng.random(n) < np.where(enrolled, 0.97, 0.5))
    rows.append(base[before].assign(year=year - 1, status="正常参保", subsidy=subsidy[before]))
    rows.append(_next_year(rng, people, base, enrolled, subsidy, year))
    out = pd.concat(rows, ignore_index=True)
    paid = pd.Timestamp(year=year - 1, month=9, day=1) + pd.to_timedelta(rng.integers(0, 122, len(out)), unit="D")
    paid = paid - pd.to_timedelta((year - out["year"].to_numpy()) * 365, unit="D")
    # Newborns pay after birth, within the year.
    paid = pd.Series(paid).where(out["birth"].dt.year < out["year"], out["birth"] + pd.Timedelta(days=20))
    paid = paid.where(out["year"] <= year, out["campaign_paid"])
    out["paid_date"] = paid.where(out["scheme"] == "居民").to_numpy()
    out = out.drop(columns="campaign_paid")
    out.loc[out["scheme"] == "职工", "subsidy"] = "none"
    return out.drop(columns="birth")


CAMPAIGN_CUTOFF = (11, 20)  # the demo's campaign for Y+1 stands at this day of Y (month, day)


def _next_year(
    rng: np.random.Generator,
    people: pd.DataFrame,
    base: pd.DataFrame,
    enrolled: np.ndarray,
    subsidy: np.ndarray,
    year: int,
) -> pd.DataFrame:
    """The running collection period for Y+1: payments from 1 September of Y to the cutoff, uneven by town
    (55–90% of last year's enrolled have paid), vulnerable persons (paid by assistance) sooner and more often."""
    towns = people["town_code"].unique()
    pace = pd.Series(rng.uniform(0.55, 0.9, len(towns)), index=towns)
    share = people["town_code"].map(pace).to_numpy()
    share = np.where(subsidy != "none", np.minimum(1.0, share + 0.25), share)
    alive = people["death_date"].isna().to_numpy() & (people["status"] == "正常").to_numpy()
    paying = enrolled & alive & (rng.random(len(people)) < share)
    start = pd.Timestamp(year=year, month=9, day=1)
    days = (pd.Timestamp(year=year, month=CAMPAIGN_CUTOFF[0], day=CAMPAIGN_CUTOFF[1]) - start).days + 1
    offset = np.floor(rng.beta(1.4, 1.2, len(people)) * days).astype(int)
    rows = base[paying].assign(
        year=year + 1,
        status="正常参保",
        subsidy=subsidy[paying],
        campaign_paid=(start + pd.to_timedelta(offset[paying], unit="D")).to_numpy(),
    )
    return rows


def migrants(rng: np.random.Generator, count: int, year: int) -> pd.DataFrame:
    """Persons enrolled here but not in the register (registered elsewhere)."""
    ages = rng.integers(18, 60, count)
    birth = pd.Series(
        pd.Timestamp(year=year, month=12, day=31) - pd.to_timedelta(ages * 365 + rng.integers(0, 365, count), unit="D")
    ).dt.normalize()
    male = rng.random(count) < 0.55
    area = rng.choice(OTHER_AREAS, count)
    names = np.char.add(surnames(rng, count).astype(str), given_names(rng, count).astype(str))
    return pd.DataFrame(
        {"id_number": id_numbers(area, birth, male), "name": names, "birth": birth, "age": ages, "male": male}
    )
