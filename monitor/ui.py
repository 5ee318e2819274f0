"""Shared page plumbing: the settings and the engine, created once per Streamlit process."""

from __future__ import annotations

import os

import streamlit as st
from sqlalchemy.engine import Engine

from monitor.config import Settings, database_url, load_settings
from monitor.store import connect


@st.cache_resource
def settings() -> Settings:
    return load_settings(os.environ.get("MONITOR_CONFIG") or None)


@st.cache_resource
def _engine(url: str) -> Engine:
    return connect(url)


def engine() -> Engine:
    """The engine of MONITOR_DB_URL, else config's database; one per URL per process."""
    return _engine(database_url(settings(), os.environ.get("MONITOR_DB_URL") or None))
