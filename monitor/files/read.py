"""Reading a load folder: files by prefix, encoding detection, xlsx sheets, header aliases → raw tables.

The header of a CSV file or an xlsx sheet is the first of its first five rows that names every required column of the
source after folding and aliases (`monitor.files.headers`, SPEC §3); rows above it (titles) are skipped and data rows
keep their physical numbers. A CSV's first rows are read once, record by record, to find it: nothing more of the file
is read twice.

Every file is read within bounds (`monitor.files.bounds`, issue 24): an xlsx is inspected before calamine opens it, a
CSV line longer than `max_line_kb` or a row wider than `max_columns` stops the file at once, naming its row. Messages
and table labels name the user's own file: an uploaded file's original name (`monitor.files.names`).
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from monitor.base.text import join_columns
from monitor.config import Settings
from monitor.files.bounds import check_lines, check_xlsx, line_limit, long_line, too_wide
from monitor.files.encodings import arrow_encoding, detect_encoding
from monitor.files.errors import LoadError
from monitor.files.headers import HEADER_ROWS, Header, find_header, header_lookup
from monitor.files.names import original_names, shown_name
from monitor.files.sources import ALL_SOURCES, Source

TABULAR_SUFFIXES = (".csv", ".xlsx")
BOUNDARY_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".shp")


@dataclass
class RawTable:
    """One file (or xlsx sheet) of a source: original cells as strings plus canonical column positions."""

    source: str
    file_name: str
    sheet: str | None
    cells: pd.DataFrame  # original cells as strings, positional columns
    row_numbers: np.ndarray  # physical row numbers (the first row of the file or sheet = 1)
    positions: dict[str, int]  # canonical column name → position in cells

    @property
    def label(self) -> str:
        return f"{self.file_name}:{self.sheet}" if self.sheet else self.file_name

    def column(self, name: str) -> pd.Series:
        """One canonical column's raw cells; empty strings when the file lacks that optional column."""
        if name in self.positions:
            return self.cells[self.positions[name]]
        return pd.Series("", index=self.cells.index, dtype="str")

    def canonical(self, source: Source) -> pd.DataFrame:
        """Canonical columns of the source (absent optional ones empty), with _row."""
        frame = pd.DataFrame({c.name: self.column(c.name) for c in source.columns}, index=self.cells.index)
        frame["_row"] = self.row_numbers
        return frame

    def originals(self, index: pd.Index) -> pd.Series:
        """The original cells of some rows joined by '|'."""
        part = self.cells.loc[index]
        if part.empty:
            return pd.Series([], dtype="str")
        return join_columns([part[c] for c in part.columns], "|")


def checksum(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_of(path: Path, settings: Settings) -> str | None:
    """The source a file belongs to, from its name prefix (case-insensitive)."""
    name = path.name.lower()
    for key, prefix in settings.file_prefixes.items():
        if name.startswith(prefix.lower()):
            return key
    return None


def files_by_source(folder: Path, settings: Settings) -> dict[str, list[Path]]:
    """Files of a load folder grouped by source, each list in file-name order."""
    if not folder.is_dir():
        raise LoadError(f"{folder}: 找不到数据文件夹")
    found: dict[str, list[Path]] = {}
    names = original_names(folder)
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "~$"))):
        key = source_of(path, settings)
        if key is None:
            continue
        allowed = BOUNDARY_SUFFIXES if key == "boundaries" else TABULAR_SUFFIXES
        if path.suffix.lower() not in allowed:
            raise LoadError(
                f"{shown_name(path, names)}: 不支持的文件类型 {path.suffix or '(无)'}（可用 {', '.join(allowed)}；"
                f".xls 请另存为 .xlsx）"
            )
        found.setdefault(key, []).append(path)
    return found


