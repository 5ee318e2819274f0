"""A CSV file's rows in byte ranges that separate processes can read (Spark's executors, issue 21), each giving the
cells `monitor.files.read` gives for the same rows.

Only a plain file is split: below its header, every line has exactly the header's number of cells, each bare or
wholly in quotes with no quote or comma inside (many systems quote every cell of their exports), no line end but \\n
or \\r\\n, no line over `max_line_kb` KB, and the file decodes as one encoding (UTF-8, else GB18030). Then a line is
a record, its cells are its text split at the commas less their quotes, and a range cut just after a \\n holds whole
records (neither UTF-8 nor GB18030 has a \\n, \\r, comma or quote byte inside a character). Anything else (a comma,
quote or line end in a quoted cell, short or long lines, a lone \\r, mixed encodings) is what the readers of
`monitor.files.read` and `monitor.files.stream` handle, row by row, in the load's process: `scan` says so and the
caller reads the file there.

The ranges are numbered by the caller from each range's line count (`scan`), so every row keeps its physical number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from monitor.files.headers import Header
from monitor.files.read import RawTable, _drop_blank_rows
from monitor.files.sources import Source

# Bytes per range: about 500,000 settlements (stream.CHUNK_ROWS), what one core checks in about two seconds with
# some 300 MB of cells held; a province's year (60 GB of files) is then about 900 tasks.
RANGE_BYTES = 64 << 20
NEWLINE, RETURN, COMMA, QUOTE = 10, 13, 44, 34
ENCODINGS = ("utf-8", "gb18030")


@dataclass(frozen=True)
class Scan:
    """What a range holds: its lines, whether they are plain (see the module's docstring) and which encodings decode
    it."""

    lines: int
    plain: bool
    decodes: tuple[str, ...]


def data_start(path: Path, header_lines: int) -> int:
    """The byte offset of the line after the first `header_lines` lines (ended by \\n, \\r\\n or \\r, as the header's
    reader counts them)."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
        offset = 0
        for _ in range(header_lines):
            while True:
                if offset >= len(head):
                    more = fh.read(1 << 20)
                    if not more:
                        return offset
                    head += more
                byte = head[offset]
                offset += 1
                if byte == NEWLINE:
                    break
                if byte == RETURN:
                    if offset >= len(head):
                        head += fh.read(1)
                    if offset < len(head) and head[offset] == NEWLINE:
                        offset += 1
                    break
    return offset


def split(path: Path, start: int, size: int = RANGE_BYTES) -> list[tuple[int, int]]:
    """Byte ranges [begin, end) from `start` to the file's end, each about `size` bytes and ending just after a \\n
    (the last at the end of the file); none when no bytes are left."""
    total = path.stat().st_size
    ranges: list[tuple[int, int]] = []
    begin = start
    with open(path, "rb") as fh:
        while begin < total:
            cut = begin + size
            if cut >= total:
                ranges.append((begin, total))
                break
            fh.seek(cut)
            while True:
                block = fh.read(1 << 16)
                found = block.find(b"\n")
                if not block:
                    cut = total
                    break
                if found >= 0:
                    cut += found + 1
                    break
                cut += len(block)
            ranges.append((begin, cut))
            begin = cut
    return ranges


def _read(path: str | Path, begin: int, end: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(begin)
        return fh.read(end - begin)


def _line_ends(data: bytes) -> np.ndarray:
    """The offsets of each line's \\n, and the end of the data for a last line without one."""
    array = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(array == NEWLINE)
    if len(data) and data[-1] != NEWLINE:
        ends = np.append(ends, len(data))
    return ends


def scan(path: str | Path, begin: int, end: int, width: int, limit: int) -> Scan:
    """A range's lines, whether it is plain for a header of `width` cells and lines of at most `limit` bytes, and
    the encodings that decode it."""
    data = _read(path, begin, end)
    array = np.frombuffer(data, dtype=np.uint8)
    ends = _line_ends(data)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64) if len(ends) else ends
    returns = np.flatnonzero(array == RETURN)
    newlines = ends[:-1] if len(data) and data[-1] != NEWLINE else ends
    # counted between positions by searching the sorted positions: a running count per byte took 0.5 GB and 4 s
    # for a 64 MB range
    commas = np.flatnonzero(array == COMMA)
    per_line = np.searchsorted(commas, ends) - np.searchsorted(commas, starts)
    plain = (
        bool(np.isin(returns + 1, newlines).all())  # a \r only just before a \n
        and bool(((ends - starts) <= limit).all())
        and bool((per_line == width - 1).all())
        and _simply_quoted(array, starts, ends, commas)
    )
    decodes = []
    for encoding in ENCODINGS:
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        decodes.append(encoding)
    return Scan(len(ends), bool(plain), tuple(decodes))


def _simply_quoted(array: np.ndarray, starts: np.ndarray, ends: np.ndarray, commas: np.ndarray) -> bool:
    """Whether every cell of the lines [starts, ends), each with the same number of commas, is bare or wholly in
    quotes with no quote inside: then its commas are its cells' bounds, and every reader gives the cell's text
    without the quotes (many systems quote every cell of their exports)."""
    quotes = int(np.count_nonzero(array == QUOTE))
    if not quotes:
        return True
    lines = len(starts)
    content_ends = ends - ((ends > starts) & (array[np.maximum(ends - 1, 0)] == RETURN))  # before a \r\n's \r
    inner = commas.reshape(lines, -1)  # each line's commas, the bounds of its cells
    cell_starts = np.concatenate([starts[:, None], inner + 1], axis=1).ravel()
    cell_ends = np.concatenate([inner, content_ends[:, None]], axis=1).ravel()
    length = cell_ends - cell_starts
    top = len(array) - 1
    first = (length > 0) & (array[np.minimum(cell_starts, top)] == QUOTE)
    last = (length > 0) & (array[np.clip(cell_ends - 1, 0, top)] == QUOTE)
    quoted = first & last & (length >= 2)
    # a quote anywhere else (inside a cell, or alone at one end) leaves more quotes than the quoted cells' two each
    return bool((first == last).all() and (first == quoted).all() and quotes == 2 * int(np.count_nonzero(quoted)))


def _text(data: bytes, encoding: str) -> bytes:
    """The range as UTF-8, its \\r\\n as \\n (a plain range has no other \\r)."""
    if encoding != "utf-8":
        data = data.decode(encoding).encode("utf-8")
    return data.replace(b"\r\n", b"\n")


def read(
    path: str | Path, begin: int, end: int, encoding: str, first_row: int, name: str, source: Source, header: Header
) -> RawTable:
    """A plain range's rows as the readers of `monitor.files.read` give them: cells as text, physical row numbers
    from `first_row`, blank rows left out."""
    data = _text(_read(path, begin, end), encoding)
    names = [str(i) for i in range(len(header.cells))]
    if data:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            # one block: the range is already a task's share, and no line can straddle two blocks
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=len(data)),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.large_string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        cells = pd.DataFrame({i: pd.Series(table.column(i), dtype="str") for i in range(len(names))})
    else:
        cells = pd.DataFrame({i: pd.Series([], dtype="str") for i in range(len(names))})
    numbers = np.arange(first_row, first_row + len(cells))
    cells, numbers = _drop_blank_rows(cells, numbers)
    return RawTable(source.key, name, None, cells, numbers, header.positions)


def originals(path: str | Path, begin: int, end: int, encoding: str, lines: np.ndarray) -> list[str]:
    """Some lines of a plain range (0-based within it) as reject rows show a row: its cells (without the quotes of
    those in quotes, which hold none) joined by '|'."""
    text = _text(_read(path, begin, end), encoding).decode("utf-8").split("\n")
    return [text[i].replace('"', "").replace(",", "|") for i in lines.tolist()]
