"""A CSV file cut into byte ranges (monitor.files.ranges): ranges end just after a line, the data begins below the
header's lines however they end, a range is plain only when its lines are the file's records, and a plain range's
rows are the cells and physical rows the whole-file reader gives."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.files import ranges
from monitor.files.headers import Header
from monitor.files.read import read_source
from monitor.files.sources import ALL_SOURCES


def test_ranges_end_just_after_a_line_and_cover_the_file(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"h\n" + b"".join(f"line{i}\n".encode() for i in range(100)) + b"last")
    for size in (1, 7, 50, 10_000):
        cut = ranges.split(path, 2, size)
        assert cut[0][0] == 2 and cut[-1][1] == path.stat().st_size
        assert all(a[1] == b[0] for a, b in zip(cut, cut[1:], strict=False))
        data = path.read_bytes()
        assert all(data[end - 1 : end] == b"\n" for _begin, end in cut[:-1])
    assert ranges.split(path, path.stat().st_size, 10) == []


@pytest.mark.parametrize(
    ("data", "lines", "offset"),
    [
        (b"a,b\nx,y\n", 1, 4),
        (b"a,b\r\nx,y\r\n", 1, 5),
        (b"a,b\rx,y\r", 1, 4),
        (b"title\r\na,b\r\nx,y", 2, 12),
        (b"a,b", 1, 3),
    ],
)
def test_the_data_begins_below_the_header_lines_however_they_end(tmp_path, data, lines, offset):
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    assert ranges.data_start(path, lines) == offset


@pytest.mark.parametrize(
    ("data", "plain"),
    [
        (b"1,2,3\n4,5,6\n", True),
        (b"1,2,3\r\n4,5,6\r\n", True),
        (b"1,2,3\n4,5,6", True),  # no line end after the last line
        (b",,\n4,5,6\n", True),  # a blank row: the reader leaves it out
        (b'"1","2",""\n"4",5,"6"\r\n', True),  # cells wholly in quotes, as many systems export them
        (b'1,"2,5",3\n', False),  # a comma in quotes: the commas are not the cells' bounds
        (b'1,"2\n3",4\n', False),  # a line end in quotes: the line is not a record
        (b'1,"2""",3\n', False),  # a quote in quotes
        (b'1, "2",3\n', False),  # a quote inside a bare cell
        (b'1,"2,3\n', False),
        (b'",",3\n', False),
        (b"1,2\r3\n", False),  # a lone \r ends a line for the readers
        (b"1,2,3\r", False),
        (b"1,2\n", False),  # short: padded by pandas' reader
        (b"1,2,3,4\n", False),  # long: checked by the whole-file reader
        (b"\n", False),  # an empty line
        (b"1,2,3456789\n", False),  # over the line limit
    ],
)
def test_a_range_is_plain_only_when_its_lines_are_records_of_the_header_width(tmp_path, data, plain):
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    found = ranges.scan(path, 0, len(data), 3, 10)
    assert found.plain is plain
    assert found.lines == data.count(b"\n") + (not data.endswith(b"\n"))


def test_the_encodings_that_decode_a_range(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes("张三,1\n".encode("gb18030"))
    assert ranges.scan(path, 0, path.stat().st_size, 2, 100).decodes == ("gb18030",)
    path.write_bytes("张三,1\n".encode())
    assert ranges.scan(path, 0, path.stat().st_size, 2, 100).decodes == ("utf-8", "gb18030")


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_plain_range_reads_the_cells_and_rows_of_the_whole_file_reader(tmp_path, settings, encoding, newline):
    source = ALL_SOURCES["deaths"]
    rows = [
        "身份证号,姓名,死亡日期",
        '"110105194912310020","张三","2025-01-02"',
        " , ,",
        '110105194912310021, 李四 ,""',
    ]
    path = tmp_path / "deaths_x.csv"
    path.write_bytes(newline.join(rows).encode(encoding) + newline.encode())
    (whole,) = read_source([path], "deaths", settings)
    header = Header(0, rows[0].split(","), whole.positions, [], 1)
    start = ranges.data_start(path, 1)
    parts = ranges.split(path, start, 1)
    assert len(parts) == 3
    tables = []
    first = 2
    for begin, end in parts:
        tables.append(ranges.read(path, begin, end, encoding, first, path.name, source, header))
        first += 1
    cells = [t.cells for t in tables if not t.cells.empty]
    assert [c.values.tolist() for c in cells] == [[r] for r in whole.cells.values.tolist()]
    assert np.concatenate([t.row_numbers for t in tables]).tolist() == whole.row_numbers.tolist() == [2, 4]
    assert ranges.originals(path, *parts[2], encoding, np.array([0])) == ["110105194912310021| 李四 |"]
