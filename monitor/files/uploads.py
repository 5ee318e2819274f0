"""Files uploaded through the data page: checked by type and size, saved under generated names as a load folder."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from pathlib import Path

from monitor.config import Settings
from monitor.files.read import BOUNDARY_SUFFIXES, TABULAR_SUFFIXES, source_of

ALLOWED = TABULAR_SUFFIXES + BOUNDARY_SUFFIXES
NAMES_FILE = "原始文件名.txt"


class UploadError(ValueError):
    """An upload that cannot become a load folder; the message names the file."""


def safe_name(name: str) -> str:
    """The file's own name without any folder part or characters a file system would misread."""
    base = Path(name.replace("\\", "/")).name
    cleaned = re.sub(r'[\x00-\x1f<>:"|?*]', "_", base).strip(" .")
    if not cleaned:
        raise UploadError(f"{name!r}: 文件名无效")
    return cleaned


def save_uploads(files: list[tuple[str, bytes]], uploads_dir: Path, settings: Settings) -> Path:
    """Write the files into a new folder under generated names that keep the source prefix (population_<random>.csv),
    with the original names listed beside them; refuse the whole upload when any file is of a wrong type, of no known
    source, or larger than the configured limit."""
    limit = settings.upload_max_mb * 1024 * 1024
    planned = []
    for name, data in files:
        original = safe_name(name)
        suffix = Path(original).suffix.lower()
        if suffix not in ALLOWED:
            raise UploadError(f"{original}: 不支持的文件类型（可用 {', '.join(ALLOWED)}）")
        if len(data) > limit:
            raise UploadError(f"{original}: 文件超过 {settings.upload_max_mb} MB 的上限")
        source = source_of(Path(original), settings)
        if source is None:
            raise UploadError(f"{original}: 文件名须以来源前缀开头（{'、'.join(settings.file_prefixes.values())}）")
        planned.append((original, source, suffix, data))
    # A two-digit position keeps the originals' name order, which decides duplicates between files (SPEC §5).
    named = [
        (original, f"{settings.file_prefixes[source]}_{i:02d}_{secrets.token_hex(6)}{suffix}", data)
        for i, (original, source, suffix, data) in enumerate(sorted(planned, key=lambda f: f[0]))
    ]
    folder = uploads_dir / datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    folder.mkdir(parents=True)
    for _original, stored, data in named:
        (folder / stored).write_bytes(data)
    (folder / NAMES_FILE).write_text(
        "".join(f"{stored}\t{original}\n" for original, stored, _ in named), encoding="utf-8"
    )
    return folder
