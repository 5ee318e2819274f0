"""Reading files within bounds (issue 24): an xlsx is inspected before calamine unpacks it and a CSV's lines are
bounded, for inbox loads, uploads and feedback imports alike. Each refusal is a `BoundsError`, one line that names
the user's own file (the caller gives that name), and leaves the file unread.

An xlsx (`check_xlsx`), in this order:

1. the zip's end record: at most `MAX_MEMBERS` members and a central directory of at most `MAX_DIRECTORY` bytes
   (Python's zipfile and calamine's zip reader hold the whole directory in memory);
2. the central directory, nothing decompressed: a zip holding `[Content_Types].xml`, members stored or deflated and
   not encrypted, declared sizes summing to at most `xlsx_max_uncompressed_mb`, no member above `RATIO_FROM` (1 MiB)
   declaring more than `xlsx_max_ratio` times its compressed size. Declared sizes bind: Python's zipfile and
   calamine's zip reader both stop a member at its central-directory size (calamine: "File is larger than its
   declared uncompressed size"), so nothing below can unpack more than the limit;
3. each worksheet's declared `<dimension ref>`, from the first `DIMENSION_HEAD` bytes of the sheet (when present):
   at most `max_columns` columns and a plausible number of cells (below);
4. each worksheet's cells (`sheetscan.scan`, streamed in pieces of 1 MiB; skipped with `cells=False`): the farthest
   column at most `max_columns`, and the grid calamine will allocate, A1 to the farthest row and column, plausible:
   at most `MIN_CELLS` cells or `CELLS_PER_BYTE` cells per byte of the sheet's compressed size. Real sheets hold well
   under one cell per compressed byte; a sheet of 300 bytes holding only A1 and XFD1048576 asks for 17 billion cells
   and aborts the process, whatever its `<dimension>` says.

Worksheets are the members calamine may read as sheets: names under `xl/worksheets/`, `xl/chartsheets/` or
`xl/dialogsheets/` in any case (calamine resolves a sheet's path to one of these and looks it up ignoring case).

A CSV (`check_lines`): no line longer than `max_line_kb` KB, found by stepping through the file a window at a time
(one search backwards per window, about 1 s per GB), with at most one window in memory; the header search of
`read.py` bounds its own lines and cells (`line_limit`, `too_wide`).
"""

from __future__ import annotations

import html
import io
import re
import struct
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from monitor.config import Settings
from monitor.files.errors import LoadError
from monitor.files.sheetscan import SheetFormatError, column_letters, column_number, scan

MiB = 1 << 20
MAX_MEMBERS = 10_000
MAX_DIRECTORY = 16 * MiB
RATIO_FROM = MiB
DIMENSION_HEAD = 16 * 1024
MIN_CELLS = 1_000_000
CELLS_PER_BYTE = 16
SHEET_FOLDERS = ("xl/worksheets/", "xl/chartsheets/", "xl/dialogsheets/")
BOMB = "未读取（可能是压缩炸弹）"

_DIMENSION = re.compile(rb"<(?:[\w.-]+:)?dimension\b[^>]*?\sref\s*=\s*[\"']([A-Za-z]*[0-9]*(?::[A-Za-z]*[0-9]*)?)[\"']")
_SHEET = re.compile(rb"<(?:[\w.-]+:)?sheet\s(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")
_RELATIONSHIP = re.compile(rb"<(?:[\w.-]+:)?Relationship\s(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")


class BoundsError(LoadError):
    """A file refused unread; the message is one line naming the file."""


def size_text(n: int) -> str:
    """A size as people read it: 3.0 GB, 120 MB, 5 KB."""
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GB"
    if n >= MiB:
        return f"{n / MiB:.0f} MB"
    return f"{max(n, 1) / 1024:.0f} KB" if n >= 1024 else f"{n} 字节"


# --- CSV -------------------------------------------------------------------------------------------------------


def line_limit(settings: Settings) -> int:
    return settings.max_line_kb * 1024


def long_line(name: str, row: int, settings: Settings) -> BoundsError:
    return BoundsError(f"{name}: 第 {row} 行超过 {settings.max_line_kb} KB，未读取（行过长，可能不是正常的 CSV 文件）")


