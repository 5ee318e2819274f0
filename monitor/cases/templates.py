"""The feedback template of a push batch: what civil affairs fills in instead of retyping (issue 23, SPEC §10)."""

from __future__ import annotations

import io

import pandas as pd
from sqlalchemy.engine import Engine

from monitor.cases.alert_case import RESULTS, WorkflowError
from monitor.cases.assistance import measure_names
from monitor.config import Settings
from monitor.outputs import workbooks
from monitor.storage import queries, store


def bureau_name(engine: Engine, settings: Settings) -> str:
    """'青禾区医疗保障局': the root division's name and the bureau's, for the title rows of printed papers."""
    root = queries.root(engine, settings)
    name = queries.division_names(engine).get(root, "")
    return f"{name}医疗保障局" if name else ""


def feedback_template(engine: Engine, batch_no: str, settings: Settings) -> tuple[bytes, int]:
    """The template xlsx of a stored batch (its people, empty result and help columns with drop-down lists)."""
    with engine.connect() as conn:
        batch = (
            conn.execute(store.push_batches.select().where(store.push_batches.c.batch_no == batch_no))
            .mappings()
            .first()
        )
    if batch is None:
        raise WorkflowError(f"没有推送批次 {batch_no}")
    cells = pd.read_excel(io.BytesIO(batch["content"]), header=None, dtype=str, engine="calamine")
    header = int(cells.index[cells.iloc[:, 0] == "序号"][0])  # row 1 since batches have a title row, row 0 before
    rows = cells.iloc[header + 1 :].set_axis(cells.iloc[header].tolist(), axis=1)
    rows = rows[rows["身份证号"].notna()][["姓名", "身份证号", "乡镇", "村社区"]].fillna("")
    data = workbooks.feedback_template(
        rows,
        int(batch["year"]),
        batch_no,
        batch["department"],
        list(RESULTS),
        measure_names(settings),
        bureau_name(engine, settings),
    )
    return data, len(rows)
