"""Header rows (SPEC §3): the first of the first five rows that names the source's required columns; titles above it
are skipped and data rows keep their physical numbers (SPEC §5)."""

from __future__ import annotations

import shutil
from datetime import date

import openpyxl
import pytest
from conftest import GOLDEN

from monitor.files import read
from monitor.files.headers import find_header, header_lookup
from monitor.files.sources import ALL_SOURCES
from monitor.load.pipeline import run_load
from monitor.storage import queries
from monitor.storage.store import connect

DEATHS = ALL_SOURCES["deaths"]
HEADER = "身份证号,姓名,死亡日期"
ZHANG = "990101195001010010,张三,2025-01-02"  # valid check digits
LI = "990101194002020021,李四,2025-03-04"


def _only_table(path, settings):
    [table] = read.read_source([path], "deaths", settings)
    return table


def _cells(table):
    return [list(r) for r in table.cells.itertuples(index=False)]


def test_utf8_csv_with_a_title_and_a_blank_row_is_read_by_arrow_from_row_4(tmp_path, settings):
    path = tmp_path / "deaths_title.csv"
    path.write_bytes("\n".join(["青禾区死亡名单（2025年6月）", "", HEADER, ZHANG, LI, ""]).encode("utf-8"))
    assert read._read_csv_arrow(path, DEATHS, settings) is not None  # the fast reader still takes it
    table = _only_table(path, settings)
    assert _cells(table) == [ZHANG.split(","), LI.split(",")]
    assert table.row_numbers.tolist() == [4, 5]
    assert table.positions == {"id_number": 0, "name": 1, "death_date": 2}


def test_gbk_csv_with_two_title_rows(tmp_path, settings):
    path = tmp_path / "deaths_gbk.csv"
    lines = ["青禾区死亡名单,,", "导出日期：2025-07-01,,", " 公民身份号码 ,姓名,死亡日期", ZHANG, "", LI]
    path.write_bytes("\r\n".join(lines).encode("gbk"))
    arrow = read._read_csv_arrow(path, DEATHS, settings)  # GBK transcoded as Arrow's reader reads it
    assert arrow is not None
    for table in (_only_table(path, settings), *arrow, *read._read_csv_pandas(path, DEATHS, settings)):
        assert _cells(table) == [ZHANG.split(","), LI.split(",")]
        assert table.row_numbers.tolist() == [4, 6]  # the blank row 5 is dropped, not renumbered


def test_utf8_bom_csv_with_a_title(tmp_path, settings):
    path = tmp_path / "deaths_bom.csv"
    path.write_bytes(("\ufeff死亡名单\r\n" + HEADER + "\r\n" + ZHANG + "\r\n").encode("utf-8"))
    for table in (_only_table(path, settings), *read._read_csv_pandas(path, DEATHS, settings)):
        assert _cells(table) == [ZHANG.split(",")]
        assert table.row_numbers.tolist() == [3]


def test_long_line_below_a_title_is_named_by_its_physical_row(tmp_path, settings):
    path = tmp_path / "deaths_x.csv"
    lines = ["死亡名单,,,,,", HEADER, ZHANG + ",", "990101,李,四,x", ""]  # the title is wider than the header
    path.write_bytes("\n".join(lines).encode("gbk"))
    with pytest.raises(read.LoadError, match="deaths_x.csv: 第 4 行的单元格多于表头的 3 列"):
        read.read_csv(path, DEATHS, settings)


def test_trailing_empty_cells_below_a_title_are_dropped(tmp_path, settings):
    path = tmp_path / "deaths_x.csv"
    path.write_bytes("\n".join(["死亡名单", HEADER, ZHANG + ",,", LI + ",", ""]).encode("gbk"))
    table = _only_table(path, settings)
    assert _cells(table) == [ZHANG.split(","), LI.split(",")]
    assert table.row_numbers.tolist() == [3, 4]


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_header_on_row_5_is_found(tmp_path, settings, encoding):
    path = tmp_path / "deaths_late.csv"
    path.write_bytes("\n".join(["死亡名单", "单位：人", "", "  ,,", HEADER, ZHANG, ""]).encode(encoding))
    table = _only_table(path, settings)
    assert (_cells(table), table.row_numbers.tolist()) == ([ZHANG.split(",")], [6])


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_header_on_row_6_is_not_found_and_the_error_names_the_file_and_the_missing_header(tmp_path, settings, encoding):
    path = tmp_path / "deaths_late.csv"
    path.write_bytes("\n".join(["死亡名单", "", "", "", "", HEADER, ZHANG, ""]).encode(encoding))
    with pytest.raises(read.LoadError) as caught:
        read.read_csv(path, DEATHS, settings)
    message = str(caught.value)
    assert message.startswith("deaths_late.csv: 缺少必需列 身份证号、死亡日期（文件中的列：死亡名单")
    assert "第 1–5 行" in message


