"""Shared page plumbing: settings, the engine, the chosen year, and query results cached per run."""

from __future__ import annotations

import importlib
import os
from typing import Any, Callable

import streamlit as st
from sqlalchemy.engine import Engine

from monitor import queries
from monitor.config import Settings, database_url, load_settings
from monitor.store import SchemaError, connect


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


def operator() -> str:
    """Who is acting, as typed in the sidebar (recorded with every workflow change)."""
    return str(st.session_state.get("operator", "")).strip()


def year() -> int:
    """The monitoring year picked in the sidebar (app.py), else the latest run's year."""
    chosen = st.session_state.get("year")
    return int(chosen) if chosen else queries.default_year(engine(), settings().year)


def root() -> str:
    return queries.root(engine(), settings().region_code)


def require_data() -> None:
    """Stop the page with a hint when nothing has been loaded yet."""
    if queries.latest_run(engine()) is None:
        st.info("尚无数据。请在「数据」页上传文件并运行，或运行 `python -m etl run --inbox 文件夹`。")
        st.stop()
