"""Golden tests: two hand-made loads, every export compared cell for cell with hand-worked CSVs."""

from __future__ import annotations

import csv
import re
from datetime import date

import pytest
from conftest import GOLDEN, ROOT

from etl.cli import main
from monitor.load.pipeline import run_load
from monitor.storage import queries
from monitor.storage.store import connect

EXPORTS = {
    "coverage_区县.csv": ["coverage", "--level", "区县"],
    "coverage_乡镇.csv": ["coverage", "--level", "乡镇"],
    "coverage_村社区.csv": ["coverage", "--level", "村社区"],
    "outreach.csv": ["outreach"],
    "alerts.csv": ["alerts"],
    "watch.csv": ["watch"],
    "rejects.csv": ["rejects"],
}


def _rows(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name} has no UTF-8 BOM"
    return list(csv.reader(raw.decode("utf-8-sig").splitlines()))


def _load_both(db_url, config: list[str] | None = None):
    for load in ("load1", "load2"):
        run = ["run", "--inbox", str(GOLDEN / load), "--year", "2025", "--as-of", "2025-06-30", "--db", db_url]
        assert main([*(config or []), *run]) == 0


def _config_with_local_rules(tmp_path, shipped: str | None = None):
    """config.toml (or the given text of one) with its [[alert_rules]] replaced by tests/golden/local_rules.toml and
    watch_share 0.7."""
    shipped = shipped or (ROOT / "config.toml").read_text(encoding="utf-8")
    without_rules = re.sub(r"\[\[alert_rules\]\]\n(?:[^\n]+\n)+", "", shipped)
    assert "[[alert_rules]]" not in without_rules and "watch_share = 0.8" in without_rules
    text = without_rules.replace("watch_share = 0.8", "watch_share = 0.7")
    path = tmp_path / "local.toml"
    path.write_text(text + "\n" + (GOLDEN / "local_rules.toml").read_text(encoding="utf-8"), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["alerts.csv", "watch.csv"])
def test_locally_set_rules_give_the_hand_worked_alerts_and_watch_list(db_url, tmp_path, name):
    """Stay rules, identity lists, rural and urban rules, the watch list (tests/golden/README.md)."""
    config = ["--config", str(_config_with_local_rules(tmp_path))]
    _load_both(db_url, config)
    out = tmp_path / name
    assert main([*config, "export", EXPORTS[name][0], "--out", str(out), "--db", db_url]) == 0
    assert _rows(out) == _rows(GOLDEN / "expected" / "local_rules" / name)


@pytest.mark.parametrize("name", EXPORTS)
def test_exports_match_hand_worked_csv(db_url, tmp_path, name):
    _load_both(db_url)
    out = tmp_path / name
    assert main(["export", *EXPORTS[name], "--out", str(out), "--db", db_url]) == 0
    assert _rows(out) == _rows(GOLDEN / "expected" / name)


def test_rows_read_equal_loaded_plus_rejected(db_url, settings):
    engine = connect(db_url)
    result = run_load(GOLDEN / "load1", settings, engine, year=2025, as_of=date(2025, 6, 30))
    files = queries.run_files(engine, result.run_id)
    assert (files["rows_read"] == files["rows_loaded"] + files["rows_rejected"]).all()
    assert set(files["file"]) == {
        "divisions.csv",
        "population_2025.csv",
        "deaths_gbk.csv",
        "enrollment.csv",
        "identities_2025-06.xlsx:民政",
        "identities_2025-06.xlsx:乡村振兴",
        "settlements_2025a.csv",
    }
    assert files["checksum"].str.len().eq(64).all()


def test_same_load_twice_changes_no_figure(sqlite_url, tmp_path):
    _load_both(sqlite_url)
    main(["run", "--inbox", str(GOLDEN / "load2"), "--year", "2025", "--as-of", "2025-06-30", "--db", sqlite_url])
    for name in ("coverage_村社区.csv", "outreach.csv", "alerts.csv"):
        out = tmp_path / name
        main(["export", *EXPORTS[name], "--out", str(out), "--db", sqlite_url])
        assert _rows(out) == _rows(GOLDEN / "expected" / name)


def test_identity_change_list_between_snapshots(sqlite_url, settings):
    engine = connect(sqlite_url)
    run_load(GOLDEN / "load1", settings, engine, year=2025, as_of=date(2025, 6, 30))
    run_load(GOLDEN / "load2", settings, engine, year=2025, as_of=date(2025, 6, 30))
    changes = queries.identity_changes(engine).fillna("")
    got = {(r.id_number[-4:], r.change, r.identity_type_before, r.identity_type_after) for r in changes.itertuples()}
    assert got == {
        ("0221", "新增", "", "低保对象"),
        ("0996", "取消", "特困人员", ""),
        ("1115", "变更", "重度残疾人", "低保边缘家庭成员"),
    }


