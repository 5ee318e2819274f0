"""Nothing from a data file is read as markup (issue 24): a name, 户号, identity type or place name that is Markdown
or HTML is shown as typed on every page that shows it, and the tables have no download of their own."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import ROOT, edit_lake_rows, open_page
from streamlit import config
from streamlit.testing.v1 import AppTest

from monitor.rules.divisions import town_of
from monitor.security.access import ADMIN, Viewer
from monitor.storage import store, table_copies
from monitor.storage.store import connect
from monitor.web import tables
from monitor.web.markup import plain

IMAGE = "![t](http://127.0.0.1:1/p.png)"  # a browser showing it as Markdown fetches the address
TAG = "<img src=x onerror=alert(1)>"
ACTIVE = re.compile(r"(?<!\\)(!\[|<img)")  # an image that Markdown or HTML would draw (not backslash-escaped)
ADMIN_VIEWER = Viewer("admin", ADMIN)
# Other owners' pages: covered by the process-wide setting monitor.web.tables turns on (at the sign-in), until they
# draw their tables through it too.
NOT_YET = {"5_data.py", "6_admin.py", "8_security.py"}


@pytest.fixture
def hostile(own_demo_db, monkeypatch):
    """The demo with hostile values in the stored tables: the first alert's person (name, identity type), the first
    listed outreach person (name, 户号), their villages and the alert person's town. The columnar copies are
    removed, so the pages read the database."""
    engine = connect(own_demo_db)
    shutil.rmtree(table_copies.folder(engine), ignore_errors=True)
    alerts, outreach = _rows(engine, store.alerts), _rows(engine, store.outreach)
    alert = alerts[alerts["village_code"] != ""].iloc[0]
    person = outreach[outreach["village_code"] != ""].iloc[0]
    # (a town name is also the name of a sheet of the door-to-door workbook, where Excel allows no []:*?/\)
    places = {alert["village_code"]: IMAGE, town_of(alerts["village_code"]).loc[alert.name]: TAG}
    places.setdefault(person["village_code"], IMAGE)
    with engine.begin() as conn:
        for table in (store.alerts, store.watch, store.outreach):
            for who, name in ((alert["id_number"], IMAGE), (person["id_number"], TAG)):
                conn.execute(table.update().where(table.c.id_number == who).values(name=name))
        conn.execute(
            store.alerts.update().where(store.alerts.c.id_number == alert["id_number"]).values(identity_type=TAG)
        )
        conn.execute(
            store.outreach.update()
            .where(store.outreach.c.id_number == person["id_number"])
            .values(household_id=IMAGE + TAG)
        )
        for code, name in places.items():
            for table in (store.divisions, store.coverage):
                conn.execute(table.update().where(table.c.code == code).values(name=name))
    for who, name in ((alert["id_number"], IMAGE), (person["id_number"], TAG)):
        for source in ("population", "identities"):
            edit_lake_rows(engine, source, who, name=name)
    edit_lake_rows(engine, "population", person["id_number"], household_id=IMAGE + TAG)
    monkeypatch.setenv("MONITOR_DB_URL", own_demo_db)
    yield {
        "url": own_demo_db,
        "alert_row": int(alert.name),
        "outreach_row": int(person.name),
        "town": town_of(alerts["village_code"]).loc[alert.name],
    }
    engine.dispose()


def _rows(engine, table: sa.Table) -> pd.DataFrame:
    """The year's rows of a list table in list order (the order the pages list them in)."""
    with engine.connect() as conn:
        return store.read_table(conn, table, table.c.year == 2025, [table.c.seq])


def _shown(at: AppTest) -> list[str]:
    """Every text of the page that Streamlit renders as Markdown."""
    texts = [e.value for kind in ("markdown", "caption", "success", "info", "warning", "error") for e in at.get(kind)]
    texts += [e.value for e in [*at.title, *at.header, *at.subheader]]
    texts += [t for m in at.metric for t in (m.label, m.value)]
    texts += [b.label for b in at.button] + [e.label for e in at.expander] + [t.label for t in at.tabs]
    texts += [str(o) for r in at.radio for o in r.options]
    texts += [e.proto.label for e in at.get("download_button")]
    return texts


def _assert_plain(at: AppTest, *expected: str) -> None:
    assert not at.exception, at.exception
    texts = _shown(at)
    drawn = [t for t in texts if ACTIVE.search(t)]
    assert not drawn, drawn
    for value in expected:  # the hostile values were shown, as typed
        assert any(plain(value) in t for t in texts), value


def test_the_outreach_list_shows_a_hostile_household_and_village_as_typed(hostile):
    at = open_page(
        hostile["url"],
        "3_outreach.py",
        ADMIN_VIEWER,
        outreach_table={"selection": {"rows": [hostile["outreach_row"]], "columns": []}},
    )
    _assert_plain(at, IMAGE + TAG)
    at.button(key="outreach_unmask").click().run()
    _assert_plain(at, IMAGE + TAG)


def test_the_alert_detail_shows_a_hostile_name_and_village_as_typed(hostile):
    at = open_page(
        hostile["url"],
        "4_alerts.py",
        ADMIN_VIEWER,
        alert_table={"selection": {"rows": [hostile["alert_row"]], "columns": []}},
    )
    _assert_plain(at, TAG)
    at.button(key="alert_unmask").click().run()
    _assert_plain(at, IMAGE, TAG)


def test_the_map_shows_a_hostile_town_as_typed(hostile):
    at = open_page(hostile["url"], "2_map.py", ADMIN_VIEWER)
    _assert_plain(at)
    at = open_page(hostile["url"], "2_map.py", ADMIN_VIEWER, map_parent=hostile["town"])
    _assert_plain(at, TAG)  # the breadcrumb and the caption name the town


@pytest.mark.parametrize("page", ["1_overview.py", "7_campaign.py"])
def test_the_overview_and_campaign_pages_show_hostile_places_as_typed(hostile, page):
    _assert_plain(open_page(hostile["url"], page, ADMIN_VIEWER))


def test_tables_have_no_download_of_their_own(demo_db, monkeypatch):
    """Every table is drawn with Streamlit's own export off (its toolbar's CSV download and the copy)."""
    config.set_option(tables.NO_EXPORT, False)
    monkeypatch.setenv("MONITOR_DB_URL", demo_db)
    at = open_page(demo_db, "4_alerts.py", ADMIN_VIEWER)
    assert at.dataframe and config.get_option(tables.NO_EXPORT) is True
    config.set_option(tables.NO_EXPORT, False)
    open_page(demo_db, None, None)  # the sign-in page turns it off before any table is shown
    assert config.get_option(tables.NO_EXPORT) is True


def test_every_table_and_download_goes_through_the_helpers():
    """Tables through tables.show (no export of their own), files through ui.audited_download (audited, made by
    outputs.release, which neutralises every CSV)."""
    files = [*(ROOT / "pages").glob("*.py"), *(ROOT / "monitor" / "web").rglob("*.py")]
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in files
        if path.name not in {*NOT_YET, "tables.py", "ui.py"}
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\.(dataframe|data_editor|download_button)\(", line)
    ]
    assert not found, found
