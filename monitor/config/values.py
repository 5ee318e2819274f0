"""Checkers of single config values and of the items of list sections; each names the bad key in its ConfigError."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any

from monitor.base.text import fold_width
from monitor.config.settings import AlertRule, ConfigError, IdentityType


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
        out[group] = {
            fold_width(canon).strip(): _str_list(aliases, f"{key}.{group}.{canon}") for canon, aliases in table.items()
        }
    return out


def _identity_type(raw: Any, key: str) -> IdentityType:
    if not isinstance(raw, dict):
        raise ConfigError(f"{key}: expected a table")
    name = _get(raw, "name", key, str, required=True)
    cls = raw.get("assistance_class", "none")
    if cls == "none":
        cls = None
    elif isinstance(cls, bool) or not isinstance(cls, int) or cls < 1:
        raise ConfigError(f'{key}.assistance_class: expected 1, 2, 3, … or "none", got {cls!r}')
    subsidy = raw.get("subsidy", "none")
    if subsidy in ("full", "none"):
        kind, cents = subsidy, None
    elif isinstance(subsidy, (int, float)) and not isinstance(subsidy, bool):
        kind, cents = "fixed", _amount_cents(subsidy, f"{key}.subsidy")
    else:
        raise ConfigError(f'{key}.subsidy: expected "full", "none" or a fixed amount in yuan, got {subsidy!r}')
    return IdentityType(fold_width(name).strip(), _str_list(raw.get("aliases", []), f"{key}.aliases"), cls, kind, cents)


RULE_KEYS = (
    "id",
    "name",
    "alert_type",
    "applies_to",
    "residence",
    "basis",
    "visit_types",
    "threshold_yuan",
    "income_share",
)


def _applies_to(raw: dict, key: str) -> str | tuple[str, ...]:
    """ "vulnerable", "everyone", or a non-empty list of identity type names (checked against the year's types when a
    run starts: the list of types is per year)."""
    if "applies_to" not in raw:
        raise ConfigError(f"{key}.applies_to: missing")
    applies = raw["applies_to"]
    if isinstance(applies, str):
        if applies not in ("vulnerable", "everyone"):
            raise ConfigError(
                f'{key}.applies_to: expected "vulnerable", "everyone" or a list of identity types, got {applies!r}'
            )
        return applies
    types = _str_list(applies, f"{key}.applies_to")
    if not types or not all(types):
        raise ConfigError(f"{key}.applies_to: expected at least one identity type, got {applies!r}")
    return types


def _alert_rule(raw: Any, key: str) -> AlertRule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{key}: expected a table")
    unknown = [k for k in raw if k not in RULE_KEYS]
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}: unknown key (known: {', '.join(RULE_KEYS)})")
    rule_id = _get(raw, "id", key, str, required=True)
    if not rule_id.strip():
        raise ConfigError(f"{key}.id: expected a non-empty rule id")
    applies = _applies_to(raw, key)
    residence = _get(raw, "residence", key, str, "any")
    if residence not in ("rural", "urban", "any"):
        raise ConfigError(f'{key}.residence: expected "rural", "urban" or "any", got {residence!r}')
    basis = _get(raw, "basis", key, str, "year")
    if basis not in ("year", "stay"):
        raise ConfigError(f'{key}.basis: expected "year" or "stay", got {basis!r}')
    if "visit_types" in raw and basis != "stay":
        raise ConfigError(f'{key}.visit_types: only a stay rule (basis = "stay") has visit types')
    visit_types = _str_list(raw.get("visit_types", ["住院"]), f"{key}.visit_types")
    if not visit_types or not all(visit_types):
        raise ConfigError(f"{key}.visit_types: expected at least one visit type, got {raw['visit_types']!r}")
    has_fixed, has_share = "threshold_yuan" in raw, "income_share" in raw
    if has_fixed == has_share:
        raise ConfigError(f"{key}: give exactly one of threshold_yuan or income_share")
    return AlertRule(
        id=rule_id.strip(),
        name=_get(raw, "name", key, str, rule_id.strip()),
        alert_type=_get(raw, "alert_type", key, str, ""),
        applies_to=applies,
        threshold_cents=_amount_cents(raw["threshold_yuan"], f"{key}.threshold_yuan") if has_fixed else None,
        income_share=_fraction(raw["income_share"], f"{key}.income_share") if has_share else None,
        residence=residence,
        basis=basis,
        visit_types=visit_types,
    )


def _year_key(k: str, key: str) -> int:
    if not str(k).isdigit() or len(str(k)) != 4:
        raise ConfigError(f"{key}.{k}: expected a four-digit year")
    return int(k)


def _region(code: Any, key: str) -> str:
    if not isinstance(code, str) or not code.isdigit() or len(code) not in (6, 12):
        raise ConfigError(f"{key}: expected a 6- or 12-digit division code, got {code!r}")
    return code.ljust(12, "0")


def _iso_date(value: Any) -> date:
    """A TOML date as it is, or a YYYY-MM-DD string parsed (ValueError otherwise)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))
