"""CSV exports of SPEC §11: exact headers, two-decimal rates and amounts, UTF-8 with BOM."""

from __future__ import annotations

import pandas as pd

from monitor.rules.rates import format_rate, rate_hundredths

COVERAGE_HEADERS = [
    "区划代码",
    "名称",
    "层级",
    "应参保人数",
    "已参保人数",
    "参保率",
    "困难群众应参保人数",
    "困难群众已参保人数",
    "困难群众参保率",
    "新生儿应参保人数",
    "新生儿已参保人数",
    "新生儿参保率",
]
OUTREACH_HEADERS = [
    "身份证号",
    "姓名",
    "乡镇代码",
    "村社区代码",
    "户号",
    "优先级",
    "身份类别",
    "资助方式",
    "资助金额",
    "备注",
]
ALERT_HEADERS = [
    "身份证号",
    "姓名",
    "村社区代码",
    "年度",
    "身份类别",
    "预警类型",
    "医疗总费用",
    "基金支付合计",
    "个人负担",
    "预警阈值",
    "触发规则",
    "预警等级",
    "触发日期",
    "状态",
]
WATCH_HEADERS = [
    "身份证号",
    "姓名",
    "村社区代码",
    "年度",
    "身份类别",
    "预警类型",
    "个人负担",
    "关注阈值",
    "关注规则",
    "达到比例",
]
REJECT_HEADERS = ["来源", "文件", "行号", "原因", "列", "原始内容"]


def yuan(cents: pd.Series) -> pd.Series:
    """'1234.50' from 123450 cents; blank for NA."""
    c = cents.astype("Int64")
    sign = c.lt(0).map({True: "-", False: ""})
    a = c.abs()
    text = sign.astype("str") + (a // 100).astype("str") + "." + (a % 100).astype("str").str.zfill(2)
    return text.where(c.notna(), "")


def _text(values: pd.Series) -> pd.Series:
    return values.astype("str").fillna("")


def coverage_frame(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "区划代码": rows["code"],
            "名称": _text(rows["name"]),
            "层级": rows["level"],
            "应参保人数": rows["in_scope"],
            "已参保人数": rows["enrolled"],
            "参保率": format_rate(rate_hundredths(rows["enrolled"], rows["in_scope"])),
            "困难群众应参保人数": rows["vulnerable_in_scope"],
            "困难群众已参保人数": rows["vulnerable_enrolled"],
            "困难群众参保率": format_rate(rate_hundredths(rows["vulnerable_enrolled"], rows["vulnerable_in_scope"])),
            "新生儿应参保人数": rows["newborn_in_scope"],
            "新生儿已参保人数": rows["newborn_enrolled"],
            "新生儿参保率": format_rate(rate_hundredths(rows["newborn_enrolled"], rows["newborn_in_scope"])),
        }
    )[COVERAGE_HEADERS]


def outreach_frame(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "身份证号": rows["id_number"],
            "姓名": _text(rows["name"]),
            "乡镇代码": _text(rows["town_code"]),
            "村社区代码": _text(rows["village_code"]),
            "户号": _text(rows["household_id"]),
            "优先级": rows["priority"],
            "身份类别": _text(rows["identity_type"]),
            "资助方式": rows["subsidy_mode"],
            "资助金额": yuan(rows["subsidy_cents"]),
            "备注": _text(rows["remark"]),
        }
    )[OUTREACH_HEADERS]


def alerts_frame(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "身份证号": rows["id_number"],
            "姓名": _text(rows["name"]),
            "村社区代码": _text(rows["village_code"]),
            "年度": rows["year"],
            "身份类别": _text(rows["identity_type"]),
            "预警类型": rows["alert_type"],
            "医疗总费用": yuan(rows["total_cost"]),
            "基金支付合计": yuan(rows["funds_paid"]),
            "个人负担": yuan(rows["measure"]),
            "预警阈值": yuan(rows["threshold"]),
            "触发规则": rows["rules"],
            "预警等级": rows["level"],
            "触发日期": _text(rows["trigger_date"]),
            "状态": rows["state"],
        }
    )[ALERT_HEADERS]


def watch_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The watch list (临界关注) in its stored order: ratio descending, then ID (SPEC §11)."""
    return pd.DataFrame(
        {
            "身份证号": rows["id_number"],
            "姓名": _text(rows["name"]),
            "村社区代码": _text(rows["village_code"]),
            "年度": rows["year"],
            "身份类别": _text(rows["identity_type"]),
            "预警类型": rows["alert_type"],
            "个人负担": yuan(rows["measure"]),
            "关注阈值": yuan(rows["threshold"]),
            "关注规则": rows["rule"],
            "达到比例": format_rate(rows["ratio"]),
        }
    )[WATCH_HEADERS]


def rejects_frame(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "来源": rows["source"],
            "文件": rows["file"],
            "行号": rows["row"],
            "原因": rows["reason"],
            "列": rows["column"],
            "原始内容": _text(rows["original"]),
        }
    )[REJECT_HEADERS]
