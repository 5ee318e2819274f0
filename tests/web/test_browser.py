"""One real-browser run: the app served by `python -m monitor.web.serve`, opened in Debian's Chromium via Playwright.

Screenshots of every page land in build/screenshots/ for a person to look at.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyotp
import pytest
from conftest import ROOT

from monitor.cases import alert_case
from monitor.security import audit, auth, session_cookie
from monitor.storage import queries
from monitor.storage.store import connect

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "build" / "screenshots"
# Without the networking flags Chromium keeps trying hosts a bureau intranet cannot reach.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# (sidebar title, page heading, screenshot name)
PAGES = [
    ("总览", "总览", "overview"),
    ("参保地图", "参保地图", "map"),
    ("扩面名单", "扩面名单", "outreach"),
    ("预警", "高额费用预警", "alerts"),
    ("集中缴费期", "集中缴费期", "collection"),
    ("数据", "数据", "data"),
    ("用户管理", "用户管理", "admin"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(request):
    if not CHROMIUM.exists():
        if os.environ.get("MONITOR_REQUIRE_BROWSER"):
            pytest.fail("Chromium is missing although the test command installs it")
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: /usr/bin/chromium is missing (see test.sh)")
        pytest.skip("no /usr/bin/chromium (./test.sh installs it)")
    port = _free_port()
    # This test pushes alerts: keep the shared demo clean. Asked for here, so that a skip builds no demo.
    url = request.getfixturevalue("module_demo_db")
    engine = connect(url)
    auth.demo_accounts(engine, queries.towns(engine).index.tolist())
    engine.dispose()
    env = {**os.environ, "MONITOR_DB_URL": url}
    (ROOT / "build").mkdir(exist_ok=True)
    log = open(ROOT / "build" / "streamlit-test.log", "w")  # noqa: SIM115 - open while the server runs
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor.web.serve",
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.terminate()
        pytest.fail("streamlit did not answer /_stcore/health within 60 s")
    yield base, url
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


PASSWORDS = {username: password for username, _n, _r, _t, password in auth.DEMO_ACCOUNTS}
SECRETS: dict[str, str] = {}  # the authenticator app of this test: secrets read off the enrolment page
USED_STEPS: dict[str, int] = {}


def _totp(username: str) -> str:
    """The code the app would show now; a step already used (a second sign-in within 30 s) waits for the next."""
    step = max(int(time.time()) // 30, USED_STEPS.get(username, -1) + 1)
    while step > int(time.time()) // 30 + 1:  # the server accepts one step ahead for clock drift
        time.sleep(1)
    USED_STEPS[username] = step
    return pyotp.TOTP(SECRETS[username]).at(step * 30)


def _sign_in(browser, base: str, username: str, height: int = 768, landing: str = "总览", context=None):
    """Sign in through the form in a new browser (or a new tab of `context`); the administrators also give the
    authenticator code (binding the app the first time, from the secret the page shows)."""
    viewport = {"width": 1366, "height": height}
    page = context.new_page() if context else browser.new_page(viewport=viewport, accept_downloads=True)
    page.goto(base)
    page.wait_for_selector("text=用户名", timeout=60_000)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORDS[username])
    page.get_by_role("button", name="登录").click()
    page.wait_for_selector(f"h2:has-text('{landing}'), h1:has-text('动态口令验证')", timeout=60_000)
    if page.locator("h1:has-text('动态口令验证')").count():
        binding, asking = page.locator("text=扫描下面的二维码"), page.locator("text=手机不在身边时")
        binding.or_(asking).first.wait_for(timeout=30_000)  # the page's text follows its title
        enrol = binding.count() > 0
        if enrol:
            page.wait_for_selector("[data-testid='stImage'] img", timeout=30_000)
            SECRETS[username] = page.locator("[data-testid='stCode']").first.inner_text().strip()
            page.screenshot(path=str(SHOTS / "second_factor_enrol.png"))
        page.get_by_label("动态口令或恢复码").fill(_totp(username))
        page.get_by_role("button", name="验证").click()
        if enrol:
            page.wait_for_selector("text=我已保存恢复码，继续", timeout=30_000)
            page.get_by_role("button", name="我已保存恢复码，继续").click()
        page.wait_for_selector(f"h2:has-text('{landing}')", timeout=60_000)
    return page


def _open(page, title: str, heading: str) -> None:
    """Go to a page through the sidebar, as a user does."""
    page.locator("[data-testid='stSidebarNav'] a", has_text=title).first.click()
    page.wait_for_selector(f"h2:has-text('{heading}')", timeout=60_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)
    assert page.locator("text=Page not found").count() == 0


def test_each_demo_role_sees_its_own_pages(server, browser):
    base, _url = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    expected = {
        "lingdao": ["总览", "参保地图", "集中缴费期", "帮助"],
        "kuomian": ["总览", "参保地图", "扩面名单", "集中缴费期", "帮助"],
        "jiuzhu": ["总览", "参保地图", "预警", "帮助"],
        "admin": ["总览", "参保地图", "扩面名单", "预警", "集中缴费期", "数据", "用户管理", "帮助"],
    }
    for username, titles in expected.items():
        page = _sign_in(browser, base, username)
        nav = page.locator("[data-testid='stSidebarNav'] a").all_inner_texts()
        assert [t.split("\n")[-1].strip() for t in nav] == titles, username
        if username == "lingdao":  # a deep link to a list shows no list: another browser gets the sign-in form
            fresh = browser.new_page()
            fresh.goto(f"{base}/alert-list")
            fresh.wait_for_selector("text=用户名", timeout=60_000)
            fresh.wait_for_timeout(1000)
            assert "高额费用预警" not in fresh.inner_text("body")
            fresh.close()
            page.goto(f"{base}/alert-list")  # this browser stays signed in, and the role has no such page
            page.wait_for_selector("text=您的角色无权查看此页面", timeout=60_000)
            page.wait_for_timeout(1500)
            assert page.locator("h2").count() == 0 and page.locator("text=Page not found").count() == 0
        page.close()
    for username, heading in (("anquan", "安全管理"), ("shenji", "审计日志")):  # their page and the manual only
        page = _sign_in(browser, base, username, landing=heading)
        assert "参保率" not in page.inner_text("body")
        nav = page.locator("[data-testid='stSidebarNav'] a").all_inner_texts()
        assert [t.split("\n")[-1].strip() for t in nav] == [heading, "帮助"], username
        page.close()


def test_the_security_and_audit_administrators_at_work(server, browser):
    base, url = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    auditor = _sign_in(browser, base, "shenji", height=900, landing="审计日志")
    auditor.get_by_role("button", name="校验审计链").click()
    auditor.wait_for_selector("text=审计链完整", timeout=30_000)
    auditor.wait_for_timeout(800)
    auditor.screenshot(path=str(SHOTS / "audit.png"), full_page=True)
    security = _sign_in(browser, base, "anquan", height=1000, landing="安全管理")
    security.wait_for_selector("text=最近一次校验", state="attached", timeout=30_000)
    security.wait_for_timeout(800)
    security.screenshot(path=str(SHOTS / "security.png"), full_page=True)
    engine = connect(url)
    assert audit.verify(engine).ok
    assert {"登录", "审计校验"} <= set(audit.entries(engine, username="shenji")["action"])


def test_a_second_sign_in_ends_the_first_browser_session(server, browser):
    base, _url = server
    first = _sign_in(browser, base, "kuomian")
    second = _sign_in(browser, base, "kuomian")
    first.locator("[data-testid='stSidebarNav'] a", has_text="参保地图").first.click()
    first.wait_for_selector("text=该账户已在其他地方登录", timeout=60_000)
    first.get_by_label("用户名").wait_for(timeout=30_000)  # the form follows the notice in the same run
    _open(second, "参保地图", "参保地图")  # the newer session goes on
    first.close()
    second.close()


def _session_cookie(context, present: bool = True) -> dict | None:
    """The browser's session cookie once it is there (present) or gone (not present): the page's script sets and
    clears it through the server's route right after the run that asks for it."""
    deadline = time.time() + 30
    while time.time() < deadline:
        found = [c for c in context.cookies() if c["name"] == session_cookie.COOKIE]
        if bool(found) == present:
            return found[0] if found else None
        time.sleep(0.2)
    pytest.fail(f"the session cookie was not {'set' if present else 'cleared'} within 30 s")


