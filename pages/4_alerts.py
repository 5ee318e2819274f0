"""预警: high-cost alerts with filters, and one person's costs over the year against the threshold."""

import streamlit as st

from monitor import charts, exports
from monitor.ui import cached, require_data, settings, year
from monitor.views import alerts
from monitor.views.common import division_names

require_data()
y, cfg = year(), settings()
names = cached(division_names)
everyone = cached(alerts.rows, y, names)
st.header(f"高额费用预警 · {y} 年")
if everyone.empty:
    st.info("本年度没有预警。")
    st.stop()

filters = st.columns(5)
levels = filters[0].multiselect("预警等级", ["红", "橙", "黄"], key="alert_levels", placeholder="全部等级")
types = filters[1].multiselect("预警类型", sorted(everyone["alert_type"].unique()), key="alert_types",
                               placeholder="全部类型")
states = filters[2].multiselect("状态", sorted(everyone["state"].unique()), key="alert_states", placeholder="全部状态")
towns = filters[3].multiselect("乡镇", sorted(everyone["town"].unique()), key="alert_towns", placeholder="全部乡镇")
identities = filters[4].multiselect("身份类别", sorted(t for t in everyone["identity_type"].unique() if t),
                                    key="alert_identities", placeholder="全部身份")
chosen = alerts.filtered(everyone, levels, types, states, towns, identities)

counts = chosen["level"].value_counts()
summary = st.columns(4)
summary[0].metric("预警人数", f"{len(chosen):,}")
for column, level in zip(summary[1:], ("红", "橙", "黄")):
    column.metric(f"{level}色预警", f"{int(counts.get(level, 0)):,}")

table = alerts.display(chosen)
level_colour = {"红": cfg.colours.get("level_red"), "橙": cfg.colours.get("level_orange"),
                "黄": cfg.colours.get("level_yellow")}
styled = table.style.map(lambda v: f"background-color: {level_colour.get(v)}" if v in level_colour else "",
                         subset=["预警等级"])
event = st.dataframe(styled, hide_index=True, width="stretch", height=360, on_select="rerun",
                     selection_mode="single-row", key="alert_table",
                     column_config={c: st.column_config.NumberColumn(format="%.2f")
                                    for c in ("医疗总费用(元)", "个人负担(元)", "预警阈值(元)")})
st.download_button("下载预警名单 CSV（SPEC §11 格式）", exports.alerts_frame(chosen).to_csv(index=False).encode("utf-8-sig"),
                   file_name=f"预警名单_{y}.csv", mime="text/csv")

st.subheader("个人费用明细")
picked = event.selection.rows if event and event.selection else []
if not picked:
    st.caption("在上表中选择一人，查看其全年费用构成和累计个人负担。")
    st.stop()
alert = chosen.iloc[picked[0]]
st.markdown(f"**{alert['name']}**　{alert['town']} {alert['village']}　{alert['identity_type'] or '无困难身份'}　"
            f"{alert['alert_type']} · {alert['level']}色 · 触发规则 {alert['rules']} · 状态 {alert['state']}")
info = st.columns(4)
info[0].metric("医疗总费用", f"{alert['total_yuan']:,.2f} 元")
info[1].metric("个人负担", f"{alert['measure_yuan']:,.2f} 元")
info[2].metric("预警阈值", f"{alert['threshold_yuan']:,.2f} 元")
info[3].metric("结算次数 / 住院次数", f"{int(alert['n_settlements'])} / {int(alert['inpatient_stays'])}")
left, right = st.columns(2)
with left:
    st.caption("按基金分项")
    st.altair_chart(charts.cost_by_fund(alerts.funds(alert)), width="stretch")
with right:
    st.caption(f"累计{cfg.cost_measure}与预警阈值（竖线为触发日期 {alert['trigger_date']}）")
    points = cached(alerts.person_settlements, y, alert["id_number"], cfg)
    st.altair_chart(charts.cumulative_cost(points, float(alert["threshold_yuan"]), alert["trigger_date"] or None),
                    width="stretch")
with st.expander(f"全年结算 {len(points)} 笔"):
    st.dataframe(points.rename(columns={"settle_date": "结算日期", "settlement_id": "结算流水号", "visit_type": "就诊类型",
                                        "provider": "医疗机构", "total": "医疗总费用(元)", "measure": "个人负担(元)",
                                        "cumulative": "累计(元)"}), hide_index=True, width="stretch")
