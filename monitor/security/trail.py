"""What keeps the audit chain honest from outside the database: the secret key of its HMACs, the checkpoint file,
and the syslog target.

Where they are (the same in every process of an install, so the app, the command line and the scheduler key the
chain alike): the environment variables MONITOR_AUDIT_KEY_FILE, MONITOR_AUDIT_CHECKPOINT_FILE and
MONITOR_AUDIT_SYSLOG when set; otherwise the settings given to `configured()` for the code run inside it (the
command line's --config, the scheduler's jobs); otherwise the settings the app reads (MONITOR_CONFIG, else
config.toml). Relative paths are under the data folder.

The key file holds 32 random bytes (hex), made on first use with mode 0600 (its folder, when made, 0700); it is read
once per process. The checkpoint file gets one JSON line per checkpoint, appended with mode 0600 and synced.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from monitor import config
from monitor.config import Settings, data_path

log = logging.getLogger("monitor.security.trail")

ENV_KEY_FILE = "MONITOR_AUDIT_KEY_FILE"
ENV_CHECKPOINT_FILE = "MONITOR_AUDIT_CHECKPOINT_FILE"
ENV_SYSLOG = "MONITOR_AUDIT_SYSLOG"
KEY_BYTES = 32

_keys: dict[Path, bytes] = {}
_key_lock = threading.Lock()


class AuditKeyError(OSError):
    """The key file cannot be used (unreadable, not a key, or its folder gone with the data folder); nothing can be
    audited until it is fixed. An OSError, so the pages and commands report it as a disk fault."""


@dataclass(frozen=True)
class Places:
    key_file: Path
    checkpoint_file: Path
    syslog: str  # "" off, "host:port" UDP, or a Unix socket path
    data_folder: Path


def configured(settings: Settings) -> AbstractContextManager[None]:
    """Code run inside uses these settings' key, checkpoint file and syslog target (in this thread only)."""
    return config.configured(settings)


def places() -> Places:
    settings = config.in_force()

    def path(env: str, value: str) -> Path:
        chosen = Path(os.environ.get(env) or value)
        return chosen if chosen.is_absolute() else data_path(settings) / chosen

    return Places(
        path(ENV_KEY_FILE, settings.audit_key_file),
        path(ENV_CHECKPOINT_FILE, settings.audit_checkpoint_file),
        os.environ.get(ENV_SYSLOG, settings.audit_syslog).strip(),
        data_path(settings),
    )


def _folder_for(path: Path) -> None:
    """Make the folder of a trail file (0700) when missing, but never a data folder that has gone missing (moved
    away: the commands and the health check report that, and a new key there would hide it)."""
    if path.parent.is_dir():
        return
    data = places().data_folder
    if path.is_relative_to(data) and not data.is_dir():
        raise AuditKeyError(f"数据文件夹 {data} 不存在")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)


def _read_key(path: Path) -> bytes | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditKeyError(f"审计密钥文件 {path} 无法读取：{exc}") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise AuditKeyError(f"审计密钥文件 {path} 不是有效的密钥（应为 {KEY_BYTES} 字节的十六进制）")
    if path.stat().st_mode & 0o077:
        log.warning("audit key file %s can be read by others than the service: chmod 600 it", path)
    return key


def _create_key(path: Path) -> None:
    """A new random key, written completely before it appears under its name (a process making one at the same
    moment keeps the first)."""
    _folder_for(path)
    part = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with suppress(FileExistsError):  # made by another process meanwhile: theirs is kept
            os.link(part, path)
    finally:
        part.unlink(missing_ok=True)
    log.warning("audit key file %s created: keep a copy with the backups, apart from the database", path)


def key(create: bool) -> bytes | None:
    """The chain's secret; made on first use when `create`, else None while there is none."""
    path = places().key_file
    with _key_lock:
        if path not in _keys:
            found = _read_key(path)
            if found is None and create:
                _create_key(path)
                found = _read_key(path)
            if found is None:
                return None
            _keys[path] = found
        return _keys[path]


def signing_key() -> bytes:
    """The key new entries are hashed with, made on first use."""
    found = key(create=True)
    if found is None:  # only when the file vanished between writing and reading it
        raise AuditKeyError(f"审计密钥文件 {places().key_file} 无法创建")
    return found


def database_id(engine: Engine) -> str:
    """Which database a checkpoint is of: the SQLite file's full path, or the server, port and database name (never
    the user or password)."""
    url = engine.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        name = url.database or ""
        return "sqlite:" + (str(Path(name).resolve()) if name and name != ":memory:" else ":memory:")
    return f"{backend}://{url.host or ''}:{url.port or ''}/{url.database or ''}"


def append_checkpoint(line: dict) -> Path:
    path = places().checkpoint_file
    _folder_for(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return path


def checkpoints(database: str) -> list[dict]:
    """Every checkpoint written of this database, oldest first (a line cut short by a crash is skipped)."""
    path = places().checkpoint_file
    marks = []
    try:
        with open(path, encoding="utf-8") as fh:
            for text in fh:
                try:
                    line = json.loads(text)
                except ValueError:
                    continue
                if isinstance(line, dict) and line.get("db") == database:
                    marks.append(line)
    except FileNotFoundError:
        return []
    return marks
