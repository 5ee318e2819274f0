"""动态口令: the second step of signing in — a code from the authenticator app, or binding the app the first time."""

import streamlit as st

from monitor.security import second_factor
from monitor.security.auth import AuthError, confirm_code, confirm_enrolment
from monitor.web.markup import plain
from monitor.web.ui import engine, security, sign_in_as, sign_out, viewer

current = viewer()
if current is None or not current.second_factor:
    st.stop()
st.title("动态口令验证")
codes = st.session_state.get("recovery_codes_to_show")
if codes:  # shown once, right after binding; the session is already signed in behind this page
    st.success(
        "绑定成功。以下 10 个恢复码每个只能使用一次，手机丢失时可代替动态口令登录。请抄写或打印后妥善保管，"
        "离开本页后不再显示。"
    )
    st.code("\n".join(codes), language=None)
    if st.button("我已保存恢复码，继续", type="primary", key="recovery_codes_saved"):
        del st.session_state["recovery_codes_to_show"]
        sign_in_as(st.session_state.pop("pending_viewer"))
        st.rerun()
    st.stop()

if current.second_factor == "enrol":
    secret = st.session_state.setdefault("totp_secret_to_bind", second_factor.new_secret())
    st.info(
        f"{plain(current.username)}，您的角色登录时须使用动态口令。请用手机上的身份验证器应用（如 Microsoft "
        "Authenticator、Google 身份验证器、FreeOTP）扫描下面的二维码，再输入应用显示的 6 位数字完成绑定。"
    )
    left, right = st.columns([1, 2])
    left.image(second_factor.qr_png(second_factor.enrolment_uri(current.username, secret)), width=220)
    right.markdown("无法扫码时，在应用中选择“手动输入密钥”，输入：")
    right.code(secret, language=None)
else:
    st.info(f"{plain(current.username)}，请输入身份验证器应用显示的 6 位动态口令；手机不在身边时可输入一个恢复码。")

with st.form("second_factor"):
    code = st.text_input("动态口令或恢复码", key="totp_code", max_chars=16)
    if st.form_submit_button("验证", type="primary"):
        try:
            if current.second_factor == "enrol":
                signed_in, codes = confirm_enrolment(
                    engine(), current, st.session_state["totp_secret_to_bind"], code, security()
                )
                st.session_state.pop("totp_secret_to_bind", None)
                st.session_state["recovery_codes_to_show"] = codes
                st.session_state["pending_viewer"] = signed_in
            else:
                sign_in_as(confirm_code(engine(), current, code, security()))
            st.rerun()
        except AuthError as exc:
            st.error(plain(exc))
if st.button("返回登录", key="back_to_sign_in"):
    sign_out()
    st.rerun()