def test_the_session_survives_a_reload_and_a_second_tab_until_sign_out(server, browser):
    base, url = server
    engine = connect(url)
    counts = {a: len(audit.entries(engine, username="lingdao", action=a)) for a in ("登录", "退出")}
    first = _sign_in(browser, base, "lingdao", context=browser.new_context(viewport={"width": 1366, "height": 768}))
    cookie = _session_cookie(first.context)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] == -1  # until closed
    assert session_cookie.COOKIE not in first.evaluate("document.cookie")  # no page script can read it
    assert cookie["value"] not in first.content()

    first.reload()  # F5
    first.wait_for_selector("h2:has-text('总览')", timeout=60_000)
    second = first.context.new_page()  # a second tab of the same browser
    second.goto(base)
    second.wait_for_selector("h2:has-text('总览')", timeout=60_000)
    _open(first, "参保地图", "参保地图")  # the first tab goes on: both tabs share the one session
    first.reload()  # F5 on a page's own address stays on that page
    first.wait_for_selector("h2:has-text('参保地图')", timeout=60_000)
    _open(second, "集中缴费期", "集中缴费期")
    assert first.locator("text=已在其他地方登录").count() == 0
    assert len(audit.entries(engine, username="lingdao", action="登录")) == counts["登录"] + 1

    second.get_by_role("button", name="退出登录").click()
    second.get_by_label("用户名").wait_for(timeout=60_000)
    _session_cookie(first.context, present=False)
    for tab in (first, second):  # a reload of either tab shows the sign-in page
        tab.reload()
        tab.get_by_label("用户名").wait_for(timeout=60_000)
        tab.wait_for_timeout(1000)
        assert tab.locator("h2").count() == 0 and tab.locator("[data-testid='stSidebarNav']").count() == 0
        assert tab.locator("text=Page not found").count() == 0  # on a page's own address too
    assert len(audit.entries(engine, username="lingdao", action="退出")) == counts["退出"] + 1
    first.context.close()


