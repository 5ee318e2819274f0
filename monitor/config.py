"""Typed settings loaded once from config.toml; every setting has a default and a help text."""

from __future__ import annotations

import tomllib
from dataclasses import MISSING, dataclass, field, fields, replace
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

from monitor.text import fold_width

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config.toml"

SOURCES = ("divisions", "population", "deaths", "enrollment", "identities", "settlements", "boundaries")


class ConfigError(ValueError):
    """A config value that cannot be used; the message names the key."""


@dataclass(frozen=True)
class IdentityType:
    name: str
    aliases: tuple[str, ...]
    assistance_class: int | None  # 1 is the highest; None = no medical-assistance class
    subsidy: str  # "full", "fixed" or "none"
    subsidy_cents: int | None  # set when subsidy == "fixed"


@dataclass(frozen=True)
class AlertRule:
    id: str
    name: str
    alert_type: str
    applies_to: str  # "vulnerable" (active identity at as_of) or "everyone"
    threshold_cents: int | None  # a fixed threshold, or
    income_share: Fraction | None  # a share of the previous year's disposable income


@dataclass(frozen=True)
class Income:
    urban_cents: int
    rural_cents: int


def _h(help_text: str, default: Any = None, factory: Any = None) -> Any:
    meta = {"help": help_text}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    region_code: str = _h("12-digit 统计用区划代码 of the deployment's root (a county, or a city for a city bureau).",
                          "990101000000")
    year: int = _h("Monitoring year Y (监测年度) when the command line gives none.", 2025)
    as_of: date | None = _h("统计截止日 A inside Y; blank means Y-12-31.", None)
    database_url: str = _h("SQLAlchemy URL of the database; a relative sqlite path is under the project root.",
                           "sqlite:///data/monitor.db")
    boundary_code_property: str = _h("Name of the property holding the division code in boundary files.", "code")
    boundary_simplify_metres: float = _h(
        "Boundaries are simplified for display to this tolerance in metres (0 keeps every vertex).", 30.0)
    file_prefixes: dict[str, str] = _h("File-name prefix of each source in a load folder.",
                                       factory=lambda: {s: s for s in SOURCES})
    header_aliases: dict[str, dict[str, tuple[str, ...]]] = _h(
        "Other headers accepted for a canonical header: 'all' applies to every source, a source key to that source.",
        factory=dict)
    value_aliases: dict[str, dict[str, tuple[str, ...]]] = _h(
        "Accepted values of each enumeration and their aliases (scheme, enrollment_status, person_status, visit_type).",
        factory=dict)
    identity_types: dict[int, tuple[IdentityType, ...]] = _h(
        "Vulnerable identity types per year, in priority order; a year without a list uses the latest earlier year's.",
        factory=dict)
    alert_rules: tuple[AlertRule, ...] = _h("High-cost alert rules (§9): id, name, alert type, who, threshold.",
                                            factory=tuple)
    incomes: dict[int, Income] = _h("Per-capita disposable income of residents per year, urban and rural, in yuan.",
                                    factory=dict)
    cost_measure: str = _h("Cost measure of alerts: 个人负担 (total − every fund) or 政策范围内个人负担.", "个人负担")
    red_ratio: Fraction = _h("An alert is 红 when oop / threshold reaches this ratio.", Fraction(2))
    orange_ratio: Fraction = _h("An alert is 橙 when oop / threshold reaches this ratio (else 黄).", Fraction(3, 2))
    target_overall: Fraction = _h("Coverage target for everyone, in percent.", Fraction(95))
    target_vulnerable: Fraction = _h("Coverage target for vulnerable persons, in percent.", Fraction(99))
    target_newborn: Fraction = _h("Coverage target for newborns, in percent.", Fraction(95))
    colours: dict[str, str] = _h("Colours of map bands and alert levels (hex).", factory=dict)
    data_dir: str = _h("Folder of inbox/, archive/, failed/ and uploads/; a relative path is under the project root.",
                       "data")
    load_cron: str = _h("When the scheduler loads the inbox (crontab: minute hour day month weekday).", "0 2 * * *")
    watch_seconds: int = _h("How often the scheduler looks into the inbox for new files, in seconds.", 60)
    settle_seconds: int = _h("A file is loaded once it has not changed for this many seconds (still being copied).",
                             30)
    misfire_grace_seconds: int = _h("A job missed (server down) still runs if it is late by at most this many seconds.",
                                    3600)
    draft_cron: str = _h("When the scheduler prepares the month's draft push batch (crontab).", "0 6 1 * *")
    draft_department: str = _h("Receiving department of the monthly draft batch.", "民政")
    timezone: str = _h("Time zone of the schedule.", "Asia/Shanghai")
    lock_wait_seconds: int = _h("How long a scheduled load waits for another load to finish before giving up.", 1800)
    session_timeout_minutes: int = _h("A signed-in session ends after this many minutes without a click.", 15)
    password_min_length: int = _h("Shortest password accepted (it also needs three of: upper case, lower case, "
                                  "digits, other characters, and may not contain the user name).", 10)
    password_max_age_days: int = _h("A password older than this must be changed at sign-in (0: never).", 90)
    lockout_failures: int = _h("Failed sign-ins within lockout_window_minutes that lock a user name.", 5)
    lockout_window_minutes: int = _h("The window in which failed sign-ins are counted.", 15)
    lockout_minutes: int = _h("How long a user name stays locked (an administrator can unlock it sooner).", 30)
    totp_for_everyone: bool = _h("Ask every role for the authenticator code at sign-in, not only the three "
                                 "administrators (who always need it).", False)
    audit_retention_days: int = _h("Audit entries stay in the database at least this many days (180 or more); older "
                                   "ones are archived to files under data/audit_archive/.", 180)
    audit_cron: str = _h("When the scheduler archives old audit entries and verifies the audit chain (crontab).",
                         "30 3 * * *")
    upload_max_mb: int = _h("Largest file the data page accepts, in MB (also set server.maxUploadSize).", 2048)
    campaign_start: date = _h("First day of the collection period (集中参保缴费期) for next year's resident insurance.",
                              date(2025, 9, 1))
    campaign_end: date = _h("Last day of the collection period; the target year is the year after the start's.",
                            date(2025, 12, 31))
    campaign_targets: dict[str, int] = _h(
        "Target persons per division code for the collection period (default: in-scope persons × overall target).",
        factory=dict)
    sms_template: str = _h("Reminder text; {name}, {year} (target year), {end} (last day) and {subsidy} are filled in.",
                           "【医保局】{name}您好，{year}年度城乡居民医保集中缴费将于{end}截止，{subsidy}请尽快缴费参保。")
    departments: tuple[str, ...] = _h("Departments an alert batch can be pushed to (民政, 乡村振兴, …).",
                                      factory=lambda: ("民政", "乡村振兴"))

    def identity_types_for(self, year: int) -> tuple[IdentityType, ...]:
        """The identity list in force for a year: its own, or the latest earlier year's (copied forward)."""
        earlier = [y for y in self.identity_types if y <= year]
        if not earlier:
            raise ConfigError(f"identity_types.{year}: no identity type list configured for {year} or earlier")
        return self.identity_types[max(earlier)]

    def income_for(self, year: int) -> Income:
        if year not in self.incomes:
            raise ConfigError(f"income.{year}: per-capita disposable income of {year} is not configured "
                              f"(needed by an alert rule's threshold)")
        return self.incomes[year]

    def resolve_as_of(self, year: int, as_of: date | None = None) -> date:
        chosen = as_of or (self.as_of if self.as_of and self.as_of.year == year else None) or date(year, 12, 31)
        if chosen.year != year:
            raise ConfigError(f"as_of: {chosen.isoformat()} does not lie in the monitoring year {year}")
        return chosen


