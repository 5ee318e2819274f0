"""Regenerate the screenshots of the user manual (docs/manual/screenshots/*.png).

    .venv/bin/python docs/manual/screenshots.py [--only NAME,NAME] [--keep]

Builds a private demo district in a temporary folder (8,000 residents, two monthly loads and the previous year, the
demo accounts, as the tests' demo does), gives it a little history (a batch pushed two months ago with its feedback,
a monthly draft), starts the app on a free port with `python -m monitor.web.serve`, and signs in with each demo
account in Debian's Chromium (/usr/bin/chromium, driven by Playwright) to do the tasks the manual describes, saving a
screenshot at each step. Nothing of the project's own data/ folder is read or written. Not part of the test run:
run it after a change of the pages, then look at the pictures.

--only runs the named scenes (sign_in, leader, enrollment, assistance, admin, security, newcomer, auditor; a scene
may need the ones before it: newcomer needs admin and security). --keep leaves the temporary folder (database,
server log, screenshots of failed steps) and prints where it is.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Callable
from datetime import date, datetime, timedelta
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "manual" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [  # as the browser test: without the networking flags Chromium keeps trying hosts an intranet cannot reach
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTH, HEIGHT = 1366, 900
YEAR = 2025
NEW_USER, NEW_PASSWORD = "wangwu", "Qinghe-Xinren-2026"

sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------- the demo and the server


def build_demo(folder: Path) -> str:
    """The demo database as the tests build it, with the demo accounts and a little workflow history."""
    from monitor.config import load_settings
    from monitor.demo.generate import generate
    from monitor.load.pipeline import run_load
    from monitor.security import auth
    from monitor.storage import queries
    from monitor.storage.store import connect

    settings = load_settings(ROOT / "config.toml")
    generate(folder / "2025-11", settings, persons=8000, seed=11, followup=folder / "2025-12")
    url = f"sqlite:///{folder / 'monitor.db'}"
    engine = connect(url)
    run_load(folder / "2025-11", settings, engine)
    run_load(None, settings, engine, year=2024)
    run_load(folder / "2025-12", settings, engine)
    auth.demo_accounts(engine, queries.towns(engine).index.tolist())
    history(engine, settings, folder)
    engine.dispose()
    return url


def history(engine, settings, folder: Path) -> None:
    """jiuzhu pushed three yellow alerts of the five towns to 民政 two months ago; 民政 answered for two of them (one
    helped and closed, one 纳入监测 still without help: 帮扶逾期), the third is unanswered (核实逾期). And the
    scheduler's monthly draft of the alerts still 待推送 waits for approval."""
    import pandas as pd

    from monitor.cases import alert_case, feedback, push
    from monitor.rules.divisions import town_of
    from monitor.storage import queries

    now = datetime.now().replace(microsecond=0)
    names = queries.division_names(engine)
    towns = queries.towns(engine).index[:5]  # jiuzhu's towns
    alerts = alert_case.alert_list(engine, YEAR)
    mine = alerts[town_of(alerts["village_code"].fillna("")).isin(towns) & (alerts["level"] == "黄")]
    ids = mine["id_number"].tail(3).tolist()  # low in the list: its first rows stay fresh cases
    pushed = now - timedelta(days=60)
    push.push(engine, YEAR, ids, "民政", "jiuzhu", names, settings, filters="选中的人员", now=pushed)
    verified = (pushed + timedelta(days=9)).date()
    reply = folder / "民政反馈_首批.csv"
    pd.DataFrame(
        {
            "身份证号": ids[:2],
            "年度": YEAR,
            "核实结果": ["纳入监测", "纳入监测"],
            "核实日期": [str(verified)] * 2,
            "备注": ["", ""],
            "帮扶措施": ["医疗救助", ""],
            "帮扶日期": [str(verified + timedelta(days=5)), ""],
            "帮扶金额": [3000, None],
        }
    ).to_csv(reply, index=False, encoding="utf-8-sig")
    root = queries.root(engine, settings)
    feedback.import_feedback(engine, reply, settings, "jiuzhu", root, now=pushed + timedelta(days=10))
    feedback.close(engine, YEAR, ids[:1], "已纳入监测并落实医疗救助", "jiuzhu", now=pushed + timedelta(days=16))
    month_start = now.replace(day=1, hour=6, minute=0, second=0)
    push.prepare_draft(engine, YEAR, settings.draft_department, now=month_start)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, folder: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(folder / "streamlit.log", "w")  # noqa: SIM115 - open while the server runs
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
            "--server.fileWatcherType",  # others may edit the tree meanwhile: no "file changed, rerun" banner
            "none",
        ],
        cwd=ROOT,
        env={**env, "MONITOR_DB_URL": url},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{base}/", timeout=2).status == 200:  # the page, whatever the health check
                return proc, base
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit(f"the app did not answer within 90 s; see {folder / 'streamlit.log'}")


