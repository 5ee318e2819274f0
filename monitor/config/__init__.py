"""Typed settings loaded once from config.toml; every setting has a default and a help text.

settings holds the dataclasses and derived paths, values and parse turn a TOML document into Settings (every
error names its key), docs renders docs/configuration.md. Import from monitor.config itself.
"""

from monitor.config.docs import setting_help, settings_markdown
from monitor.config.in_force import configured, in_force
from monitor.config.parse import load_settings, parse_settings
from monitor.config.settings import (
    DEFAULT_CONFIG_PATH,
    PROJECT_ROOT,
    SOURCES,
    AlertRule,
    ConfigError,
    IdentityType,
    Income,
    Settings,
    audit_archive_path,
    data_path,
    database_url,
)

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "PROJECT_ROOT",
    "SOURCES",
    "AlertRule",
    "ConfigError",
    "IdentityType",
    "Income",
    "Settings",
    "audit_archive_path",
    "configured",
    "data_path",
    "database_url",
    "in_force",
    "load_settings",
    "parse_settings",
    "setting_help",
    "settings_markdown",
]
