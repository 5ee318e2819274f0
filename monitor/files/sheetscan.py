"""How far the cells of an xlsx worksheet really reach, found by streaming its XML before calamine reads it.

calamine lays a sheet out as one dense grid from A1 to its farthest cell: a sheet of a few hundred bytes holding
only A1 and XFD1048576 asks for 17 billion cells, and the process aborts. The `<dimension>` a sheet declares does not
bind calamine, so `scan` reads the cells themselves, in pieces of 1 MiB (the member's declared size, already
bounded, is all Python's zipfile yields, as calamine's zip reader does), and returns the farthest row and column any
cell element names, placed as calamine places it: by its last `r` attribute, else right after the cell before it
(rows likewise). Cells without a value count too (calamine skips them: the answer may only be larger).

Two ways through a sheet:

* the usual one, for sheets whose every cell tag reads literally `<c r="…"` with no other r attribute (Excel, WPS,
  LibreOffice, xlsxwriter, openpyxl, …), checked piece by piece by three searches, the last of which also looks for
  cells beyond the farthest so far (rows ascend, so the last cell of a piece seeds it): about 0.8 s of CPU per 100 MB
  of sheet XML, decompression included (calamine and the table take some 3 s);
* any other sheet (positional cells, namespace prefixes, `r` not first or repeated, …) is tokenised tag by tag,
  quote-aware as calamine's XML reader is (`<` and `>` may stand inside quoted attribute values): some 8 s of CPU per
  100 MB. A tag, comment or CDATA section, or a stretch without any tag, longer than `MAX_TAG` is refused as malformed.

Comments are skipped by the tag-by-tag way (as by calamine) but not by the usual one, which may count a commented-out
cell: again the answer may only be larger.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

PIECE = 1 << 20
MAX_TAG = 1 << 20

# A sheet is plain when none of these is found: an r attribute other than the first of a cell or row tag (calamine
# takes a tag's last r), a prefixed cell tag — nor a cell tag not reading `<c r="` (searched for in `_plain_extent`).
_NOT_PLAIN = (re.compile(rb"r(?<=[\s\"']r)(?<!<c r)(?<!<row r)\s*="), re.compile(rb":c[\s>/]"))
_REF = re.compile(rb'<c r="([A-Za-z]+)([0-9]+)"')
# A tag's attributes, quote-aware as calamine's XML reader is: '<' and '>' may stand in quoted values.
_BODY = rb"[^>\"']*+(?:(?:\"[^\"]*+\"|'[^']*+')[^>\"']*+)*+"
_SPECIAL = rb"!--|!\[CDATA\[|\?"  # comments, CDATA sections, processing instructions: never tags
# Runs of what places no cell, skipped whole: text, comments, CDATA, instructions, and tags of unprefixed names other
# than c and row (cell end tags included). A prefixed tag stops the run: it is looked at by its local name.
_SKIP = re.compile(
    rb"(?:[^<]++|<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<(?!%s|c[\s/>]|/?row[\s/>])[^\s/>\"'=<:]*+(?=[\s/>])%s>)*+"
    % (_SPECIAL, _BODY),
    re.S,
)
_TAG = re.compile(rb"<(?!%s)(/?)([^\s/>\"'=<]*+)(%s)>" % (_SPECIAL, _BODY))
_ATTRIBUTE = re.compile(rb"([^\s=/]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_CELL_REF = re.compile(rb"([A-Za-z]+)([0-9]+)")


class SheetFormatError(ValueError):
    """A sheet whose XML cannot be scanned safely (a tag or comment longer than MAX_TAG)."""


def column_number(letters: bytes | str) -> int:
    """A column's 1-based number from its letters (A = 1, XFD = 16384), in either case."""
    number = 0
    for ch in letters.upper() if isinstance(letters, str) else letters.upper().decode("ascii"):
        number = number * 26 + ord(ch) - 64
    return number


def column_letters(number: int) -> str:
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def scan(open_member: Callable[[], Callable[[int], bytes]]) -> tuple[int, int]:
    """(farthest row, farthest column) any cell of the sheet names, 1-based; (0, 0) for a sheet of no cell.
    `open_member()` gives a reader of the sheet's bytes from its start (`read(n)`, b"" at the end); it is called a
    second time when the usual way does not apply."""
    found = _plain_extent(_pieces(open_member()))
    return found if found is not None else _tag_extent(_pieces(open_member()))


def _pieces(read: Callable[[int], bytes]) -> Iterator[bytes]:
    """The XML in pieces that end before a '<': no tag start is cut between two pieces."""
    carry = b""
    while chunk := read(PIECE):
        data = carry + chunk
        cut = data.rfind(b"<")
        if cut <= 0:
            carry = data
            if len(carry) > MAX_TAG:
                raise SheetFormatError("more than MAX_TAG bytes without a tag start")
            continue
        yield data[:cut]
        carry = data[cut:]
    if carry:
        yield carry


