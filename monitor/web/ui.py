"""Shared page plumbing: settings, the engine, the signed-in viewer, the chosen year, cached query results."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st
from sqlalchemy.engine import Engine

from monitor.config import Settings, database_url, load_settings
from monitor.outputs import release
from monitor.outputs.release import Export
from monitor.security import audit, policy, sessions
from monitor.security.access import AccessDenied, Viewer
from monitor.storage import queries
from monitor.storage.store import SchemaError, connect


@st.cache_resource
def settings() -> Settings:
    return load_settings(os.environ.get("MONITOR_CONFIG") or None)


@st.cache_resource
def _engine(url: str) -> Engine:
    return connect(url)


def _url() -> str:
    return database_url(settings(), os.environ.get("MONITOR_DB_URL") or None)


def engine() -> Engine:
    """The engine of MONITOR_DB_URL, else config's database; one per URL per process. A database this version
    cannot migrate stops the page with the reason."""
    try:
        return _engine(_url())
    except SchemaError as exc:
        st.error(str(exc))
        st.stop()


@st.cache_data(show_spinner=False, max_entries=256)
def _cached(name: str, version: tuple, url: str, args: tuple) -> Any:
    module, func = name.rsplit(".", 1)
    return getattr(importlib.import_module(module), func)(_engine(url), *args)


def cached(fn: Callable, *args: Any) -> Any:
    """fn(engine, *args), computed once per data version (a run, a push, a feedback, an outcome): clicks reuse
    the results, any change to the data gives fresh ones."""
    return _cached(f"{fn.__module__}.{fn.__qualname__}", queries.data_version(engine()), _url(), args)


# ---------------------------------------------------------------- the signed-in viewer


def security() -> Settings:
    """Settings with the security policy in force (the security administrator's changes read at every click)."""
    return policy.effective(engine(), settings())


def sign_in_as(viewer: Viewer) -> None:
    """Keep the viewer of this browser session (signed in, or still to give the second factor)."""
    st.session_state["viewer"] = viewer


def sign_out(reason: str = "") -> None:
    viewer = st.session_state.pop("viewer", None)
    if viewer is not None and viewer.session:
        sessions.end(engine(), viewer.session)
        audit.record(engine(), viewer.username, "退出", viewer.username, reason)
    if reason:
        st.session_state["signed_out_because"] = reason


def viewer() -> Viewer | None:
    """The signed-in viewer; None when nobody is, or when the session has ended: idle past the time-out, replaced by
    a sign-in elsewhere, ended by the security administrator (the sign-in page then says why). A viewer still
    to give the second factor is returned as it is (Viewer.second_factor)."""
    current = st.session_state.get("viewer")
    if current is None or current.second_factor:
        return current
    ended = sessions.check(engine(), current.session, security().session_timeout_minutes)
    if ended:
        st.session_state.pop("viewer", None)
        st.session_state["signed_out_because"] = ended
        audit.record(engine(), current.username, "退出", current.username, ended)
        return None
    return current


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
        st.error(str(exc))
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


def audited_download(label: str, export: Export, file_name: str, mime: str, key: str, **kwargs: Any) -> None:
    """A download button for a file made by outputs.release; the click is recorded there (who, what, which filter,
    how many rows), as the command line's exports are."""
    user = operator()
    st.download_button(
        label,
        export.data,
        file_name=file_name,
        mime=mime,
        key=key,
        on_click=lambda: release.record(engine(), user, export),
        **kwargs,
    )
