"""Odd inputs: a snapshot that shrinks too much is held unless accepted (SPEC §3); an empty or all-rejected register
and any unexpected error give a recorded run, never a traceback."""

from __future__ import annotations

import shutil
from datetime import date
from fractions import Fraction

import pandas as pd
import pytest
from conftest import GOLDEN, copy_demo_db, open_page

from etl.cli import main
from monitor.load import pipeline
from monitor.load.inputs import shrink_message, shrinks_too_much
from monitor.load.pipeline import RunError, run_load
from monitor.security import audit
from monitor.security.access import ADMIN, Viewer
from monitor.storage import lake, queries
from monitor.storage.store import connect

POPULATION = "population_2025-11.csv"  # the demo's register file
HEADER = "身份证号,姓名,村社区代码,户号,出生日期,人员状态,状态变更日期,联系电话,住址"


@pytest.fixture(scope="module")
def register(tmp_path_factory, settings):
    """A stored register of about 2,000 people (the demo's), its folder and the distinct ID numbers stored."""
    from monitor.demo.generate import generate

    root = tmp_path_factory.mktemp("register")
    generate(root / "load", settings, persons=2000, seed=3)
    url = f"sqlite:///{root / 'monitor.db'}"
    engine = connect(url)
    run_load(root / "load", settings, engine)
    ids = set(lake.read(engine, "population")["id_number"])
    engine.dispose()
    assert len(ids) >= 1000
    return {"url": url, "folder": root / "load", "ids": ids}


@pytest.fixture
def own(register, tmp_path):
    """A private copy of the stored register's database."""
    return copy_demo_db(register["url"], tmp_path)


def _register_of(register, folder, rows: int):
    """A load of only a register: the first `rows` stored persons of the demo's file (each loads, once)."""
    frame = pd.read_csv(register["folder"] / POPULATION, dtype=str, keep_default_na=False, encoding="gb18030")
    kept = frame[frame.iloc[:, 0].isin(register["ids"])].drop_duplicates(frame.columns[0]).head(rows)
    assert len(kept) == rows
    folder.mkdir()
    kept.to_csv(folder / "population_2025-12.csv", index=False, encoding="utf-8")
    return folder


def _exports(url, tmp_path):
    out = []
    for what in (["coverage", "--level", "村社区"], ["outreach"], ["alerts"]):
        path = tmp_path / "export.csv"
        assert main(["export", *what, "--out", str(path), "--db", url]) == 0
        out.append(path.read_bytes())
    return out


@pytest.mark.parametrize(
    ("stored", "new", "held"),
    [
        (1000, 800, False),  # exactly 20% fewer: not more than max_shrink
        (1000, 799, True),
        (12000, 9600, False),
        (12000, 9599, True),
        (999, 0, False),  # under 1,000 stored: never held
        (1000, 0, True),
        (1000, 1500, False),
    ],
)
def test_the_shrink_rule_compares_exactly(stored, new, held):
    assert shrinks_too_much(stored, new, Fraction(1, 5)) is held


def test_the_held_message_names_the_source_both_counts_and_how_to_accept():
    assert shrink_message({"population": (12000, 30)}, Fraction(1, 5)) == (
        "population: 新快照只有 30 个身份证号，已存 12000 个，减少超过 20%，未应用；"
        "确认无误请用 --accept-shrink population 重新运行"
    )


def test_a_shrunken_register_is_held_then_applied_when_accepted(register, own, tmp_path, capsys):
    folder = _register_of(register, tmp_path / "partial", 30)
    stored = len(register["ids"])
    before = _exports(own, tmp_path)
    capsys.readouterr()
    run = ["run", "--inbox", str(folder), "--db", own, "--user", "wang"]
    assert main(run) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    message = (
        f"population: 新快照只有 30 个身份证号，已存 {stored} 个，减少超过 20%，未应用；"
        "确认无误请用 --accept-shrink population 重新运行"
    )
    assert line == f"错误: {message}"
    engine = connect(own)
    latest = queries.runs(engine).iloc[0]
    assert (latest["status"], latest["message"]) == ("failed", message)
    assert audit.entries(engine, action="载入").iloc[0]["result"] == f"失败：{message}"
    assert _exports(own, tmp_path) == before

    assert main([*run, "--accept-shrink", "population"]) == 0
    assert queries.runs(engine).iloc[0]["status"] == "ok"
    entry = audit.entries(engine, action="载入").iloc[0]
    assert (entry["username"], entry["result"]) == ("wang", "成功")
    assert f"确认缩小 population（已存 {stored} 个身份证号，新 30 个）" in entry["detail"]
    assert _exports(own, tmp_path)[0] != before[0]


@pytest.mark.parametrize("share", [Fraction(19, 100), Fraction(1, 5)])
def test_a_register_up_to_max_shrink_smaller_applies_without_accepting(register, own, tmp_path, settings, share):
    stored = len(register["ids"])
    rows = stored - int(stored * share)
    result = run_load(_register_of(register, tmp_path / "smaller", rows), settings, connect(own))
    assert result.counts["population"]["population_2025-12.csv"] == (rows, rows, 0) and result.shrunk == {}
    entry = audit.entries(connect(own), action="载入").iloc[0]
    assert entry["result"] == "成功" and "确认缩小" not in entry["detail"]


