"""Reading CSV files: Arrow's fast reader and pandas' reader must give the same cells and row numbers, in UTF-8 and
in GB18030 (GBK)."""

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


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])  # GB18030 (GBK): transcoded as Arrow's reader reads
@pytest.mark.parametrize("name", CASES)
def test_arrow_reader_reads_what_pandas_reads(tmp_path, settings, name, encoding):
    text, arrow_reads_it = CASES[name]
    path = tmp_path / "deaths_x.csv"
    path.write_bytes(text.encode(encoding) if encoding == "utf-8" else text.removeprefix("\ufeff").encode(encoding))
    source = ALL_SOURCES["deaths"]
    expected = read._read_csv_pandas(path, source, settings)
    fast = read._read_csv_arrow(path, source, settings)
    assert (fast is not None) == arrow_reads_it
    for got in (read.read_csv(path, source, settings), fast or []):
        for table, want in zip(got, expected, strict=False):  # fast is [] when Arrow declines the file
            pd.testing.assert_frame_equal(table.cells, want.cells)
            assert table.row_numbers.tolist() == want.row_numbers.tolist()
            assert table.positions == want.positions


def test_gbk_file_is_transcoded_by_arrows_reader_to_the_cells_pandas_gives(tmp_path, settings):
    path = tmp_path / "deaths_gbk.csv"
    path.write_bytes((HEADER + "\n990101195001010012,张三,2025-01-02\n").encode("gbk"))
    source = ALL_SOURCES["deaths"]
    [arrow] = read._read_csv_arrow(path, source, settings)
    [pandas] = read._read_csv_pandas(path, source, settings)
    [table] = read.read_csv(path, source, settings)
    for each in (arrow, pandas, table):
        assert each.cells.iloc[0].tolist() == ["990101195001010012", "张三", "2025-01-02"]


def test_a_byte_in_neither_encoding_past_the_first_mib_is_reported_by_the_whole_file_check(tmp_path, settings):
    path = tmp_path / "deaths_gbk.csv"
    rows = "990101195001010012,张三,2025-01-02\n" * 40_000  # 1.4 MB: the bad byte is past what arrow_encoding reads
    path.write_bytes((HEADER + "\n" + rows).encode("gbk") + b"990101,\xff\xff,x\n")
    assert read.arrow_encoding(path) == "gb18030"
    assert read._read_csv_arrow(path, ALL_SOURCES["deaths"], settings) is None
    with pytest.raises(read.LoadError, match="deaths_gbk.csv: 无法按 UTF-8 或 GB18030/GBK 读取"):
        read.read_csv(path, ALL_SOURCES["deaths"], settings)


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


def test_a_utf8_file_with_a_byte_order_mark_and_a_character_cut_at_the_first_mib_is_read_by_arrow(tmp_path):
    path = tmp_path / "deaths_bom.csv"
    head = "\ufeff" + HEADER + "\n"
    filler = "a" * ((1 << 20) - 1 - len(head.encode("utf-8")))  # the next character's first byte ends the MiB
    path.write_bytes((head + filler + "张\n").encode("utf-8"))
    assert read.arrow_encoding(path) == "utf-8-sig"
