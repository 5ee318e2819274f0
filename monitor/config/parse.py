"""Parsing config.toml into Settings: one small parser per TOML section, parse_settings and load_settings.

Every unusable value raises ConfigError with a message naming its key. The sections are parsed in the order of
_SECTIONS, so a document with several problems always reports the same one first.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from monitor.config.settings import DEFAULT_CONFIG_PATH, SOURCES, ConfigError, IdentityType, Income, Settings
from monitor.config.values import (
    _alert_rule,
    _alias_tables,
    _amount_cents,
    _fraction,
    _get,
    _identity_type,
    _iso_date,
    _region,
    _year_key,
)

# ---------------------------------------------------------------- one parser per section
# Each takes the whole document and the defaults, and returns the Settings keyword arguments it sets.


def _parse_region(doc: dict, base: Settings) -> dict[str, Any]:
    region = _get(doc, "region", "", dict, {})
    kw: dict[str, Any] = {}
    if "code" in region:
        kw["region_code"] = _region(region["code"], "region.code")
    if "boundary_code_property" in region:
        kw["boundary_code_property"] = _get(region, "boundary_code_property", "region", str)
    if "boundary_simplify_metres" in region:
        metres = _get(region, "boundary_simplify_metres", "region", (int, float))
        if metres < 0:
            raise ConfigError(f"region.boundary_simplify_metres: expected 0 or more, got {metres}")
        kw["boundary_simplify_metres"] = float(metres)
    return kw


def _parse_run(doc: dict, base: Settings) -> dict[str, Any]:
    run = _get(doc, "run", "", dict, {})
    kw: dict[str, Any] = {}
    if "year" in run:
        year = _get(run, "year", "run", int)
        if not 2000 <= year <= 2100:
            raise ConfigError(f"run.year: expected a year in 2000–2100, got {year}")
        kw["year"] = year
    as_of = run.get("as_of", "")
    if as_of not in ("", None):
        try:
            kw["as_of"] = _iso_date(as_of)
        except ValueError:
            raise ConfigError(f"run.as_of: expected YYYY-MM-DD or blank, got {as_of!r}") from None
    if "max_shrink" in run:
        shrink = _fraction(run["max_shrink"], "run.max_shrink")
        if shrink >= 1:
            raise ConfigError(f"run.max_shrink: expected a share between 0 and 1, got {run['max_shrink']!r}")
        kw["max_shrink"] = shrink
    return kw


def _parse_database(doc: dict, base: Settings) -> dict[str, Any]:
    db = _get(doc, "database", "", dict, {})
    return {"database_url": _get(db, "url", "database", str)} if "url" in db else {}


def _parse_files(doc: dict, base: Settings) -> dict[str, Any]:
    files = _get(doc, "files", "", dict, {})
    prefixes = dict(base.file_prefixes)
    for src, prefix in files.items():
        if src not in SOURCES:
            raise ConfigError(f"files.{src}: unknown source (known: {', '.join(SOURCES)})")
        if not isinstance(prefix, str) or not prefix:
            raise ConfigError(f"files.{src}: expected a non-empty file-name prefix")
        prefixes[src] = prefix
    return {"file_prefixes": prefixes}


def _parse_aliases(doc: dict, base: Settings) -> dict[str, Any]:
    header_aliases = _alias_tables(doc.get("header_aliases", {}), "header_aliases")
    # a group the file sets replaces that group; the others keep SPEC's values
    value_aliases = base.value_aliases | _alias_tables(doc.get("value_aliases", {}), "value_aliases")
    return {"header_aliases": header_aliases, "value_aliases": value_aliases}


def _parse_identity_types(doc: dict, base: Settings) -> dict[str, Any]:
    by_year: dict[int, tuple[IdentityType, ...]] = {}
    for y, items in _get(doc, "identity_types", "", dict, {}).items():
        year = _year_key(y, "identity_types")
        if not isinstance(items, list) or not items:
            raise ConfigError(f"identity_types.{y}: expected a non-empty list of [[identity_types.{y}]] tables")
        by_year[year] = tuple(_identity_type(it, f"identity_types.{y}[{i}]") for i, it in enumerate(items))
    return {"identity_types": by_year}


def _parse_alert_rules(doc: dict, base: Settings) -> dict[str, Any]:
    if "alert_rules" not in doc:
        return {}  # the default rules R1 and R2 (SPEC §9); a file that sets any replaces them as a whole
    rules = doc["alert_rules"]
    if not isinstance(rules, list):
        raise ConfigError("alert_rules: expected a list of [[alert_rules]] tables")
    parsed = tuple(_alert_rule(r, f"alert_rules[{i}]") for i, r in enumerate(rules))
    if len({r.id for r in parsed}) != len(parsed):
        raise ConfigError("alert_rules: rule ids must be unique")
    return {"alert_rules": parsed}


def _parse_income(doc: dict, base: Settings) -> dict[str, Any]:
    incomes: dict[int, Income] = dict(base.incomes)  # SPEC §9's national figures unless the file sets a year
    for y, tbl in _get(doc, "income", "", dict, {}).items():
        year = _year_key(y, "income")
        if not isinstance(tbl, dict):
            raise ConfigError(f"income.{y}: expected a table with urban and rural")
        incomes[year] = Income(
            _amount_cents(_get(tbl, "urban", f"income.{y}", (int, float), required=True), f"income.{y}.urban"),
            _amount_cents(_get(tbl, "rural", f"income.{y}", (int, float), required=True), f"income.{y}.rural"),
        )
    return {"incomes": incomes}


def _parse_alerts(doc: dict, base: Settings) -> dict[str, Any]:
    alerts = _get(doc, "alerts", "", dict, {})
    kw: dict[str, Any] = {}
    if "cost_measure" in alerts:
        measure = alerts["cost_measure"]
        if measure not in ("个人负担", "政策范围内个人负担"):
            raise ConfigError(f"alerts.cost_measure: expected 个人负担 or 政策范围内个人负担, got {measure!r}")
        kw["cost_measure"] = measure
    for name in ("red_ratio", "orange_ratio"):
        if name in alerts:
            kw[name] = _fraction(alerts[name], f"alerts.{name}")
    if "watch_share" in alerts:
        share = _fraction(alerts["watch_share"], "alerts.watch_share")
        if share >= 1:
            raise ConfigError(f"alerts.watch_share: expected a share between 0 and 1, got {alerts['watch_share']!r}")
        kw["watch_share"] = share
    red, orange = kw.get("red_ratio", base.red_ratio), kw.get("orange_ratio", base.orange_ratio)
    if not 1 <= orange <= red:
        raise ConfigError("alerts.orange_ratio: must lie between 1 and alerts.red_ratio")
    return kw


def _parse_targets(doc: dict, base: Settings) -> dict[str, Any]:
    targets = _get(doc, "targets", "", dict, {})
    kw: dict[str, Any] = {}
    for name in ("overall", "vulnerable", "newborn"):
        if name in targets:
            value = _fraction(targets[name], f"targets.{name}")
            if value > 100:
                raise ConfigError(f"targets.{name}: a percentage must not exceed 100")
            kw[f"target_{name}"] = value
    return kw


def _parse_colours(doc: dict, base: Settings) -> dict[str, Any]:
    colours = _get(doc, "colours", "", dict, {})
    for k, v in colours.items():
        if not isinstance(v, str) or not (v.startswith("#") and len(v) in (4, 7)):
            raise ConfigError(f"colours.{k}: expected a hex colour like #d73027, got {v!r}")
    return {"colours": dict(colours)}


_SCHEDULE_KEYS: tuple[tuple[str, type], ...] = (
    ("data_dir", str),
    ("load_cron", str),
    ("watch_seconds", int),
    ("settle_seconds", int),
    ("misfire_grace_seconds", int),
    ("draft_cron", str),
    ("draft_department", str),
    ("timezone", str),
    ("lock_wait_seconds", int),
    ("audit_cron", str),
)


def _parse_schedule(doc: dict, base: Settings) -> dict[str, Any]:
    schedule = _get(doc, "schedule", "", dict, {})
    kw: dict[str, Any] = {}
    for key, kind in _SCHEDULE_KEYS:
        if key in schedule:
            value = _get(schedule, key, "schedule", kind)
            if kind is int and value < 0:
                raise ConfigError(f"schedule.{key}: expected 0 or more, got {value}")
            if key.endswith("_cron") and len(value.split()) != 5:
                raise ConfigError(
                    f"schedule.{key}: expected five crontab fields (minute hour day month weekday), got {value!r}"
                )
            kw[key] = value
    return kw


_SECURITY_COUNTS = (
    "session_timeout_minutes",
    "upload_max_mb",
    "upload_retention_days",
    "password_min_length",
    "password_max_age_days",
    "lockout_failures",
    "lockout_window_minutes",
    "lockout_minutes",
)


def _parse_security(doc: dict, base: Settings) -> dict[str, Any]:
    security = _get(doc, "security", "", dict, {})
    kw: dict[str, Any] = {}
    for key in _SECURITY_COUNTS:
        if key in security:
            value = _get(security, key, "security", int)
            if value < (0 if key == "password_max_age_days" else 1):
                raise ConfigError(f"security.{key}: expected 1 or more, got {value}")
            kw[key] = value
    for key in ("audit_key_file", "audit_checkpoint_file", "audit_syslog"):
        if key in security:
            kw[key] = _get(security, key, "security", str)
    if not kw.get("audit_key_file", base.audit_key_file):
        raise ConfigError("security.audit_key_file: the audit chain needs a key file")
    if "totp_for_everyone" in security:
        kw["totp_for_everyone"] = _get(security, "totp_for_everyone", "security", bool)
    if "audit_retention_days" in security:
        kw["audit_retention_days"] = _get(security, "audit_retention_days", "security", int)
        if kw["audit_retention_days"] < 180:
            raise ConfigError(
                f"security.audit_retention_days: audit entries must be kept at least 180 days, got "
                f"{kw['audit_retention_days']}"
            )
    return kw


_LIMITS = ("xlsx_max_uncompressed_mb", "xlsx_max_ratio", "max_columns", "max_line_kb")


def _parse_limits(doc: dict, base: Settings) -> dict[str, Any]:
    limits = _get(doc, "limits", "", dict, {})
    kw: dict[str, Any] = {}
    for key in limits:
        if key not in _LIMITS:
            raise ConfigError(f"limits.{key}: unknown key (known: {', '.join(_LIMITS)})")
        value = _get(limits, key, "limits", int)
        if value < 1:
            raise ConfigError(f"limits.{key}: expected 1 or more, got {value}")
        kw[key] = value
    return kw


ENGINE_KINDS = ("duckdb", "spark")
_ENGINE_KEYS = ("kind", "master", "lake", "memory_mb")


def _parse_engine(doc: dict, base: Settings) -> dict[str, Any]:
    engine = _get(doc, "engine", "", dict, {})
    kw: dict[str, Any] = {}
    for key in engine:
        if key not in _ENGINE_KEYS:
            raise ConfigError(f"engine.{key}: unknown key (known: {', '.join(_ENGINE_KEYS)})")
    if "kind" in engine:
        kind = _get(engine, "kind", "engine", str)
        if kind not in ENGINE_KINDS:
            raise ConfigError(f"engine.kind: expected one of {', '.join(ENGINE_KINDS)}, got {kind!r}")
        kw["engine_kind"] = kind
    if "master" in engine:
        master = _get(engine, "master", "engine", str).strip()
        if not master:
            raise ConfigError("engine.master: expected a Spark master URL (local[2], spark://host:7077, yarn)")
        kw["engine_master"] = master
    if "lake" in engine:
        kw["engine_lake"] = _get(engine, "lake", "engine", str)
    if "memory_mb" in engine:
        memory = _get(engine, "memory_mb", "engine", int)
        if memory < 256:
            raise ConfigError(f"engine.memory_mb: expected at least 256 (MiB), got {memory!r}")
        kw["engine_memory_mb"] = memory
    return kw


def _campaign_targets(campaign: dict) -> dict[str, int]:
    targets = _get(campaign, "targets", "campaign", dict, {})
    for code, persons in targets.items():
        if not (isinstance(code, str) and code.isdigit() and len(code) == 12):
            raise ConfigError(f"campaign.targets.{code}: expected a 12-digit division code")
        if isinstance(persons, bool) or not isinstance(persons, int) or persons < 0:
            raise ConfigError(f"campaign.targets.{code}: expected a number of persons, got {persons!r}")
    return dict(targets)


def _sms_template(campaign: dict) -> str:
    template = _get(campaign, "sms_template", "campaign", str)
    try:
        template.format(name="", year=0, end="", subsidy="")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"campaign.sms_template: unknown placeholder {exc} (use {{name}}, {{year}}, {{end}}, {{subsidy}})"
        ) from None
    return template


def _parse_campaign(doc: dict, base: Settings) -> dict[str, Any]:
    campaign = _get(doc, "campaign", "", dict, {})
    kw: dict[str, Any] = {}
    for key in ("start", "end"):
        if key in campaign:
            value = campaign[key]
            try:
                kw[f"campaign_{key}"] = _iso_date(value)
            except ValueError:
                raise ConfigError(f"campaign.{key}: expected YYYY-MM-DD, got {value!r}") from None
    if kw.get("campaign_end", base.campaign_end) < kw.get("campaign_start", base.campaign_start):
        raise ConfigError("campaign.end: the collection period ends before it starts")
    kw["campaign_targets"] = _campaign_targets(campaign)
    if "sms_template" in campaign:
        kw["sms_template"] = _sms_template(campaign)
    return kw


def _parse_workflow(doc: dict, base: Settings) -> dict[str, Any]:
    workflow = _get(doc, "workflow", "", dict, {})
    kw: dict[str, Any] = {}
    for key in ("verify_days", "help_days"):
        if key in workflow:
            days = _get(workflow, key, "workflow", int)
            if days < 0:
                raise ConfigError(f"workflow.{key}: expected 0 or more days, got {days}")
            kw[key] = days
    if "departments" not in workflow:
        return kw
    names = workflow["departments"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(f"workflow.departments: expected a non-empty list of department names, got {names!r}")
    return kw | {"departments": tuple(n.strip() for n in names)}


# The order in which sections are checked, and so which of several problems is reported.
_SECTIONS: tuple[Callable[[dict, Settings], dict[str, Any]], ...] = (
    _parse_region,
    _parse_run,
    _parse_database,
    _parse_engine,
    _parse_files,
    _parse_aliases,
    _parse_identity_types,
    _parse_alert_rules,
    _parse_income,
    _parse_alerts,
    _parse_targets,
    _parse_colours,
    _parse_schedule,
    _parse_security,
    _parse_limits,
    _parse_campaign,
    _parse_workflow,
)


# ---------------------------------------------------------------- entry points


def parse_settings(doc: dict) -> Settings:
    """Build Settings from a parsed TOML document; anything unusable raises ConfigError naming the key."""
    base = Settings()
    kw: dict[str, Any] = {}
    for parse_section in _SECTIONS:
        kw.update(parse_section(doc, base))
    return replace(base, **kw)


def load_settings(path: Path | str | None = None) -> Settings:
    """Read config.toml (or the given file) into Settings."""
    path = Path(path) if path else DEFAULT_CONFIG_PATH
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_settings(doc)
