"""The typed config: shipped defaults, help texts, and errors that name the key."""

import tomllib

import pytest

from monitor.config import DEFAULT_CONFIG_PATH, ConfigError, parse_settings, setting_help


def _doc():
    with open(DEFAULT_CONFIG_PATH, "rb") as fh:
        return tomllib.load(fh)


def test_every_setting_has_help():
    assert all(text.strip() for text in setting_help().values())


def test_shipped_defaults_follow_the_spec(settings):
    names = [t.name for t in settings.identity_types_for(2025)]
    assert names[:2] == ["特困人员", "孤儿"] and names[-1] == "脱贫人口"
    assert settings.income_for(2024).rural_cents == 2_311_900
    assert [r.id for r in settings.alert_rules] == ["R1", "R2"]
    assert float(settings.target_vulnerable) == 99.0


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("region", "code", "12345", "region.code"),
        ("run", "year", 1999, "run.year"),
        ("run", "as_of", "2025/01/01", "run.as_of"),
        ("alerts", "cost_measure", "自付", "alerts.cost_measure"),
        ("alerts", "orange_ratio", 3.0, "alerts.orange_ratio"),
        ("targets", "overall", 101, "targets.overall"),
        ("colours", "met", "green", "colours.met"),
        ("files", "unknown_source", "x", "files.unknown_source"),
    ],
)
def test_bad_values_name_their_key(section, key, value, message):
    doc = _doc()
    doc[section][key] = value
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_settings(doc)


def test_bad_identity_type_names_its_key():
    doc = _doc()
    doc["identity_types"]["2020"][2]["subsidy"] = "half"
    with pytest.raises(ConfigError, match=r"identity_types\.2020\[2\]\.subsidy"):
        parse_settings(doc)


def test_as_of_must_lie_in_the_year(settings):
    from datetime import date

    with pytest.raises(ConfigError, match="as_of"):
        settings.resolve_as_of(2025, date(2026, 1, 1))
    assert settings.resolve_as_of(2025).isoformat() == "2025-12-31"


def test_the_settings_document_is_current():
    from monitor.config import PROJECT_ROOT, settings_markdown

    assert (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8") == settings_markdown()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"id": None}, r"alert_rules\[0\]\.id: missing"),
        ({"applies_to": []}, r"alert_rules\[0\]\.applies_to"),
        ({"applies_to": "some"}, r"alert_rules\[0\]\.applies_to"),
        ({"basis": "month"}, r"alert_rules\[0\]\.basis"),
        ({"residence": "town"}, r"alert_rules\[0\]\.residence"),
        ({"visit_types": ["住院"]}, r"alert_rules\[0\]\.visit_types"),  # R1 is a year rule
        ({"colour": "red"}, r"alert_rules\[0\]\.colour: unknown key"),
        ({"income_share": 0.5}, r"alert_rules\[0\]: give exactly one of threshold_yuan or income_share"),
    ],
)
def test_a_bad_rule_names_its_key(change, message):
    doc = _doc()
    rule = doc["alert_rules"][0]
    for key, value in change.items():
        if value is None:
            rule.pop(key)
        else:
            rule[key] = value
    with pytest.raises(ConfigError, match=message):
        parse_settings(doc)


def test_rules_of_spec_11_shape_parse_exactly():
    doc = _doc()
    doc["alert_rules"] = [
        {
            "id": "R3",
            "name": "单次住院高额（监测对象）",
            "alert_type": "返贫预警",
            "applies_to": ["防止返贫监测对象", "脱贫人口"],
            "residence": "rural",
            "basis": "stay",
            "visit_types": ["住院"],
            "threshold_yuan": 6000,
        }
    ]
    doc["alerts"]["watch_share"] = 0.75
    settings = parse_settings(doc)
    (rule,) = settings.alert_rules  # the file's list replaces R1 and R2 as a whole
    assert (rule.applies_to, rule.residence, rule.basis, rule.visit_types) == (
        ("防止返贫监测对象", "脱贫人口"),
        "rural",
        "stay",
        ("住院",),
    )
    assert rule.threshold_cents == 600_000 and str(settings.watch_share) == "3/4"


def test_a_config_without_rules_or_incomes_keeps_the_spec_defaults():
    doc = _doc()
    del doc["alert_rules"], doc["income"]
    settings = parse_settings(doc)
    assert [r.id for r in settings.alert_rules] == ["R1", "R2"]
    assert settings.income_for(2023).urban_cents == 5_182_100 and str(settings.watch_share) == "4/5"


@pytest.mark.parametrize("share", [0, 1, 1.5, -0.2])
def test_watch_share_lies_between_0_and_1(share):
    doc = _doc()
    doc["alerts"]["watch_share"] = share
    with pytest.raises(ConfigError, match=r"alerts\.watch_share"):
        parse_settings(doc)


def test_the_engine_is_duckdb_unless_spark_is_asked_for_with_its_master():
    doc = _doc()
    shipped = parse_settings(doc)
    assert (shipped.engine_kind, shipped.engine_master) == ("duckdb", "local[2]")
    doc["engine"] |= {"kind": "spark", "master": "spark://10.0.0.5:7077"}
    spark = parse_settings(doc)
    assert (spark.engine_kind, spark.engine_master) == ("spark", "spark://10.0.0.5:7077")
    del doc["engine"]["master"]
    assert parse_settings(doc).engine_master == "local[2]"  # the default: Spark in this process on two cores


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kind": "flink"}, r"^engine\.kind: expected one of duckdb, spark, got 'flink'$"),
        ({"master": "  "}, r"^engine\.master: expected a Spark master URL"),
        ({"master": 7077}, r"^engine\.master: expected str, got 7077$"),
        ({"executors": 4}, r"^engine\.executors: unknown key \(known: kind, master, lake, memory_mb\)$"),
        ({"memory_mb": 100}, r"^engine\.memory_mb: expected at least 256 \(MiB\), got 100$"),
        ({"memory_mb": "2GB"}, r"^engine\.memory_mb: expected int, got '2GB'$"),
        ({"memory_mb": True}, r"^engine\.memory_mb: expected int, got True$"),
    ],
)
def test_a_bad_engine_names_its_key(change, message):
    doc = _doc()
    doc["engine"] |= change
    with pytest.raises(ConfigError, match=message):
        parse_settings(doc)