def _letters_above(column: int) -> bytes:
    """A pattern of column letters naming a column after `column` (any letters when it is 0)."""
    if column <= 0:
        return rb"[A-Za-z]+"
    letters = column_letters(column)
    alternatives = [rb"[A-Za-z]{%d,}" % (len(letters) + 1)]
    for i, ch in enumerate(letters):
        if ch != "Z":
            head = "".join(f"[{c}{c.lower()}]" for c in letters[:i])
            step = chr(ord(ch) + 1)
            rest = len(letters) - i - 1
            alternatives.append(f"{head}[{step}-Z{step.lower()}-z][A-Za-z]{{{rest}}}".encode())
    return b"(?:" + b"|".join(alternatives) + b")"


def _digits_above(row: int) -> bytes:
    """A pattern of row digits naming a row after `row` (a leading zero always matches: such refs are rechecked)."""
    digits = str(row)
    alternatives = [rb"0[0-9]*", rb"[1-9][0-9]{%d,}" % len(digits)]
    for i, ch in enumerate(digits):
        if ch != "9":
            alternatives.append(f"{digits[:i]}[{int(ch) + 1}-9][0-9]{{{len(digits) - i - 1}}}".encode())
    return b"(?:" + b"|".join(alternatives) + b")"


def _plain_extent(pieces: Iterator[bytes]) -> tuple[int, int] | None:
    """The usual way; None as soon as a piece is not plain."""
    far_row = far_col = 0
    for piece in pieces:
        if any(pattern.search(piece) for pattern in _NOT_PLAIN):
            return None
        last = _REF.match(piece, max(piece.rfind(b'<c r="'), 0))
        if last:
            far_row, far_col = max(far_row, int(last.group(2))), max(far_col, column_number(last.group(1)))
        pos = 0
        while True:  # one pass finds both a cell tag not reading <c r=" and a cell beyond the farthest so far
            beyond = rb'<c(?:(?! r=")[\s>/]| r="(?:%s[0-9]+|[A-Za-z]+%s)")' % (
                _letters_above(far_col),
                _digits_above(far_row),
            )
            found = re.compile(beyond).search(piece, pos)
            if found is None:
                break
            if not found.group().startswith(b'<c r="'):
                return None
            for letters, digits in _REF.findall(piece):
                far_row, far_col = max(far_row, int(digits)), max(far_col, column_number(letters))
            pos = found.end()
    return far_row, far_col


def _r_value(attributes: bytes) -> bytes | None:
    """The value of the tag's last attribute named exactly r (calamine takes the last one)."""
    value = None
    for name, double, single in _ATTRIBUTE.findall(attributes):
        if name == b"r":
            value = double if double or not single else single
    return value


def _tag_extent(pieces: Iterator[bytes]) -> tuple[int, int]:
    """Tag by tag: rows and cells placed by their r attributes, else by position, as calamine does (when the two
    readings of a row's number differ, the larger is kept)."""
    far_row = far_col = 0
    row = col = ref_row = 0  # 0-based position of the next cell; the row of the current row's last explicit cell
    buffer = b""
    for piece in pieces:
        buffer += piece
        pos = 0
        while True:
            skipped = _SKIP.match(buffer, pos)
            pos = skipped.end() if skipped else pos
            match = _TAG.match(buffer, pos)
            if match is None:
                break  # the end of the piece, or a tag that goes on in the next one
            pos = match.end()
            closing, name, attributes = match.groups()
            empty = attributes.endswith(b"/")
            if (name == b"c" or name.endswith(b":c")) and not closing:
                ref = _r_value(attributes)
                parsed = _CELL_REF.fullmatch(ref) if ref is not None else None
                if parsed:
                    at_row, col = int(parsed.group(2)) - 1, column_number(parsed.group(1)) - 1
                    ref_row = max(ref_row, at_row)
                else:
                    at_row = row
                far_row, far_col = max(far_row, at_row + 1), max(far_col, col + 1)
                col += 1
                continue
            if not (name == b"row" or name.endswith(b":row")):
                continue  # a prefixed tag of another name, or a cell end tag
            if not closing:
                number = _r_value(attributes)
                if number is not None and number.isdigit():
                    row = int(number) - 1
            if closing or empty:
                row, col, ref_row = max(row, ref_row) + 1, 0, 0
        buffer = buffer[pos:]
        if len(buffer) > MAX_TAG:
            raise SheetFormatError("a tag, comment or CDATA section longer than MAX_TAG")
    return far_row, far_col
