"""预警: alerts with filters, a person's costs and history; pushes to civil affairs, feedback, closing, statistics."""

import tempfile
from pathlib import Path

import streamlit as st

from monitor.cases import alert_case, assistance, feedback, push, templates
from monitor.cases.alert_case import AlertState, WorkflowError
from monitor.files.read import LoadError
from monitor.outputs import exports, release
from monitor.security.access import AccessDenied
from monitor.storage.queries import division_names
from monitor.web import alert_panels, tables
from monitor.web.markup import plain
from monitor.web.ui import (
    audited_download,
    cached,
    engine,
    operator,
    page_viewer,
    require,
    require_data,
    root,
    settings,
    year,
)
from monitor.web.views import alerts, watch

page_viewer(__file__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

viewer = require("alerts")
require_data()
y, cfg, db = year(), settings(), engine()
names = cached(division_names)
everyone = alerts.with_overdue(cached(alerts.rows, y, names, viewer), cached(assistance.timelines, y, cfg))
watched = cached(watch.rows, y, names, viewer)
st.header(f"高额费用预警 · {y} 年")
if everyone.empty and watched.empty:
    st.info("本年度没有预警，也没有临界关注人员。")
    st.stop()

filters = st.columns(5)
levels = filters[0].multiselect("预警等级", list(alerts.LEVELS), key="alert_levels", placeholder="全部等级")
types = filters[1].multiselect(
    "预警类型", alerts.choices(everyone, watched, "alert_type"), key="alert_types", placeholder="全部类型"
)
states = filters[2].multiselect("状态", list(alert_case.STATES), key="alert_states", placeholder="全部状态")
towns = filters[3].multiselect(
    "乡镇", alerts.choices(everyone, watched, "town"), key="alert_towns", placeholder="全部乡镇"
)
identities = filters[4].multiselect(
    "身份类别",
    [t for t in alerts.choices(everyone, watched, "identity_type") if t],
    key="alert_identities",
    placeholder="全部身份",
)
chosen = alerts.filtered(everyone, levels, types, states, towns, identities)

counts = chosen["level"].value_counts()
summary = st.columns(5)
summary[0].metric("预警人数", f"{len(chosen):,}")
for column, level in zip(summary[1:4], alerts.LEVELS, strict=True):
    column.metric(f"{level}色预警", f"{int(counts.get(level, 0)):,}")
summary[4].metric("待推送", f"{int((chosen['state'] == AlertState.TO_PUSH).sum()):,}")

listing, near, pushing, stats = st.tabs(["预警名单", "临界关注", "推送与反馈", "统计"])

with listing:
    alert_panels.notice()
    table = alerts.display(chosen)
    level_colour = {
        "红": cfg.colours.get("level_red"),
        "橙": cfg.colours.get("level_orange"),
        "黄": cfg.colours.get("level_yellow"),
    }
    styled = table.style.map(
        lambda v: f"background-color: {level_colour.get(v)}" if v in level_colour else "", subset=["预警等级"]
    )
    event = tables.show(
        styled,
        hide_index=True,
        width="stretch",
        height=360,
        on_select="rerun",
        selection_mode="multi-row",
        key="alert_table",
        column_config={
            c: st.column_config.NumberColumn(format="%.2f") for c in ("医疗总费用(元)", "个人负担(元)", "预警阈值(元)")
        },
    )
    filter_text = (
        f"{y} 年；等级 {('、'.join(levels) or '全部')}；类型 {('、'.join(types) or '全部')}；"
        f"状态 {('、'.join(states) or '全部')}；乡镇 {('、'.join(towns) or '全部')}；"
        f"身份 {('、'.join(identities) or '全部')}"
    )
    audited_download(
        "下载预警名单 CSV（标准导出格式，含完整信息）",
        release.csv_export(exports.alerts_frame(chosen), "预警名单 CSV", filter_text),
        f"预警名单_{y}.csv",
        "text/csv",
        key="alerts_csv",
    )
    # a selection outlives a change of the list (alerts closed or filtered away): keep the rows that still exist
    rows = [r for r in (event.selection.rows if event and event.selection else []) if r < len(chosen)]
    picked = chosen.iloc[rows] if rows else None

    if picked is not None:
        alert_panels.close_form(picked, y, viewer)

    st.subheader("个人费用明细")
    if picked is None:
        st.caption("在上表中选择一人（或多人，推送与办结用），查看第一位的全年费用构成、帮扶措施、家庭成员和处置记录。")
    else:
        alert_panels.person_detail(picked, y, cfg, viewer)

with near:
    close = watch.filtered(watched, types, towns, identities)
    st.caption(
        f"尚未预警、但个人负担已达某条规则阈值 {float(cfg.watch_share) * 100:.0f}% 的人员（按达到比例从高到低），"
        "可提前关注、走访。等级和状态筛选不适用于本表。"
    )
    tables.show(watch.display(close), hide_index=True, width="stretch", height=360, key="watch_table")
    audited_download(
        "下载临界关注名单 CSV（标准导出格式，含完整信息）",
        release.csv_export(exports.watch_frame(close), "临界关注名单 CSV", filter_text),
        f"临界关注名单_{y}.csv",
        "text/csv",
        key="watch_csv",
        disabled=close.empty,
    )

with pushing:
    waiting = push.pending_drafts(db, y, viewer)  # read at every click: preparing a draft changes no data version
    decided = st.session_state.pop("draft_decided", None)
    if decided:
        st.success(plain(decided))
    if not waiting.empty:
        st.subheader("待审批的推送草稿")
        st.caption(
            "调度任务每月生成推送草稿；批准推送其中仍为待推送、且在您乡镇范围内的预警，范围外的留作草稿由其乡镇的审批人"
            "处理。只有乡镇范围覆盖草稿全部人员的才能放弃草稿。"
        )
        for draft in waiting.itertuples():
            cols = st.columns([4, 1, 1])
            mine = "" if viewer.towns is None else f"；您乡镇范围内待推送 {draft.mine} 人"
            cols[0].markdown(
                plain(
                    f"草稿 #{draft.id}：{draft.rows} 人 → {draft.department}"
                    f"（{draft.created_at} 由 {draft.created_by} 生成{mine}）"
                )
            )
            if cols[1].button("批准并推送", key=f"approve_{draft.id}", type="primary", disabled=not draft.mine):
                try:
                    result = push.approve_draft(db, int(draft.id), operator(), names, cfg, viewer=viewer)
                    st.session_state["last_batch"] = result.batch_no
                    rest = f"；范围外 {draft.others} 人留作草稿，待其乡镇的审批人处理" if draft.others else ""
                    st.session_state["draft_decided"] = (
                        f"草稿 #{draft.id} 已推送：批次 {result.batch_no}，{result.rows} 人{rest}"
                    )
                    st.rerun()
                except (WorkflowError, AccessDenied) as exc:
                    st.error(plain(exc))
            if cols[2].button("放弃", key=f"discard_{draft.id}", disabled=not draft.whole):
                try:
                    push.discard_draft(db, int(draft.id), operator(), viewer=viewer)
                    st.session_state["draft_decided"] = f"草稿 #{draft.id} 已放弃"
                    st.rerun()
                except (WorkflowError, AccessDenied) as exc:
                    st.error(plain(exc))
    st.subheader("推送")
    ready = chosen[chosen["state"] == AlertState.TO_PUSH]
    selected_ready = picked[picked["state"] == AlertState.TO_PUSH] if picked is not None else ready.iloc[0:0]
    scope = st.radio(
        "推送范围",
        [f"当前筛选结果中待推送的 {len(ready)} 人", f"名单中选中的待推送 {len(selected_ready)} 人"],
        key="push_scope",
        horizontal=True,
    )
    department = st.selectbox("接收部门", list(cfg.departments), key="push_department")
    batch = ready if scope.startswith("当前") else selected_ready
    if st.button(f"生成推送批次（{len(batch)} 人）", type="primary", disabled=batch.empty, key="push_button"):
        try:
            parts = [
                (label, values)
                for label, values in (
                    ("等级", levels),
                    ("类型", types),
                    ("状态", states),
                    ("乡镇", towns),
                    ("身份", identities),
                )
                if values
            ]
            text = "；".join(f"{label}：{'、'.join(values)}" for label, values in parts) or "全部"
            text += "（选中的人员）" if not scope.startswith("当前") else ""
            result = push.push(
                db, y, batch["id_number"].tolist(), department, operator(), names, cfg, filters=text, viewer=viewer
            )
            st.session_state["last_batch"] = result.batch_no
            st.success(plain(f"批次 {result.batch_no} 已生成：{result.rows} 人推送给{department}"))
        except (WorkflowError, AccessDenied) as exc:
            st.error(plain(exc))

    history = cached(push.batches, y)
    if viewer.towns is not None:  # staff with a town scope see the batches they pushed themselves
        history = history[history["created_by"] == viewer.username]
    if not history.empty:
        st.caption("推送批次（可随时重新下载原文件）")
        tables.show(
            history.rename(
                columns={
                    "batch_no": "批次",
                    "department": "接收部门",
                    "created_at": "推送时间",
                    "created_by": "操作人",
                    "rows": "人数",
                    "filters": "筛选条件",
                }
            ).drop(columns="year"),
            hide_index=True,
            width="stretch",
        )
        options = history["batch_no"].tolist()
        default = options.index(st.session_state["last_batch"]) if st.session_state.get("last_batch") in options else 0
        batch_no = st.selectbox("下载批次", options, index=default, key="batch_pick")
        rows = int(history.loc[history["batch_no"] == batch_no, "rows"].iloc[0])
        audited_download(
            f"下载批次 {plain(batch_no)}（xlsx）",
            release.file_export(push.batch_file(db, batch_no), f"推送批次 {batch_no}", "重新下载", rows),
            f"预警推送_{batch_no}.xlsx",
            XLSX,
            key="batch_download",
        )
        page, people = cached(templates.batch_page, batch_no, cfg)
        audited_download(
            f"下载打印版（A4，HTML）：批次 {plain(batch_no)}",
            release.file_export(page.encode("utf-8"), f"推送批次 {batch_no} 打印版", "重新下载", people),
            f"预警推送_{batch_no}.html",
            "text/html",
            key="batch_page",
        )
        template, people = cached(templates.feedback_template, batch_no, cfg)
        audited_download(
            f"下载该批次的核实反馈表（xlsx，供{plain(history.set_index('batch_no').at[batch_no, 'department'])}填写）",
            release.file_export(template, f"核实反馈表 {batch_no}", "空白反馈表", people),
            f"核实反馈表_{batch_no}.xlsx",
            XLSX,
            key="template_download",
        )

    st.subheader("导入核实反馈")
    st.caption(
        "反馈文件（xlsx 或 csv）列：身份证号、年度、核实结果（纳入监测/已落实救助/不符合条件/无法联系）、"
        "核实日期、备注；可选列 帮扶措施、帮扶日期、帮扶金额（每项措施一行）。"
    )
    upload = st.file_uploader("反馈文件", type=["xlsx", "csv"], key="feedback_file")
    if st.button("导入反馈", disabled=upload is None, key="feedback_button"):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(upload.name).name
            path.write_bytes(upload.getvalue())
            try:
                outcome = feedback.import_feedback(db, path, cfg, operator(), root(), viewer=viewer)
                st.session_state["feedback_result"] = (outcome.import_id, outcome.rows_read, outcome.rows_loaded)
            except (WorkflowError, LoadError, AccessDenied) as exc:
                st.error(plain(exc))
    if "feedback_result" in st.session_state:
        import_id, read, loaded = st.session_state["feedback_result"]
        rejected = feedback.feedback_rejects(db, import_id)
        st.success(f"反馈导入 #{import_id}：读入 {read} 行，核实 {loaded} 人，拒收 {len(rejected)} 行")
        if not rejected.empty:
            frame = alerts.feedback_rejects_display(rejected)
            tables.show(frame, hide_index=True, width="stretch")
            audited_download(
                "下载拒收行 CSV",
                release.csv_export(frame, "反馈拒收行", f"反馈导入 #{import_id}"),
                f"反馈拒收行_{import_id}.csv",
                "text/csv",
                key="feedback_rejects_csv",
            )

with stats:
    table = cached(alert_case.statistics, y)
    if not table.empty:
        st.caption("按推送月份、接收部门和核实结果统计的人数")
        wide = table.pivot_table(
            index=["month", "department"], columns="result", values="count", fill_value=0, aggfunc="sum"
        )
        wide.columns.name = None
        tables.show(
            wide.reset_index().rename(columns={"month": "月份", "department": "接收部门"}),
            hide_index=True,
            width="stretch",
        )
    alert_panels.loop_statistics(y, cfg, names, viewer)