# ---------------------------------------------------------------- the browser


class Shots:
    """The browser, the app's address, the accounts' passwords and authenticator secrets, and the pictures taken."""

    def __init__(self, browser, base: str, url: str, debug: Path) -> None:
        from monitor.security import auth

        self.browser, self.base, self.url, self.debug = browser, base, url, debug
        self.passwords = {username: password for username, _n, _r, _t, password in auth.DEMO_ACCOUNTS}
        self.secrets: dict[str, str] = {}
        self.steps: dict[str, int] = {}
        self.taken: list[str] = []

    # -- pictures

    def save(self, page, name: str, element=None) -> None:
        """A picture of the window (or of one element), stored as a palette PNG: a fraction of the size, the same
        look for a page of flat colours and text."""
        from PIL import Image

        settle(page)
        raw = (element or page).screenshot()
        image = Image.open(BytesIO(raw)).convert("RGB")
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            OUT / f"{name}.png", optimize=True
        )
        self.taken.append(name)
        print(f"  {name}.png")

    # -- signing in

    def totp(self, username: str) -> str:
        """The authenticator's code now; a step already used (a second sign-in within 30 s) waits for the next."""
        import pyotp

        step = max(int(time.time()) // 30, self.steps.get(username, -1) + 1)
        while step > int(time.time()) // 30 + 1:  # the server accepts one step ahead for clock drift
            time.sleep(1)
        self.steps[username] = step
        return pyotp.TOTP(self.secrets[username]).at(step * 30)

    def sign_in(self, username: str, landing: str, password: str | None = None, shots: dict | None = None):
        """A new browser tab signed in through the form; an administrator also binds (first time) or gives the
        authenticator code. shots: names for the pictures of the binding page ("enrol") and recovery codes."""
        shots = shots or {}
        page = self.browser.new_page(viewport={"width": WIDTH, "height": HEIGHT}, accept_downloads=True)
        page.goto(self.base)
        page.wait_for_selector("text=用户名", timeout=60_000)
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password or self.passwords[username])
        page.get_by_role("button", name="登录").click()
        page.wait_for_selector(f"h2:has-text('{landing}'), h1:has-text('{landing}'), h1:has-text('动态口令验证')")
        if page.locator("h1:has-text('动态口令验证')").count():
            binding, asking = page.locator("text=扫描下面的二维码"), page.locator("text=手机不在身边时")
            binding.or_(asking).first.wait_for(timeout=30_000)
            enrol = binding.count() > 0
            if enrol:
                page.wait_for_selector("[data-testid='stImage'] img", timeout=30_000)
                self.secrets[username] = page.locator("[data-testid='stCode']").first.inner_text().strip()
            page.get_by_label("动态口令或恢复码").fill(self.totp(username))
            if enrol and "enrol" in shots:
                self.save(page, shots["enrol"])
            page.get_by_role("button", name="验证").click()
            if enrol:
                page.wait_for_selector("text=我已保存恢复码，继续", timeout=30_000)
                if "codes" in shots:
                    self.save(page, shots["codes"])
                page.get_by_role("button", name="我已保存恢复码，继续").click()
            page.wait_for_selector(f"h2:has-text('{landing}')", timeout=60_000)
        settle(page)
        return page


def settle(page, pause: int = 700) -> None:
    """Wait until the app's script run has finished and the page has drawn."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => { const app = document.querySelector('[data-testid=stApp]');"
        " return app && app.dataset.testScriptState !== 'running'; }",
        timeout=60_000,
    )
    page.wait_for_timeout(pause)


def open_page(page, title: str, heading: str) -> None:
    """Go to a page through the sidebar, as a user does (a reload would start a new session, signed out)."""
    page.locator("[data-testid='stSidebarNav'] a", has_text=title).first.click()
    page.wait_for_selector(f"h2:has-text('{heading}')", timeout=60_000)
    settle(page, 1500)


def to_top(page, locator) -> None:
    """Scroll so that the element stands at the top of the window, below Streamlit's header bar."""
    locator.first.evaluate(
        "e => { e.scrollIntoView({block: 'start'}); let p = e.parentElement;"
        " while (p && !(p.scrollTop > 0)) p = p.parentElement; if (p) p.scrollBy(0, -70); }"
    )
    page.wait_for_timeout(400)


