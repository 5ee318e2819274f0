"""Rejected rows a page at a time: filtered by reason and counted by the database, so the data page never reads the
millions a big upload rejects; its download still holds every matching row."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import open_page

from monitor.security.access import ADMIN, Viewer
from monitor.storage import queries, store
from monitor.storage.store import connect

EXTRA = 1234  # rows added to the demo's rejects: more than two pages of the data page's 500


@pytest.fixture
def many(own_demo_db, monkeypatch):
    """The demo's database with EXTRA more rows rejected as BAD_ID by a run of their own."""
    engine = connect(own_demo_db)
    rows = pd.DataFrame(
        {
            "run_id": 99,
            "seq": range(EXTRA),
            "source": "population",
            "file": "population_big.csv",
            "row": range(2, EXTRA + 2),
            "reason": "BAD_ID",
            "column": "身份证号",
            "original": "12345",
        }
    )
    with engine.begin() as conn:
        store.write_frame(conn, store.rejects, rows)
    monkeypatch.setenv("MONITOR_DB_URL", own_demo_db)
    return engine


def test_a_page_of_rejects_is_the_slice_of_all_of_them(many):
    everything = queries.rejects(many)
    assert len(everything) > EXTRA
    pd.testing.assert_frame_equal(queries.rejects(many, (), 100, 50), everything.iloc[50:150].reset_index(drop=True))
    bad = everything[everything["reason"] == "BAD_ID"].reset_index(drop=True)
    pd.testing.assert_frame_equal(queries.rejects(many, ("BAD_ID",)), bad)
    pd.testing.assert_frame_equal(
        queries.rejects(many, ("BAD_ID",), 500, 1000), bad.iloc[1000:1500].reset_index(drop=True)
    )
    counts = queries.reject_counts(many)
    expected = everything.groupby(["reason", "source"]).size()
    assert counts.set_index(["reason", "source"])["rows"].to_dict() == expected.to_dict()


def test_the_data_page_reads_only_the_page_it_shows(many, monkeypatch):
    real, asked = queries.rejects, []

    def rejects(engine, reasons=(), limit=None, offset=0):
        asked.append(limit)
        return real(engine, reasons, limit, offset)

    rejects.__module__, rejects.__qualname__ = real.__module__, real.__qualname__  # how ui.cached finds it
    monkeypatch.setattr(queries, "rejects", rejects)
    total = len(real(many))
    at = open_page(str(many.url), "5_data.py", Viewer("admin", ADMIN))
    assert not at.exception and asked == [500]
    assert any(f"共 {total:,} 行被拒收，符合所选原因 {total:,} 行，本页显示 500 行" in c.value for c in at.caption)

    at.multiselect(key="reasons").set_value(["BAD_ID"]).run()
    bad = real(many, ("BAD_ID",))
    page = at.number_input(key="rejects_page:BAD_ID")
    assert page.max == 3  # 1,234 + the demo's own BAD_ID rows: more than 1,000, not more than 1,500
    at = page.set_value(3).run()
    shown = next(d.value for d in at.dataframe if "原始内容" in d.value.columns)
    assert list(shown["行号"]) == list(bad["row"].iloc[1000:1500])
    assert any(f"符合所选原因 {len(bad):,} 行" in c.value for c in at.caption)
    assert all(limit == 500 for limit in asked)
    labels = [b.proto.label for b in at.get("download_button")]
    assert f"下载拒收行 CSV（{len(bad):,} 行）" in labels  # the download holds every matching row
