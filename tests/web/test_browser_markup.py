"""Issue 24 in a real browser: a name, identity type and place names that are Markdown or HTML images pointing at a
local listener are shown on 预警 (the person selected and unmasked) and 参保地图 (drilled into the town), and the
browser asks the listener for nothing; the tables' toolbar has no CSV download.

Uses the server and browser of test_browser, on a private copy of the demo database with the hostile values."""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import copy_demo_db, edit_lake_rows
from test_browser import SHOTS, _open, _sign_in, browser, server  # noqa: F401 - the fixtures of the real browser

from monitor.cases import alert_case
from monitor.rules.divisions import town_of
from monitor.storage import queries, store, table_copies
from monitor.storage.store import connect
from monitor.web.markup import JOINER

ASKED: list[str] = []  # the paths the listener was asked for


class _Listener(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        ASKED.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def listener():
    http = ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield http.server_address[1]
    http.shutdown()
    http.server_close()


@pytest.fixture(scope="module")
def module_demo_db(tmp_path_factory, demo_db, listener):
    """The demo for this module's server: jiuzhu's first alert is a person named by a Markdown image, with an
    identity type that is an HTML image, in a village and a town named so too."""
    url = copy_demo_db(demo_db, tmp_path_factory.mktemp("hostile_demo_db"))
    engine = connect(url)
    shutil.rmtree(table_copies.folder(engine), ignore_errors=True)
    image = f"![t](http://127.0.0.1:{listener}/name.png)"
    tag = f"<img src=http://127.0.0.1:{listener}/tag.png>"
    towns = queries.towns(engine).index[:5]  # jiuzhu's (auth.DEMO_ACCOUNTS)
    alerts = alert_case.alert_list(engine, 2025)
    alert = alerts[town_of(alerts["village_code"]).isin(towns) & (alerts["village_code"] != "")].iloc[0]
    town = town_of(alerts["village_code"]).loc[alert.name]
    with engine.begin() as conn:
        for table in (store.alerts, store.watch):
            conn.execute(table.update().where(table.c.id_number == alert["id_number"]).values(name=image))
        conn.execute(
            store.alerts.update().where(store.alerts.c.id_number == alert["id_number"]).values(identity_type=tag)
        )
        for code, name in ((alert["village_code"], image), (town, f"镇{tag}")):
            for table in (store.divisions, store.coverage):
                conn.execute(table.update().where(table.c.code == code).values(name=name))
    for source in ("population", "identities"):
        edit_lake_rows(engine, source, alert["id_number"], name=image)
    engine.dispose()
    return url


def test_hostile_names_make_the_browser_fetch_nothing(server, browser, listener):  # noqa: F811
    base, _url = server
    image, tag = f"![t](http://127.0.0.1:{listener}/name.png)", f"<img src=http://127.0.0.1:{listener}/tag.png>"
    page = _sign_in(browser, base, "jiuzhu", height=1000)
    _open(page, "预警", "高额费用预警")
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.hover()  # its toolbar: search and columns, but no CSV download of its own (monitor.web.tables)
    page.locator("[data-testid='stElementToolbar']").first.get_by_role("button", name="Search").wait_for()
    assert page.get_by_role("button", name="Download as CSV").count() == 0
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 18)  # the first row's checkbox
    page.get_by_role("button", name="显示完整信息").click()
    shown = page.locator("[data-testid='stMarkdownContainer']", has_text="![t](http:")
    shown.first.wait_for(timeout=30_000)  # the person's line, as typed (with invisible word joiners)
    typed = shown.first.inner_text().replace(JOINER, "")
    assert image in typed and tag in typed
    assert shown.first.locator("a, img").count() == 0  # no image, not even a link
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / "hostile_names.png"), full_page=True)

    _open(page, "参保地图", "参保地图")
    page.get_by_label("查看乡镇的下级").click()
    page.get_by_role("option", name=f"镇{tag}").click()
    crumb = page.get_by_role("button", name=f"镇{tag}".replace("://", f":{JOINER}//"))
    crumb.wait_for(timeout=30_000)  # the breadcrumb names the town, as typed
    assert crumb.locator("a, img").count() == 0
    page.wait_for_timeout(1500)
    assert ASKED == []
    assert page.locator("text=Traceback").count() == 0
