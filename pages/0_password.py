"""修改密码: a password set by someone else, or too old, is changed here before anything else opens."""

import dataclasses

import streamlit as st

from monitor.security.auth import AuthError, change_password
from monitor.web.markup import plain
from monitor.web.ui import engine, security, sign_in_as, viewer

current = viewer()
if current is None:
    st.stop()
st.title("修改密码")
cfg = security()
st.info(
    f"{plain(current.username)}，请先设置新密码：至少 {cfg.password_min_length} 位，包含大写字母、小写字母、数字、"
    "其他字符中的至少三类，不含用户名，且不能与最近 5 次的密码相同。"
)
with st.form("change_password"):
    old = st.text_input("原密码", type="password", key="old_password")
    new = st.text_input("新密码", type="password", key="new_password")
    again = st.text_input("再次输入新密码", type="password", key="new_password_again")
    if st.form_submit_button("保存", type="primary"):
        if new != again:
            st.error("两次输入的新密码不一致")
        else:
            try:
                change_password(engine(), current.username, old, new, cfg)
                sign_in_as(dataclasses.replace(current, must_change=False))
                st.rerun()
            except AuthError as exc:
                st.error(plain(exc))
