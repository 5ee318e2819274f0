"""The feedback template of a push batch: what civil affairs fills in instead of retyping (issue 23, SPEC §10)."""

from __future__ import annotations

import io

import pandas as pd
from sqlalchemy.engine import Engine

from monitor.cases.alert_case import RESULTS, WorkflowError
from monitor.cases.assistance import measure_names
from monitor.config import Settings
from monitor.outputs import printable, workbooks
from monitor.storage import queries, store


def _batch(engine: Engine, batch_no: str) -> tuple[dict, pd.DataFrame]:
    """A stored batch's record and its rows as the department received them (read back from its xlsx)."""
    with engine.connect() as conn:
        found = conn.execute(store.push_batches.select().where(store.push_batches.c.batch_no == batch_no))
        batch = found.mappings().first()
    if batch is None:
        raise WorkflowError(f"没有推送批次 {batch_no}")
    cells = pd.read_excel(io.BytesIO(batch["content"]), header=None, dtype=str, engine="calamine")
    header = int(cells.index[cells.iloc[:, 0] == "序号"][0])  # row 1 since batches have a title row, row 0 before
    rows = cells.iloc[header + 1 :].set_axis(cells.iloc[header].tolist(), axis=1)
    return dict(batch), rows[rows["身份证号"].notna()].fillna("").reset_index(drop=True)


def batch_page(engine: Engine, batch_no: str, settings: Settings) -> tuple[str, int]:
    """The push batch as a print-ready A4 page (landscape), with the receiving department's signature line."""
    batch, rows = _batch(engine, batch_no)
    for column in ("医疗总费用", "基本医保支付", "大病保险支付", "医疗救助支付", "个人负担"):
        rows[column] = pd.to_numeric(rows[column]).astype("float64")
    title = f"{queries.bureau_name(engine, settings)} 高额费用预警推送清单".strip()
    day = str(batch["created_at"])[:10]
    subtitle = f"批次 {batch_no}　接收部门 {batch['department']}　推送日期 {day}　共 {len(rows)} 人"
    sign = f"{batch['department']}签收（盖章）：　　　　　　签收人：　　　　　　日期：　　年　　月　　日"
    return printable.list_page(title, subtitle, rows.drop(columns=["推送批次"]), sign), len(rows)


def feedback_template(engine: Engine, batch_no: str, settings: Settings) -> tuple[bytes, int]:
    """The template xlsx of a stored batch (its people, empty result and help columns with drop-down lists)."""
    batch, rows = _batch(engine, batch_no)
    rows = rows[["姓名", "身份证号", "乡镇", "村社区"]]
    data = workbooks.feedback_template(
        rows,
        int(batch["year"]),
        batch_no,
        batch["department"],
        list(RESULTS),
        measure_names(settings),
        queries.bureau_name(engine, settings),
    )
    return data, len(rows)
