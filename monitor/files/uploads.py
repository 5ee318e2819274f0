"""Files uploaded through the data page: checked by type, size and bounds, saved under generated names as a load
folder, with the original names listed beside them (`monitor.files.names`)."""

from __future__ import annotations

import io
import os
import re
import secrets
from datetime import datetime
from pathlib import Path

from monitor.config import Settings
from monitor.files.bounds import BoundsError, check_lines, check_xlsx
from monitor.files.names import NAMES_FILE, write_names
from monitor.files.read import BOUNDARY_SUFFIXES, TABULAR_SUFFIXES, source_of

ALLOWED = TABULAR_SUFFIXES + BOUNDARY_SUFFIXES
__all__ = ["ALLOWED", "NAMES_FILE", "UploadError", "safe_name", "save_uploads"]


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
    with the original names listed beside them; refuse the whole upload, writing nothing, when any file is of a wrong
    type, of no known source, larger than the configured limit, or out of bounds (`bounds`: an xlsx's zip directory
    and declared sheet sizes, a CSV's line lengths; the load checks each sheet's cells too)."""
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
        try:
            if suffix == ".xlsx":
                check_xlsx(io.BytesIO(data), original, settings, cells=False)
            elif suffix == ".csv":
                check_lines(io.BytesIO(data), original, settings)
        except BoundsError as exc:
            raise UploadError(str(exc)) from None
        planned.append((original, source, suffix, data))
    # A two-digit position keeps the originals' name order, which decides duplicates between files (SPEC §5).
    named = [
        (original, f"{settings.file_prefixes[source]}_{i:02d}_{secrets.token_hex(6)}{suffix}", data)
        for i, (original, source, suffix, data) in enumerate(sorted(planned, key=lambda f: f[0]))
    ]
    folder = uploads_dir / datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    for level in (uploads_dir, folder):  # personal data: the service's user only, whatever the process's umask
        level.mkdir(mode=0o700, parents=True, exist_ok=level is uploads_dir)
        level.chmod(0o700)
    for _original, stored, data in named:
        descriptor = os.open(folder / stored, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as target:
            target.write(data)
    write_names(folder, [(stored, original) for original, stored, _ in named])
    (folder / NAMES_FILE).chmod(0o600)
    return folder