def test_every_page_renders_and_the_map_drills_down(server, browser):
    server, _url = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    asked = []  # every address the browser asks for, from the first load of the page on
    context.on("request", lambda request: asked.append(request.url))
    page = _sign_in(browser, server, "admin", context=context)
    for title, heading, name in PAGES:
        _open(page, title, heading)
        assert page.locator("[data-testid='stException']").count() == 0, name
        if name == "map":
            page.wait_for_selector("[data-testid='stVegaLiteChart'] svg .mark-shape path", timeout=30_000)
            assert page.locator(".mark-shape path").count() >= 20
            assert "25 个乡镇" in page.inner_text("body")
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    # Click the town in the map's middle: its villages replace the towns and the breadcrumb grows.
    _open(page, "参保地图", "参保地图")
    shapes = page.locator(".mark-shape path")
    page.wait_for_selector(".mark-shape path", timeout=30_000)
    box = page.locator("[data-testid='stVegaLiteChart'] svg .mark-shape").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("text=个村社区", timeout=30_000)
    page.wait_for_timeout(1500)
    body = page.inner_text("body")
    assert "青禾区" in body and "25 个乡镇" not in body
    assert shapes.count() >= 4
    page.screenshot(path=str(SHOTS / "map_town.png"), full_page=True)

    # A person's detail on the alert page: select the first row of the list.
    _open(page, "预警", "高额费用预警")
    grid = page.locator("[data-testid='stDataFrame']").first.bounding_box()
    page.mouse.click(grid["x"] + 18, grid["y"] + 35 + 17)
    page.wait_for_selector("text=按基金分项", timeout=30_000)
    page.wait_for_selector("[data-testid='stVegaLiteChart'] svg .mark-line path", timeout=30_000)
    page.wait_for_timeout(1000)
    page.locator("text=个人费用明细").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "alert_detail.png"))
    # nothing is fetched from outside (an intranet has no internet): fonts, icons and scripts come from the server
    assert [url for url in asked if not url.startswith((server, "data:", "blob:"))] == []

    wide = _sign_in(browser, server, "admin", height=1080)
    wide.set_viewport_size({"width": 1920, "height": 1080})
    _open(wide, "参保地图", "参保地图")
    wide.wait_for_selector(".mark-shape path", timeout=30_000)
    wide.screenshot(path=str(SHOTS / "map_1920.png"))