def to_bottom(page, locator) -> None:
    """Scroll so that the element ends at the bottom of the window."""
    locator.first.evaluate("e => e.scrollIntoView({block: 'end'})")
    page.wait_for_timeout(400)


def pick(page, label: str, option: str) -> None:
    """Choose an option of a select box or a multiselect by its label, as a user does with the mouse."""
    page.get_by_label(label, exact=True).first.click()
    page.get_by_role("option", name=option, exact=True).first.click()
    page.keyboard.press("Escape")
    settle(page)


def click_row(page, grid, row: int) -> None:
    """Tick a row of a table (the selection box at the left of the row; -1 is the header: every row)."""
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 17 + 35 * (row + 1))
    settle(page)


def tables(page):
    return page.locator("[data-testid='stDataFrame']:visible")


# ---------------------------------------------------------------- the scenes, one per account


def scene_sign_in(s: Shots) -> None:
    page = s.browser.new_page(viewport={"width": WIDTH, "height": 640})
    page.goto(s.base)
    page.wait_for_selector("text=用户名", timeout=60_000)
    page.get_by_label("用户名").fill("lingdao")
    page.get_by_label("密码").fill(s.passwords["lingdao"])
    s.save(page, "sign_in")
    page.close()


def scene_leader(s: Shots) -> None:
    page = s.sign_in("lingdao", "总览")
    s.save(page, "leader_overview")
    to_top(page, page.locator("h3:has-text('未参保人员')"))
    s.save(page, "leader_overview_alerts")
    to_top(page, page.locator("h3:has-text('推送与处置进度')"))
    s.save(page, "leader_overview_loop")
    open_page(page, "参保地图", "参保地图")
    page.wait_for_selector("[data-testid='stVegaLiteChart'] svg .mark-shape path", timeout=30_000)
    s.save(page, "leader_map")
    pick(page, "查看乡镇的下级", page_first_option(page, "查看乡镇的下级"))
    page.wait_for_selector("text=个村社区", timeout=30_000)
    settle(page, 1500)
    s.save(page, "leader_map_town")
    open_page(page, "集中缴费期", "集中缴费期")
    s.save(page, "leader_campaign")
    to_top(page, page.locator("h3:has-text('进度通报')"))
    s.save(page, "leader_bulletin")
    page.close()


def page_first_option(page, label: str) -> str:
    """The first real option of a select box (after its '—')."""
    for _ in range(10):  # a click right after the page is drawn may not open the list yet: click again
        page.get_by_label(label, exact=True).first.click()
        page.wait_for_timeout(500)
        if page.get_by_role("option").count() > 1:
            break
        page.keyboard.press("Escape")
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)
    return next(o.strip() for o in options if o.strip() and o.strip() != "—")


def scene_enrollment(s: Shots) -> None:
    page = s.sign_in("kuomian", "总览")
    open_page(page, "扩面名单", "扩面名单")
    s.save(page, "outreach_list")
    page.get_by_role("tab", name="走访结果统计").click()
    settle(page)
    s.save(page, "outreach_outcomes")
    page.get_by_role("tab", name="按村社区统计").click()
    settle(page)
    to_top(page, page.locator("h3:has-text('名单')"))
    click_row(page, tables(page).nth(1), 0)
    page.wait_for_selector("text=记录走访结果", timeout=30_000)
    page.get_by_text("已动员参保", exact=True).click()
    page.get_by_label("备注（已死亡或迁出须写明日期、去向）").fill("户主已答应本周内到村委会缴费")
    to_bottom(page, page.locator("[data-testid='stForm']"))
    s.save(page, "outreach_person")
    page.get_by_role("button", name="保存走访结果").click()
    settle(page, 1500)
    to_top(page, page.locator("[data-testid='stForm']"))
    s.save(page, "outreach_saved")
    to_top(page, page.get_by_role("button", name="下载入户走访表（xlsx，按村分组，含完整信息）"))
    s.save(page, "outreach_downloads")
    open_page(page, "集中缴费期", "集中缴费期")
    to_top(page, page.locator("h3:has-text('短信提醒名单')"))
    page.get_by_role("button", name="生成短信名单").click()
    page.wait_for_selector("text=条短信", timeout=30_000)
    to_top(page, page.locator("h3:has-text('短信提醒名单')"))
    s.save(page, "sms_list")
    page.close()


