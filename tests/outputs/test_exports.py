"""Exports: text cells that a spreadsheet would run as formulas are neutralised, in CSV and workbooks."""

from __future__ import annotations

import pandas as pd

from monitor.outputs.neutralise import neutralise_frame


def test_exports_neutralise_text_cells(tmp_path):
    from monitor.outputs import release, workbooks

    frame = pd.DataFrame({"姓名": ["=1+1", "李四"], "金额": ["-5.00", "3.00"]})
    data = release.csv_bytes(frame)
    assert data.startswith("\ufeff".encode())
    assert data.decode("utf-8-sig").splitlines()[1:] == ["'=1+1,-5.00", "李四,3.00"]
    assert neutralise_frame(frame)["姓名"].tolist() == ["'=1+1", "李四"]
    rows = pd.DataFrame(
        {h: ["=cmd|' /C calc'!A0"] for h, _ in workbooks.DOOR_TO_DOOR} | {"乡镇": ["甲镇"], "村社区": ["甲村"]}
    )
    book = workbooks.door_to_door(rows, "t", "2025-12-31")
    sheet = pd.read_excel(pd.io.common.BytesIO(book), header=None, engine="calamine", dtype=str)
    assert sheet.iloc[3, 1] == "'=cmd|' /C calc'!A0"
