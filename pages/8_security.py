"""安全管理: the security administrator's roles and town scopes, lock-outs, second factors, the administrators'
passwords and accounts (三员分立: theirs alone, never their own), sessions, the password and sign-in policy, and the
state of the audit chain."""

import streamlit as st

from monitor.security import audit, auth, duties, policy, sessions
from monitor.security.access import ADMIN_ROLES, ROLES
from monitor.security.auth import AuthError
from monitor.storage import queries
from monitor.web import tables
from monitor.web.markup import plain
from monitor.web.ui import cached, engine, operator, page_viewer, require, security
from monitor.web.views.security import session_table, user_table

page_viewer(__file__)
viewer = require("security")
db = engine()
towns = cached(queries.towns).to_dict()
in_force = security()
st.header("安全管理")
accounts, open_sessions, rules, chain = st.tabs(["账户与角色", "在线会话", "密码与登录策略", "审计链"])


def _offer(who: str, role: str, change: str) -> bool:
    return duties.allowed(viewer, who, role, change)


with accounts:
    table = user_table(db, towns, in_force)
    locked = table[table["锁定至"] != ""]
    if len(locked):
        st.warning(plain(f"{len(locked)} 个账户因多次登录失败被锁定：" + "、".join(locked["用户名"])))
    overdue = table[table["密码状态"] == "已过期"]
    if len(overdue):
        st.info(f"{len(overdue)} 个账户的密码已超过 {in_force.password_max_age_days} 天，将在下次登录时要求修改。")
    tables.show(table, hide_index=True, width="stretch")
    who = st.selectbox("用户", table["用户名"].tolist(), key="security_user")
    if who is not None:
        mine = auth.users(db).set_index("username").loc[who]
        if who == operator():
            st.info("这是您自己的账户：不能在此修改；需要时由服务器上的命令行（python -m etl users …）办理。")
        left, right = st.columns(2)
        with left, st.form("set_role"):
            st.markdown("**角色与负责乡镇**（每个账户只有一个角色；不能修改自己的角色）")
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
            if st.form_submit_button("保存", disabled=not _offer(who, mine["role"], duties.SET_ROLE)):
                try:
                    auth.set_role(db, who, role, frozenset(scope) or None, operator(), actor=viewer)
                    st.rerun()
                except AuthError as exc:
                    st.error(plain(exc))
        with right:
            st.markdown("**锁定与动态口令**")
            until = auth.locked_until(db, who, in_force)
            if until is not None:
                st.warning(plain(f"{who} 已锁定至 {until:%Y-%m-%d %H:%M}"))
            try:
                if st.button(
                    "解除锁定", key="unlock", disabled=until is None or not _offer(who, mine["role"], duties.UNLOCK)
                ):
                    auth.unlock(db, who, operator(), actor=viewer)
                    st.rerun()
                if st.button(
                    "重置动态口令（手机丢失时）",
                    key="reset_totp",
                    disabled=not _offer(who, mine["role"], duties.RESET_SECOND_FACTOR),
                ):
                    auth.reset_second_factor(db, who, operator(), actor=viewer)
                    st.success(plain(f"{who} 下次登录时须重新绑定身份验证器应用。"))
                if mine["role"] in ADMIN_ROLES:  # 三员分立: the administrators' accounts are changed here only
                    st.markdown("**管理员账户**（系统管理员、安全管理员、审计管理员的密码与启用状态只在此处管理）")
                    allowed = _offer(who, mine["role"], duties.RESET_PASSWORD)
                    buttons = st.columns(3)
                    if buttons[0].button("重置密码", key="security_reset_password", disabled=not allowed):
                        password = auth.reset_password(db, who, operator(), settings=in_force, actor=viewer)
                        st.success(plain(f"{who} 的新密码：{password}（只显示一次，登录后须修改）"))
                    active = bool(mine["active"])
                    if buttons[1].button("停用", key="security_deactivate", disabled=not allowed or not active):
                        auth.set_active(db, who, False, operator(), actor=viewer)
                        st.rerun()
                    if buttons[2].button("启用", key="security_activate", disabled=not allowed or active):
                        auth.set_active(db, who, True, operator(), actor=viewer)
                        st.rerun()
            except AuthError as exc:
                st.error(plain(exc))

with open_sessions:
    st.caption(
        f"每个账户同时只能有一个会话：新的登录会结束旧会话，同一浏览器的多个标签页共用一个会话。"
        f"超过 {in_force.session_timeout_minutes} 分钟无操作的会话自动结束。"
    )
    current_sessions = session_table(db, in_force)
    tables.show(current_sessions, hide_index=True, width="stretch")
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
                st.error(plain(str(exc)))

with chain:
    last = audit.last_verification(db)
    if last is None:
        st.info("审计链尚未校验过（每天定时校验，或由审计管理员在「审计日志」页校验）。")
    elif last["ok"]:
        st.success(plain(f"最近一次校验：{last['at']}（{last['by']}）— {last['message']}"))
    else:
        st.error(plain(f"最近一次校验：{last['at']}（{last['by']}）发现异常 — {last['message']}"))
    st.caption(
        f"审计记录在数据库中至少保留 {in_force.audit_retention_days} 天，之后归档到 data/audit_archive/ 的文件中"
        f"（连同哈希，可继续校验），不会丢弃。每条记录的校验码以服务器上数据库之外的密钥计算；每次载入、每次校验通过"
        f"及每小时，记录条数与链头另写入数据库之外的检查点文件{'并发送到 syslog' if in_force.audit_syslog else ''}，"
        f"记录被截去或改写都会在校验时发现。"
    )