def test_findings_report_unmatched_persons(sqlite_url, settings):
    engine = connect(sqlite_url)
    run_load(GOLDEN / "load1", settings, engine, year=2025, as_of=date(2025, 6, 30))
    found = queries.findings(engine, 2025)
    kinds = {(r.kind, r.id_number[-4:]) for r in found.itertuples()}
    assert ("ENROLLED_NOT_IN_REGISTER", "1666") in kinds  # 外来, a migrant
    assert ("IDENTITY_NOT_IN_REGISTER", "1444") in kinds  # 褚某
    assert ("SETTLEMENT_WITHOUT_ENROLLMENT", "0221") in kinds  # 李四 has no 2025 enrollment
    assert ("NAME_MISMATCH", "0119") in kinds  # 张叁 in enrollment, 张三 in the register
    assert ("BIRTH_MISMATCH", "1115") in kinds  # 冯十二's 出生日期 differs from the ID


def test_alert_state_survives_recompute_and_rises_to_upgrade(sqlite_url, settings):
    """张三 is 红 after load1 and 橙 after load2: unpushed, the stored level follows; pushed, a rise is 升级."""
    import sqlalchemy as sa

    from monitor.storage import store

    engine = connect(sqlite_url)
    run_load(GOLDEN / "load1", settings, engine, year=2025, as_of=date(2025, 6, 30))
    run_load(GOLDEN / "load2", settings, engine, year=2025, as_of=date(2025, 6, 30))
    zhang = (store.alert_states.c.year == 2025) & (store.alert_states.c.id_number == "990101196005010119")
    with engine.begin() as conn:
        assert conn.execute(sa.select(store.alert_states.c.level).where(zhang)).scalar() == "橙"
        conn.execute(store.alert_states.update().where(zhang).values(state="已推送"))
    run_load(GOLDEN / "load2", settings, engine, year=2025, as_of=date(2025, 6, 30))
    with engine.connect() as conn:
        row = conn.execute(sa.select(store.alert_states).where(zhang)).mappings().one()
    assert (row["state"], row["level"], row["upgraded"]) == ("已推送", "橙", False)  # same level: state kept
    with engine.begin() as conn:
        conn.execute(store.alert_states.update().where(zhang).values(level="黄"))  # as if pushed at 黄
    run_load(GOLDEN / "load2", settings, engine, year=2025, as_of=date(2025, 6, 30))
    with engine.connect() as conn:
        row = conn.execute(sa.select(store.alert_states).where(zhang)).mappings().one()
    assert (row["state"], row["level"], row["upgraded"]) == ("待推送", "橙", True)


def test_validation_does_not_mutate_the_raw_tables(settings):
    from monitor.files.read import read_source
    from monitor.rules.validate import Context, validate_source

    tables = read_source([GOLDEN / "load1" / "enrollment.csv"], "enrollment", settings)
    before = tables[0].cells.copy()
    validate_source("enrollment", tables, Context(settings, "990101000000", 2025, date(2026, 11, 23)))
    import pandas as pd

    pd.testing.assert_frame_equal(tables[0].cells, before)


def _exports_match(db_url, tmp_path, config: list[str], names, expected) -> None:
    for name in names:
        out = tmp_path / name
        assert main([*config, "export", *EXPORTS[name], "--out", str(out), "--db", db_url]) == 0
        assert _rows(out) == _rows(expected / name), name


def test_every_export_is_the_hand_worked_csv_with_spark_as_the_engine(db_url, tmp_path, spark_config):
    """[engine] kind = "spark", master = "local[2]" (issue 21): the same command line gives the same exports. One
    test for all of them: a load's rules are some seconds of Spark jobs."""
    config = ["--config", str(spark_config)]
    _load_both(db_url, config)
    _exports_match(db_url, tmp_path, config, EXPORTS, GOLDEN / "expected")


def test_locally_set_rules_give_the_hand_worked_alerts_and_watch_list_on_spark(sqlite_url, tmp_path, spark_config):
    config = ["--config", str(_config_with_local_rules(tmp_path, spark_config.read_text(encoding="utf-8")))]
    _load_both(sqlite_url, config)
    _exports_match(sqlite_url, tmp_path, config, ["alerts.csv", "watch.csv"], GOLDEN / "expected" / "local_rules")
