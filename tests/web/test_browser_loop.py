"""The loop of SPEC §10 in a real browser: push, feedback with a help measure, closing, and the figures that follow.

Uses the server and browser of test_browser (a private copy of the demo database for this module)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pandas as pd
from test_browser import SHOTS, _open, _sign_in, browser, server  # noqa: F401 - the fixtures of the real browser

from monitor.cases import assistance
from monitor.security import audit
from monitor.storage.store import connect


def test_an_alert_goes_from_push_through_help_to_closing(server, browser, tmp_path, settings):  # noqa: F811
    base, url = server
    engine = connect(url)
    page = _sign_in(browser, base, "jiuzhu", height=1000)
    _open(page, "预警", "高额费用预警")
    page.get_by_role("tab", name="推送与反馈").click()
    page.get_by_role("button", name="生成推送批次").click()
    page.wait_for_selector("text=已生成", timeout=30_000)
    with page.expect_download() as download:
        page.get_by_role("button", name="下载批次").click()
    batch = tmp_path / "batch.xlsx"
    download.value.save_as(batch)
    ids = pd.read_excel(batch, header=1, dtype={"身份证号": str}, engine="calamine")["身份证号"].tolist()
    before = assistance.figures(engine, 2025, settings, []).iloc[0]
    assert (before["pushed"], before["verified"], before["helped"], before["closed"]) == (len(ids), 0, 0, 0)

    reply = tmp_path / "核实反馈.xlsx"
    pd.DataFrame(
        {
            "身份证号": ids[:2],
            "年度": 2025,
            "核实结果": ["纳入监测", "不符合条件"],
            "核实日期": str(date.today()),
            "备注": ["", "家庭收入超标"],
            "帮扶措施": ["医疗救助", ""],
            "帮扶日期": [str(date.today()), ""],
            "帮扶金额": [3000, None],
        }
    ).to_excel(reply, index=False)
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(reply))
    page.wait_for_selector("text=核实反馈.xlsx", timeout=30_000)
    page.get_by_role("button", name="导入反馈").click()
    page.wait_for_selector("text=核实 2 人，拒收 0 行", timeout=30_000)
    middle = assistance.figures(engine, 2025, settings, []).iloc[0]
    assert (middle["verified"], middle["helped"], middle["closed"], middle["loop_rate"]) == (2, 1, 0, 0.0)

    page.get_by_role("tab", name="预警名单").click()
    states = page.get_by_label("状态")
    states.click()
    page.get_by_role("option", name="已核实").click()
    page.keyboard.press("Escape")
    page.wait_for_timeout(1500)
    grid = page.locator("[data-testid='stDataFrame']").first
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 18, box["y"] + 18)  # the header's checkbox: select both verified alerts
    page.wait_for_selector("text=办结所选的 2 名已核实人员", timeout=30_000)
    page.get_by_label("办结所选的 2 名已核实人员：备注").fill("已纳入民政监测并救助")
    page.get_by_role("button", name="办结").click()
    page.wait_for_selector("text=已办结 2 人", timeout=30_000)
    after = assistance.figures(engine, 2025, settings, []).iloc[0]
    assert (after["closed"], after["closed_on_time"]) == (2, 2)
    assert after["loop_rate"] == int(Fraction(2 * 10_000, len(ids)) + Fraction(1, 2)) / 100  # half-up hundredths
    assert {"推送", "反馈导入", "办结"} <= set(audit.entries(engine, username="jiuzhu")["action"])
    page.get_by_role("tab", name="统计").click()
    page.wait_for_selector("text=闭环情况", timeout=30_000)
    page.wait_for_timeout(2500)  # the tables finish drawing
    assert page.locator("text=Traceback").count() == 0  # an empty filtered list too
    page.screenshot(path=str(SHOTS / "alert_loop.png"), full_page=True)
    engine.dispose()
