"""Which encoding a CSV is in: UTF-8 (with or without a byte-order mark) or GB18030, a superset of GBK."""

from __future__ import annotations

import codecs
from pathlib import Path

from monitor.files.errors import LoadError


def _decodes(path: Path, encoding: str) -> bool:
    """True when the whole file decodes in the encoding (read in 4 MiB chunks)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False


def detect_encoding(path: Path, name: str | None = None) -> str:
    """utf-8-sig for a BOM, utf-8 when the whole file decodes, else gb18030 (a superset of GBK)."""
    with open(path, "rb") as fh:
        if fh.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
    for encoding in ("utf-8", "gb18030"):
        if _decodes(path, encoding):
            return encoding
    raise LoadError(f"{name or path.name}: 无法按 UTF-8 或 GB18030/GBK 读取")


def arrow_encoding(path: Path) -> str | None:
    """The encoding Arrow's reader reads a CSV in, judged from its first MiB: UTF-8, else GB18030 (which the reader
    transcodes as it reads); None when it is neither, for pandas' reader to report. The reader checks the rest: a
    later byte in neither encoding fails it, and the file goes to pandas' reader too."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    for encoding, named in (("utf-8", "utf-8-sig"), ("gb18030", "gb18030")):  # utf-8-sig counts from after a BOM
        try:
            head.decode(encoding)
            return named
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 3:  # only a character cut at the end of the MiB
                return named
    return None
