"""The demo's typed frames in file form: canonical or alias headers, the date and amount styles of real exports."""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitor.outputs.exports import yuan

SETTLEMENT_HEADERS = [
    "结算流水号",
    "身份证号",
    "姓名",
    "结算日期",
    "就诊类型",
    "医疗机构",
    "医疗总费用",
    "政策范围内费用",
    "基本医保支付",
    "大病保险支付",
    "医疗救助支付",
    "其他支付",
    "原结算流水号",
]


def _iso(dates: pd.Series) -> pd.Series:
    return pd.Series(pd.to_datetime(dates)).dt.strftime("%Y-%m-%d").fillna("")


def divisions(geo: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"区划代码": geo["code"], "名称": geo["name"], "城乡分类代码": geo["urban_rural"]})


def population(people: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "身份证号": people["id_number"],
            "姓名": people["name"],
            "村社区代码": people["village_code"],
            "户号": people["household_id"],
            "出生日期": _iso(people["birth"]),
            "人员状态": people["status"],
            "状态变更日期": _iso(people["status_date"]),
            "联系电话": people["phone"],
            "住址": people["address"],
        }
    ).reset_index(drop=True)


def deaths(people: pd.DataFrame) -> pd.DataFrame:
    """The 卫健委 list writes dates the Chinese way (2025年3月4日)."""
    dead = people[people["in_deaths_list"]]
    d = pd.to_datetime(dead["death_date"])
    text = d.dt.year.astype(str) + "年" + d.dt.month.astype(str) + "月" + d.dt.day.astype(str) + "日"
    return pd.DataFrame({"身份证号": dead["id_number"], "姓名": dead["name"], "死亡日期": text}).reset_index(drop=True)


SUBSIDY_TEXT = {"full": ("全额资助", 40000), "fixed": ("定额资助", 32000)}


def enrollment(rows: pd.DataFrame) -> pd.DataFrame:
    """The insurance system's export: slashes in dates, subsidy columns filled for subsidised persons."""
    kind = rows["subsidy"].map(lambda s: SUBSIDY_TEXT.get(s, ("", 0)))
    paid = pd.to_datetime(rows["paid_date"]).dt.strftime("%Y/%m/%d").fillna("")
    cents = kind.str[1].astype("int64")
    return pd.DataFrame(
        {
            "身份证号": rows["id_number"],
            "姓名": rows["name"],
            "险种": rows["scheme"],
            "参保年度": rows["year"].astype(str),
            "参保状态": rows["status"],
            "参保地代码": rows["insured_place"],
            "缴费日期": paid,
            "资助类别": kind.str[0],
            "资助金额": np.where(cents > 0, yuan(pd.Series(cents)), ""),
        }
    ).reset_index(drop=True)


# Each department's sheet uses its own headers, as the real lists do (aliases resolve them).
SHEETS = {
    "民政": {
        "身份证号": "身份证号",
        "姓名": "姓名",
        "身份类别": "身份类别",
        "认定部门": "认定部门",
        "认定日期": "认定日期",
        "退出日期": "退出日期",
        "户号": "户号",
        "家庭人均年收入": "家庭人均年收入",
    },
    "乡村振兴": {
        "身份证号": "公民身份号码",
        "姓名": "姓名",
        "身份类别": "人员类别",
        "认定部门": "认定部门",
        "认定日期": "认定日期",
        "退出日期": "退出日期",
        "户号": "户编号",
        "家庭人均年收入": "家庭人均年收入",
    },
    "残联": {
        "身份证号": "身份证号码",
        "姓名": "姓名",
        "身份类别": "困难身份",
        "认定部门": "认定部门",
        "认定日期": "认定日期",
        "退出日期": "退出日期",
    },
}
SHEET_ALIASES = {"乡村振兴": {"防止返贫监测对象": "监测对象"}}


def identity_sheets(records: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One canonical-headed frame per department sheet; dates stay datetimes (written as real date cells)."""
    sheets = {}
    for sheet, headers in SHEETS.items():
        part = records[records["department"] == sheet]
        frame = pd.DataFrame(
            {
                "身份证号": part["id_number"],
                "姓名": part["name"],
                "身份类别": part["identity_type"].replace(SHEET_ALIASES.get(sheet, {})),
                "认定部门": part["department"],
                "认定日期": pd.to_datetime(part["start_date"]),
                "退出日期": pd.to_datetime(part["end_date"]),
                "户号": part["household_id"],
                "家庭人均年收入": np.where(part["income"] > 0, part["income"].astype(str), ""),
            }
        )
        sheets[sheet] = frame[list(headers)].reset_index(drop=True)
    return sheets


def settlements(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "结算流水号": frame["settlement_id"],
            "身份证号": frame["id_number"],
            "姓名": frame["name"],
            "结算日期": _iso(frame["settle_date"]),
            "就诊类型": frame["visit_type"],
            "医疗机构": frame["provider"],
        }
    )
    for header, name in (
        ("医疗总费用", "total_cost"),
        ("政策范围内费用", "policy_cost"),
        ("基本医保支付", "basic_paid"),
        ("大病保险支付", "critical_paid"),
        ("医疗救助支付", "assistance_paid"),
        ("其他支付", "other_paid"),
    ):
        out[header] = yuan(frame[name]).to_numpy()
    out["原结算流水号"] = frame["reverses"].to_numpy()
    return out.reset_index(drop=True)
