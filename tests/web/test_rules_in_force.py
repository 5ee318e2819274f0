"""The alert rules in force as the system administrator reads them on 用户管理 · 系统配置."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pandas as pd
from conftest import open_page

from monitor.config import AlertRule
from monitor.security.access import ADMIN, Viewer
from monitor.web.views import rules_in_force

HEADERS = ["id", "名称", "适用对象", "城乡", "口径", "阈值", "城镇阈值(元)", "农村阈值(元)"]


def test_the_shipped_rules_with_2025s_thresholds(settings):
    table = rules_in_force.table(settings, 2025)
    assert list(table.columns) == HEADERS
    assert table.values.tolist() == [
        ["R1", "返贫预警", "困难群众", "不限", "全年累计", "10000.00 元", "10000.00", "10000.00"],
        ["R2", "致贫预警", "所有人", "不限", "全年累计", "上年居民人均可支配收入 × 50%", "27094.00", "11559.50"],
    ]


def test_a_stay_rule_for_listed_identities(settings):
    local = replace(
        settings,
        alert_rules=(
            AlertRule("L1", "农村低保单次住院", "返贫预警", ("低保对象", "特困人员"), 600_000, None, "rural", "stay"),
            AlertRule(
                "L2", "城镇单次", "致贫预警", "everyone", None, Fraction(3, 10), "urban", "stay", ("住院", "门诊慢特病")
            ),
        ),
    )
    table = rules_in_force.table(local, 2025).set_index("id")
    assert table.loc["L1"].tolist() == [
        "农村低保单次住院",
        "低保对象、特困人员",
        "农村",
        "单次（住院）",
        "6000.00 元",
        "6000.00",
        "6000.00",
    ]
    assert table.loc["L2", "口径"] == "单次（住院、门诊慢特病）"
    assert table.loc["L2", "阈值"] == "上年居民人均可支配收入 × 30%"
    assert (table.loc["L2", "城镇阈值(元)"], table.loc["L2", "农村阈值(元)"]) == ("16256.40", "6935.70")


def test_a_missing_income_shows_the_reason(settings):
    table = rules_in_force.table(settings, 2040)  # no income of 2039 configured
    assert table.loc[0, "城镇阈值(元)"] == "10000.00"
    reason = table.loc[1, "城镇阈值(元)"]
    assert reason.startswith("income.2039:") and table.loc[1, "农村阈值(元)"] == reason


def test_the_other_alert_settings(settings):
    shown = rules_in_force.alert_settings(replace(settings, watch_share=Fraction(7, 10))).set_index("设置")["当前值"]
    assert shown.to_dict() == {
        "费用口径": "个人负担",
        "红色预警倍数": "2",
        "橙色预警倍数": "1.5",
        "临界关注比例": "70%",
        "核实时限（天）": "15",
        "救助时限（天）": "30",
        "快照缩减上限": "20%",
    }


def test_the_admin_page_shows_the_rules(demo_db, monkeypatch):
    monkeypatch.setenv("MONITOR_DB_URL", demo_db)
    at = open_page(demo_db, "6_admin.py", Viewer("admin", ADMIN))
    assert not at.exception, at.exception
    assert "预警规则" in [h.value for h in at.subheader]
    frames = [frame.value for frame in at.dataframe]
    rules = next(f for f in frames if list(f.columns) == HEADERS)
    assert rules["id"].tolist() == ["R1", "R2"]
    assert rules.loc[1, "农村阈值(元)"] == "11559.50"  # the demo's year is 2025
    assert any(isinstance(f, pd.DataFrame) and "临界关注比例" in set(f.get("设置", [])) for f in frames)
