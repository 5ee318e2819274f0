"""The one way personal data leaves the system as a file: formula cells neutralised, CSV with a BOM (so Excel reads
Chinese), and an audit entry saying who took what, with which filter and how many rows. The pages, the command
line and the scheduler all export through here.

A page makes the file first and records it when the user clicks the download (web.ui.audited_download); the
command line writes the file and records it at once (write).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from monitor.outputs.neutralise import neutralise_frame
from monitor.security import audit


@dataclass(frozen=True)
class Export:
    """A file ready to hand out, and what the audit log says of it."""

    data: bytes
    what: str  # the audit entry's object: 未参保名单, 预警名单, 拒收记录, …
    detail: str  # the filter it was made with
    rows: int


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A table as CSV: text cells neutralised, UTF-8 with BOM, one line per row."""
    return neutralise_frame(frame).to_csv(index=False, lineterminator="\n").encode("utf-8-sig")


def csv_export(frame: pd.DataFrame, what: str, detail: str = "") -> Export:
    return Export(csv_bytes(frame), what, detail, len(frame))


def file_export(data: bytes, what: str, detail: str, rows: int) -> Export:
    """A file made elsewhere (an xlsx workbook, a push batch) whose cells were neutralised when it was written."""
    return Export(data, what, detail, rows)


def record(engine: Engine, user: str, export: Export) -> None:
    """The audit entry of an export (action 导出)."""
    audit.record(engine, user, "导出", export.what, export.detail, export.rows)


def write(engine: Engine, user: str, export: Export, out: Path) -> int:
    """Record the export, then write the file; returns its rows. In this order a database that cannot take the
    audit entry (read-only, full) stops the export instead of letting personal data out unaudited."""
    record(engine, user, export)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(export.data)
    return export.rows
