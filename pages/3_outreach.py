"""扩面名单: the people still to enroll, filtered, counted by village, downloadable for door-to-door work."""

import streamlit as st

from monitor import queries, workbooks
from monitor.ui import cached, require_data, year
from monitor.views import outreach
from monitor.views.common import division_names

require_data()
y = year()
names = cached(division_names)
everyone = cached(outreach.rows, y, names)
st.header(f"扩面名单 · {y} 年")
st.caption("应参保未参保人员，以及不在人口底册、未参保的困难群众。优先级：1 困难群众，2 新生儿，3 其他。")

filters = st.columns(4)
towns = filters[0].multiselect("乡镇", sorted(everyone["town"].unique()), key="outreach_towns",
                               placeholder="全部乡镇")
village_pool = everyone[everyone["town"].isin(towns)] if towns else everyone
villages = filters[1].multiselect("村社区", sorted(village_pool["village"].unique()), key="outreach_villages",
                                  placeholder="全部村社区")
priorities = filters[2].multiselect("优先级", [1, 2, 3], format_func=outreach.PRIORITY_LABELS.get,
                                    key="outreach_priorities", placeholder="全部优先级")
identity_options = sorted(t for t in everyone["identity_type"].unique() if t)
identities = filters[3].multiselect("身份类别", identity_options, key="outreach_identities", placeholder="全部身份")
chosen = outreach.filtered(everyone, towns, villages, priorities, identities)

summary = st.columns(4)
summary[0].metric("名单人数", f"{len(chosen):,}")
summary[1].metric("困难群众", f"{int((chosen['priority'] == 1).sum()):,}")
summary[2].metric("新生儿", f"{int((chosen['priority'] == 2).sum()):,}")
summary[3].metric("可全额或定额资助", f"{int(chosen['subsidy_mode'].isin(['全额资助', '定额资助']).sum()):,}")

st.subheader("按村社区统计")
st.dataframe(outreach.by_village(chosen), hide_index=True, width="stretch", height=260)

st.subheader("名单")
table = outreach.display(chosen)
st.dataframe(table, hide_index=True, width="stretch", height=420)
scope = "、".join(villages or towns) or "全区"
downloads = st.columns(2)
downloads[0].download_button(
    "下载入户走访表（xlsx，按村分组）",
    workbooks.door_to_door(table, f"{y} 年未参保人员入户走访表", cached(queries.as_of, y)),
    file_name=f"扩面名单_{scope}_{y}.xlsx", mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    disabled=table.empty)
downloads[1].download_button("下载 CSV", table.to_csv(index=False).encode("utf-8-sig"),
                             file_name=f"扩面名单_{scope}_{y}.csv", mime="text/csv", disabled=table.empty)