def too_wide(name: str, row: int, cells: int, settings: Settings) -> BoundsError:
    return BoundsError(f"{name}: 第 {row} 行有 {cells} 列，超过上限 {settings.max_columns} 列，未读取")


def check_lines(source: Path | IO[bytes], name: str, settings: Settings) -> None:
    """Refuse a file with a line longer than `max_line_kb` KB (\\n, \\r\\n and \\r end lines), naming its row."""
    limit = line_limit(settings)
    with _opened(source) as fh:
        start = 0  # offset in the file of `buffer`
        buffer = b""
        while chunk := fh.read(max(limit, 4 * MiB)):
            buffer += chunk
            pos = 0  # the start of the current line in `buffer`
            while len(buffer) - pos > limit:
                window = pos + limit + 1  # the line must end within its first limit + 1 bytes
                end = max(buffer.rfind(b"\n", pos, window), buffer.rfind(b"\r", pos, window))
                if end < 0:
                    raise long_line(name, _line_number(fh, start + pos), settings)
                pos = end + 1
            start += pos
            buffer = buffer[pos:]


def _line_number(fh: IO[bytes], offset: int) -> int:
    """The 1-based number of the line starting at `offset` (\\r\\n counts once)."""
    fh.seek(0)
    count, left, previous = 0, offset, b""
    while left > 0 and (chunk := fh.read(min(left, 4 * MiB))):
        left -= len(chunk)
        count += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
        if previous == b"\r" and chunk.startswith(b"\n"):
            count -= 1
        previous = chunk[-1:]
    return count + 1


@contextmanager
def _opened(source: Path | IO[bytes]) -> Iterator[IO[bytes]]:
    """A binary file opened from a path, or a given file object rewound (and left open)."""
    if isinstance(source, Path):
        with open(source, "rb") as fh:
            yield fh
    else:
        source.seek(0)
        yield source


# --- xlsx ------------------------------------------------------------------------------------------------------


def check_xlsx(source: Path | IO[bytes], name: str, settings: Settings, *, cells: bool = True) -> None:
    """Refuse an xlsx that could not be read within bounds (module docstring), before calamine opens it."""
    invalid = BoundsError(f"{name}: 不是有效的 xlsx 文件（无法按 zip 格式打开），未读取")
    with _opened(source) as fh:
        directory = _directory_size(fh)
        if directory is None:
            raise invalid
        members, directory_bytes = directory
        if members > MAX_MEMBERS or directory_bytes > MAX_DIRECTORY:
            raise BoundsError(f"{name}: 含 {members} 个压缩成员（目录 {size_text(directory_bytes)}），超过上限，{BOMB}")
        try:
            book = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
            raise invalid from None
        with book:
            _check_directory(book, name, settings)
            labels = _sheet_labels(book)
            for info in book.infolist():
                if info.filename.lower().startswith(SHEET_FOLDERS) and not info.is_dir():
                    label = f"{name}: 工作表 {labels.get(info.filename, info.filename)}"
                    _check_sheet(book, info, label, settings, cells)


def _directory_size(fh: IO[bytes]) -> tuple[int, int] | None:
    """(members, central-directory bytes) from the zip's end record, read from the file's last 64 KiB; None when there
    is no end record. Zip64 counts are read from the zip64 end record."""
    size = fh.seek(0, io.SEEK_END)
    tail_start = max(0, size - (1 << 16) - 22)
    fh.seek(tail_start)
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    members, directory = struct.unpack_from("<HI", tail, at + 10)
    if members == 0xFFFF or directory == 0xFFFFFFFF:  # zip64: the locator stands just before the end record
        locator = tail_start + at - 20
        if locator < 0:
            return None
        fh.seek(locator)
        record = fh.read(20)
        if len(record) < 20 or not record.startswith(b"PK\x06\x07"):
            return None
        fh.seek(struct.unpack_from("<Q", record, 8)[0])
        end64 = fh.read(56)
        if len(end64) < 56 or not end64.startswith(b"PK\x06\x06"):
            return None
        members, directory = struct.unpack_from("<QQ", end64, 32)
    return members, directory


