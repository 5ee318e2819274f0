"""用户与审计: users, roles and town scopes, passwords; the audit log (read-only), for the administrator."""

import streamlit as st

from monitor import audit, auth, queries
from monitor.access import ROLES, neutralise_frame
from monitor.auth import AuthError
from monitor.ui import audited_download, cached, engine, operator, page_viewer, require, settings

page_viewer(__file__)
require("users")
db = engine()
towns = cached(queries.towns).to_dict()
st.header("用户与审计")
people, log = st.tabs(["用户", "审计日志"])

with people:
    table = auth.users(db)
    table["towns"] = table["towns"].map(
        lambda t: "、".join(towns.get(c, c) for c in t.split(",")) if isinstance(t, str) and t else "全部")
    st.dataframe(table.rename(columns={"username": "用户名", "display_name": "姓名", "role": "角色", "towns": "负责乡镇",
                                       "active": "启用", "created_at": "创建时间", "password_changed_at": "密码修改时间"}),
                 hide_index=True, width="stretch")
    left, right = st.columns(2)
    with left, st.form("add_user", clear_on_submit=True):
        st.markdown("**新建用户**（初始密码随机生成，只显示一次）")
        username = st.text_input("用户名", key="new_username")
        display = st.text_input("姓名", key="new_display")
        role = st.selectbox("角色", ROLES, key="new_role")
        scope = st.multiselect("负责乡镇（不选为全部）", list(towns), format_func=towns.get, key="new_towns")
        if st.form_submit_button("新建"):
            try:
                password = auth.add_user(db, username.strip(), role, operator(), towns=frozenset(scope) or None,
                                         display_name=display.strip(), settings=settings())
                st.success(f"已新建 {username}，初始密码：{password}（请当面交给本人）")
            except AuthError as exc:
                st.error(str(exc))
    with right:
        st.markdown("**修改用户**")
        who = st.selectbox("用户", table["username"].tolist(), key="edit_user")
        with st.form("edit_role"):
            new_role = st.selectbox("角色", ROLES, key="edit_role_value")
            new_scope = st.multiselect("负责乡镇（不选为全部）", list(towns), format_func=towns.get, key="edit_towns")
            if st.form_submit_button("保存角色与乡镇"):
                try:
                    auth.set_role(db, who, new_role, frozenset(new_scope) or None, operator())
                    st.rerun()
                except AuthError as exc:
                    st.error(str(exc))
        until = auth.locked_until(db, who, settings())
        if until is not None:
            st.warning(f"{who} 因多次登录失败已锁定至 {until:%Y-%m-%d %H:%M}")
        buttons = st.columns(4)
        if buttons[0].button("重置密码", key="reset_password"):
            password = auth.reset_password(db, who, operator(), settings=settings())
            st.success(f"{who} 的新密码：{password}（只显示一次，登录后须修改）")
        if buttons[3].button("解除锁定", key="unlock", disabled=until is None):
            auth.unlock(db, who, operator())
            st.rerun()
        if buttons[1].button("停用", key="deactivate", disabled=who == operator()):
            auth.set_active(db, who, False, operator())
            st.rerun()
        if buttons[2].button("启用", key="activate"):
            auth.set_active(db, who, True, operator())
            st.rerun()

with log:
    st.caption("审计日志只可查看和导出，不能修改或删除。")
    cols = st.columns(3)
    user_filter = cols[0].text_input("用户", key="audit_user")
    action_filter = cols[1].selectbox("操作", ["全部", *audit.ACTIONS], key="audit_action")
    since = cols[2].date_input("起始日期", value=None, key="audit_since")
    entries = audit.entries(db, user_filter.strip() or None, None if action_filter == "全部" else action_filter,
                            since.isoformat() if since else None)
    shown = entries.rename(columns={"id": "序号", "at": "时间", "username": "用户", "action": "操作", "object": "对象",
                                    "detail": "条件/说明", "rows": "行数", "result": "结果"})
    st.dataframe(shown, hide_index=True, width="stretch", height=420)
    audited_download("导出审计日志 CSV", neutralise_frame(shown).to_csv(index=False).encode("utf-8-sig"), "审计日志.csv",
                     "text/csv", "审计日志", f"用户 {user_filter or '全部'}；操作 {action_filter}", len(shown),
                     key="audit_csv")
