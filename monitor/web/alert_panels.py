"""Parts of the 预警 page that need more than a few widgets: one person's case (costs, help, household, history)
and the loop's statistics with the 督办 lists. Streamlit code, like the pages; the work is done by views and cases.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from monitor.cases import alert_case, assistance, feedback
from monitor.cases.alert_case import AlertState, WorkflowError
from monitor.config import Settings
from monitor.outputs import release
from monitor.rules import loop
from monitor.rules.loop import HELP_RESULTS
from monitor.security import audit
from monitor.security.access import AccessDenied, Viewer
from monitor.web import charts, tables
from monitor.web.markup import plain
from monitor.web.ui import audited_download, cached, engine, operator
from monitor.web.views import alerts, household, loop_figures

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def notice() -> None:
    """The outcome of the last step (a closing, a measure), kept across the rerun that shows its effect."""
    if text := st.session_state.pop("alert_notice", None):
        st.success(plain(text))


def person_detail(picked: pd.DataFrame, y: int, cfg: Settings, viewer: Viewer) -> None:
    """The first selected alert: who, costs by fund, the running cost against the threshold, help measures (and
    recording one), the register household, and the case's history."""
    db = engine()
    alert = picked.iloc[0]
    flag = "（升级）" if alert["upgraded"] else ""
    unmasked = st.session_state.get("unmasked_alert") == alert["id_number"]
    if not unmasked and st.button("显示完整信息", key="alert_unmask"):
        audit.record_full_view(db, operator(), "预警", y, alert["village"], alert["id_number"])
        st.session_state["unmasked_alert"] = alert["id_number"]
        unmasked = True
    who = alerts.display(picked.iloc[[0]], masked=not unmasked).iloc[0]
    st.markdown(
        f"**{plain(who['姓名'])}**　{plain(who['身份证号'])}　{plain(alert['town'])} {plain(alert['village'])}　"
        f"{plain(alert['identity_type'] or '无困难身份')}　"
        f"{plain(alert['alert_type'])} · {plain(alert['level'])}色 · 触发规则 {plain(alert['rules'])} · "
        f"状态 {plain(alert['state'])}{flag}"
    )
    info = st.columns(4)
    info[0].metric("医疗总费用", f"{alert['total_yuan']:,.2f} 元")
    info[1].metric("个人负担", f"{alert['measure_yuan']:,.2f} 元")
    info[2].metric("预警阈值", f"{alert['threshold_yuan']:,.2f} 元")
    info[3].metric("结算次数 / 住院次数", f"{int(alert['n_settlements'])} / {int(alert['inpatient_stays'])}")
    left, right = st.columns(2)
    with left:
        st.caption("按基金分项")
        st.altair_chart(charts.cost_by_fund(alerts.funds(alert)), width="stretch")
    points = cached(alerts.person_settlements, y, alert["id_number"], cfg, viewer)
    with right:
        st.caption(plain(f"累计{cfg.cost_measure}与预警阈值（竖线为触发日期 {alert['trigger_date']}）"))
        st.altair_chart(
            charts.cumulative_cost(points, float(alert["threshold_yuan"]), alert["trigger_date"] or None),
            width="stretch",
        )
    _help(alert, y, cfg, viewer)
    _household(alert, y, cfg, viewer, unmasked)
    st.caption("处置记录")
    tables.show(
        alerts.history_display(cached(alert_case.history, y, alert["id_number"])), hide_index=True, width="stretch"
    )
    with st.expander(alerts.settlements_title(points)):
        tables.show(alerts.settlements_display(points), hide_index=True, width="stretch")