def _check_directory(book: zipfile.ZipFile, name: str, settings: Settings) -> None:
    infos = book.infolist()
    if len(infos) > MAX_MEMBERS:
        raise BoundsError(f"{name}: 含 {len(infos)} 个压缩成员，超过上限 {MAX_MEMBERS} 个，{BOMB}")
    if not any(info.filename.lower() == "[content_types].xml" for info in infos):
        raise BoundsError(f"{name}: 不是有效的 xlsx 文件（缺少 [Content_Types].xml），未读取")
    for info in infos:
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or info.flag_bits & 0x1:
            raise BoundsError(f"{name}: 不是有效的 xlsx 文件（{info.filename} 已加密或使用不支持的压缩方式），未读取")
    total = sum(info.file_size for info in infos)
    if total > settings.xlsx_max_uncompressed_mb * MiB:
        raise BoundsError(f"{name}: 解压后 {size_text(total)}，超过上限 {settings.xlsx_max_uncompressed_mb} MB，{BOMB}")
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FROM and ratio > settings.xlsx_max_ratio:
            raise BoundsError(
                f"{name}: {info.filename} 解压后 {size_text(info.file_size)}，是压缩后的 {ratio:.0f} 倍，"
                f"超过上限 {settings.xlsx_max_ratio} 倍，{BOMB}"
            )


def _sheet_labels(book: zipfile.ZipFile) -> dict[str, str]:
    """Sheet member → the sheet's name, as far as xl/workbook.xml and its relationships tell (for messages only)."""
    found = {info.filename.lower(): info.filename for info in book.infolist()}
    try:
        workbook = _small_member(book, found.get("xl/workbook.xml"))
        relationships = _small_member(book, found.get("xl/_rels/workbook.xml.rels"))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return {}
    targets = {}
    for tag in _RELATIONSHIP.findall(relationships):
        rid, target = _attribute(tag, b"Id"), _attribute(tag, b"Target")
        if rid is not None and target is not None:
            path = target[1:] if target.startswith("/xl/") else target if target.startswith("xl/") else f"xl/{target}"
            targets[rid] = found.get(path.lower(), path)
    labels = {}
    for tag in _SHEET.findall(workbook):
        sheet, rid = _attribute(tag, b"name"), _attribute(tag, b"r:id") or _attribute(tag, b"relationships:id")
        if sheet is not None and rid in targets:
            labels[targets[rid]] = sheet
    return labels


def _small_member(book: zipfile.ZipFile, member: str | None) -> bytes:
    if member is None or book.getinfo(member).file_size > 16 * MiB:
        return b""
    return book.read(member)


def _attribute(tag: bytes, key: bytes) -> str | None:
    found = re.search(rb"\s" + re.escape(key) + rb"\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", tag)
    if found is None:
        return None
    return html.unescape((found.group(1) or found.group(2) or b"").decode("utf-8", "replace"))


def _check_sheet(book: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, settings: Settings, cells: bool) -> None:
    try:
        with book.open(info) as member:
            head = member.read(DIMENSION_HEAD)
        declared = _DIMENSION.search(head)
        if declared:
            last = declared.group(1).split(b":")[-1]
            parts = re.fullmatch(rb"([A-Za-z]*)([0-9]*)", last)
            if parts and parts.group(1) and parts.group(2):
                rows, columns = int(parts.group(2)), column_number(parts.group(1))
                ref = declared.group(1).decode("ascii")
                _check_grid(f"{label} 声明的范围 {ref}", rows, columns, info, settings)
        if cells:
            rows, columns = scan(lambda: book.open(info).read)
            where = f"{label} 的单元格区域 A1:{column_letters(columns)}{rows}"
            _check_grid(where, rows, columns, info, settings)
    except SheetFormatError:
        raise BoundsError(f"{label} 的内容格式异常（标签过长），未读取") from None
    except (zipfile.BadZipFile, OSError, EOFError):
        raise BoundsError(f"{label} 无法按 zip 格式解压，未读取") from None


def _check_grid(where: str, rows: int, columns: int, info: zipfile.ZipInfo, settings: Settings) -> None:
    if columns > settings.max_columns:
        raise BoundsError(f"{where} 有 {columns} 列，超过上限 {settings.max_columns} 列，未读取")
    grid = rows * columns
    if grid > max(MIN_CELLS, CELLS_PER_BYTE * info.compress_size):
        raise BoundsError(
            f"{where} 有 {grid:,} 个单元格，而该工作表压缩后只有 {size_text(info.compress_size)}，"
            "未读取（单元格数不合理）"
        )
