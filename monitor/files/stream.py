"""Reading a source's files in chunks, so that a load holds one chunk's raw cells at a time, whatever the file's size.

Each chunk is a RawTable of at most `CHUNK_ROWS` rows of one file or xlsx sheet, with the physical row numbers and
the file's own name, exactly the cells `monitor.files.read` gives for the whole file:
- a plain CSV goes through Arrow's streaming reader (parsing on every core; GBK transcoded as it is read);
- any other CSV (short lines, bytes in neither encoding) through pandas' reader, chunk by chunk;
- a CSV whose lines are longer than its header is read whole (the extra cells of every line are checked first, as
  `read` does), and so is an xlsx sheet (calamine reads a sheet whole; `bounds.check_xlsx` limits it first).

Which reader a file needs may only show part-way through it (a short line after the first chunk). When that happens
after chunks were handed on, the reader raises Reread: the caller starts the source again with that file's reader
named in `modes`, so no row is read twice or by two readers.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from monitor.config import Settings
from monitor.files.bounds import check_lines
from monitor.files.encodings import arrow_encoding
from monitor.files.headers import Header
from monitor.files.names import original_names, shown_name
from monitor.files.read import (
    RawTable,
    _cells_of_long_lines,
    _drop_blank_rows,
    _format_error,
    _header,
    arrow_options,
    detect_encoding,
    read_csv,
    read_xlsx,
)
from monitor.files.sources import ALL_SOURCES, Source

# Rows per chunk: at 500,000 a district's settlements take about 140 MB of raw cells and as much normalised, and the
# per-chunk overhead (a few DuckDB and Arrow calls) stays under 5 % of the chunk's validation (about 1 s).
CHUNK_ROWS = 500_000
ARROW, PANDAS, WHOLE = "arrow", "pandas", "whole"


class Reread(Exception):
    """A file's reader failed after chunks of it were handed on: read the source again, that file with `mode`."""

    def __init__(self, path: Path, mode: str):
        super().__init__(f"{path.name}: read again with {mode}")
        self.path = path
        self.mode = mode


class _LongLines(Exception):
    pass


def read_chunks(
    paths: list[Path],
    source_key: str,
    settings: Settings,
    modes: dict[Path, str] | None = None,
    rows: int = CHUNK_ROWS,
) -> Iterator[RawTable]:
    """Every table of a source's files in chunks, in file-name, sheet and row order (a table with no rows gives one
    empty chunk). `modes` names the reader of a file that needed another one (see Reread)."""
    source = ALL_SOURCES[source_key]
    listings: dict[Path, dict[str, str]] = {}
    for path in paths:
        if path.parent not in listings:
            listings[path.parent] = original_names(path.parent)
        name = shown_name(path, listings[path.parent])
        mode = (modes or {}).get(path, ARROW)
        if path.suffix.lower() == ".xlsx":
            for table in read_xlsx(path, source, settings, name):
                yield from split(table, rows)
        elif mode == WHOLE:
            for table in read_csv(path, source, settings, name):
                yield from split(table, rows)
        elif mode == PANDAS:
            yield from _pandas_chunks(path, source, settings, name, rows)
        else:
            yield from _arrow_chunks(path, source, settings, name, rows)


def split(table: RawTable, rows: int) -> Iterator[RawTable]:
    """A table read whole, in chunks of at most `rows` rows."""
    for start in range(0, max(len(table.cells), 1), rows):
        cells = table.cells.iloc[start : start + rows].reset_index(drop=True)
        numbers = table.row_numbers[start : start + rows]
        yield RawTable(table.source, table.file_name, table.sheet, cells, numbers, table.positions)


def _table(name: str, source: Source, cells: pd.DataFrame, first_row: int, header: Header) -> RawTable:
    numbers = np.arange(first_row, first_row + len(cells))
    cells, numbers = _drop_blank_rows(cells.reset_index(drop=True), numbers)
    return RawTable(source.key, name, None, cells, numbers, header.positions)


def _arrow_chunks(path: Path, source: Source, settings: Settings, name: str, rows: int) -> Iterator[RawTable]:
    """A CSV of lines of the header's width, in UTF-8 or GB18030 (`encodings.arrow_encoding`), through Arrow's streaming
    reader; any other goes to pandas' (before anything is handed on), as `read._read_csv_arrow` decides for a whole
    file."""
    encoding = arrow_encoding(path)
    if encoding is None:
        yield from _pandas_chunks(path, source, settings, name, rows)
        return
    try:
        header, header_lines = _header(path, encoding, source, settings, name)
    except UnicodeDecodeError:
        yield from _pandas_chunks(path, source, settings, name, rows)
        return
    names = [str(i) for i in range(len(header.cells))]
    first_row, handed_on = header.first_data_row, False
    try:
        reader = pacsv.open_csv(path, **arrow_options(header_lines, names, settings, encoding))
        pending: list[pa.RecordBatch] = []
        held = 0
        for batch in reader:
            pending.append(batch)
            held += batch.num_rows
            if held >= rows:
                table = _arrow_table(name, source, pending, names, first_row, header)
                first_row, pending, held, handed_on = first_row + held, [], 0, True
                yield table
        if pending or not handed_on:
            yield _arrow_table(name, source, pending, names, first_row, header)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        if handed_on:
            raise Reread(path, PANDAS) from None
        yield from _pandas_chunks(path, source, settings, name, rows)


def _arrow_table(
    name: str, source: Source, batches: list[pa.RecordBatch], names: list[str], first_row: int, header: Header
) -> RawTable:
    table = pa.Table.from_batches(batches, schema=pa.schema([(n, pa.large_string()) for n in names]))
    cells = pd.DataFrame({i: pd.Series(table.column(i), dtype="str") for i in range(len(names))})
    return _table(name, source, cells, first_row, header)


def _pandas_chunks(path: Path, source: Source, settings: Settings, name: str, rows: int) -> Iterator[RawTable]:
    """A CSV through pandas' reader in chunks (any encoding; short lines padded). A line longer than the header
    sends the file to the whole-file reader, which checks the extra cells (Reread if chunks were handed on)."""
    check_lines(path, name, settings)  # before anything reads a line whole
    encoding = detect_encoding(path, name)
    header, _ = _header(path, encoding, source, settings, name)
    width, first_row, handed_on = len(header.cells), header.first_data_row, False
    try:
        reader = pd.read_csv(
            path,
            encoding=encoding,
            header=None,
            skiprows=header.index + 1,
            dtype="str",
            na_filter=False,
            keep_default_na=False,
            skip_blank_lines=False,
            names=range(width),
            index_col=False,
            engine="c",
            chunksize=rows,
        )
        with reader:
            while True:
                # the warning filter only around pandas' own reading, never while the consumer runs
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", pd.errors.ParserWarning)
                    try:
                        cells = next(reader)
                    except StopIteration:
                        break
                if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
                    raise _LongLines
                table = _table(name, source, cells.fillna(""), first_row, header)
                first_row, handed_on = first_row + len(cells), True
                yield table
        if not handed_on:
            yield _table(name, source, pd.DataFrame({i: pd.Series([], dtype="str") for i in range(width)}), 0, header)
    except (pd.errors.ParserError, _LongLines):
        if handed_on:
            raise Reread(path, WHOLE) from None
        cells = _cells_of_long_lines(path, encoding, width, header, name, settings)
        yield from split(_table(name, source, cells.fillna(""), header.first_data_row, header), rows)
    except ValueError as exc:
        raise _format_error(name, exc) from None
