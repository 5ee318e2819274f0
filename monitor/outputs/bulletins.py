"""The 进度通报 (progress bulletin) as xlsx and as a print-ready A4 HTML page, made locally."""

from __future__ import annotations

import html
import io

import pandas as pd

from monitor.outputs import paper
from monitor.outputs.neutralise import neutralise_text

HEADERS = {
    "rank": "排名",
    "name": "乡镇",
    "in_scope": "应参保人数",
    "target": "目标人数",
    "enrolled": "已缴费人数",
    "completion": "完成率(%)",
    "change": "较上期(百分点)",
}


def table(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[list(HEADERS)].rename(columns=HEADERS)


def xlsx(rows: pd.DataFrame, title: str, subtitle: str) -> bytes:
    """One sheet: title, subtitle, the ranking; the three lowest towns in red."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter") as writer:
        book = writer.book
        sheet = book.add_worksheet("进度通报")
        bold = book.add_format({"bold": True, "font_size": 14})
        head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center"})
        cell = book.add_format({"border": 1})
        low = book.add_format({"border": 1, "font_color": "#C00000", "bold": True})
        sheet.write(0, 0, title, bold)
        sheet.write(1, 0, subtitle)
        for col, header in enumerate(HEADERS.values()):
            sheet.write(3, col, header, head)
            sheet.set_column(col, col, 14 if col else 6)
        for line, record in enumerate(rows.to_dict("records"), start=4):
            style = low if record["lowest"] else cell
            for col, key in enumerate(HEADERS):
                value = record[key]
                if value is None or (isinstance(value, float) and pd.isna(value)):
                    sheet.write_blank(line, col, None, style)
                elif isinstance(value, str):
                    sheet.write_string(line, col, neutralise_text(value), style)
                else:
                    sheet.write_number(line, col, float(value), style)
        paper.a4(sheet, 3, landscape=False)
    return buffer.getvalue()


def printable(rows: pd.DataFrame, title: str, subtitle: str) -> str:
    """A self-contained A4 page (no external fonts or scripts) to print from the browser."""

    def cell(value: object) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return ""
        return html.escape(f"{value:.2f}" if isinstance(value, float) else str(value))

    lines = []
    for record in rows.to_dict("records"):
        css = ' class="low"' if record["lowest"] else ""
        lines.append(f"<tr{css}>" + "".join(f"<td>{cell(record[k])}</td>" for k in HEADERS) + "</tr>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS.values())
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
@page {{ size: A4 portrait; margin: 18mm 15mm; }}
body {{ font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "SimSun", sans-serif;
       font-size: 11pt; }}
h1 {{ font-size: 18pt; text-align: center; margin: 0 0 4mm; }}
p.sub {{ text-align: center; color: #444; margin: 0 0 6mm; }}
table {{ width: 100%; border-collapse: collapse; }}
th, td {{ border: 0.3mm solid #666; padding: 1.6mm 2mm; text-align: right; }}
th {{ background: #dde6f0; text-align: center; }}
td:nth-child(2) {{ text-align: left; }}
tr.low td {{ color: #b00000; font-weight: bold; }}
p.note {{ font-size: 9pt; color: #555; margin-top: 4mm; }}
</style></head><body>
<h1>{html.escape(title)}</h1><p class="sub">{html.escape(subtitle)}</p>
<table><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(lines)}
</tbody></table>
<p class="note">完成率 = 已缴费人数 ÷ 目标人数；目标人数 = 应参保人数 × 参保率目标。红色为完成率最低的三个乡镇。</p>
</body></html>
"""
