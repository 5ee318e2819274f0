"""The typed settings: frozen dataclasses with a default and a help text per setting, and the paths derived from them.

Parsing config.toml into these is in monitor.config.parse; the generated settings document in monitor.config.docs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # monitor/config/settings.py -> the repository root
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
    """One high-cost rule of SPEC §9: whom it applies to, what it measures, and its threshold."""

    id: str
    name: str
    alert_type: str  # a label only: an alert's 预警类型 follows the person's identity (SPEC §9)
    applies_to: str | tuple[str, ...]  # "vulnerable" (an identity active at A), "everyone", or identity types
    threshold_cents: int | None  # a fixed threshold, or
    income_share: Fraction | None  # a share of the previous year's disposable income
    residence: str = "any"  # "rural" or "urban" by the village's 城乡分类代码 (unknown counts as rural), or "any"
    basis: str = "year"  # "year": the person-year sum; "stay": the largest single settlement of visit_types
    visit_types: tuple[str, ...] = ("住院",)  # what counts as a stay (stay rules only)


# The canonical values of SPEC §3 and §10 with the shipped aliases: a config that omits a group keeps these.
DEFAULT_VALUE_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "scheme": {
        "职工": ("职工基本医疗保险", "城镇职工基本医疗保险", "职工医保"),
        "居民": ("城乡居民基本医疗保险", "城乡居民医保", "居民医保"),
    },
    "enrollment_status": {"正常参保": ("参保缴费", "在保", "正常"), "暂停参保": (), "终止参保": ()},
    "person_status": {"正常": (), "死亡": (), "迁出": (), "服兵役": (), "其他": ()},
    "visit_type": {
        "住院": (),
        "普通门诊": ("门诊",),
        "门诊慢特病": ("门诊慢特殊病", "门诊特殊病", "门诊慢性病"),
        "药店购药": ("定点药店购药",),
        "其他": (),
    },
    "feedback_result": {
        "纳入监测": ("已纳入监测",),
        "已落实救助": ("落实救助", "已救助"),
        "不符合条件": ("不符合",),
        "无法联系": ("联系不上",),
    },
    "help_measure": {"医疗救助": (), "临时救助": (), "大病保险倾斜": (), "慈善救助": (), "其他": ()},
}

# SPEC §9's defaults, also shipped in config.toml: a config without [[alert_rules]] or [income.*] keeps them.
DEFAULT_RULES = (
    AlertRule("R1", "返贫预警", "返贫预警", "vulnerable", 1_000_000, None),
    AlertRule("R2", "致贫预警", "致贫预警", "everyone", None, Fraction(1, 2)),
)


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
    region_code: str = _h(
        "12-digit 统计用区划代码 of the deployment's root (a county, or a city for a city bureau).", "990101000000"
    )
    year: int = _h("Monitoring year Y (监测年度) when the command line gives none.", 2025)
    as_of: date | None = _h("统计截止日 A inside Y; blank means Y-12-31.", None)
    database_url: str = _h(
        "SQLAlchemy URL of the database; a relative sqlite path is under the project root.", "sqlite:///data/monitor.db"
    )
    boundary_code_property: str = _h("Name of the property holding the division code in boundary files.", "code")
    boundary_simplify_metres: float = _h(
        "Boundaries are simplified for display to this tolerance in metres (0 keeps every vertex).", 30.0
    )
    file_prefixes: dict[str, str] = _h(
        "File-name prefix of each source in a load folder.", factory=lambda: {s: s for s in SOURCES}
    )
    header_aliases: dict[str, dict[str, tuple[str, ...]]] = _h(
        "Other headers accepted for a canonical header: 'all' applies to every source, a source key to that source.",
        factory=dict,
    )
    value_aliases: dict[str, dict[str, tuple[str, ...]]] = _h(
        "Accepted values of each enumeration and their aliases (scheme, enrollment_status, person_status, visit_type, "
        "feedback_result, help_measure); a group the file does not set keeps SPEC's values.",
        factory=lambda: dict(DEFAULT_VALUE_ALIASES),
    )
    identity_types: dict[int, tuple[IdentityType, ...]] = _h(
        "Vulnerable identity types per year, in priority order; a year without a list uses the latest earlier year's.",
        factory=dict,
    )
    alert_rules: tuple[AlertRule, ...] = _h(
        "High-cost alert rules (§9) in priority order: id, name, alert type, applies_to, residence, basis "
        "(year or stay), visit_types, threshold; a config that sets [[alert_rules]] replaces R1 and R2 as a whole.",
        factory=lambda: DEFAULT_RULES,
    )
    incomes: dict[int, Income] = _h(
        "Per-capita disposable income of residents per year, urban and rural, in yuan.",
        factory=lambda: {2023: Income(5_182_100, 2_169_100), 2024: Income(5_418_800, 2_311_900)},
    )
    watch_share: Fraction = _h(
        "Watch list (临界关注): a person not alerted whose measure reaches this share of a rule's threshold.",
        Fraction(4, 5),
    )
    cost_measure: str = _h("Cost measure of alerts: 个人负担 (total − every fund) or 政策范围内个人负担.", "个人负担")
    red_ratio: Fraction = _h("An alert is 红 when oop / threshold reaches this ratio.", Fraction(2))
    orange_ratio: Fraction = _h("An alert is 橙 when oop / threshold reaches this ratio (else 黄).", Fraction(3, 2))
    target_overall: Fraction = _h("Coverage target for everyone, in percent.", Fraction(95))
    target_vulnerable: Fraction = _h("Coverage target for vulnerable persons, in percent.", Fraction(99))
    target_newborn: Fraction = _h("Coverage target for newborns, in percent.", Fraction(95))
    colours: dict[str, str] = _h("Colours of map bands and alert levels (hex).", factory=dict)
    data_dir: str = _h(
        "Folder of inbox/, archive/, failed/ and uploads/; a relative path is under the project root.", "data"
    )
    engine_kind: str = _h(
        "Engine that runs the set-based rules over the lake: duckdb (in process) or spark (a Spark cluster, or "
        "Spark in local mode; needs Java 17 and the spark extra).",
        "duckdb",
    )
    engine_master: str = _h(
        "Spark master URL, when engine_kind is spark: local[N] (in this process, N cores), spark://host:7077 (a "
        "standalone cluster) or yarn. Not used by duckdb.",
        "local[2]",
    )
    engine_lake: str = _h(
        "Folder of the lake (the Parquet files of the register, enrollment, identity and death snapshots and of the "
        "settlements), one subfolder per database. Blank: beside a SQLite database file (<file>.lake), else lake/ "
        "in the data folder. A relative path is under the data folder; the environment variable MONITOR_LAKE, when "
        "set, takes precedence.",
        "",
    )
    engine_memory_mb: int = _h(
        "Memory in MiB that DuckDB may hold for a load's rules; beyond it, it spills to a folder of its own under "
        "duckdb/ in the data folder (the service's only, removed when the load's connection closes). Without a "
        "limit DuckDB keeps what its joins used, which grows with the register (2.4 GiB for the in-scope persons "
        "of 5 M residents). Not used by spark.",
        1536,
    )
    load_cron: str = _h("When the scheduler loads the inbox (crontab: minute hour day month weekday).", "0 2 * * *")
    watch_seconds: int = _h("How often the scheduler looks into the inbox for new files, in seconds.", 60)
    settle_seconds: int = _h("A file is loaded once it has not changed for this many seconds (still being copied).", 30)
    misfire_grace_seconds: int = _h(
        "A job missed (server down) still runs if it is late by at most this many seconds.", 3600
    )
    draft_cron: str = _h("When the scheduler prepares the month's draft push batch (crontab).", "0 6 1 * *")
    draft_department: str = _h("Receiving department of the monthly draft batch.", "民政")
    timezone: str = _h("Time zone of the schedule.", "Asia/Shanghai")
    lock_wait_seconds: int = _h("How long a scheduled load waits for another load to finish before giving up.", 1800)
    session_timeout_minutes: int = _h("A signed-in session ends after this many minutes without a click.", 15)
    password_min_length: int = _h(
        "Shortest password accepted (it also needs three of: upper case, lower case, "
        "digits, other characters, and may not contain the user name).",
        10,
    )
    password_max_age_days: int = _h("A password older than this must be changed at sign-in (0: never).", 90)
    lockout_failures: int = _h("Failed sign-ins within lockout_window_minutes that lock a user name.", 5)
    lockout_window_minutes: int = _h("The window in which failed sign-ins are counted.", 15)
    lockout_minutes: int = _h("How long a user name stays locked (an administrator can unlock it sooner).", 30)
    totp_for_everyone: bool = _h(
        "Ask every role for the authenticator code at sign-in, not only the three administrators (who always need it).",
        False,
    )
    audit_retention_days: int = _h(
        "Audit entries stay in the database at least this many days (180 or more); older "
        "ones are archived to files under data/audit_archive/.",
        180,
    )
    audit_cron: str = _h(
        "When the scheduler archives old audit entries and verifies the audit chain (crontab).", "30 3 * * *"
    )
    upload_max_mb: int = _h("Largest file the data page accepts, in MB (also set server.maxUploadSize).", 2048)
    upload_retention_days: int = _h(
        "Uploaded files are kept (archived like the inbox's) this many days, then removed.", 90
    )
    audit_key_file: str = _h(
        "File holding the secret that keys the audit chain (HMAC), outside the database and readable by the service "
        "only; created on first use. A relative path is under the data folder.",
        "audit.key",
    )
    audit_checkpoint_file: str = _h(
        "Where the audit chain's checkpoints (count and head) are appended, outside the database; a relative path is "
        "under the data folder.",
        "audit_checkpoints.jsonl",
    )
    audit_syslog: str = _h(
        "Also send audit entries and checkpoints to syslog (RFC 5424): host:port (UDP) or a Unix socket path; blank: "
        "off.",
        "",
    )
    xlsx_max_uncompressed_mb: int = _h("An xlsx whose parts unpack to more than this many MB is refused unread.", 1024)
    xlsx_max_ratio: int = _h("An xlsx part compressed more than this many times (a zip bomb) is refused unread.", 100)
    max_columns: int = _h("A file whose header row has more cells than this is refused at once.", 500)
    max_line_kb: int = _h("A CSV line longer than this many KB is refused at once (naming its row).", 1024)
    campaign_start: date = _h(
        "First day of the collection period (集中参保缴费期) for next year's resident insurance.", date(2025, 9, 1)
    )
    campaign_end: date = _h(
        "Last day of the collection period; the target year is the year after the start's.", date(2025, 12, 31)
    )
    campaign_targets: dict[str, int] = _h(
        "Target persons per division code for the collection period (default: in-scope persons × overall target).",
        factory=dict,
    )
    sms_template: str = _h(
        "Reminder text; {name}, {year} (target year), {end} (last day) and {subsidy} are filled in.",
        "【医保局】{name}您好，{year}年度城乡居民医保集中缴费将于{end}截止，{subsidy}请尽快缴费参保。",
    )
    departments: tuple[str, ...] = _h(
        "Departments an alert batch can be pushed to (民政, 乡村振兴, …).", factory=lambda: ("民政", "乡村振兴")
    )
    verify_days: int = _h("Deadline of a pushed alert's verification: 核实日期 ≤ push date + this many days (§10).", 15)
    help_days: int = _h(
        "Deadline of the first help measure: ≤ 核实日期 + this many days after 纳入监测 or 已落实救助 (§10).", 30
    )
    max_shrink: Fraction = _h(
        "A snapshot (register, enrollment, identities) with more than this share fewer distinct ID numbers than the "
        "stored one (of 1,000 or more) is held, not applied, unless the run accepts it (--accept-shrink).",
        Fraction(1, 5),
    )

    def identity_types_for(self, year: int) -> tuple[IdentityType, ...]:
        """The identity list in force for a year: its own, or the latest earlier year's (copied forward)."""
        earlier = [y for y in self.identity_types if y <= year]
        if not earlier:
            raise ConfigError(f"identity_types.{year}: no identity type list configured for {year} or earlier")
        return self.identity_types[max(earlier)]

    def income_for(self, year: int) -> Income:
        if year not in self.incomes:
            raise ConfigError(
                f"income.{year}: per-capita disposable income of {year} is not configured "
                f"(needed by an alert rule's threshold)"
            )
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


def database_url(settings: Settings, override: str | None = None) -> str:
    """The database URL with a relative SQLite path anchored at the project root."""
    url = override or settings.database_url
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        target = PROJECT_ROOT / url[len(prefix) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        return prefix + str(target)
    return url
