"""The household view of the alert detail on a tiny hand-built district, its figures worked out by hand.

Villages 甲村 (town 甲镇) and 乙村 (town 乙镇), both rural; as_of 2025-12-31; default rules R1 (vulnerable, 10,000)
and R2 (everyone, rural 11,559.50), watch_share 0.8.
Household H1: A (甲村, 低保对象 from 2024 with 家庭人均年收入 3,000), B (甲村, 脱贫人口 from 2025-03-01 with 3,900),
C (甲村, 低保对象 ended 2025-02-01, its 9,999 not in force), D (乙村, no identity).
- A: S1 30,000 − 12,000 − 3,000 = 15,000, reversed in part by R1 (−2,000 total, −1,000 basic) → 14,000 oop of
  28,000; S0 is of 2024. R1: 1.4 → 黄 · 返贫预警.
- B: S2 15,000 − 6,000 = 9,000 ≥ 0.8 × 10,000 → 临界关注. C: nothing. D: S3 5,000 − 2,000 = 3,000.
- Household of four: oop 26,000; income 3,900 (B's row is the latest) × 4 = 15,600 → 166.666… → 166.67 %.
- Seen from 甲镇 only: A, B, C → 23,000 ÷ (3,900 × 3) = 196.581… → 196.58 %.
E (甲村) has a blank 户号: a household of one. F is outside the register (低保对象, 20,000 → 红): a household of one.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from monitor.demo.people import id_numbers
from monitor.load.pipeline import run_load
from monitor.security.access import ADMIN, ASSISTANCE, ENROLLMENT, LEADER, AccessDenied, Viewer
from monitor.storage.store import connect
from monitor.web.views import household

BIRTHS = pd.Series(pd.to_datetime(["1960-01-01", "1962-02-02", "1990-03-03", "1985-04-04", "1970-05-05", "1955-06-06"]))
A, B, C, D, E, F = map(str, id_numbers(np.full(6, 990101), BIRTHS, np.array([True, False, True, False, True, False])))
TOWN_A, TOWN_B = "990101001000", "990101002000"
EVERYONE = Viewer("helper", ASSISTANCE)


def _csv(folder, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def engine(tmp_path_factory, settings):
    inbox = tmp_path_factory.mktemp("household") / "load"
    _csv(
        inbox,
        "divisions.csv",
        "区划代码,名称,城乡分类代码\n990101000000,青禾区,\n990101001000,甲镇,\n990101001201,甲村,220\n"
        "990101002000,乙镇,\n990101002201,乙村,220\n",
    )
    register = [(A, "张大", "990101001201", "H1"), (B, "李小二", "990101001201", "H1")]
    register += [(C, "王三", "990101001201", "H1"), (D, "赵四", "990101002201", "H1"), (E, "钱五", "990101001201", "")]
    _csv(inbox, "population.csv", "身份证号,姓名,村社区代码,户号\n" + "\n".join(",".join(r) for r in register) + "\n")
    _csv(
        inbox,
        "identities.csv",
        "身份证号,姓名,身份类别,认定日期,退出日期,户号,家庭人均年收入\n"
        f"{A},张大,低保对象,2024-01-01,,H1,3000\n{B},李小二,脱贫人口,2025-03-01,,H1,3900\n"
        f"{C},王三,低保对象,2023-01-01,2025-02-01,H1,9999\n{F},孙六,低保对象,2024-06-01,,H9,\n",
    )
    _csv(
        inbox,
        "settlements.csv",
        "结算流水号,身份证号,结算日期,就诊类型,医疗总费用,基本医保支付,医疗救助支付,原结算流水号\n"
        f"S0,{A},2024-12-01,住院,9000,0,0,\nS1,{A},2025-03-01,住院,30000,12000,3000,\n"
        f"R1,{A},2025-03-20,住院,-2000,-1000,0,S1\nS2,{B},2025-04-01,住院,15000,6000,0,\n"
        f"S3,{D},2025-05-01,住院,5000,2000,0,\nS4,{E},2025-06-01,门诊慢特病,1000,400,0,\n"
        f"S5,{F},2025-07-01,住院,20000,0,0,\n",
    )
    url = f"sqlite:///{inbox.parent / 'monitor.db'}"
    db = connect(url)
    run_load(inbox, replace(settings, as_of=None), db, year=2025)
    yield db
    db.dispose()


def test_members_costs_alerts_and_identities(engine, settings):
    members = household.members(engine, 2025, B, settings, EVERYONE)
    assert members["id_number"].tolist() == [B, A, D, C]  # the person first, then by ID number
    rows = members.set_index("id_number")
    assert rows.loc[[A, B, C, D], "name"].tolist() == ["张大", "李小二", "王三", "赵四"]
    assert rows.loc[[A, B, C, D], "measure"].tolist() == [1_400_000, 900_000, 0, 300_000]
    assert rows.loc[[A, B, C, D], "total_cost"].tolist() == [2_800_000, 1_500_000, 0, 500_000]
    assert rows.loc[[A, B, C, D], "identity_type"].tolist() == ["低保对象", "脱贫人口", "", ""]
    assert rows.loc[[A, B, C, D], "mark"].tolist() == ["黄 · 返贫预警", "临界关注", "", ""]
    assert rows.loc[A, "threshold"] == 1_000_000 and pd.isna(rows.loc[B, "threshold"])
    assert rows.loc[[A, B, C, D], "watched"].tolist() == [False, True, False, False]
    assert rows.loc[[A, B], "income_per_capita"].tolist() == [300_000, 390_000]
    assert pd.isna(rows.loc[C, "income_per_capita"])  # the ended row's income is not in force


def test_the_household_total_and_its_share_of_income(engine, settings):
    figures = household.summary(household.members(engine, 2025, A, settings, EVERYONE))
    assert figures == household.Summary(4, 2_600_000, 390_000, 1_560_000, 16_667)
    assert (figures.oop_yuan, figures.household_income_yuan, figures.share_percent) == (26000.0, 15600.0, 166.67)
    assert figures.labelled() == {
        "家庭人数": "4",
        "家庭个人负担合计(元)": "26,000.00",
        "家庭人均年收入(元)": "3,900.00",
        "家庭年收入(元)": "15,600.00",
        "个人负担占家庭年收入(%)": "166.67",
    }


def test_blank_household_and_outside_the_register_are_households_of_one(engine, settings):
    alone = household.members(engine, 2025, E, settings, EVERYONE)
    assert alone["id_number"].tolist() == [E] and alone["measure"].tolist() == [60_000]
    figures = household.summary(alone)
    assert (figures.members, figures.oop_cents, figures.share_hundredths) == (1, 60_000, None)
    assert figures.labelled()["个人负担占家庭年收入(%)"] == ""  # no income known: blank
    outside = household.members(engine, 2025, F, settings, EVERYONE).iloc[0]
    assert (outside["id_number"], outside["name"], outside["village_code"]) == (F, "孙六", "")
    assert (outside["identity_type"], outside["mark"], outside["measure"]) == ("低保对象", "红 · 返贫预警", 2_000_000)


def test_the_display_is_masked_with_chinese_headers(engine, settings):
    shown = household.display(household.members(engine, 2025, A, settings, EVERYONE))
    assert list(shown.columns) == ["姓名", "身份证号", "身份类别", "医疗总费用(元)", "个人负担(元)", "预警"]
    first = shown.iloc[0]
    assert (first["姓名"], first["身份证号"]) == ("张*", A[:6] + "********" + A[-4:])
    assert (first["医疗总费用(元)"], first["个人负担(元)"], first["预警"]) == (28000.0, 14000.0, "黄 · 返贫预警")
    assert shown.loc[1, "姓名"] == "李**"
    assert (
        household.display(household.members(engine, 2025, A, settings, EVERYONE), masked=False).iloc[0]["身份证号"] == A
    )


@pytest.mark.parametrize("role", [LEADER, ENROLLMENT])
def test_a_role_without_alerts_is_denied(engine, settings, role):
    with pytest.raises(AccessDenied):
        household.members(engine, 2025, A, settings, Viewer("someone", role))


def test_town_scope(engine, settings):
    town_a = Viewer("a", ASSISTANCE, towns=frozenset({TOWN_A}))
    seen = household.members(engine, 2025, A, settings, town_a)
    assert seen["id_number"].tolist() == [A, B, C]  # D lives in 乙镇
    assert household.summary(seen) == household.Summary(3, 2_300_000, 390_000, 1_170_000, 19_658)
    town_b = Viewer("b", ADMIN, towns=frozenset({TOWN_B}))
    for person in (A, B, E, F):  # 甲镇's people, and a person outside the register: nothing of them
        nothing = household.members(engine, 2025, person, settings, town_b)
        assert nothing.empty and list(nothing.columns) == household.COLUMNS
        assert household.summary(nothing) == household.Summary(0, 0, None, None, None)
    assert household.members(engine, 2025, D, settings, town_b)["id_number"].tolist() == [D]