def test_a_file_without_title_keeps_the_old_message(tmp_path, settings):
    path = tmp_path / "deaths_bad.csv"
    path.write_bytes("姓名,日期\n".encode())
    with pytest.raises(
        read.LoadError, match=r"^deaths_bad.csv: 缺少必需列 身份证号、死亡日期（文件中的列：姓名、日期）$"
    ):
        read.read_csv(path, DEATHS, settings)


def test_a_row_matches_only_with_every_required_header(settings):
    lookup = header_lookup(DEATHS, settings)
    rows = [["死亡名单（身份证号）"], ["身份证号", "姓名"], ["证件号码", "死亡日期", "备注"], ["身份证号", "死亡日期"]]
    header = find_header(rows, DEATHS, lookup)
    assert (header.index, header.positions, header.first_data_row) == (2, {"id_number": 0, "death_date": 1}, 4)
    none = find_header([["死亡名单"], ["姓名"]], DEATHS, lookup)
    assert (none.index, none.missing, none.searched) == (0, ["身份证号", "死亡日期"], 2)


def _book(path, sheets: dict[str, list[tuple]], merged: dict[str, str] | None = None) -> None:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        if merged and name in merged:
            sheet.merge_cells(merged[name])
    book.save(path)


def test_xlsx_sheets_with_merged_or_single_cell_titles_and_a_plain_one(tmp_path, settings):
    path = tmp_path / "deaths.xlsx"
    header = tuple(HEADER.split(","))
    _book(
        path,
        {
            "合并标题": [
                ("青禾区死亡名单（2025年6月）", None, None),
                (None, None, None),
                header,
                tuple(ZHANG.split(",")),
            ],
            "单格标题": [("死亡名单",), header, (LI.split(",")[0], "李四", date(2025, 3, 4))],
            "普通": [header, tuple(ZHANG.split(","))],
            "说明": [("本表由民政局导出",), ("身份证号为18位",)],
            "迟到的表头": [("标题",), (), (), (), (), header, tuple(LI.split(","))],
        },
        merged={"合并标题": "A1:C1"},
    )
    tables = read.read_source([path], "deaths", settings)
    assert [t.sheet for t in tables] == ["合并标题", "单格标题", "普通"]  # notes and a header on row 6: skipped
    assert [t.row_numbers.tolist() for t in tables] == [[4], [3], [2]]
    assert [_cells(t) for t in tables] == [[ZHANG.split(",")], [LI.split(",")], [ZHANG.split(",")]]


def test_an_xlsx_table_placed_away_from_a1_is_read_in_batches_with_its_row_numbers(tmp_path, settings, monkeypatch):
    # the cells start on row 3 in column C: calamine's row iterator leaves out the empty columns, and the rows come
    # in batches smaller than the table
    monkeypatch.setattr(read, "XLSX_BATCH_ROWS", 2)
    path = tmp_path / "deaths.xlsx"
    blank = (None, None)
    _book(
        path,
        {
            "名单": [
                (),
                (),
                blank + tuple(HEADER.split(",")),
                blank + tuple(ZHANG.split(",")),
                (),
                blank + tuple(LI.split(",")),
                blank + tuple(ZHANG.split(",")),
            ]
        },
    )
    table = _only_table(path, settings)
    assert table.row_numbers.tolist() == [4, 6, 7]  # the blank row 5 dropped, as before
    # the columns keep their places (the header's positions name them), the empty ones before too
    assert _cells(table) == [["", ""] + ZHANG.split(","), ["", ""] + LI.split(","), ["", ""] + ZHANG.split(",")]


def test_xlsx_with_the_header_on_row_6_fails_naming_the_sheet_and_the_missing_header(tmp_path, settings):
    path = tmp_path / "deaths.xlsx"
    _book(path, {"名单": [("死亡名单",), (), (), (), (), tuple(HEADER.split(",")), tuple(ZHANG.split(","))]})
    with pytest.raises(read.LoadError, match=r"^deaths.xlsx:名单: 缺少必需列 身份证号、死亡日期（文件中的列：死亡名单"):
        read.read_source([path], "deaths", settings)


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_rejected_rows_below_a_title_keep_their_physical_row_numbers(tmp_path, settings, sqlite_url, encoding):
    folder = tmp_path / "load"
    shutil.copytree(GOLDEN / "load1", folder, ignore=shutil.ignore_patterns("deaths*"))
    lines = ["青禾区死亡名单", "（2025年6月）", HEADER, ZHANG, "99010119400202002X,李四,2025-03-04", LI, ""]
    (folder / "deaths_titles.csv").write_bytes("\r\n".join(lines).encode(encoding))
    engine = connect(sqlite_url)
    result = run_load(folder, settings, engine, year=2025, as_of=date(2025, 6, 30))
    rejects = queries.rejects(engine).query("file == 'deaths_titles.csv'")
    assert rejects[["row", "reason", "column"]].values.tolist() == [[5, "BAD_ID", "身份证号"]]
    files = queries.run_files(engine, result.run_id).set_index("file")
    assert files.loc["deaths_titles.csv", ["rows_read", "rows_loaded", "rows_rejected"]].tolist() == [3, 2, 1]
    engine.dispose()