def test_one_id_past_max_shrink_is_held(register, own, tmp_path, settings):
    stored = len(register["ids"])
    folder = _register_of(register, tmp_path / "smaller", stored - stored // 5 - 1)
    with pytest.raises(RunError, match="^population: 新快照只有") as failure:
        run_load(folder, settings, connect(own))
    assert failure.value.held == ("population",) and failure.value.run_id is not None


def test_every_held_snapshot_is_named_and_each_must_be_accepted(register, own, tmp_path, settings):
    folder = _register_of(register, tmp_path / "two", 30)
    (folder / "enrollment_2025-12.csv").write_text(
        "身份证号,险种,参保年度,参保状态\n" + "".join(f"{i},居民,2025,正常参保\n" for i in sorted(register["ids"])[:5]),
        encoding="utf-8",
    )
    engine = connect(own)
    with pytest.raises(RunError) as failure:
        run_load(folder, settings, engine, accept_shrink=frozenset({"population"}))
    assert failure.value.held == ("enrollment",)
    assert str(failure.value).startswith("enrollment: 新快照只有 5 个身份证号") and "population" not in str(
        failure.value
    )
    result = run_load(folder, settings, engine, accept_shrink=frozenset({"population", "enrollment"}))
    assert set(result.shrunk) == {"population", "enrollment"}


def test_an_empty_register_replacing_a_stored_one_is_held(register, own, tmp_path, settings):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "population_2025-12.csv").write_text(HEADER + "\n", encoding="utf-8")
    with pytest.raises(RunError, match=f"^population: 新快照只有 0 个身份证号，已存 {len(register['ids'])} 个"):
        run_load(folder, settings, connect(own))
    assert queries.runs(connect(own)).iloc[0]["status"] == "failed"


def _header_only(folder):
    lines = (folder / "population_2025.csv").read_text(encoding="utf-8-sig").splitlines()
    (folder / "population_2025.csv").write_text(lines[0] + "\n", encoding="utf-8")


def _all_rejected(folder):
    lines = (folder / "population_2025.csv").read_text(encoding="utf-8-sig").splitlines()
    rows = [",".join(["12345", *line.split(",")[1:]]) for line in lines[1:]]  # BAD_ID, every one
    (folder / "population_2025.csv").write_text("\n".join([lines[0], *rows]) + "\n", encoding="utf-8")


@pytest.mark.parametrize("spoil", [_header_only, _all_rejected])
def test_a_first_register_with_no_loaded_row_gives_a_recorded_run(db_url, tmp_path, settings, spoil):
    """No stored register to shrink from: the run succeeds with nobody in scope (the campaign's curves too)."""
    folder = tmp_path / "load1"
    shutil.copytree(GOLDEN / "load1", folder)
    spoil(folder)
    engine = connect(db_url)
    result = run_load(folder, settings, engine, year=2025, as_of=date(2025, 6, 30))
    root = queries.coverage(engine, 2025, "区县", result.root)
    assert root["in_scope"].sum() == 0
    assert queries.runs(engine).iloc[0]["status"] == "ok"
    engine.dispose()


def test_an_unexpected_error_is_a_recorded_failed_run_without_its_text(sqlite_url, settings, monkeypatch):
    def broken(*_args, **_kwargs):
        raise ValueError("110105194912310021 张三")  # a person's data must not reach the run history

    monkeypatch.setattr(pipeline, "compute_results", broken)
    engine = connect(sqlite_url)
    with pytest.raises(RunError, match=r"^意外错误（ValueError，tests/load/test_odd_inputs\.py:\d+）") as failure:
        run_load(GOLDEN / "load1", settings, engine, year=2025)
    latest = queries.runs(engine).iloc[0]
    assert latest["status"] == "failed" and latest["id"] == failure.value.run_id
    assert "张三" not in latest["message"] and "110105" not in latest["message"]
    assert audit.entries(engine, action="载入").iloc[0]["result"].startswith("失败：意外错误")
    assert queries.latest_run(engine) is None  # nothing stored


def test_an_interrupt_is_not_swallowed(sqlite_url, settings, monkeypatch):
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "compute_results", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_load(GOLDEN / "load1", settings, connect(sqlite_url), year=2025)


def test_the_data_page_applies_a_held_register_once_confirmed(register, own, tmp_path, settings, monkeypatch):
    folder = _register_of(register, tmp_path / "partial", 30)
    with pytest.raises(RunError) as failure:
        run_load(folder, settings, connect(own))
    monkeypatch.setenv("MONITOR_DB_URL", own)
    held = {"folder": str(folder), "year": 2025, "held": ["population"], "message": str(failure.value)}
    at = open_page(own, "5_data.py", Viewer("admin", ADMIN), held_load=held)
    assert not at.exception
    assert any("新快照只有 30 个身份证号" in w.value for w in at.warning)
    button = at.button(key="accept_shrink")
    assert button.label == "确认应用缩小的快照（population）"
    at = button.click().run()
    assert not at.exception and "held_load" not in at.session_state
    engine = connect(own)
    assert queries.runs(engine).iloc[0]["status"] == "ok"
    entry = audit.entries(engine, action="载入").iloc[0]
    assert entry["username"] == "admin" and "页面上传" in entry["detail"] and "确认缩小 population" in entry["detail"]
