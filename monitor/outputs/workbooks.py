"""xlsx layouts people work from: the door-to-door enrollment list, the push batch, the 督办 list of overdue alerts."""

from __future__ import annotations

import io
from datetime import date, datetime

import pandas as pd

from monitor.outputs.neutralise import neutralise_text

DOOR_TO_DOOR = [
    ("户号", 18),
    ("姓名", 10),
    ("身份证号", 21),
    ("优先级", 11),
    ("身份类别", 16),
    ("资助方式", 10),
    ("资助金额(元)", 12),
    ("联系电话", 14),
    ("住址", 24),
    ("备注", 12),
    ("走访结果", 16),
    ("走访人/日期", 16),
]


def door_to_door(rows: pd.DataFrame, title: str, as_of: date | str) -> bytes:
    """One sheet per town; within it a heading row per village, then its households in order.

    `rows` carries the columns of views.outreach.display(). The header row is frozen and printed on every page.
    """
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter") as writer:
        book = writer.book
        head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center"})
        group = book.add_format({"bold": True, "bg_color": "#F2F2F2"})
        cell = book.add_format({"border": 1})
        text = book.add_format({"border": 1, "num_format": "@"})
        for town, part in rows.groupby("乡镇", sort=False):
            sheet = book.add_worksheet(str(town)[:31])
            sheet.write(
                0,
                0,
                f"{title}（{town}，截至 {as_of}，共 {len(part)} 人）",
                book.add_format({"bold": True, "font_size": 13}),
            )
            for col, (header, width) in enumerate(DOOR_TO_DOOR):
                sheet.write(1, col, header, head)
                sheet.set_column(col, col, width)
            sheet.freeze_panes(2, 0)
            sheet.repeat_rows(1)
            sheet.set_landscape()
            sheet.fit_to_pages(1, 0)
            line = 2
            for village, people in part.groupby("村社区", sort=False):
                sheet.merge_range(line, 0, line, len(DOOR_TO_DOOR) - 1, f"{village}（{len(people)} 人）", group)
                line += 1
                for record in people.to_dict("records"):
                    for col, (header, _width) in enumerate(DOOR_TO_DOOR):
                        value = record.get(header, "")
                        value = "" if value is None or (isinstance(value, float) and pd.isna(value)) else value
                        sheet.write_string(
                            line,
                            col,
                            neutralise_text(str(value)),
                            text if header in ("身份证号", "户号", "联系电话") else cell,
                        )
                    line += 1
    return buffer.getvalue()


PUSH_HEADERS = [
    "序号",
    "姓名",
    "身份证号",
    "乡镇",
    "村社区",
    "身份类别",
    "医疗总费用",
    "基本医保支付",
    "大病保险支付",
    "医疗救助支付",
    "个人负担",
    "预警等级",
    "触发日期",
    "推送批次",
]
PUSH_WIDTHS = [6, 10, 21, 12, 12, 16, 13, 13, 13, 13, 13, 9, 12, 16]


def push_batch(rows: pd.DataFrame, batch_no: str, department: str, created: datetime) -> bytes:
    """The push batch of SPEC §10 for the receiving department; `rows` has the PUSH_HEADERS columns.

    Amounts are numbers with two decimals, ID numbers text; the file's creation time is the batch's.
    """
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter") as writer:
        book = writer.book
        book.set_properties({"title": f"高额费用预警推送 {batch_no}", "company": department, "created": created})
        head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center"})
        text = book.add_format({"border": 1, "num_format": "@"})
        money = book.add_format({"border": 1, "num_format": "#,##0.00"})
        plain = book.add_format({"border": 1})
        sheet = book.add_worksheet("预警推送")
        for col, (header, width) in enumerate(zip(PUSH_HEADERS, PUSH_WIDTHS, strict=False)):
            sheet.write(0, col, header, head)
            sheet.set_column(col, col, width)
        sheet.freeze_panes(1, 0)
        for line, record in enumerate(rows[PUSH_HEADERS].to_dict("records"), start=1):
            for col, header in enumerate(PUSH_HEADERS):
                value = record[header]
                if header in ("医疗总费用", "基本医保支付", "大病保险支付", "医疗救助支付", "个人负担"):
                    sheet.write_number(line, col, float(value), money)
                elif header == "序号":
                    sheet.write_number(line, col, int(value), plain)
                else:
                    sheet.write_string(line, col, "" if value is None else neutralise_text(str(value)), text)
    return buffer.getvalue()


SUPERVISION_HEADERS = [
    ("序号", 6),
    ("姓名", 10),
    ("身份证号", 21),
    ("乡镇", 12),
    ("村社区", 12),
    ("推送批次", 16),
    ("推送日期", 12),
    ("逾期环节", 10),
    ("应完成日期", 12),
    ("逾期天数", 10),
    ("办理情况", 24),
]


def supervision(rows: pd.DataFrame, title: str, department: str, on: date) -> bytes:
    """The 督办 list of one department's overdue alerts (SPEC §10): a title row, the header repeated on every
    printed page, A4 landscape one page wide, and a line for the department's signature and date.

    `rows` has the SUPERVISION_HEADERS columns except 序号 and 办理情况 (left blank for the department)."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter") as writer:
        book = writer.book
        book.set_properties({"title": title, "company": department})
        head = book.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1, "align": "center"})
        text = book.add_format({"border": 1, "num_format": "@"})
        plain = book.add_format({"border": 1})
        sheet = book.add_worksheet("督办清单")
        sheet.write(0, 0, f"{title}（{department}，{on}，共 {len(rows)} 人）", book.add_format({"bold": True}))
        for col, (header, width) in enumerate(SUPERVISION_HEADERS):
            sheet.write(1, col, header, head)
            sheet.set_column(col, col, width)
        sheet.freeze_panes(2, 0)
        sheet.repeat_rows(1)
        sheet.set_paper(9)  # A4
        sheet.set_landscape()
        sheet.fit_to_pages(1, 0)
        sheet.set_footer("&C第 &P 页，共 &N 页")
        for line, record in enumerate(rows.to_dict("records"), start=2):
            for col, (header, _width) in enumerate(SUPERVISION_HEADERS):
                if header == "序号":
                    sheet.write_number(line, col, line - 1, plain)
                elif header == "逾期天数":
                    sheet.write_number(line, col, int(record[header]), plain)
                else:
                    value = record.get(header, "")
                    value = "" if value is None or (isinstance(value, float) and pd.isna(value)) else value
                    sheet.write_string(line, col, neutralise_text(str(value)), text)
        sign = len(rows) + 3
        sheet.write(
            sign, 0, f"{department}（盖章）：　　　　　　　　经办人签字：　　　　　　　　日期：　　年　　月　　日"
        )
    return buffer.getvalue()
