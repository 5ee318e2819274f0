"""The settings in force for code that is handed no settings (the audit trail's files, the lake's folder): those given
to `configured()` for the code run inside it (the command line's --config, the scheduler's jobs), otherwise the
settings the app reads (MONITOR_CONFIG, else config.toml; the defaults when that file is broken, which the pages
report on their own)."""

from __future__ import annotations

import contextvars
import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager

from monitor.config.parse import load_settings
from monitor.config.settings import ConfigError, Settings

_configured: contextvars.ContextVar[Settings | None] = contextvars.ContextVar("settings_in_force", default=None)


@functools.cache
def _app_settings() -> Settings:
    try:
        return load_settings(os.environ.get("MONITOR_CONFIG") or None)
    except ConfigError:
        return Settings()


@contextmanager
def configured(settings: Settings) -> Iterator[None]:
    """Code run inside uses these settings where it is handed none (in this thread only)."""
    token = _configured.set(settings)
    try:
        yield
    finally:
        _configured.reset(token)


def in_force() -> Settings:
    return _configured.get() or _app_settings()
