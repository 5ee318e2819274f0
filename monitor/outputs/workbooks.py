"""xlsx layouts people work from: the door-to-door enrollment list, the push batch, the 督办 list of overdue alerts."""

from __future__ import annotations

import io
from datetime import date, datetime

import pandas as pd

from monitor.outputs import paper
from monitor.outputs.neutralise import neutralise_text

# Widths in characters: together they print one A4 landscape page wide at about 70 % (tests/outputs/test_print.py).
DOOR_TO_DOOR = [
    ("户号", 14),
    ("姓名", 9),
    ("身份证号", 19),
    ("优先级", 8),
    ("身份类别", 12),
    ("资助方式", 9),
    ("资助金额(元)", 10),
    ("联系电话", 12),
    ("住址", 18),
    ("备注", 10),
    ("走访结果", 12),
    ("走访人/日期", 13),
]


def _sheet_name(town: str, used: set[str]) -> str:
    """A town's name as an xlsx sheet name: without the characters sheets may not hold ([]:*?/\\), at most 31
    characters, and different from the sheets before it (two towns may share their first 31 characters)."""
    base = "".join("_" if c in "[]:*?/\\" else c for c in town).strip("'")[:31] or "乡镇"
    name, n = base, 1
    while name.lower() in used:
        n += 1
        name = f"{base[: 31 - len(str(n)) - 1]}_{n}"
    used.add(name.lower())
    return name


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
        used: set[str] = set()
        for town, part in rows.groupby("乡镇", sort=False):
            sheet = book.add_worksheet(_sheet_name(str(town), used))
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
            paper.a4(sheet, 1, landscape=True, signature="走访人：　　　　　　　　日期：")
            line = 2
            for village, people in part.groupby("村社区", sort=False):
                heading = neutralise_text(f"{village}（{len(people)} 人）")
                sheet.merge_range(line, 0, line, len(DOOR_TO_DOOR) - 1, "", group)
                sheet.write_string(line, 0, heading, group)
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
PUSH_WIDTHS = [5, 9, 19, 10, 10, 12, 11, 11, 11, 11, 11, 6, 11, 14]  # one A4 landscape page wide at about 75 %


def push_batch(rows: pd.DataFrame, batch_no: str, department: str, created: datetime, bureau: str = "") -> bytes:
    """The push batch of SPEC §10 for the receiving department; `rows` has the PUSH_HEADERS columns.

    A title row (bureau, list, batch, department, date), then the header row; amounts are numbers with two decimals,
    ID numbers text; the file's creation time is the batch's. Printed A4 landscape, one page wide, with a line for
    the receiving department's seal and signature."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter") as writer:
        book = writer.book
        book.set_properties({"title": f"高额费用预警推送 {batch_no}", "company": department, "created": created})
        head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center"})
        text = book.add_format({"border": 1, "num_format": "@"})
        money = book.add_format({"border": 1, "num_format": "#,##0.00"})
        plain = book.add_format({"border": 1})
        sheet = book.add_worksheet("预警推送")
        heading = paper.title(bureau, "高额费用预警推送清单", f"批次 {batch_no}", department, f"{created:%Y-%m-%d}")
        sheet.write(0, 0, f"{heading}，共 {len(rows)} 人", book.add_format({"bold": True, "font_size": 13}))
        for col, (header, width) in enumerate(zip(PUSH_HEADERS, PUSH_WIDTHS, strict=True)):
            sheet.write(1, col, header, head)
            sheet.set_column(col, col, width)
        sheet.freeze_panes(2, 0)
        paper.a4(sheet, 1, landscape=True, signature=f"{department}签收（盖章）：　　　　　签收人：　　　　　日期：")
        for line, record in enumerate(rows[PUSH_HEADERS].to_dict("records"), start=2):
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
        paper.a4(sheet, 1, landscape=True, signature=f"{department}（盖章）：　　　　　经办人：　　　　　日期：")
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
    return buffer.getvalue()


FEEDBACK_TEMPLATE = [
    ("序号", 6),
    ("姓名", 10),
    ("身份证号", 21),
    ("乡镇", 12),
    ("村社区", 12),
    ("年度", 7),
    ("核实结果", 12),
    ("核实日期", 12),
    ("备注", 18),
    ("帮扶措施", 13),
    ("帮扶日期", 12),
    ("帮扶金额", 11),
]


def feedback_template(
    rows: pd.DataFrame, year: int, batch_no: str, department: str, results: list[str], measures: list[str], bureau: str
) -> bytes:
    """The feedback file civil affairs fills in for a push batch (SPEC §10): the batch's people with empty 核实结果,
    核实日期, 备注 and help columns, drop-down lists of the allowed results and measures, and room below each
    person for more measures (copy the row). The import reads it as any feedback file: its header is row 2."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter") as writer:
        book = writer.book
        head = book.add_format({"bold": True, "bg_color": "#E2EFDA", "border": 1, "align": "center"})
        text = book.add_format({"border": 1, "num_format": "@"})
        entry = book.add_format({"border": 1, "bg_color": "#FFF2CC", "num_format": "@"})
        sheet = book.add_worksheet("核实反馈")
        heading = paper.title(bureau, "高额费用预警核实反馈表", f"批次 {batch_no}", department)
        sheet.write(0, 0, f"{heading}：请填写黄色各列；一人多项帮扶措施时复制该行", book.add_format({"bold": True}))
        for col, (header, width) in enumerate(FEEDBACK_TEMPLATE):
            sheet.write(1, col, header, head)
            sheet.set_column(col, col, width)
        sheet.freeze_panes(2, 0)
        paper.a4(sheet, 1, landscape=True, signature=f"核实单位 {department}（盖章）：　　　　核实人：　　　　日期：")
        for line, record in enumerate(rows.to_dict("records"), start=2):
            given = {"序号": str(line - 1), "年度": str(year), **{k: str(record.get(k, "") or "") for k in record}}
            for col, (header, _width) in enumerate(FEEDBACK_TEMPLATE):
                if header in ("核实结果", "核实日期", "备注", "帮扶措施", "帮扶日期", "帮扶金额"):
                    sheet.write_blank(line, col, None, entry)
                else:
                    sheet.write_string(line, col, neutralise_text(given.get(header, "")), text)
        last = len(rows) + 1 + 200  # rows added below for further measures keep their drop-down lists
        for header, values in (("核实结果", results), ("帮扶措施", measures)):
            col = [h for h, _w in FEEDBACK_TEMPLATE].index(header)
            sheet.data_validation(2, col, last, col, {"validate": "list", "source": values})
        for header in ("核实日期", "帮扶日期"):
            col = [h for h, _w in FEEDBACK_TEMPLATE].index(header)
            sheet.data_validation(
                2, col, last, col, {"validate": "any", "input_title": header, "input_message": "格式：2025-12-31"}
            )
    return buffer.getvalue()