def data_path(settings: Settings) -> Path:
    """The data folder, anchored at the project root when relative."""
    path = Path(settings.data_dir)
    return path if path.is_absolute() else PROJECT_ROOT / path


def audit_archive_path(settings: Settings) -> Path:
    """Where audit entries past the retention time are archived."""
    return data_path(settings) / "audit_archive"


def settings_markdown() -> str:
    """docs/configuration.md: every setting with its default and help text (a test keeps the file current)."""
    lines = ["# Settings", "", "Generated from `monitor/config.py` (`python -c \"from monitor.config import "
             "settings_markdown; print(settings_markdown(), end='')\" > docs/configuration.md`). The values",
             "shipped in `config.toml` are the defaults of SPEC §6 and §9; a bad value stops the program with a "
             "message naming its key.", "", "| setting | default | what it does |", "| --- | --- | --- |"]
    for f in fields(Settings):
        default = f.default if f.default is not MISSING else (f.default_factory() if f.default_factory is not MISSING
                                                              else "")
        shown = "" if default in ({}, (), None) else str(default).replace("|", "\\|")
        lines.append(f"| `{f.name}` | {shown} | {f.metadata.get('help', '')} |")
    return "\n".join(lines) + "\n"


def setting_help() -> dict[str, str]:
    """Every setting's help text, for docs and the meta-test that none is missing."""
    return {f.name: f.metadata.get("help", "") for f in fields(Settings)}


