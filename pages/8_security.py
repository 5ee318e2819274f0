"""安全管理: the security administrator's roles and town scopes, lock-outs, second factors, sessions, the password
and sign-in policy, and the state of the audit chain."""

import streamlit as st

from monitor.security import audit, auth, policy, sessions
from monitor.security.access import ROLES
from monitor.security.auth import AuthError
from monitor.storage import queries
from monitor.web.ui import cached, engine, operator, page_viewer, require, security
from monitor.web.views.security import session_table, user_table

page_viewer(__file__)
require("security")
db = engine()
towns = cached(queries.towns).to_dict()
in_force = security()
st.header("安全管理")
accounts, open_sessions, rules, chain = st.tabs(["账户与角色", "在线会话", "密码与登录策略", "审计链"])

with accounts:
    table = user_table(db, towns, in_force)
    locked = table[table["锁定至"] != ""]
    if len(locked):
        st.warning(f"{len(locked)} 个账户因多次登录失败被锁定：" + "、".join(locked["用户名"]))
    overdue = table[table["密码状态"] == "已过期"]
    if len(overdue):
        st.info(f"{len(overdue)} 个账户的密码已超过 {in_force.password_max_age_days} 天，将在下次登录时要求修改。")
    st.dataframe(table, hide_index=True, width="stretch")
    who = st.selectbox("用户", table["用户名"].tolist(), key="security_user")
    if who is not None:
        left, right = st.columns(2)
        with left, st.form("set_role"):
            st.markdown("**角色与负责乡镇**（每个账户只有一个角色；不能修改自己的角色）")
            mine = auth.users(db).set_index("username").loc[who]
            role = st.selectbox(
                "角色",
                ROLES,
                index=ROLES.index(mine["role"]) if mine["role"] in ROLES else 0,
                key=f"security_role_{who}",
            )
            scope = st.multiselect(
                "负责乡镇（不选为全部）",
                list(towns),
                format_func=towns.get,
                placeholder="全部乡镇",
                default=[t for t in (mine["towns"] or "").split(",") if t in towns],
                key=f"security_towns_{who}",
            )
            if st.form_submit_button("保存"):
                try:
                    auth.set_role(db, who, role, frozenset(scope) or None, operator())
                    st.rerun()
                except AuthError as exc:
                    st.error(str(exc))
        with right:
            st.markdown("**锁定与动态口令**")
            until = auth.locked_until(db, who, in_force)
            if until is not None:
                st.warning(f"{who} 已锁定至 {until:%Y-%m-%d %H:%M}")
            if st.button("解除锁定", key="unlock", disabled=until is None):
                auth.unlock(db, who, operator())
                st.rerun()
            if st.button("重置动态口令（手机丢失时）", key="reset_totp"):
                auth.reset_second_factor(db, who, operator())
                st.success(f"{who} 下次登录时须重新绑定身份验证器应用。")

with open_sessions:
    st.caption(
        f"每个账户同时只能有一个会话：新的登录会结束旧会话。超过 {in_force.session_timeout_minutes} 分钟无操作的会话"
        f"自动结束。"
    )
    current_sessions = session_table(db, in_force)
    st.dataframe(current_sessions, hide_index=True, width="stretch")
    others = [u for u in current_sessions["用户名"] if u != operator()]
    if others:
        ending = st.selectbox("结束该用户的会话", others, key="end_session_user")
        if st.button("结束会话", key="end_session"):
            sessions.end_for(db, ending)
            audit.record(db, operator(), "安全策略", ending, "结束会话")
            st.rerun()

with rules:
    values = policy.current(in_force)
    with st.form("policy"):
        chosen = {
            r.key: st.number_input(
                r.label,
                min_value=r.minimum,
                max_value=1 if r.key == "totp_for_everyone" else None,
                value=values[r.key],
                step=1,
                key=f"policy_{r.key}",
            )
            for r in policy.RULES
        }
        st.caption(
            "系统管理员、安全管理员、审计管理员登录始终需要动态口令。密码须包含大写字母、小写字母、数字、其他字符中的"
            "至少三类，不含用户名，且不能与最近 5 次相同。"
        )
        if st.form_submit_button("保存策略"):
            try:
                changed = policy.change(db, chosen, operator(), in_force)
                st.success(f"已修改 {len(changed)} 项" if changed else "没有修改")
            except policy.PolicyError as exc:
                st.error(str(exc))

with chain:
    last = audit.last_verification(db)
    if last is None:
        st.info("审计链尚未校验过（每天定时校验，或由审计管理员在「审计日志」页校验）。")
    elif last["ok"]:
        st.success(f"最近一次校验：{last['at']}（{last['by']}）— {last['message']}")
    else:
        st.error(f"最近一次校验：{last['at']}（{last['by']}）发现异常 — {last['message']}")
    st.caption(
        f"审计记录在数据库中至少保留 {in_force.audit_retention_days} 天，之后归档到 data/audit_archive/ 的文件中"
        f"（连同哈希，可继续校验），不会丢弃。"
    )
