"""Files uploaded through the data page: checked by type and saved as a load folder under data/uploads/."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from monitor.read import BOUNDARY_SUFFIXES, TABULAR_SUFFIXES

ALLOWED = TABULAR_SUFFIXES + BOUNDARY_SUFFIXES


class UploadError(ValueError):
    """An upload that cannot become a load folder; the message names the file."""


def safe_name(name: str) -> str:
    """The file's own name without any folder part or characters a file system would misread."""
    base = Path(name.replace("\\", "/")).name
    cleaned = re.sub(r'[\x00-\x1f<>:"|?*]', "_", base).strip(" .")
    if not cleaned:
        raise UploadError(f"{name!r}: 文件名无效")
    return cleaned


def save_uploads(files: list[tuple[str, bytes]], uploads_dir: Path) -> Path:
    """Write the files into a new folder named by time; refuse the whole upload when any file has a wrong type."""
    names = [safe_name(n) for n, _ in files]
    for name in names:
        if Path(name).suffix.lower() not in ALLOWED:
            raise UploadError(f"{name}: 不支持的文件类型（可用 {', '.join(ALLOWED)}）")
    if len(set(names)) != len(names):
        raise UploadError("同名文件上传了两次")
    folder = uploads_dir / datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    folder.mkdir(parents=True)
    for name, (_, data) in zip(names, files):
        (folder / name).write_bytes(data)
    return folder
