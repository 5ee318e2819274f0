"""Shared page plumbing: settings, the engine, the signed-in viewer (kept across reloads and tabs by the browser's
session cookie), the chosen year, cached query results, and the one message a database or disk fault shows instead
of a traceback (guard)."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import streamlit as st
from sqlalchemy.engine import Engine

from monitor.config import Settings, database_url, load_settings
from monitor.outputs import release
from monitor.outputs.release import Export
from monitor.security import audit, policy, session_cookie, sessions
from monitor.security.access import AccessDenied, Viewer
from monitor.storage import queries
from monitor.storage.store import SchemaError, connect
from monitor.web.markup import plain

log = logging.getLogger(__name__)
# A file of ours, served by Streamlit: a Material icon as page_icon made every browser fetch its SVG from Google's
# font servers, which an intranet cannot reach (and should not be asked to)
FAVICON = str(Path(__file__).with_name("favicon.png"))
FAULT = (
    "数据库或磁盘暂时无法使用（可能是只读、磁盘已满，或数据库、数据文件夹不见了），本次操作未完成。"
    "请联系系统管理员检查服务器；恢复后刷新页面即可。"
)


def is_fault(exc: BaseException) -> bool:
    """A database or disk fault (read-only, full, gone, unreachable), not a mistake of the request: a database error
    other than a broken constraint, or an error of the operating system."""
    database = isinstance(exc, sa.exc.DBAPIError) and not isinstance(exc, sa.exc.IntegrityError)
    return database or isinstance(exc, OSError)


@contextmanager
def guard() -> Iterator[None]:
    """Run a page (app.py runs every page in it), a query or a callback: a database or disk fault stops it with
    FAULT, one Chinese message without a traceback or a path; the log gets the error's kind only."""
    try:
        yield
    except Exception as exc:
        if not is_fault(exc):
            raise
        log.error("database or disk fault: %s", type(exc).__name__)
        st.error(FAULT, icon="⚠️")
        st.stop()


@st.cache_resource
def settings() -> Settings:
    return load_settings(os.environ.get("MONITOR_CONFIG") or None)


@st.cache_resource
def _engine(url: str) -> Engine:
    return connect(url, create=False)  # a missing database is a fault (DatabaseMissing), never made anew here


def _url() -> str:
    return database_url(settings(), os.environ.get("MONITOR_DB_URL") or None)


def engine() -> Engine:
    """The engine of MONITOR_DB_URL, else config's database; one per URL per process. A database this version
    cannot migrate stops the page with the reason; a missing or unusable one with FAULT."""
    with guard():
        try:
            return _engine(_url())
        except SchemaError as exc:
            st.error(plain(str(exc)))
            st.stop()


@st.cache_data(show_spinner=False, max_entries=256)
def _cached(name: str, version: tuple, url: str, args: tuple) -> Any:
    module, func = name.rsplit(".", 1)
    return getattr(importlib.import_module(module), func)(_engine(url), *args)


def cached(fn: Callable, *args: Any) -> Any:
    """fn(engine, *args), computed once per data version (a run, a push, a feedback, an outcome): clicks reuse
    the results, any change to the data gives fresh ones."""
    with guard():
        return _cached(f"{fn.__module__}.{fn.__qualname__}", queries.data_version(engine()), _url(), args)


# ---------------------------------------------------------------- the signed-in viewer


def security() -> Settings:
    """Settings with the security policy in force (the security administrator's changes read at every click)."""
    return policy.effective(engine(), settings())


def sign_in_as(viewer: Viewer) -> None:
    """Keep the viewer of this browser session (signed in, or still to give the second factor). A session newly
    signed in here gets a handoff for the browser's cookie, which keep_signed_in sends."""
    previous = st.session_state.get("viewer")
    st.session_state["viewer"] = viewer
    if viewer.session and not viewer.second_factor and (previous is None or previous.session != viewer.session):
        st.session_state["cookie_handoff"] = ("POST", session_cookie.HANDOFFS.issue(viewer.session))


def _forget(token: str) -> None:
    """Have the browser's cookie cleared, if it still holds this (ended) session."""
    handoff = session_cookie.HANDOFFS.issue(token, session_cookie.CLEAR)
    st.session_state["cookie_handoff"] = ("DELETE", handoff)


def sign_out(reason: str = "") -> None:
    viewer = st.session_state.pop("viewer", None)
    if viewer is not None and viewer.session:
        sessions.end(engine(), viewer.session)
        session_cookie.NOTICES.first(viewer.session)  # the browser's other tabs record no second 退出
        audit.record(engine(), viewer.username, "退出", viewer.username, reason)
        _forget(viewer.session)
    if reason:
        st.session_state["signed_out_because"] = reason


def _ended(username: str, token: str, reason: str) -> None:
    """The session was found ended: the sign-in page says why, the browser's cookie of it is cleared, and the first
    tab of the browser to find it records the 退出 (a sign-out has recorded its own)."""
    st.session_state.pop("viewer", None)
    st.session_state["signed_out_because"] = reason
    _forget(token)
    if reason != sessions.SIGNED_OUT and session_cookie.NOTICES.first(token):
        audit.record(engine(), username, "退出", username, reason)


def browser_cookie() -> str:
    """The session cookie the browser sent with this browser session's handshake ('' when none): Streamlit keeps the
    handshake's cookies, HttpOnly ones included, for the script."""
    value = st.context.cookies.get(session_cookie.COOKIE)
    return value if isinstance(value, str) else ""  # a test harness without a browser has something else here


