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


def test_door_to_door_sheets_take_any_town_name_and_headings_are_text():
    from monitor.outputs import workbooks

    rows = pd.DataFrame(
        {h: ["x"] for h, _w in workbooks.DOOR_TO_DOOR} | {"乡镇": ["a[b]:c*?/d"], "村社区": ["=HYPERLINK(1)"]}
    )
    rows = pd.concat(
        [rows, rows.assign(乡镇="A[B]:C*?/D")], ignore_index=True
    )  # the same sheet name, differently cased
    book = workbooks.door_to_door(rows, "t", "2025-12-31")
    sheets = pd.read_excel(pd.io.common.BytesIO(book), sheet_name=None, header=None, engine="calamine", dtype=str)
    assert list(sheets) == ["a_b__c___d", "A_B__C___D_2"]
    assert sheets["a_b__c___d"].iloc[2, 0] == "'=HYPERLINK(1)（1 人）"
