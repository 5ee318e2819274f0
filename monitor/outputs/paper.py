"""Print setup shared by every xlsx a person prints (issue 23): A4, landscape where wide, one page wide at a
readable scale, the header row repeated on each page, page numbers, and where a department signs, a line for it.

A title row sits above the header; readers of the files find the header within the first five rows (SPEC §3).
"""

from __future__ import annotations

from typing import Any

A4 = 9  # the paper size code of the xlsx format
PAGE_NUMBERS = "&C第 &P 页，共 &N 页"


def a4(sheet: Any, header_row: int, landscape: bool, signature: str = "") -> None:
    """An xlsxwriter worksheet printed on A4, fitted to one page wide, its header row (0-based) repeated; the
    signature line, when given, is printed at the foot of every page beside the page numbers."""
    sheet.set_paper(A4)
    if landscape:
        sheet.set_landscape()
    else:
        sheet.set_portrait()
    sheet.set_margins(left=0.3, right=0.3, top=0.5, bottom=0.7)
    sheet.center_horizontally()
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(header_row)
    literal = signature.replace("&", "&&")  # & starts a code in a print footer
    footer = f"&L{literal}&R第 &P 页，共 &N 页" if signature else PAGE_NUMBERS
    sheet.set_footer(footer, {"margin": 0.3})


def title(bureau: str, name: str, *details: str) -> str:
    """'青禾区医疗保障局 高额费用预警推送清单（批次 20251201-001，民政）'."""
    shown = "，".join(d for d in details if d)
    return f"{bureau + ' ' if bureau else ''}{name}{'（' + shown + '）' if shown else ''}"