def _resumed() -> Viewer | None:
    """The viewer of the session the browser's cookie holds, looked up once per browser session (a reload or a new
    tab is a new one): all tabs of a browser share the one session of its account."""
    if st.session_state.get("cookie_checked"):
        return None
    st.session_state["cookie_checked"] = True
    token = browser_cookie()
    if not token:
        return None
    with guard():
        found = session_cookie.resume(engine(), token, security())
        if found.viewer is None:
            if found.ended:
                _ended(found.username, token, found.ended)
            return None
    st.session_state["viewer"] = found.viewer
    return found.viewer


def viewer() -> Viewer | None:
    """The signed-in viewer; None when nobody is, or when the session has ended: idle past the time-out, replaced by
    a sign-in elsewhere, ended by the security administrator (the sign-in page then says why). A new browser session
    first resumes the session of the browser's cookie. A viewer still to give the second factor is returned as it is
    (Viewer.second_factor)."""
    current = st.session_state.get("viewer") or _resumed()
    if current is None or current.second_factor:
        return current
    with guard():  # every page asks first, and a click writes: a read-only database stops here (see app.py)
        ended = sessions.check(engine(), current.session, security().session_timeout_minutes)
        if ended:
            _ended(current.username, current.session, ended)
            return None
    return current


# Sent again after a network error or a busy server (up to 10 tries, a second apart): the page shows the script once
# per run, and a browser that sits on a page after signing in starts no other run that would send it again
_SEND = (
    '<script>(function send(tries) {{ fetch("{route}", {{method: "{method}", credentials: "same-origin", '
    'cache: "no-store", keepalive: true, headers: {{"Content-Type": "application/json"}}, '
    'body: JSON.stringify({{handoff: "{handoff}"}})}}).then(function (r) {{ if (r.status >= 500) again(); }}, again); '
    "function again() {{ if (tries > 1) setTimeout(function () {{ send(tries - 1); }}, 1000); }} }})(10);</script>"
)


def keep_signed_in(where: Any = None) -> None:
    """Send this browser session's handoff, if one is pending, to the server's cookie route from a script of the
    page (app.py calls it on every run): the cookie is set after a sign-in and cleared after a sign-out. Offered
    until the route has redeemed it or it has expired; the session token itself never reaches the page."""
    pending = st.session_state.get("cookie_handoff")
    if not pending:
        return
    method, handoff = pending
    if not session_cookie.HANDOFFS.pending(handoff):
        del st.session_state["cookie_handoff"]
        return
    route = session_cookie.ROUTE.lstrip("/")  # relative: the route under whatever base path the app is served at
    (where or st).html(_SEND.format(route=route, method=method, handoff=handoff), unsafe_allow_javascript=True)


def page_viewer(page_file: str) -> Viewer:
    """The viewer, allowed on this page; otherwise the page stops before showing anything. Every page calls it
    first, so a page run without app.py (Streamlit's legacy pages/ mode, a test harness) shows nothing either."""
    current = viewer()
    if current is None or current.must_change or current.second_factor:
        st.warning("请先登录。" if current is None or current.second_factor else "请先修改密码。")
        st.stop()
    if not current.sees_page(Path(page_file).name):
        st.error(f"{current.role}无权查看此页面。")
        st.stop()
    return current


def require(action: str) -> Viewer:
    """The viewer, allowed to do `action`; otherwise the page stops with the reason."""
    current = viewer()
    if current is None or current.second_factor:
        st.stop()
    try:
        current.require(action)
    except AccessDenied as exc:
        st.error(plain(str(exc)))
        st.stop()
    return current


def operator() -> str:
    """Who is acting: the signed-in user (recorded with every workflow change)."""
    current = st.session_state.get("viewer")
    return current.username if current else ""


def year() -> int:
    """The monitoring year picked in the sidebar (app.py), else the latest run's year."""
    chosen = st.session_state.get("year")
    return int(chosen) if chosen else queries.default_year(engine(), settings().year)


def root() -> str:
    return queries.root(engine(), settings())


def require_data() -> None:
    """Stop the page with a hint when nothing has been loaded yet."""
    if queries.latest_run(engine()) is None:
        st.info("尚无数据。请管理员在「数据」页上传文件并运行，或运行 `python -m etl run --inbox 文件夹`。")
        st.stop()


def _record(user: str, export: Export) -> None:
    """The download's audit entry, from the button's callback (a fault shows FAULT like a page does)."""
    try:
        release.record(engine(), user, export)
    except Exception as exc:
        if not is_fault(exc):
            raise
        log.error("download not audited: %s", type(exc).__name__)
        st.error(FAULT, icon="⚠️")


def audited_download(
    label: str, export: Export, file_name: str, mime: str, key: str, make: Callable[[], bytes] | None = None, **kwargs
) -> None:
    """A download button for a file made by outputs.release; the click is recorded there (who, what, which filter,
    how many rows), as the command line's exports are. With make, the file is made only when the button is clicked
    (a big one: export then holds what the audit entry says, its data unused)."""
    user = operator()
    st.download_button(
        label,
        make or export.data,
        file_name=file_name,
        mime=mime,
        key=key,
        on_click=lambda: _record(user, export),
        **kwargs,
    )
