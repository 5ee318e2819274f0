"""The names users know their files by: uploads are stored under generated names, their own names listed beside.

An upload folder carries `NAMES_FILE`, one `stored<TAB>original` line per file (written by `uploads.save_uploads`).
Reading a folder consults it so that every message, reject and table label names the user's own file; files of an
inbox folder (no listing) keep their names. Two uploads of one name are told apart by their stored names.
"""

from __future__ import annotations

from pathlib import Path

NAMES_FILE = "原始文件名.txt"


def write_names(folder: Path, pairs: list[tuple[str, str]]) -> None:
    """The listing of (stored, original) names of an upload folder."""
    text = "".join(f"{stored}\t{original}\n" for stored, original in pairs)
    (folder / NAMES_FILE).write_text(text, encoding="utf-8")


def original_names(folder: Path) -> dict[str, str]:
    """Stored name → the user's name, for the files an upload folder lists (empty for other folders)."""
    listing = folder / NAMES_FILE
    if not listing.is_file():
        return {}
    pairs = []
    for line in listing.read_text(encoding="utf-8", errors="replace").splitlines():
        stored, tab, original = line.partition("\t")
        if tab and stored and original.strip() and "/" not in stored and "\\" not in stored:
            pairs.append((stored, original.strip()))
    count: dict[str, int] = {}
    for _, original in pairs:
        count[original] = count.get(original, 0) + 1
    return {stored: original if count[original] == 1 else f"{original}（{stored}）" for stored, original in pairs}


def shown_name(path: Path, names: dict[str, str] | None = None) -> str:
    """The name to show for a file: its original name when its folder is an upload folder, else its own."""
    if names is None:
        names = original_names(path.parent)
    return names.get(path.name, path.name)
