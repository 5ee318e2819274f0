"""总览: for leadership — coverage against targets, people still to enroll, alerts, towns ranked."""

import pandas as pd
import streamlit as st

from monitor.storage import queries
from monitor.web import charts, tables
from monitor.web.markup import plain
from monitor.web.ui import cached, engine, page_viewer, require_data, root, settings, year
from monitor.web.views import campaign, common, overview

viewer = page_viewer(__file__)
require_data()
y, cfg = year(), settings()
st.header(f"总览 · {y} 年")

columns = st.columns(3)
for column, head in zip(columns, cached(overview.headlines, y, cfg), strict=False):
    with column:
        value = "—" if head.rate is None else f"{head.rate:.2f}%"
        delta = None if head.since_run is None else f"{head.since_run:+.2f} 个百分点"
        st.metric(head.label, value, delta=delta, border=True, help="变化为较上次运行")
        met = head.rate is not None and head.rate >= head.target
        st.markdown(
            f"目标 {head.target:.2f}% · {':green[**达标**]' if met else ':orange[**未达标**]'}  \n"
            f"已参保 {head.enrolled:,} / 应参保 {head.in_scope:,}"
            + ("" if head.since_year is None else f"  \n较上年 {head.since_year:+.2f} 个百分点")
        )

when = cached(queries.campaign_period, cfg)
if when.running:
    every = cached(campaign.progress, cfg)
    if every:
        levels = common.levels_below(root())
        now = every[levels[0]]
        now = now[now["day"] == when.status_day].iloc[0]
        st.subheader(f"集中缴费期进度 · {when.target_year} 年度（截至 {when.status_day}）")
        panel = st.columns(3)
        panel[0].metric(
            "已缴费人数",
            f"{int(now['enrolled']):,}",
            border=True,
            height="stretch",
            delta=None
            if pd.isna(now["previous_enrolled"])
            else f"{int(now['enrolled'] - now['previous_enrolled']):+,} 人",
            help="变化为较上一个集中缴费期的同一天",
        )
        panel[1].metric(
            "目标完成率", common.percent_text(now["enrolled"], now["target"]), border=True, height="stretch"
        )
        lowest = campaign.bulletin(engine(), cfg, when.status_day, every)
        lowest = lowest[lowest["lowest"]].iloc[::-1]  # the lowest first
        with panel[2].container(border=True, height="stretch"):  # names wrap here; a metric's value would be cut
            st.markdown(":small[完成率最低的乡镇]")
            st.markdown(
                "  \n".join(
                    f"**{plain(n)}** · {c:.2f}%" for n, c in zip(lowest["name"], lowest["completion"], strict=True)
                )
            )
        if viewer.sees_page("7_campaign.py"):
            st.page_link("pages/7_campaign.py", label="查看进度曲线、进度通报", icon=":material/campaign:")

figures = cached(overview.counts, y)
left, right = st.columns(2)
with left:
    st.subheader("未参保人员")
    change = figures["outreach_change"]
    st.metric(
        "待扩面人数",
        f"{figures['outreach']:,}",
        delta=None if change is None else f"{change:+,} 人",
        delta_color="inverse",
        border=True,
        help="变化为较上次运行",
    )
    priorities = cached(overview.outreach_by_priority, y)
    tables.show(
        priorities.rename(columns={"label": "优先级", "count": "人数"})[["优先级", "人数"]],
        hide_index=True,
        width="stretch",
    )
with right:
    st.subheader("高额费用预警")
    change = figures["alerts_change"]
    st.metric(
        "预警人数",
        f"{figures['alerts']:,}",
        delta=None if change is None else f"{change:+,} 人",
        delta_color="inverse",
        border=True,
        help="变化为较上次运行",
    )
    st.metric(
        "临界关注人数",
        f"{figures['watch']:,}",
        border=True,
        help=f"尚未预警、个人负担已达某条预警规则阈值 {float(cfg.watch_share) * 100:.0f}% 的人员",
    )
    levels = cached(overview.alerts_by_level, y)
    if levels.empty:
        st.info("本年度没有预警。")
    else:
        colours = [cfg.colours.get(k, "#999999") for k in charts.LEVEL_COLOURS]
        st.altair_chart(charts.alert_levels(levels, colours), width="stretch")

stages = cached(overview.push_funnel, y)
if stages is not None:
    st.subheader("推送与处置进度")
    st.altair_chart(charts.funnel(stages, cfg.colours.get("met", "#1a9850")), width="stretch")
    st.caption(
        f"闭环情况（按推送月份）：推送后 {cfg.verify_days} 天内核实、核实后 {cfg.help_days} 天内"
        "落实首项帮扶并办结的为按期闭环"
    )
    tables.show(cached(overview.loop_by_month, y, cfg), hide_index=True, width="stretch")

st.subheader("各乡镇参保率排名")
towns = cached(overview.towns, y, root())
target = float(cfg.target_overall)
st.caption(f"虚线为目标 {target:.2f}%；低于目标的乡镇以橙色显示。")
st.altair_chart(
    charts.town_ranking(towns, target, cfg.colours.get("met", "#1a9850"), cfg.colours.get("below_3", "#fdae61")),
    width="stretch",
)
