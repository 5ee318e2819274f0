"""审计日志: the audit administrator reads, exports and verifies the audit log (and nothing else)."""

import streamlit as st

from monitor.cases import push
from monitor.config import audit_archive_path
from monitor.outputs import release
from monitor.security import audit
from monitor.web import tables
from monitor.web.markup import plain
from monitor.web.ui import audited_download, engine, operator, page_viewer, require, settings

page_viewer(__file__)
require("audit")
db = engine()
st.header("审计日志")
st.caption("审计日志只能查看、导出和校验，不能修改或删除；每条记录与前一条以哈希相连，任何修改或删除都会被校验发现。")

top = st.columns([3, 1])
last = audit.last_verification(db)
if last is not None:
    text = plain(f"最近一次校验：{last['at']}（{last['by']}）— {last['message']}")
    (top[0].success if last["ok"] else top[0].error)(text)
if top[1].button("校验审计链", key="verify_audit", type="primary"):
    result = audit.verify_and_record(db, operator(), archives=audit_archive_path(settings()))
    (st.success if result.ok else st.error)(plain(result.message))

cols = st.columns(3)
user_filter = cols[0].text_input("用户", key="audit_user")
actions = dict.fromkeys([*audit.ACTIONS, push.DISCARD_ACTION])  # the log's actions, each once
action_filter = cols[1].selectbox("操作", ["全部", *actions], key="audit_action")
since = cols[2].date_input("起始日期", value=None, key="audit_since")
entries = audit.entries(
    db,
    user_filter.strip() or None,
    None if action_filter == "全部" else action_filter,
    since.isoformat() if since else None,
)
shown = entries.rename(
    columns={
        "id": "序号",
        "at": "时间",
        "username": "用户",
        "action": "操作",
        "object": "对象",
        "detail": "条件/说明",
        "rows": "行数",
        "result": "结果",
    }
)
tables.show(shown, hide_index=True, width="stretch", height=420)
audited_download(
    "导出审计日志 CSV",
    release.csv_export(shown, "审计日志", f"用户 {user_filter or '全部'}；操作 {action_filter}"),
    "审计日志.csv",
    "text/csv",
    key="audit_csv",
)
