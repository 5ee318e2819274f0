"""The settings document (docs/configuration.md) and the help text of every setting, both read off Settings."""

from __future__ import annotations

from dataclasses import MISSING, fields

from monitor.config.settings import Settings


def settings_markdown() -> str:
    """docs/configuration.md: every setting with its default and help text (a test keeps the file current)."""
    lines = [
        "# Settings",
        "",
        'Generated from `monitor/config/settings.py` (`python -c "from monitor.config import '
        "settings_markdown; print(settings_markdown(), end='')\" > docs/configuration.md`). The values",
        "shipped in `config.toml` are the defaults of SPEC §6 and §9; a bad value stops the program with a "
        "message naming its key.",
        "",
        "| setting | default | what it does |",
        "| --- | --- | --- |",
    ]
    for f in fields(Settings):
        default = (
            f.default if f.default is not MISSING else (f.default_factory() if f.default_factory is not MISSING else "")
        )
        shown = "" if default in ({}, (), None) else str(default).replace("|", "\\|")
        lines.append(f"| `{f.name}` | {shown} | {f.metadata.get('help', '')} |")
    return "\n".join(lines) + "\n"


def setting_help() -> dict[str, str]:
    """Every setting's help text, for docs and the meta-test that none is missing."""
    return {f.name: f.metadata.get("help", "") for f in fields(Settings)}
