"""扩面名单: the people still to enroll, filtered, counted by village, with visit outcomes; door-to-door xlsx."""

import streamlit as st

from monitor.cases import visits
from monitor.cases.alert_case import WorkflowError
from monitor.outputs import release, workbooks
from monitor.security import audit
from monitor.security.access import AccessDenied
from monitor.storage import queries
from monitor.storage.queries import division_names
from monitor.web import tables
from monitor.web.markup import plain
from monitor.web.ui import audited_download, cached, engine, operator, page_viewer, require, require_data, year
from monitor.web.views import outreach

page_viewer(__file__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

viewer = require("outreach")
require_data()
y = year()
names = cached(division_names)
everyone = outreach.with_outcomes(cached(outreach.rows, y, names, viewer), cached(visits.current_outcomes, y))
st.header(f"扩面名单 · {y} 年")
st.caption(
    "应参保未参保人员，以及不在人口底册、未参保的困难群众。优先级：1 困难群众，2 新生儿，3 其他。"
    + ("" if viewer.towns is None else f"　范围：您负责的 {len(viewer.towns)} 个乡镇。")
)

filters = st.columns(4)
towns = filters[0].multiselect("乡镇", sorted(everyone["town"].unique()), key="outreach_towns", placeholder="全部乡镇")
village_pool = everyone[everyone["town"].isin(towns)] if towns else everyone
villages = filters[1].multiselect(
    "村社区", sorted(village_pool["village"].unique()), key="outreach_villages", placeholder="全部村社区"
)
priorities = filters[2].multiselect(
    "优先级", [1, 2, 3], format_func=outreach.PRIORITY_LABELS.get, key="outreach_priorities", placeholder="全部优先级"
)
identity_options = sorted(t for t in everyone["identity_type"].unique() if t)
identities = filters[3].multiselect("身份类别", identity_options, key="outreach_identities", placeholder="全部身份")
chosen = outreach.filtered(everyone, towns, villages, priorities, identities)

summary = st.columns(4)
summary[0].metric("名单人数", f"{len(chosen):,}")
summary[1].metric("困难群众", f"{int((chosen['priority'] == 1).sum()):,}")
summary[2].metric("新生儿", f"{int((chosen['priority'] == 2).sum()):,}")
summary[3].metric("可全额或定额资助", f"{int(chosen['subsidy_mode'].isin(['全额资助', '定额资助']).sum()):,}")

counts_tab, outcomes_tab = st.tabs(["按村社区统计", "走访结果统计"])
tables.show(outreach.by_village(chosen), counts_tab, hide_index=True, width="stretch", height=260)
tables.show(outreach.outcome_counts(chosen), outcomes_tab, hide_index=True, width="stretch", height=260)

st.subheader("名单")
st.caption("姓名、身份证号、电话已脱敏；选中一人可记录走访结果，或查看完整信息（记入审计）。")
event = tables.show(
    outreach.display(chosen),
    hide_index=True,
    width="stretch",
    height=420,
    on_select="rerun",
    selection_mode="single-row",
    key="outreach_table",
)
if event and event.selection and event.selection.rows:
    person = chosen.iloc[event.selection.rows[0]]
    shown_key = f"unmasked_{person['id_number']}"
    if st.button("显示完整信息", key="outreach_unmask"):
        audit.record_full_view(engine(), operator(), "扩面名单", y, person["village"], person["id_number"])
        st.session_state[shown_key] = True
    if st.session_state.get(shown_key):
        tables.show(
            outreach.display(chosen.iloc[[event.selection.rows[0]]], masked=False), hide_index=True, width="stretch"
        )
    with st.form("outcome_form", clear_on_submit=True):
        st.markdown(
            f"记录走访结果：**{plain(outreach.display(chosen.iloc[[event.selection.rows[0]]])['姓名'].iloc[0])}**"
            f"（{plain(person['village'])}，户号 {plain(person['household_id'])}）"
            + (f"　当前：{plain(person['outcome'])}" if person["outcome"] else "")
        )
        result = st.radio("走访结果", list(visits.OUTCOMES), horizontal=True, key="outcome_value")
        note = st.text_input("备注（已死亡或迁出须写明日期、去向）", key="outcome_remark")
        if st.form_submit_button("保存走访结果"):
            try:
                visits.record_outcome(engine(), y, person["id_number"], result, note, operator(), viewer=viewer)
                audit.record(engine(), operator(), "走访记录", "扩面名单", result, 1)
                st.rerun()
            except (WorkflowError, AccessDenied) as exc:
                st.error(plain(exc))
    history = cached(visits.outcomes, y)
    mine = history[history["id_number"] == person["id_number"]]
    if not mine.empty:
        tables.show(
            mine.rename(columns={"at": "时间", "by": "操作人", "outcome": "走访结果", "remark": "备注"})[
                ["时间", "操作人", "走访结果", "备注"]
            ],
            hide_index=True,
            width="stretch",
        )

full = outreach.display(chosen, masked=False)
scope = "、".join(villages or towns) or "全部"
detail = (
    f"{y} 年；乡镇 {('、'.join(towns) or '全部')}；村社区 {('、'.join(villages) or '全部')}；"
    f"优先级 {('、'.join(map(str, priorities)) or '全部')}；身份 {('、'.join(identities) or '全部')}"
)
downloads = st.columns(2)
with downloads[0]:
    audited_download(
        "下载入户走访表（xlsx，按村分组，含完整信息）",
        release.file_export(
            workbooks.door_to_door(full, f"{y} 年未参保人员入户走访表", cached(queries.as_of, y)),
            "扩面名单 xlsx",
            detail,
            len(full),
        ),
        f"扩面名单_{scope}_{y}.xlsx",
        XLSX,
        key="outreach_xlsx",
        disabled=full.empty,
    )
with downloads[1]:
    audited_download(
        "下载 CSV（含完整信息）",
        release.csv_export(full, "扩面名单 CSV", detail),
        f"扩面名单_{scope}_{y}.csv",
        "text/csv",
        key="outreach_csv",
        disabled=full.empty,
    )
