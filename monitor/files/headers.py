"""Header rows (SPEC §3): which of a table's first rows is its header, and the canonical columns that row names.

A row *matches* a source when, after each cell is folded to half-width, trimmed and looked up among the source's
canonical headers and its configured aliases (`header_lookup`), it names every required column of the source. Other
cells may be anything (unknown extra columns are ignored). A title row such as "青禾区人口底册（2025年6月）", a row of
merged title cells (only the first cell holds text), a date line or a blank row names no required column and so
does not match.

The header row is the first matching row among the first `HEADER_ROWS` (5) rows of a CSV file or an xlsx sheet,
counted physically: blank rows and title rows count, and for a CSV a row is a record (a quoted cell may span lines).
Rows above the header are skipped, neither read nor rejected; data rows keep their physical numbers (SPEC §5), so with
the header on row 3 the first data row is row 4. When none of the first five rows matches, the first row is taken as
the header, as before: the file fails (or the xlsx sheet is skipped) with a message naming the file, the missing
headers and the cells of that first row.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.base.text import fold_width
from monitor.config import Settings
from monitor.files.sources import Source

HEADER_ROWS = 5


@dataclass(frozen=True)
class Header:
    """The header row of a table: its position, its cells, the canonical columns found and the required ones lacking."""

    index: int  # 0-based position among the table's physical rows (records of a CSV)
    cells: list[str]
    positions: dict[str, int]  # canonical column name → position in the row
    missing: list[str]  # required headers the row lacks; empty when it matches
    searched: int  # how many rows were looked at

    @property
    def first_data_row(self) -> int:
        """The physical number of the row below the header (the table's first row is 1)."""
        return self.index + 2

    def message(self, label: str) -> str:
        """The missing-required-column message for a table whose first rows hold no matching header."""
        found = "、".join(str(h).strip() for h in self.cells if str(h).strip()) or "(none)"
        searched = f"；已在第 1–{self.searched} 行中查找表头" if self.searched > 1 else ""
        return f"{label}: 缺少必需列 {'、'.join(self.missing)}（文件中的列：{found}{searched}）"


def header_lookup(source: Source, settings: Settings) -> dict[str, str]:
    """Folded header text → canonical column name, through canonical headers and configured aliases."""
    lookup: dict[str, str] = {}
    for column in source.columns:
        lookup[column.header] = column.name
    for group in ("all", source.key):
        for canon, aliases in settings.header_aliases.get(group, {}).items():
            col = next((c for c in source.columns if c.header == canon), None)
            if col is not None:
                for alias in aliases:
                    lookup.setdefault(alias, col.name)
    return lookup


def column_positions(headers: list[str], lookup: dict[str, str]) -> dict[str, int]:
    """Canonical column name → position of the first cell that names it."""
    positions: dict[str, int] = {}
    for i, h in enumerate(headers):
        name = lookup.get(fold_width(str(h)).strip())
        if name is not None and name not in positions:
            positions[name] = i
    return positions


def missing_required(source: Source, positions: dict[str, int]) -> list[str]:
    return [c.header for c in source.columns if c.required and c.name not in positions]


def find_header(rows: list[list[str]], source: Source, lookup: dict[str, str]) -> Header:
    """The first of the first `HEADER_ROWS` rows that matches the source; else the first row, with what it lacks."""
    candidates = rows[:HEADER_ROWS]
    first: Header | None = None
    for i, cells in enumerate(candidates):
        positions = column_positions(cells, lookup)
        lacking = missing_required(source, positions)
        header = Header(i, cells, positions, lacking, len(candidates))
        if not lacking:
            return header
        first = first or header
    return first or Header(0, [], {}, missing_required(source, {}), 0)
