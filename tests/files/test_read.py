"""Reading CSV files: Arrow's fast reader and pandas' reader must give the same cells and row numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from monitor.files import read
from monitor.files.sources import ALL_SOURCES

HEADER = "身份证号,姓名,死亡日期"
CASES = {
    "quotes, separators, newlines in values, spaces": (
        "\ufeff" + HEADER + '\r\n"990101195001010012","张,三"," 2025-01-02 "\r\n'
        '990101195001010012,"王""五",""\r\n"990101195001010012","李\n四",２０２５年１月２日\r\n',
        True,
    ),
    "no final newline": (HEADER + "\n990101195001010012,张三,2025-01-02", True),
    "quote inside an unquoted cell": (HEADER + '\n990101195001010012,张"三",2025-01-02\n', True),
    "header only": (HEADER + "\n", True),
    "whitespace-only row dropped": (
        HEADER + "\n990101195001010012,张三,2025-01-02\n  , ,\n990101195001010012,李四,\n",
        True,
    ),
    "blank line keeps the row numbers": (HEADER + "\n990101195001010012,张三,2025-01-02\n\n990101,李四,x\n", True),
    "short line padded": (HEADER + "\n990101195001010012,张三\n990101,李四,x\n", False),
    "empty extra cells dropped": (HEADER + "\n990101195001010012,张三,2025-01-02,,\n990101,李四,x,\n", False),
    "title and blank row above the header": ("死亡名单\n\n" + HEADER + "\n990101195001010012,张三,2025-01-02\n", True),
    "title of one quoted cell over two lines": (
        '"死亡名单\n（2025年）",,\r\n' + HEADER + "\r\n990101195001010012,张三,2025-01-02\r\n\r\n990101,李四,x\r\n",
        True,
    ),
    "title rows wider than the header": (
        "死亡名单,,,,\n,,,,\n" + HEADER + "\n990101195001010012,张三,2025-01-02\n",
        True,
    ),
    "title above a short line": ("死亡名单\n" + HEADER + "\n990101195001010012,张三\n990101,李四,x\n", False),
}


@pytest.mark.parametrize("name", CASES)
def test_arrow_reader_reads_what_pandas_reads(tmp_path, settings, name):
    text, arrow_reads_it = CASES[name]
    path = tmp_path / "deaths_x.csv"
    path.write_bytes(text.encode("utf-8"))
    source = ALL_SOURCES["deaths"]
    expected = read._read_csv_pandas(path, source, settings)
    fast = read._read_csv_arrow(path, source, settings)
    assert (fast is not None) == arrow_reads_it
    for got in (read.read_csv(path, source, settings), fast or []):
        for table, want in zip(got, expected, strict=False):  # fast is [] when Arrow declines the file
            pd.testing.assert_frame_equal(table.cells, want.cells)
            assert table.row_numbers.tolist() == want.row_numbers.tolist()
            assert table.positions == want.positions


def test_gbk_file_is_read_by_pandas(tmp_path, settings):
    path = tmp_path / "deaths_gbk.csv"
    path.write_bytes((HEADER + "\n990101195001010012,张三,2025-01-02\n").encode("gbk"))
    source = ALL_SOURCES["deaths"]
    assert read._read_csv_arrow(path, source, settings) is None
    [table] = read.read_csv(path, source, settings)
    assert table.cells.iloc[0].tolist() == ["990101195001010012", "张三", "2025-01-02"]


@pytest.mark.parametrize(
    "lines, row",
    [
        (["990101195001010012,张,三,2025-01-02", "990101,李四,x"], 2),  # the first line: pandas would drop its cell
        (["990101195001010012,张三,2025-01-02,", "990101,李,四,x", "990101,王,五,x"], 3),
    ],
)
def test_a_line_with_a_filled_cell_beyond_the_header_stops_the_file_naming_its_row(tmp_path, settings, lines, row):
    path = tmp_path / "deaths_x.csv"
    path.write_bytes("\n".join([HEADER, *lines, ""]).encode("gbk"))  # GBK: pandas' reader, as for any such file
    with pytest.raises(read.LoadError, match=f"deaths_x.csv: 第 {row} 行的单元格多于表头的 3 列"):
        read.read_csv(path, ALL_SOURCES["deaths"], settings)