def test_push_a_batch_and_import_its_feedback_through_the_pages(server, browser, tmp_path):
    import pandas as pd

    server, url = server
    page = _sign_in(browser, server, "jiuzhu", height=900)
    _open(page, "预警", "高额费用预警")
    page.get_by_role("tab", name="推送与反馈").click()
    page.get_by_role("button", name="生成推送批次").click()
    page.wait_for_selector("text=已生成", timeout=30_000)
    with page.expect_download() as download:
        page.get_by_role("button", name="下载批次").click()
    batch = tmp_path / "batch.xlsx"
    download.value.save_as(batch)
    sheet = pd.read_excel(batch, header=1, dtype={"身份证号": str}, engine="calamine")  # a title row above
    assert len(sheet) >= 6 and sheet["推送批次"].nunique() == 1

    reply = tmp_path / "核实反馈.xlsx"
    pd.DataFrame(
        {
            "身份证号": sheet["身份证号"].tolist()[:5] + ["990101199001011234"],
            "年度": 2025,
            "核实结果": ["纳入监测"] * 6,
            "核实日期": "2025-12-20",
            "备注": "",
        }
    ).to_excel(reply, index=False)
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(reply))
    page.wait_for_selector("text=核实反馈.xlsx", timeout=30_000)
    page.get_by_role("button", name="导入反馈").click()
    page.wait_for_selector("text=反馈导入 #", timeout=30_000)
    body = page.inner_text("body")
    assert "核实 5 人，拒收 1 行" in body
    engine = connect(url)
    log = audit.entries(engine, username="jiuzhu")
    assert {"登录", "推送", "导出", "反馈导入"} <= set(log["action"])
    pushed = int(log.loc[log["action"] == "推送", "rows"].iloc[0])
    assert pushed == len(sheet)  # only the alerts of jiuzhu's five towns
    scoped = alert_case.alert_list(engine, 2025)
    assert pushed < len(scoped)
    page.wait_for_timeout(800)
    page.screenshot(path=str(SHOTS / "push_feedback.png"), full_page=True)


def test_leadership_opens_the_bulletin_and_downloads_it(server, browser, tmp_path):
    import pandas as pd

    base, _url = server
    page = _sign_in(browser, base, "lingdao", height=1000)
    _open(page, "集中缴费期", "集中缴费期")
    page.wait_for_selector("text=进度通报", timeout=30_000)
    with page.expect_download() as download:
        page.get_by_role("button", name="下载通报（xlsx）").click()
    target = tmp_path / "bulletin.xlsx"
    download.value.save_as(target)
    sheet = pd.read_excel(target, header=3, engine="calamine")
    assert len(sheet) == 25 and sheet["排名"].tolist() == list(range(1, 26))
    with page.expect_download() as printable:
        page.get_by_role("button", name="下载打印版（A4，HTML）").click()
    text = Path(printable.value.path()).read_text(encoding="utf-8")
    assert "@page { size: A4" in text and "http" not in text  # self-contained, nothing fetched from outside
    page.wait_for_timeout(800)
    page.screenshot(path=str(SHOTS / "campaign.png"), full_page=True)
