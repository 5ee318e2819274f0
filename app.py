"""Navigation only: sign-in, the pages the viewer's role may open, the monitoring year, the last run's status.

Every page runs inside ui.guard(): a database or disk fault (read-only, full, gone) shows one message, no traceback."""

import streamlit as st

from monitor.security.access import ADMIN, PAGES
from monitor.storage import queries
from monitor.web.ui import FAVICON, cached, engine, guard, keep_signed_in, sign_out, viewer
from monitor.web.views.common import years

st.set_page_config(page_title="参保与防返贫监测看板", page_icon=FAVICON, layout="wide")

SIGN_IN = st.Page("pages/0_sign_in.py", title="登录", icon=":material/login:", url_path="sign-in", default=True)
PASSWORD = st.Page(
    "pages/0_password.py", title="修改密码", icon=":material/password:", url_path="change-password", default=True
)
SECOND_FACTOR = st.Page(
    "pages/0_second_factor.py", title="动态口令", icon=":material/pin:", url_path="second-factor", default=True
)
# A page's own address while signed out (a reload after the session ended, a bookmark) shows the sign-in form
# there, not Streamlit's "Page not found"; once signed in, the page itself opens if the role may see it.
SIGN_IN_AT_PAGES = [st.Page("pages/0_sign_in.py", title="登录", url_path=page.url_path) for page in PAGES]
LAST_RUN = {"failed": "最近一次运行失败", "interrupted": "最近一次运行中断"}


def main() -> None:
    current = viewer()
    if current is None or current.second_factor or current.must_change:
        pages = (
            [SIGN_IN, *SIGN_IN_AT_PAGES] if current is None else [SECOND_FACTOR if current.second_factor else PASSWORD]
        )
        st.navigation(pages, position="hidden").run()
        keep_signed_in()  # below the page: the cookie of a sign-out is cleared, of a sign-in to change a password set
        st.stop()

    st.sidebar.markdown("### 参保与防返贫监测看板")
    scope = "全部乡镇" if current.towns is None else f"{len(current.towns)} 个乡镇"
    st.sidebar.caption(f"{current.username} · {current.role} · {scope}")
    if st.sidebar.button("退出登录", key="sign_out"):
        sign_out()
        st.rerun()
    keep_signed_in(st.sidebar)  # after a sign-in: the browser's cookie keeps the session across reloads and tabs
    if current.sees_page("1_overview.py"):  # the roles that work with the data get the year and the run status
        known = cached(years)
        if known:
            st.sidebar.selectbox("监测年度", known, key="year", format_func=lambda y: f"{y} 年")
        last_ok = queries.latest_run(engine())
        last_any = queries.latest_run(engine(), status=None) if current.role == ADMIN else None  # admin only
        if last_ok:
            st.sidebar.caption(
                f"最近成功运行：{last_ok['finished_at']}（#{last_ok['id']}，{last_ok['year']} 年，"
                f"截至 {last_ok['as_of']}）"
            )
        if last_any and last_any["status"] in LAST_RUN:
            when = last_any["finished_at"] or last_any["started_at"]
            st.sidebar.warning(f"{LAST_RUN[last_any['status']]}（#{last_any['id']}，{when}）：{last_any['message']}")
    allowed = current.pages()
    if not allowed:
        st.info("您的账户尚未分配角色，请联系安全管理员。")
        st.stop()
    # Another role's page, asked for by its address (a link, a bookmark, a new tab), says so instead of Streamlit's
    # "Page not found"; its file is never run.
    others = [st.Page(_not_allowed, title=p.title, url_path=p.url_path, visibility="hidden") for p in PAGES]
    st.navigation(
        [
            st.Page(f"pages/{page.file}", title=page.title, icon=page.icon, url_path=page.url_path, default=n == 0)
            for n, page in enumerate(allowed)
        ]
        + [page for page, entry in zip(others, PAGES, strict=True) if entry not in allowed]
    ).run()


def _not_allowed() -> None:
    st.error("您的角色无权查看此页面，请从左侧菜单选择。")


with guard():
    main()
