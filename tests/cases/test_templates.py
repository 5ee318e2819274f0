"""The feedback template of a push batch (issue 23): filled in by civil affairs and imported back as it is."""

from __future__ import annotations

import io
from datetime import datetime

import openpyxl
from test_workflow import NAMES, A, B, D, loads  # noqa: F401 - the fixture of the same tiny district

from monitor.cases import assistance, feedback, push, templates
from monitor.load.pipeline import run_load
from monitor.storage.store import connect


def test_a_filled_template_imports_as_feedback(loads, sqlite_url, settings, tmp_path):  # noqa: F811
    engine = connect(sqlite_url)
    run_load(loads[0], settings, engine, year=2025)
    batch = push.push(engine, 2025, [A, B, D], "民政", "张科员", NAMES, settings, now=datetime(2025, 12, 1, 9))
    data, rows = templates.feedback_template(engine, batch.batch_no, settings)
    assert rows == 3
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["核实反馈"]
    assert "核实反馈表" in sheet["A1"].value and "民政" in sheet["A1"].value
    header = [c.value for c in sheet[2]]
    assert header[:6] == ["序号", "姓名", "身份证号", "乡镇", "村社区", "年度"]
    lists = [v.formula1 for v in sheet.data_validations.dataValidation if v.formula1]
    assert '"纳入监测,已落实救助,不符合条件,无法联系"' in lists
    assert any("医疗救助" in f for f in lists)
    assert sorted(sheet.cell(line, 3).value for line in range(3, 6)) == sorted([A, B, D])
    # civil affairs fills in two people and leaves the third for later
    filled = {
        A: ("纳入监测", "2025-12-03", "医疗救助", "2025-12-04", 800),
        B: ("无法联系", "2025-12-03", None, None, None),
    }
    for line in range(3, 6):
        person = sheet.cell(line, 3).value
        if person in filled:
            result, on, measure, taken, amount = filled[person]
            for column, value in zip((7, 8, 10, 11, 12), (result, on, measure, taken, amount), strict=True):
                sheet.cell(line, column).value = value
    reply = tmp_path / "核实反馈.xlsx"
    book.save(reply)
    result = feedback.import_feedback(engine, reply, settings, "李科员", "990101000000")
    assert result.rows_loaded == 2
    assert result.rejects["reason"].tolist() == ["MISSING_VALUE"]  # the row left for later, kept as a reject
    assert assistance.measures(engine, 2025)[["id_number", "kind", "amount"]].values.tolist() == [
        [A, "医疗救助", 80_000]
    ]


def test_the_batch_as_a_print_ready_a4_page(loads, sqlite_url, settings):  # noqa: F811
    engine = connect(sqlite_url)
    run_load(loads[0], settings, engine, year=2025)
    batch = push.push(engine, 2025, [A, B, D], "民政", "张科员", NAMES, settings, now=datetime(2025, 12, 1, 9))
    page, rows = templates.batch_page(engine, batch.batch_no, settings)
    assert rows == 3 and all(person in page for person in (A, B, D))
    assert "@page { size: A4 landscape" in page and "display: table-header-group" in page  # header on every page
    assert "民政签收（盖章）" in page and f"批次 {batch.batch_no}" in page
    assert "http" not in page and "<script" not in page  # self-contained: nothing fetched, nothing run
