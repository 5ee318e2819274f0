"""Declared schema of every input source (SPEC §3): canonical headers, names, kinds, required flags."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    header: str  # canonical Chinese header
    name: str  # name in code and in the database
    kind: str  # normaliser: id, text, date, amount, year, enum:<group>, village, division, place, code3, identity
    required: bool = False


@dataclass(frozen=True)
class Source:
    key: str
    columns: tuple[Column, ...]
    duplicate_key: tuple[str, ...]  # names; empty = no duplicate rule
    snapshot: bool  # True: a load replaces it; False: a load adds to it

    @property
    def required_headers(self) -> list[str]:
        return [c.header for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


C = Column
DIVISIONS = Source(
    "divisions",
    (
        C("区划代码", "code", "division", True),
        C("名称", "name", "text", True),
        C("城乡分类代码", "urban_rural", "code3"),
    ),
    ("code",),
    True,
)

POPULATION = Source(
    "population",
    (
        C("身份证号", "id_number", "id", True),
        C("姓名", "name", "text", True),
        C("村社区代码", "village_code", "village", True),
        C("户号", "household_id", "text"),
        C("出生日期", "birth_date", "date"),
        C("人员状态", "status", "enum:person_status"),
        C("状态变更日期", "status_date", "date"),  # required when status is not 正常
        C("联系电话", "phone", "text"),
        C("住址", "address", "text"),
    ),
    ("id_number",),
    True,
)

DEATHS = Source(
    "deaths",
    (
        C("身份证号", "id_number", "id", True),
        C("姓名", "name", "text"),
        C("死亡日期", "death_date", "date", True),
    ),
    ("id_number",),
    True,
)

ENROLLMENT = Source(
    "enrollment",
    (
        C("身份证号", "id_number", "id", True),
        C("姓名", "name", "text"),
        C("险种", "scheme", "enum:scheme", True),
        C("参保年度", "year", "year", True),
        C("参保状态", "status", "enum:enrollment_status", True),
        C("参保地代码", "insured_place", "place"),
        C("缴费日期", "paid_date", "date"),
        C("资助类别", "subsidy_type", "text"),
        C("资助金额", "subsidy_amount", "amount"),
    ),
    ("id_number", "year", "scheme"),
    True,
)

IDENTITIES = Source(
    "identities",
    (
        C("身份证号", "id_number", "id", True),
        C("姓名", "name", "text"),
        C("身份类别", "identity_type", "identity", True),
        C("认定部门", "department", "text"),
        C("认定日期", "start_date", "date", True),
        C("退出日期", "end_date", "date"),
        C("户号", "household_id", "text"),
        C("家庭人均年收入", "income_per_capita", "amount"),
    ),
    ("id_number", "identity_type", "start_date"),
    True,
)

SETTLEMENT_AMOUNTS = ("total_cost", "policy_cost", "basic_paid", "critical_paid", "assistance_paid", "other_paid")
FUNDS = ("basic_paid", "critical_paid", "assistance_paid", "other_paid")

SETTLEMENTS = Source(
    "settlements",
    (
        C("结算流水号", "settlement_id", "text", True),
        C("身份证号", "id_number", "id", True),
        C("姓名", "name", "text"),
        C("结算日期", "settle_date", "date", True),
        C("就诊类型", "visit_type", "enum:visit_type"),
        C("医疗机构", "provider", "text"),
        C("医疗总费用", "total_cost", "amount", True),
        C("政策范围内费用", "policy_cost", "amount"),
        C("基本医保支付", "basic_paid", "amount"),
        C("大病保险支付", "critical_paid", "amount"),
        C("医疗救助支付", "assistance_paid", "amount"),
        C("其他支付", "other_paid", "amount"),
        C("原结算流水号", "reverses", "text"),
    ),
    ("settlement_id",),
    False,
)

# Processing order: divisions first (population checks villages against them).
TABULAR_SOURCES: dict[str, Source] = {
    s.key: s for s in (DIVISIONS, POPULATION, DEATHS, ENROLLMENT, IDENTITIES, SETTLEMENTS)
}

# Verification results sent back by civil affairs (SPEC §10); not a load source.
FEEDBACK = Source(
    "feedback",
    (
        C("身份证号", "id_number", "id", True),
        C("年度", "year", "year", True),
        C("核实结果", "result", "enum:feedback_result", True),
        C("核实日期", "verified_on", "date", True),
        C("备注", "remark", "text"),
        # optional help columns (SPEC §10): one row per measure, the verification repeated on each
        C("帮扶措施", "help_measure", "enum:help_measure"),
        C("帮扶日期", "help_date", "date"),
        C("帮扶金额", "help_amount", "amount"),
    ),
    ("id_number", "year", "help_measure", "help_date"),
    True,
)

ALL_SOURCES: dict[str, Source] = {**TABULAR_SOURCES, "feedback": FEEDBACK}

REASONS = (
    "MISSING_VALUE",
    "BAD_ID",
    "BAD_DATE",
    "BAD_AMOUNT",
    "UNKNOWN_DIVISION",
    "UNKNOWN_VALUE",
    "OUT_OF_RANGE",
    "INCONSISTENT_AMOUNTS",
    "DUPLICATE_ROW",
    "DUPLICATE_ID",
    "ORPHAN_REVERSAL",
)
