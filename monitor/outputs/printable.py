"""Print-ready A4 HTML pages of lists a department signs (issue 23): self-contained, no external fonts or scripts;
the header row repeats on every printed page, and a line for seal, signature and date closes the list."""

from __future__ import annotations

import html

import pandas as pd

from monitor.outputs.neutralise import neutralise_text


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    text = f"{value:,.2f}" if isinstance(value, float) else str(value)
    return html.escape(neutralise_text(text))


def list_page(title: str, subtitle: str, rows: pd.DataFrame, signature: str, landscape: bool = True) -> str:
    """The rows as one table on A4 (landscape by default), title and subtitle above, the signature line below."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in rows.columns)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in record) + "</tr>" for record in rows.itertuples(index=False)
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
@page {{ size: A4 {"landscape" if landscape else "portrait"}; margin: 12mm 10mm 14mm; }}
body {{ font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "SimSun", sans-serif;
       font-size: 9pt; }}
h1 {{ font-size: 15pt; text-align: center; margin: 0 0 2mm; }}
p.sub {{ text-align: center; color: #444; margin: 0 0 4mm; }}
table {{ width: 100%; border-collapse: collapse; }}
thead {{ display: table-header-group; }}
tr {{ page-break-inside: avoid; }}
th, td {{ border: 0.3mm solid #666; padding: 1mm 1.2mm; }}
th {{ background: #dde6f0; text-align: center; }}
p.sign {{ margin-top: 10mm; font-size: 11pt; }}
</style></head><body>
<h1>{html.escape(title)}</h1><p class="sub">{html.escape(subtitle)}</p>
<table><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table>
<p class="sign">{html.escape(signature)}</p>
</body></html>
"""