# ---------------------------------------------------------------- parsing

def _get(table: dict, key: str, path: str, kind: type | tuple, default: Any = None, required: bool = False) -> Any:
    if key not in table:
        if required:
            raise ConfigError(f"{path}.{key}: missing")
        return default
    value = table[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(f"{path}.{key}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _amount_cents(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{key}: expected a non-negative amount in yuan, got {value!r}")
    return int((Fraction(str(value)) * 100).limit_denominator(1) if isinstance(value, float) else value * 100)


def _fraction(value: Any, key: str, positive: bool = True) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (positive and value <= 0):
        raise ConfigError(f"{key}: expected a positive number, got {value!r}")
    return Fraction(str(value))


def _str_list(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
    return tuple(fold_width(v).strip() for v in value)


def _alias_tables(raw: Any, key: str) -> dict[str, dict[str, tuple[str, ...]]]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{key}: expected a table")
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for group, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{key}.{group}: expected a table of canonical name = [aliases]")
        out[group] = {fold_width(canon).strip(): _str_list(aliases, f"{key}.{group}.{canon}")
                      for canon, aliases in table.items()}
    return out


def _identity_type(raw: Any, key: str) -> IdentityType:
    if not isinstance(raw, dict):
        raise ConfigError(f"{key}: expected a table")
    name = _get(raw, "name", key, str, required=True)
    cls = raw.get("assistance_class", "none")
    if cls == "none":
        cls = None
    elif isinstance(cls, bool) or not isinstance(cls, int) or cls < 1:
        raise ConfigError(f"{key}.assistance_class: expected 1, 2, 3, … or \"none\", got {cls!r}")
    subsidy = raw.get("subsidy", "none")
    if subsidy in ("full", "none"):
        kind, cents = subsidy, None
    elif isinstance(subsidy, (int, float)) and not isinstance(subsidy, bool):
        kind, cents = "fixed", _amount_cents(subsidy, f"{key}.subsidy")
    else:
        raise ConfigError(f"{key}.subsidy: expected \"full\", \"none\" or a fixed amount in yuan, got {subsidy!r}")
    return IdentityType(fold_width(name).strip(), _str_list(raw.get("aliases", []), f"{key}.aliases"),
                        cls, kind, cents)


def _alert_rule(raw: Any, key: str) -> AlertRule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{key}: expected a table")
    applies = _get(raw, "applies_to", key, str, required=True)
    if applies not in ("vulnerable", "everyone"):
        raise ConfigError(f"{key}.applies_to: expected \"vulnerable\" or \"everyone\", got {applies!r}")
    has_fixed, has_share = "threshold_yuan" in raw, "income_share" in raw
    if has_fixed == has_share:
        raise ConfigError(f"{key}: give exactly one of threshold_yuan or income_share")
    return AlertRule(
        id=_get(raw, "id", key, str, required=True),
        name=_get(raw, "name", key, str, required=True),
        alert_type=_get(raw, "alert_type", key, str, required=True),
        applies_to=applies,
        threshold_cents=_amount_cents(raw["threshold_yuan"], f"{key}.threshold_yuan") if has_fixed else None,
        income_share=_fraction(raw["income_share"], f"{key}.income_share") if has_share else None,
    )


def _year_key(k: str, key: str) -> int:
    if not str(k).isdigit() or len(str(k)) != 4:
        raise ConfigError(f"{key}.{k}: expected a four-digit year")
    return int(k)


def _region(code: Any, key: str) -> str:
    if not isinstance(code, str) or not code.isdigit() or len(code) not in (6, 12):
        raise ConfigError(f"{key}: expected a 6- or 12-digit division code, got {code!r}")
    return code.ljust(12, "0")


def parse_settings(doc: dict) -> Settings:
    """Build Settings from a parsed TOML document; anything unusable raises ConfigError naming the key."""
    base = Settings()
    kw: dict[str, Any] = {}
    region = _get(doc, "region", "", dict, {})
    if "code" in region:
        kw["region_code"] = _region(region["code"], "region.code")
    if "boundary_code_property" in region:
        kw["boundary_code_property"] = _get(region, "boundary_code_property", "region", str)
    if "boundary_simplify_metres" in region:
        metres = _get(region, "boundary_simplify_metres", "region", (int, float))
        if metres < 0:
            raise ConfigError(f"region.boundary_simplify_metres: expected 0 or more, got {metres}")
        kw["boundary_simplify_metres"] = float(metres)
    run = _get(doc, "run", "", dict, {})
    if "year" in run:
        year = _get(run, "year", "run", int)
        if not 2000 <= year <= 2100:
            raise ConfigError(f"run.year: expected a year in 2000–2100, got {year}")
        kw["year"] = year
    as_of = run.get("as_of", "")
    if as_of not in ("", None):
        if isinstance(as_of, date):
            kw["as_of"] = as_of
        else:
            try:
                kw["as_of"] = date.fromisoformat(str(as_of))
            except ValueError:
                raise ConfigError(f"run.as_of: expected YYYY-MM-DD or blank, got {as_of!r}") from None
    db = _get(doc, "database", "", dict, {})
    if "url" in db:
        kw["database_url"] = _get(db, "url", "database", str)
    files = _get(doc, "files", "", dict, {})
    prefixes = dict(base.file_prefixes)
    for src, prefix in files.items():
        if src not in SOURCES:
            raise ConfigError(f"files.{src}: unknown source (known: {', '.join(SOURCES)})")
        if not isinstance(prefix, str) or not prefix:
            raise ConfigError(f"files.{src}: expected a non-empty file-name prefix")
        prefixes[src] = prefix
    kw["file_prefixes"] = prefixes
    kw["header_aliases"] = _alias_tables(doc.get("header_aliases", {}), "header_aliases")
    kw["value_aliases"] = _alias_tables(doc.get("value_aliases", {}), "value_aliases")
    id_types = _get(doc, "identity_types", "", dict, {})
    kw["identity_types"] = {}
    for y, items in id_types.items():
        year = _year_key(y, "identity_types")
        if not isinstance(items, list) or not items:
            raise ConfigError(f"identity_types.{y}: expected a non-empty list of [[identity_types.{y}]] tables")
        kw["identity_types"][year] = tuple(_identity_type(it, f"identity_types.{y}[{i}]") for i, it in enumerate(items))
    rules = doc.get("alert_rules", [])
    if not isinstance(rules, list):
        raise ConfigError("alert_rules: expected a list of [[alert_rules]] tables")
    kw["alert_rules"] = tuple(_alert_rule(r, f"alert_rules[{i}]") for i, r in enumerate(rules))
    if len({r.id for r in kw["alert_rules"]}) != len(kw["alert_rules"]):
        raise ConfigError("alert_rules: rule ids must be unique")
    kw["incomes"] = {}
    for y, tbl in _get(doc, "income", "", dict, {}).items():
        year = _year_key(y, "income")
        if not isinstance(tbl, dict):
            raise ConfigError(f"income.{y}: expected a table with urban and rural")
        kw["incomes"][year] = Income(
            _amount_cents(_get(tbl, "urban", f"income.{y}", (int, float), required=True), f"income.{y}.urban"),
            _amount_cents(_get(tbl, "rural", f"income.{y}", (int, float), required=True), f"income.{y}.rural"))
    alerts = _get(doc, "alerts", "", dict, {})
    if "cost_measure" in alerts:
        measure = alerts["cost_measure"]
        if measure not in ("个人负担", "政策范围内个人负担"):
            raise ConfigError(f"alerts.cost_measure: expected 个人负担 or 政策范围内个人负担, got {measure!r}")
        kw["cost_measure"] = measure
    for name in ("red_ratio", "orange_ratio"):
        if name in alerts:
            kw[name] = _fraction(alerts[name], f"alerts.{name}")
    red, orange = kw.get("red_ratio", base.red_ratio), kw.get("orange_ratio", base.orange_ratio)
    if not 1 <= orange <= red:
        raise ConfigError("alerts.orange_ratio: must lie between 1 and alerts.red_ratio")
    targets = _get(doc, "targets", "", dict, {})
    for name in ("overall", "vulnerable", "newborn"):
        if name in targets:
            value = _fraction(targets[name], f"targets.{name}")
            if value > 100:
                raise ConfigError(f"targets.{name}: a percentage must not exceed 100")
            kw[f"target_{name}"] = value
    colours = _get(doc, "colours", "", dict, {})
    for k, v in colours.items():
        if not isinstance(v, str) or not (v.startswith("#") and len(v) in (4, 7)):
            raise ConfigError(f"colours.{k}: expected a hex colour like #d73027, got {v!r}")
    kw["colours"] = dict(colours)
    schedule = _get(doc, "schedule", "", dict, {})
    for key, kind in (("data_dir", str), ("load_cron", str), ("watch_seconds", int), ("settle_seconds", int),
                      ("misfire_grace_seconds", int), ("draft_cron", str), ("draft_department", str),
                      ("timezone", str), ("lock_wait_seconds", int), ("audit_cron", str)):
        if key in schedule:
            value = _get(schedule, key, "schedule", kind)
            if kind is int and value < 0:
                raise ConfigError(f"schedule.{key}: expected 0 or more, got {value}")
            if key.endswith("_cron") and len(value.split()) != 5:
                raise ConfigError(f"schedule.{key}: expected five crontab fields (minute hour day month weekday), "
                                  f"got {value!r}")
            kw[key] = value
    security = _get(doc, "security", "", dict, {})
    for key in ("session_timeout_minutes", "upload_max_mb", "password_min_length", "password_max_age_days",
                "lockout_failures", "lockout_window_minutes", "lockout_minutes"):
        if key in security:
            value = _get(security, key, "security", int)
            if value < (0 if key == "password_max_age_days" else 1):
                raise ConfigError(f"security.{key}: expected 1 or more, got {value}")
            kw[key] = value
    if "totp_for_everyone" in security:
        kw["totp_for_everyone"] = _get(security, "totp_for_everyone", "security", bool)
    if "audit_retention_days" in security:
        kw["audit_retention_days"] = _get(security, "audit_retention_days", "security", int)
        if kw["audit_retention_days"] < 180:
            raise ConfigError(f"security.audit_retention_days: audit entries must be kept at least 180 days, got "
                              f"{kw['audit_retention_days']}")
    campaign = _get(doc, "campaign", "", dict, {})
    for key in ("start", "end"):
        if key in campaign:
            value = campaign[key]
            try:
                kw[f"campaign_{key}"] = value if isinstance(value, date) else date.fromisoformat(str(value))
            except ValueError:
                raise ConfigError(f"campaign.{key}: expected YYYY-MM-DD, got {value!r}") from None
    if kw.get("campaign_end", base.campaign_end) < kw.get("campaign_start", base.campaign_start):
        raise ConfigError("campaign.end: the collection period ends before it starts")
    targets = _get(campaign, "targets", "campaign", dict, {})
    for code, persons in targets.items():
        if not (isinstance(code, str) and code.isdigit() and len(code) == 12):
            raise ConfigError(f"campaign.targets.{code}: expected a 12-digit division code")
        if isinstance(persons, bool) or not isinstance(persons, int) or persons < 0:
            raise ConfigError(f"campaign.targets.{code}: expected a number of persons, got {persons!r}")
    kw["campaign_targets"] = dict(targets)
    if "sms_template" in campaign:
        template = _get(campaign, "sms_template", "campaign", str)
        try:
            template.format(name="", year=0, end="", subsidy="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"campaign.sms_template: unknown placeholder {exc} (use {{name}}, {{year}}, {{end}}, "
                              f"{{subsidy}})") from None
        kw["sms_template"] = template
    workflow = _get(doc, "workflow", "", dict, {})
    if "departments" in workflow:
        names = workflow["departments"]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
            raise ConfigError(f"workflow.departments: expected a non-empty list of department names, got {names!r}")
        kw["departments"] = tuple(n.strip() for n in names)
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


def database_url(settings: Settings, override: str | None = None) -> str:
    """The database URL with a relative SQLite path anchored at the project root."""
    url = override or settings.database_url
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        target = PROJECT_ROOT / url[len(prefix):]
        target.parent.mkdir(parents=True, exist_ok=True)
        return prefix + str(target)
    return url
