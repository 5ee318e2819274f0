"""用户管理: the system administrator creates accounts, resets the staff's passwords, enables and disables their
accounts, and reads the configuration in force. Roles and town scopes, and every change to the three
administrators' accounts, are the security administrator's (三员分立); the core refuses them here too."""

from dataclasses import fields

import pandas as pd
import streamlit as st

from monitor.config import Settings
from monitor.security import auth, duties
from monitor.security.auth import AuthError
from monitor.storage import queries
from monitor.web import tables
from monitor.web.markup import plain
from monitor.web.ui import cached, engine, operator, page_viewer, require, security, year
from monitor.web.views import rules_in_force
from monitor.web.views.security import user_table

page_viewer(__file__)
viewer = require("users")
db = engine()
st.header("用户管理")
st.caption(
    "新建的账户由安全管理员分配角色和负责乡镇后才能使用；系统管理员、安全管理员、审计管理员三个角色不能由同一账户担任，"
    "这三个账户的密码重置、停用和启用也只能由安全管理员操作。"
)
accounts, configuration = st.tabs(["账户", "系统配置"])

with accounts:
    table = user_table(db, cached(queries.towns).to_dict(), security())
    tables.show(table, hide_index=True, width="stretch")
    left, right = st.columns(2)
    with left, st.form("add_user", clear_on_submit=True):
        st.markdown("**新建账户**（初始密码随机生成，只显示一次）")
        username = st.text_input("用户名", key="new_username")
        display = st.text_input("姓名", key="new_display")
        if st.form_submit_button("新建"):
            try:
                password = auth.add_user(
                    db,
                    username.strip(),
                    "",
                    operator(),
                    display_name=display.strip(),
                    settings=security(),
                    actor=viewer,
                )
                st.success(
                    plain(
                        f"已新建 {username.strip()}，初始密码：{password}（请当面交给本人；待安全管理员分配角色后可用）"
                    )
                )
            except AuthError as exc:
                st.error(plain(exc))
    with right:
        st.markdown("**账户操作**")
        roles = auth.users(db).set_index("username")["role"]
        # only the staff's accounts: the administrators' (own included) are the security administrator's
        editable = [u for u in table["用户名"] if duties.allowed(viewer, u, roles.get(u), duties.RESET_PASSWORD)]
        st.caption("三员的账户（包括您自己的）由安全管理员在「安全管理」页重置密码、停用或启用。")
        if not editable:
            st.info("没有可由系统管理员操作的账户。")
        else:
            who = st.selectbox("用户", editable, key="edit_user")
            buttons = st.columns(3)
            try:
                if buttons[0].button("重置密码", key="reset_password"):
                    password = auth.reset_password(db, who, operator(), settings=security(), actor=viewer)
                    st.success(plain(f"{who} 的新密码：{password}（只显示一次，登录后须修改）"))
                if buttons[1].button("停用", key="deactivate"):
                    auth.set_active(db, who, False, operator(), actor=viewer)
                    st.rerun()
                if buttons[2].button("启用", key="activate"):
                    auth.set_active(db, who, True, operator(), actor=viewer)
                    st.rerun()
            except AuthError as exc:
                st.error(plain(exc))

with configuration:
    st.caption(
        "config.toml 中的设置（修改需编辑服务器上的 config.toml 并重启）；密码、锁定、会话策略以安全管理员在"
        "「安全管理」页的设置为准。"
    )
    in_force = security()
    rows = [
        (f.name, str(getattr(in_force, f.name)), f.metadata.get("help", ""))
        for f in fields(Settings)
        if f.name not in ("identity_types", "alert_rules", "header_aliases", "value_aliases")
    ]
    tables.show(pd.DataFrame(rows, columns=["设置", "当前值", "说明"]), hide_index=True, width="stretch", height=480)
    st.subheader("预警规则")
    monitoring_year = year()
    st.caption(
        f"按优先顺序排列；阈值为 {monitoring_year} 年度的计算结果（收入口径取上年居民人均可支配收入）。"
        "修改需编辑 config.toml 的 [[alert_rules]] 并重启。"
    )
    tables.show(rules_in_force.table(in_force, monitoring_year), hide_index=True, width="stretch")
    tables.show(rules_in_force.alert_settings(in_force), hide_index=True, width="stretch")