def scene_assistance(s: Shots) -> None:
    import pandas as pd

    from monitor.cases import push
    from monitor.storage.store import connect

    page = s.sign_in("jiuzhu", "总览")
    open_page(page, "预警", "高额费用预警")
    s.save(page, "alerts_list")
    click_row(page, tables(page).first, 0)
    page.wait_for_selector("text=按基金分项", timeout=30_000)
    page.wait_for_selector("[data-testid='stVegaLiteChart'] svg .mark-line path", timeout=30_000)
    to_top(page, page.locator("h3:has-text('个人费用明细')"))
    s.save(page, "alerts_person")
    to_top(page, page.locator("[data-testid='stCaptionContainer']:has-text('帮扶措施（')"))
    s.save(page, "alerts_household")
    click_row(page, tables(page).first, 0)  # untick
    page.get_by_role("tab", name="临界关注").click()
    settle(page)
    s.save(page, "alerts_watch")

    page.get_by_role("tab", name="推送与反馈").click()
    settle(page)
    to_top(page, page.locator("h3:has-text('待审批的推送草稿')"))
    s.save(page, "alerts_push")
    page.get_by_role("button", name="生成推送批次").click()
    page.wait_for_selector("text=已生成", timeout=30_000)
    to_top(page, page.locator("h3:has-text('推送')").last)
    s.save(page, "alerts_pushed")

    engine = connect(s.url)
    batch_no = push.batches(engine, YEAR)["batch_no"].iloc[0]
    sheet = pd.read_excel(
        BytesIO(push.batch_file(engine, batch_no)), header=1, dtype={"身份证号": str}, engine="calamine"
    )
    engine.dispose()
    ids = sheet["身份证号"].dropna().tolist()
    today = str(date.today())
    reply = s.debug / "民政核实反馈.xlsx"
    pd.DataFrame(
        {
            "身份证号": ids[:3] + ["990101199001011234"],
            "年度": YEAR,
            "核实结果": ["纳入监测", "已落实救助", "不符合条件", "纳入监测"],
            "核实日期": today,
            "备注": ["", "", "家庭人均收入超过低保边缘标准", ""],
        }
    ).to_excel(reply, index=False)
    to_top(page, page.locator("h3:has-text('导入核实反馈')"))
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(reply))
    page.wait_for_selector(f"text={reply.name}", timeout=30_000)
    page.get_by_role("button", name="导入反馈").click()
    page.wait_for_selector("text=反馈导入 #", timeout=30_000)
    to_top(page, page.locator("h3:has-text('导入核实反馈')"))
    s.save(page, "alerts_feedback")

    page.get_by_role("tab", name="预警名单").click()
    pick(page, "状态", "已核实")
    grid = tables(page).first
    for row in range(6):  # the first verified alert that still needs a help measure
        click_row(page, grid, row)
        if page.get_by_role("button", name="登记帮扶措施").count():
            break
        click_row(page, grid, row)
    to_top(page, page.locator("[data-testid='stCaptionContainer']:has-text('帮扶措施（')"))
    page.get_by_label("帮扶金额（元，可不填）").fill("2000")
    s.save(page, "alerts_measure")
    page.get_by_role("button", name="登记帮扶措施").click()
    page.wait_for_selector("text=已登记", timeout=30_000)
    settle(page, 1500)
    click_row(page, tables(page).first, -1)  # every verified alert
    page.wait_for_selector("text=办结所选的", timeout=30_000)
    page.get_by_label(re.compile("办结所选的 .* 名已核实人员：备注")).fill("已核实，按规定办结")
    to_top(page, page.locator("[data-testid='stForm']:has-text('办结所选的')"))
    s.save(page, "alerts_close")
    page.get_by_role("button", name="办结", exact=True).click()
    settle(page, 1500)
    page.get_by_role("tab", name="统计").click()
    page.wait_for_selector("text=闭环情况", timeout=30_000)
    settle(page, 2000)
    s.save(page, "alerts_stats")
    page.close()


def scene_admin(s: Shots) -> None:
    page = s.sign_in("admin", "总览", shots={"enrol": "second_factor_enrol", "codes": "recovery_codes"})
    open_page(page, "数据", "数据")
    page.get_by_text("上传文件并立即运行").click()
    settle(page)
    s.save(page, "data_upload")
    page.get_by_text("上传文件并立即运行").click()
    settle(page)
    to_top(page, page.locator("h3:has-text('运行记录')"))
    s.save(page, "data_runs")
    to_top(page, page.locator("h3:has-text('拒收行')"))
    s.save(page, "data_rejects")
    to_top(page, page.locator("h3:has-text('数据质量发现')"))
    s.save(page, "data_findings")
    open_page(page, "用户管理", "用户管理")
    s.save(page, "users_accounts")
    page.get_by_label("用户名", exact=True).fill(NEW_USER)
    page.get_by_label("姓名", exact=True).fill("王五")
    page.get_by_role("button", name="新建").click()
    page.wait_for_selector("text=初始密码", timeout=30_000)
    text = page.locator("[data-testid='stAlert']:has-text('初始密码：')").first.inner_text()
    s.passwords[NEW_USER] = re.search(r"初始密码：(\S+?)（", text).group(1)
    s.save(page, "users_created")
    page.get_by_role("tab", name="系统配置").click()
    settle(page)
    s.save(page, "users_config")
    page.close()