def _drop_blank_rows(cells: pd.DataFrame, rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    if cells.empty:
        return cells, rows
    nonblank = np.zeros(len(cells), dtype=bool)
    for col in cells.columns:  # only rows still blank are looked at: usually the first column settles every row
        todo = ~nonblank
        if not todo.any():
            break
        column = cells[col] if todo.all() else cells[col][todo]
        nonblank[todo] = (column.str.strip() != "").to_numpy()
    if nonblank.all():
        return cells, rows
    return cells[nonblank].reset_index(drop=True), rows[nonblank]


def read_csv(path: Path, source: Source, settings: Settings, name: str | None = None) -> list[RawTable]:
    """A CSV file's cells: through Arrow's reader when the file is plain UTF-8 with whole rows, else through pandas'
    (other encodings, blank or short lines), which both read the same cells. `name` is the file's name in messages
    and labels (its own by default)."""
    tables = _read_csv_arrow(path, source, settings, name)
    return tables if tables is not None else _read_csv_pandas(path, source, settings, name)


def _header(path: Path, encoding: str, source: Source, settings: Settings, name: str) -> tuple[Header, int]:
    """The CSV file's header row, and how many lines it and the rows above it take (for Arrow's skip_rows, which
    counts lines, not records). Only the first `HEADER_ROWS` records are read, each line at most `max_line_kb` KB
    (in characters: never more bytes) and each record at most `max_columns` cells, else the file stops at once."""
    rows: list[list[str]] = []
    ends: list[int] = []
    lines = 0
    limit = line_limit(settings)
    with open(path, encoding=encoding, newline="") as fh:

        def counted():
            nonlocal lines
            while line := fh.readline(limit + 2):  # newline="": split at \n, \r and \r\n, as Arrow's reader does
                lines += 1
                if len(line.rstrip("\r\n")) > limit:
                    raise long_line(name, lines, settings)
                yield line

        try:
            for row in csv.reader(counted()):
                rows.append(row)
                ends.append(lines)
                if len(row) > settings.max_columns:
                    raise too_wide(name, len(rows), len(row), settings)
                if len(rows) == HEADER_ROWS:
                    break
        except csv.Error as exc:  # a huge or broken cell: the rows before it are still candidates
            if not rows:
                raise _format_error(name, exc) from None
    header = find_header(rows, source, header_lookup(source, settings))
    if header.missing:
        raise LoadError(header.message(name))
    return header, ends[header.index] if ends else 0


def _raw_table(name: str, source: Source, cells: pd.DataFrame, header: Header) -> list[RawTable]:
    rows = np.arange(header.first_data_row, len(cells) + header.first_data_row)
    cells, rows = _drop_blank_rows(cells, rows)
    return [RawTable(source.key, name, None, cells, rows, header.positions)]


def arrow_options(header_lines: int, names: list[str], settings: Settings, encoding: str = "utf-8-sig") -> dict:
    """Arrow's CSV options for the cells below a header: every cell as text, none missing, lines kept as records,
    blocks of `max_line_kb` (a longer record fails the block). The whole-file and the streaming readers share them.
    A file not in UTF-8 is transcoded as it is read (pandas' reader took 3.2 s of a 1.5 M GBK register's 9 s)."""
    read_options = pacsv.ReadOptions(skip_rows=header_lines, column_names=names, block_size=line_limit(settings))
    if not encoding.startswith("utf-8"):  # Arrow skips a UTF-8 byte-order mark itself
        read_options.encoding = encoding
    return {
        "read_options": read_options,
        "parse_options": pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        "convert_options": pacsv.ConvertOptions(
            column_types={n: pa.large_string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }


def _read_csv_arrow(path: Path, source: Source, settings: Settings, name: str | None = None) -> list[RawTable] | None:
    """Arrow's multi-threaded reader, several times faster than pandas' on a district's settlements; None when the
    file is in neither UTF-8 nor GB18030 or has a line of another width (pandas pads short lines and reports the
    others), or a record longer than `max_line_kb` (Arrow's block: pandas' path finds and names the long line)."""
    name = name or path.name
    encoding = arrow_encoding(path)
    if encoding is None:
        return None
    try:
        header, header_lines = _header(path, encoding, source, settings, name)
    except UnicodeDecodeError:  # first rows longer than the MiB looked at
        return None
    names = [str(i) for i in range(len(header.cells))]
    try:
        table = pacsv.read_csv(path, **arrow_options(header_lines, names, settings, encoding))
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    cells = pd.DataFrame({i: pd.Series(table.column(i), dtype="str") for i in range(len(names))})
    return _raw_table(name, source, cells, header)


def _read_csv_pandas(path: Path, source: Source, settings: Settings, name: str | None = None) -> list[RawTable]:
    name = name or path.name
    check_lines(path, name, settings)  # before anything reads a line whole
    encoding = detect_encoding(path, name)
    header, _ = _header(path, encoding, source, settings, name)
    width, skip = len(header.cells), header.index + 1
    try:
        with warnings.catch_warnings(record=True) as caught:  # a long first line: pandas drops its extra cells
            warnings.simplefilter("always", pd.errors.ParserWarning)
            cells = _pandas_cells(path, encoding, width, skip)
        long_lines = any(issubclass(w.category, pd.errors.ParserWarning) for w in caught)
    except pd.errors.ParserError:  # a later long line, or a malformed file (which the second reading reports)
        long_lines = True
    except ValueError as exc:
        raise _format_error(name, exc) from None
    if long_lines:
        cells = _cells_of_long_lines(path, encoding, width, header, name, settings)
    return _raw_table(name, source, cells.fillna(""), header)


def _format_error(name: str, exc: Exception) -> LoadError:
    return LoadError(f"{name}: CSV 格式错误（{str(exc).strip().splitlines()[-1]}）")


def _pandas_cells(path: Path, encoding: str, width: int, skip: int) -> pd.DataFrame:
    """The cells below the first `skip` records (pandas counts records, a quoted cell may span lines)."""
    return pd.read_csv(
        path,
        encoding=encoding,
        header=None,
        skiprows=skip,
        dtype="str",
        na_filter=False,
        keep_default_na=False,
        skip_blank_lines=False,
        names=range(width),
        index_col=False,
        engine="c",
    )


def _cells_of_long_lines(
    path: Path, encoding: str, width: int, header: Header, name: str, settings: Settings
) -> pd.DataFrame:
    """Cells of a file with lines longer than its header. Extra cells that are all empty (trailing separators, common
    in exports) are dropped; a non-empty one stops the file, naming the row: its values have probably moved a column
    (an unquoted comma), and loading the row would lose or misplace them. A row of more than `max_columns` cells
    stops the file at once (its lines are already bounded by `check_lines`)."""
    skip = header.index + 1
    try:
        widest = width
        with open(path, encoding=encoding, newline="") as fh:  # title rows above the header may be wider: not counted
            for number, row in enumerate(itertools.islice(csv.reader(fh), skip, None), start=skip + 1):
                if len(row) > settings.max_columns:
                    raise too_wide(name, number, len(row), settings)
                widest = max(widest, len(row))
        cells = _pandas_cells(path, encoding, widest, skip)
    except (ValueError, csv.Error) as exc:  # pandas' ParserError is a ValueError
        raise _format_error(name, exc) from None
    extra = cells.iloc[:, width:].fillna("")
    filled = np.zeros(len(cells), dtype=bool)
    for column in extra.columns:
        filled |= (extra[column].str.strip() != "").to_numpy()
    if filled.any():
        rows = np.flatnonzero(filled) + header.first_data_row
        more = f"，另有 {len(rows) - 1} 行也是如此" if len(rows) > 1 else ""
        raise LoadError(
            f"{name}: 第 {rows[0]} 行的单元格多于表头的 {width} 列，多出的单元格不为空{more}"
            "（常见原因：单元格中有未加引号的逗号）；请修正后重新载入"
        )
    return cells.iloc[:, :width]


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else format(value, ".15g")
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


XLSX_BATCH_ROWS = 100_000


def _sheet_rows(sheet) -> Iterator[list]:  # a python_calamine CalamineSheet
    """A sheet's rows from A1, one at a time, as `to_python(skip_empty_area=False)` gives them all at once: calamine's
    iterator starts its rows at row 1 but its cells at the first used column, so the columns before are put back."""
    pad = [""] * (sheet.start[1] if sheet.start else 0)
    for row in sheet.iter_rows():
        yield pad + row if pad else row


def read_xlsx(path: Path, source: Source, settings: Settings, name: str | None = None) -> list[RawTable]:
    """An xlsx file's sheets that have a header, once the file is checked within bounds (`bounds.check_xlsx`)."""
    from python_calamine import CalamineWorkbook

    name = name or path.name
    check_xlsx(path, name, settings)
    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for corrupt files
        raise LoadError(f"{name}: 无法读取的 xlsx 工作簿（{type(exc).__name__}）") from None
    lookup = header_lookup(source, settings)
    tables: list[RawTable] = []
    first_failure: str | None = None
    for sheet in book.sheet_names:
        rows = _sheet_rows(book.get_sheet_by_name(sheet))
        top = list(itertools.islice(rows, HEADER_ROWS))
        if not top:
            continue
        header = find_header([[_cell_text(v) for v in r] for r in top], source, lookup)
        if header.missing:
            first_failure = first_failure or header.message(f"{name}:{sheet}")
            continue
        width = len(header.cells)
        body = itertools.chain(top[header.index + 1 :], rows)
        # a batch of rows at a time as Python objects: a 15 M city's identity sheet (1.8 M records) as one list of
        # them took its load to 4.3 GiB, where the sheet's text columns take a few hundred MB
        parts = []
        while batch := list(itertools.islice(body, XLSX_BATCH_ROWS)):
            texts = [[_cell_text(v) for v in r[:width]] + [""] * (width - len(r)) for r in batch]
            parts.append(pd.DataFrame(texts, columns=range(width), dtype="str"))
        cells = (
            pd.concat(parts, ignore_index=True)
            if parts
            else pd.DataFrame({i: pd.Series([], dtype="str") for i in range(width)})
        )
        numbers = np.arange(header.first_data_row, len(cells) + header.first_data_row)
        cells, numbers = _drop_blank_rows(cells, numbers)
        tables.append(RawTable(source.key, name, sheet, cells, numbers, header.positions))
    if not tables:
        raise LoadError(first_failure or f"{name}: 没有带表头的工作表")
    return tables


def read_source(paths: list[Path], source_key: str, settings: Settings) -> list[RawTable]:
    """Every table of a source's files, in file-name then sheet order; an uploaded file is named by its original
    name (the listing of its folder), in messages and labels."""
    source = ALL_SOURCES[source_key]
    tables: list[RawTable] = []
    listings: dict[Path, dict[str, str]] = {}
    for path in paths:
        if path.parent not in listings:
            listings[path.parent] = original_names(path.parent)
        reader = read_xlsx if path.suffix.lower() == ".xlsx" else read_csv
        tables.extend(reader(path, source, settings, shown_name(path, listings[path.parent])))
    return tables
