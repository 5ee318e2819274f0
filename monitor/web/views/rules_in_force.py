"""用户管理 · 系统配置: the alert rules in force and the other alert settings, as the system administrator reads them
(read-only; they are changed in config.toml)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pandas as pd

from monitor.config import AlertRule, ConfigError, Settings
from monitor.rules.costs import rule_thresholds

APPLIES_TO = {"vulnerable": "困难群众", "everyone": "所有人"}
RESIDENCE = {"rural": "农村", "urban": "城镇", "any": "不限"}
HEADERS = ["id", "名称", "适用对象", "城乡", "口径", "阈值", "城镇阈值(元)", "农村阈值(元)"]


def _decimal(value: Fraction) -> str:
    """Fraction(3, 2) → '1.5', Fraction(2) → '2' (up to four decimals)."""
    text = f"{float(value):.4f}".rstrip("0").rstrip(".")
    return text or "0"


def _cents(cents: int) -> str:
    """1155950 → '11559.50'."""
    sign, whole = ("-" if cents < 0 else ""), abs(cents)
    return f"{sign}{whole // 100}.{whole % 100:02d}"


def _applies_to(rule: AlertRule) -> str:
    if isinstance(rule.applies_to, tuple):
        return "、".join(rule.applies_to)
    return APPLIES_TO.get(rule.applies_to, rule.applies_to)


def _basis(rule: AlertRule) -> str:
    return "全年累计" if rule.basis == "year" else f"单次（{'、'.join(rule.visit_types)}）"


def _threshold(rule: AlertRule) -> str:
    if rule.threshold_cents is not None:
        return f"{_cents(rule.threshold_cents)} 元"
    return f"上年居民人均可支配收入 × {_decimal((rule.income_share or Fraction(0)) * 100)}%"


def _thresholds(settings: Settings, rule: AlertRule, year: int) -> tuple[str, str]:
    """(urban, rural) threshold of one rule in yuan; the reason twice when it cannot be computed, so a rule with a
    fixed threshold still shows its own."""
    try:
        urban, rural = rule_thresholds(replace(settings, alert_rules=(rule,)), year)[rule.id]
    except ConfigError as exc:
        return str(exc), str(exc)
    return _cents(urban), _cents(rural)


def table(settings: Settings, year: int) -> pd.DataFrame:
    """One row per alert rule in priority order: id, 名称, 适用对象, 城乡, 口径, 阈值 (as configured) and the year's
    thresholds in yuan (text, two decimals); a rule whose threshold cannot be computed for the year (an income not
    configured) shows the reason in both threshold columns instead."""
    thresholds = {rule.id: _thresholds(settings, rule, year) for rule in settings.alert_rules}
    rows = [
        (
            rule.id,
            rule.name,
            _applies_to(rule),
            RESIDENCE.get(rule.residence, rule.residence),
            _basis(rule),
            _threshold(rule),
            *thresholds[rule.id],
        )
        for rule in settings.alert_rules
    ]
    return pd.DataFrame(rows, columns=HEADERS, dtype="str")


def alert_settings(settings: Settings) -> pd.DataFrame:
    """The other settings of alerts and their workflow: 设置, 当前值, 说明."""
    rows = [
        ("费用口径", settings.cost_measure, "预警比较的个人负担口径（alerts.cost_measure）"),
        ("红色预警倍数", _decimal(settings.red_ratio), "个人负担 ÷ 阈值达到此倍数为红（alerts.red_ratio）"),
        ("橙色预警倍数", _decimal(settings.orange_ratio), "达到此倍数为橙，否则为黄（alerts.orange_ratio）"),
        (
            "临界关注比例",
            f"{_decimal(settings.watch_share * 100)}%",
            "未预警者达到规则阈值的此比例列入临界关注（alerts.watch_share）",
        ),
        ("核实时限（天）", str(settings.verify_days), "推送后须在此天数内核实（workflow.verify_days）"),
        (
            "救助时限（天）",
            str(settings.help_days),
            "核实为纳入监测或已落实救助后，首次帮扶须在此天数内落实（workflow.help_days）",
        ),
        (
            "快照缩减上限",
            f"{_decimal(settings.max_shrink * 100)}%",
            "底册、参保、身份快照人数减少超过此比例时暂不应用（run.max_shrink）",
        ),
    ]
    return pd.DataFrame(rows, columns=["设置", "当前值", "说明"], dtype="str")