def _help(alert: pd.Series, y: int, cfg: Settings, viewer: Viewer) -> None:
    taken = cached(assistance.measures, y, alert["id_number"])
    st.caption(f"帮扶措施（{len(taken)} 项）")
    if not taken.empty:
        tables.show(loop_figures.measures_display(taken), hide_index=True, width="stretch")
    if alert["state"] != AlertState.VERIFIED or alert["result"] not in HELP_RESULTS:
        return
    with st.form("measure_form", clear_on_submit=True):
        cols = st.columns(3)
        kind = cols[0].selectbox("帮扶措施", assistance.measure_names(cfg), key="measure_kind")
        taken_on = cols[1].date_input("帮扶日期", value=date.today(), max_value=date.today(), key="measure_date")
        amount = cols[2].number_input(
            "帮扶金额（元，可不填）", min_value=0.0, value=None, step=100.0, key="measure_yuan"
        )
        if st.form_submit_button("登记帮扶措施"):
            cents = None if amount is None else round(amount * 100)
            try:
                assistance.record_measure(
                    engine(), y, alert["id_number"], kind, taken_on, cents, operator(), cfg, viewer=viewer
                )
                st.session_state["alert_notice"] = f"已登记：{kind}（{taken_on}）"  # shown after the rerun
                st.rerun()
            except (WorkflowError, AccessDenied) as exc:
                st.error(plain(exc))


def _household(alert: pd.Series, y: int, cfg: Settings, viewer: Viewer, unmasked: bool) -> None:
    members = cached(household.members, y, alert["id_number"], cfg, viewer)
    if members.empty:
        return
    totals = household.summary(members)
    share = "" if totals.share_hundredths is None else f"，占家庭年收入 {totals.share_hundredths / 100:.2f}%"
    st.caption(f"家庭成员（户籍户 {len(members)} 人；家庭个人负担合计 {totals.oop_cents / 100:,.2f} 元{share}）")
    tables.show(household.display(members, masked=not unmasked), hide_index=True, width="stretch")
    st.caption("、".join(f"{k} {v}" for k, v in totals.labelled().items() if v != ""))


def close_form(picked: pd.DataFrame, y: int, viewer: Viewer) -> None:
    """Closing the selected verified alerts: after a help measure, or with a remark for a result that needs none."""
    verified = picked[picked["state"] == AlertState.VERIFIED]
    if verified.empty:
        return
    with st.form("close_form"):
        st.caption("纳入监测、已落实救助的须先登记帮扶措施；不符合条件、无法联系的须填写备注。")
        remark = st.text_input(f"办结所选的 {len(verified)} 名已核实人员：备注", key="close_remark")
        if st.form_submit_button("办结"):
            try:
                done = feedback.close(engine(), y, verified["id_number"].tolist(), remark, operator(), viewer=viewer)
                st.session_state["alert_notice"] = f"已办结 {done} 人"  # shown after the rerun
                st.rerun()
            except (WorkflowError, AccessDenied) as exc:
                st.error(plain(exc))


def loop_statistics(y: int, cfg: Settings, names: pd.Series, viewer: Viewer) -> None:
    """The loop in figures per month of push, department and town, and each department's 督办 list."""
    lines = cached(assistance.timelines, y, cfg)
    if lines.empty:
        st.info("尚未推送任何预警。")
        return
    by_month = loop_figures.display(loop.figures(lines, ["cohort", "department"]), names)
    st.caption("闭环情况（按推送月份、接收部门）：闭环率 = 各环节均按期完成并办结的人数 ÷ 推送人数")
    tables.show(by_month, hide_index=True, width="stretch")
    with st.expander("按乡镇"):
        by_town = loop_figures.display(loop.figures(lines, ["cohort", "department", "town_code"]), names)
        tables.show(by_town, hide_index=True, width="stretch")
    st.caption(
        f"期限：推送后 {cfg.verify_days} 天内核实；纳入监测、已落实救助的核实后 {cfg.help_days} 天内落实首项帮扶。"
    )
    for department in sorted(d for d in lines["department"].unique() if d):
        overdue = int((lines["overdue"] & (lines["department"] == department)).sum())
        if not overdue:
            continue
        data, rows = assistance.supervision_file(engine(), y, cfg, department, names)
        audited_download(
            f"下载督办清单（{plain(department)}，逾期 {overdue} 人，xlsx）",
            release.file_export(data, f"督办清单 {department}", f"{y} 年逾期预警", rows),
            f"督办清单_{department}_{date.today()}.xlsx",
            XLSX,
            key=f"supervision_{department}",
        )
