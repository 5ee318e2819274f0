"""Papers that print (issue 23): each xlsx a person prints, opened by a real spreadsheet program (LibreOffice
headless) and printed to PDF, is A4, one page wide at a readable scale (65 % or more), with its header repeated."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from monitor.outputs import bulletins, workbooks

A4_POINTS = {(595, 842), (842, 595)}
WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')
PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">')


@pytest.fixture(scope="module")
def soffice():
    found = shutil.which("soffice")
    if not found or not shutil.which("pdftotext"):
        if os.environ.get("CI") or os.environ.get("MONITOR_REQUIRE_BROWSER"):
            pytest.fail("LibreOffice (libreoffice-calc-nogui) and poppler-utils must be installed (see test.sh)")
        pytest.skip("no LibreOffice (./test.sh installs it)")
    return found


def _pdf_pages(soffice: str, book: bytes, folder: Path, name: str) -> list[tuple[tuple[int, int], list[tuple]]]:
    """Print the workbook to PDF with LibreOffice; per page its size in points and its words with their boxes."""
    source = folder / f"{name}.xlsx"
    source.write_bytes(book)
    profile = folder / "profile"  # a private LibreOffice profile: runs do not share (or lock) one
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf", "--outdir",
         str(folder), str(source)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    text = subprocess.run(
        ["pdftotext", "-bbox", str(folder / f"{name}.pdf"), "-"], check=True, capture_output=True, text=True
    ).stdout
    pages = []
    for chunk in text.split("<page ")[1:]:
        width, height = PAGE.match("<page " + chunk).groups()
        words = [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in WORD.findall(chunk)]
        pages.append(((round(float(width)), round(float(height))), words))
    return pages


def _height(words: list[tuple], word: str) -> float:
    return next(y2 - y1 for _x1, y1, _x2, y2, w in words if w == word)


@pytest.fixture(scope="module")
def full_size(soffice, tmp_path_factory):
    """The height of a header word printed at 100 % (the scale's yardstick, measured in the same program)."""
    folder = tmp_path_factory.mktemp("yardstick")
    rows = pd.DataFrame({h: ["x"] for h in workbooks.PUSH_HEADERS[:2]})
    buffer = pd.io.common.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter") as writer:
        sheet = writer.book.add_worksheet("x")
        sheet.write(0, 0, "序号", writer.book.add_format({"bold": True}))
    del rows
    (_size, words), *_ = _pdf_pages(soffice, buffer.getvalue(), folder, "yardstick")
    return _height(words, "序号")


def _push_rows(n: int) -> pd.DataFrame:
    rows = pd.DataFrame({h: ["青禾区某某村民委员会"] * n for h in workbooks.PUSH_HEADERS})
    for column in ("医疗总费用", "基本医保支付", "大病保险支付", "医疗救助支付", "个人负担"):
        rows[column] = 123456.78
    rows["序号"], rows["身份证号"], rows["姓名"] = range(1, n + 1), "990101196005010119", "欧阳某某"
    return rows


def _papers() -> dict[str, tuple[bytes, str, str]]:
    """name → (workbook, first header, last header) of every paper a person prints."""
    people = _push_rows(80)
    door = pd.DataFrame({h: ["青禾区东门社区幸福路 18 号"] * 70 for h, _w in workbooks.DOOR_TO_DOOR})
    door["乡镇"], door["村社区"] = "青禾街道", ["东门社区", "西门社区"] * 35
    late = pd.DataFrame({h: ["民政"] * 60 for h, _w in workbooks.SUPERVISION_HEADERS if h not in ("序号", "办理情况")})
    late["逾期天数"] = 12
    ranking = pd.DataFrame(
        {"rank": range(1, 71), "name": "某某镇", "in_scope": 12000, "target": 11400, "enrolled": 9000,
         "completion": 78.95, "change": 1.25, "lowest": False}
    )  # fmt: skip
    return {
        "push_batch": (
            workbooks.push_batch(people, "20251201-001", "民政", datetime(2025, 12, 1), "青禾区医疗保障局"),
            "序号",
            "推送批次",
        ),
        "door_to_door": (workbooks.door_to_door(door, "未参保人员入户走访表", "2025-12-31"), "户号", "走访人/日期"),
        "supervision": (workbooks.supervision(late, "督办清单", "民政", date(2026, 1, 10)), "序号", "办理情况"),
        "bulletin": (bulletins.xlsx(ranking, "集中缴费进度通报", "截至 2025-11-30"), "排名", "较上期(百分点)"),
        "feedback_template": (
            workbooks.feedback_template(people[["姓名", "身份证号", "乡镇", "村社区"]], 2025, "20251201-001", "民政",
                                        ["纳入监测"], ["医疗救助"], "青禾区医疗保障局"),
            "序号",
            "帮扶金额",
        ),
    }  # fmt: skip


@pytest.mark.parametrize("name", list(_papers()))
def test_each_paper_prints_one_page_wide_on_a4_at_a_readable_scale(soffice, full_size, tmp_path, name):
    book, first, last = _papers()[name]
    pages = _pdf_pages(soffice, book, tmp_path, name)
    assert len(pages) >= 2  # long enough to need a second page, whose header must repeat
    for number, (size, words) in enumerate(pages, start=1):
        assert size in A4_POINTS, f"{name} page {number} is {size} points, not A4"
        shown = {w for *_box, w in words}
        assert first in shown and last in shown, f"{name} page {number}: the header is not repeated or is cut"
        right = max(x2 for _x1, _y1, x2, _y2, _w in words)
        assert right <= size[0], f"{name} page {number}: text runs past the page"
    scale = _height(pages[0][1], first) / full_size
    assert scale >= 0.65, f"{name} prints at {scale:.0%}"
