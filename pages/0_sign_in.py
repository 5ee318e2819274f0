"""登录: user name and password; failures lock the account for a while and are audited."""

import streamlit as st

from monitor.security.auth import AuthError, sign_in
from monitor.web.markup import plain
from monitor.web.tables import no_export
from monitor.web.ui import engine, security, sign_in_as

no_export()  # every session signs in here first: the tables it opens next have no built-in download

st.title("参保与防返贫监测看板")
reason = st.session_state.pop("signed_out_because", "")
if reason:
    st.info(plain(reason))
with st.form("sign_in"):
    username = st.text_input("用户名", key="sign_in_user")
    password = st.text_input("密码", type="password", key="sign_in_password")
    if st.form_submit_button("登录", type="primary"):
        try:
            sign_in_as(sign_in(engine(), username.strip(), password, settings=security()))
            st.rerun()
        except AuthError as exc:
            st.error(plain(exc))
