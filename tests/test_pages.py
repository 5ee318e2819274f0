"""AppTest runs every page on the golden data and checks figures equal the ETL's exports."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from etl.cli import main

from conftest import GOLDEN, ROOT


@pytest.fixture
def loaded(sqlite_url, monkeypatch):
    for load in ("load1", "load2"):
        assert main(["run", "--inbox", str(GOLDEN / load), "--year", "2025", "--as-of", "2025-06-30",
                     "--db", sqlite_url]) == 0
    monkeypatch.setenv("MONITOR_DB_URL", sqlite_url)
    return sqlite_url


def _app(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.switch_page(page)
    return at.run()


def test_every_page_file_is_registered():
    app = (ROOT / "app.py").read_text(encoding="utf-8")
    for page in sorted(Path(ROOT / "pages").glob("*.py")):
        assert f"pages/{page.name}" in app


def test_coverage_page_shows_the_exported_rates(loaded):
    at = _app("pages/1_coverage.py")
    assert not at.exception
    at.radio(key="level").set_value("乡镇").run()
    table = at.dataframe[0].value
    assert table["参保率"].tolist() == ["40.00", "75.00"]
    assert table["名称"].tolist() == ["青禾街道", "溪口镇"]


def test_data_page_lists_runs_and_rejects(loaded):
    at = _app("pages/2_data.py")
    assert not at.exception
    assert len(at.dataframe[0].value) == 2  # two runs
    assert len(at.dataframe[2].value) == 46  # every rejected row of both loads


def test_pages_say_when_there_is_no_data(sqlite_url, monkeypatch):
    monkeypatch.setenv("MONITOR_DB_URL", sqlite_url)
    at = _app("pages/1_coverage.py")
    assert not at.exception and "尚无数据" in at.info[0].value


def test_url_paths_differ_from_file_routes():
    """A url_path equal to a pages/ file's own route makes a deep link skip app.py (no navigation, no status)."""
    import re

    app = (ROOT / "app.py").read_text(encoding="utf-8")
    for path in re.findall(r'url_path="([^"]+)"', app):
        for page in Path(ROOT / "pages").glob("*.py"):
            assert path != re.sub(r"^\d+_", "", page.stem)