def scene_security(s: Shots) -> None:
    page = s.sign_in("anquan", "安全管理")
    s.save(page, "security_accounts")
    pick(page, "用户", NEW_USER)
    page.wait_for_selector("text=角色与负责乡镇", timeout=30_000)
    pick(page, "角色", "扩面专员")
    pick(page, "负责乡镇（不选为全部）", first_town(s))
    to_top(page, page.get_by_label("用户", exact=True))
    s.save(page, "security_role")
    page.get_by_role("button", name="保存", exact=True).click()
    settle(page, 1500)
    page.get_by_role("tab", name="在线会话").click()
    settle(page)
    s.save(page, "security_sessions")
    page.get_by_role("tab", name="密码与登录策略").click()
    settle(page)
    s.save(page, "security_policy")
    page.get_by_role("tab", name="审计链").click()
    settle(page)
    s.save(page, "security_chain")
    page.close()


def first_town(s: Shots) -> str:
    from monitor.storage import queries
    from monitor.storage.store import connect

    engine = connect(s.url)
    name = str(queries.towns(engine).iloc[0])
    engine.dispose()
    return name


def scene_newcomer(s: Shots) -> None:
    page = s.sign_in(NEW_USER, "修改密码")
    page.get_by_label("原密码").fill(s.passwords[NEW_USER])
    page.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("再次输入新密码").fill(NEW_PASSWORD)
    s.save(page, "change_password")
    page.get_by_role("button", name="保存").click()
    page.wait_for_selector("h2:has-text('总览')", timeout=60_000)
    page.close()


def scene_auditor(s: Shots) -> None:
    page = s.sign_in("shenji", "审计日志")
    page.get_by_role("button", name="校验审计链").click()
    page.wait_for_selector("text=审计链完整", timeout=30_000)
    s.save(page, "audit_log")
    pick(page, "操作", "导出")
    s.save(page, "audit_filter")
    page.close()


SCENES: dict[str, Callable[[Shots], None]] = {
    "sign_in": scene_sign_in,
    "leader": scene_leader,
    "enrollment": scene_enrollment,
    "assistance": scene_assistance,
    "admin": scene_admin,
    "security": scene_security,
    "newcomer": scene_newcomer,
    "auditor": scene_auditor,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated scenes: " + ", ".join(SCENES))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    chosen = [n.strip() for n in args.only.split(",") if n.strip()] or list(SCENES)
    unknown = [n for n in chosen if n not in SCENES]
    if unknown:
        parser.error(f"unknown scene(s): {', '.join(unknown)}")
    if not CHROMIUM.exists():
        print("需要 Debian 的 Chromium（/usr/bin/chromium）：apt-get install chromium fonts-noto-cjk", file=sys.stderr)
        return 2
    started = time.time()
    folder = Path(tempfile.mkdtemp(prefix="manual_shots_"))
    # the audit key and checkpoints of this private database stay in its folder, not in the project's data/
    env = {
        **os.environ,
        "MONITOR_AUDIT_KEY_FILE": str(folder / "audit.key"),
        "MONITOR_AUDIT_CHECKPOINT_FILE": str(folder / "audit_checkpoints.jsonl"),
    }
    os.environ.update(env)
    failed: list[str] = []
    proc, shots = None, None
    try:
        print(f"building the demo in {folder} …")
        url = build_demo(folder)
        print(f"demo ready after {time.time() - started:.0f} s; starting the app …")
        proc, base = start_server(url, folder, env)
        OUT.mkdir(parents=True, exist_ok=True)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            shots = Shots(browser, base, url, folder)
            for name in chosen:
                print(f"{name}:")
                try:
                    SCENES[name](shots)
                except Exception:
                    failed.append(name)
                    traceback.print_exc()
                    tabs = [tab for context in browser.contexts for tab in context.pages]
                    for n, tab in enumerate(tabs):
                        tab.screenshot(path=str(folder / f"failed_{name}_{n}.png"))
                finally:
                    for context in browser.contexts:
                        for tab in context.pages:
                            tab.close()
            browser.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if args.keep or failed:
            print(f"temporary folder kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(
        f"{len(shots.taken) if shots else 0} screenshots in {OUT.relative_to(ROOT)} after {time.time() - started:.0f} s"
    )
    if failed:
        print("failed scenes: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
