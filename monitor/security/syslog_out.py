"""Audit records for a bureau's central log system: RFC 5424 syslog messages sent over UDP (host:port) or to a Unix
datagram socket (a path, e.g. /dev/log). Sending never fails the caller: a log system that is down loses the copy,
never the entry (the database and the checkpoint file keep it), and the miss is logged."""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import datetime

log = logging.getLogger("monitor.security.syslog_out")

FACILITY_AUDIT = 13  # RFC 5424 table 1: "log audit"
INFO, NOTICE, ERROR = 6, 5, 3  # severities
APP_NAME = "coverage-monitor"
BOM = "\ufeff"  # RFC 5424 §6.4: a UTF-8 MSG starts with the byte order mark


def _header_field(value: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, at most `limit` characters; '-' when empty."""
    kept = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return kept or "-"


def rfc5424(msgid: str, fields: dict, severity: int = INFO, at: datetime | None = None) -> bytes:
    """One message: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG, where MSG is the fields as JSON (UTF-8,
    after the BOM) and the timestamp the moment of sending with its UTC offset."""
    stamp = (at or datetime.now()).astimezone().isoformat(timespec="milliseconds")
    header = " ".join(
        (
            f"<{FACILITY_AUDIT * 8 + severity}>1",
            stamp,
            _header_field(socket.gethostname(), 255),
            APP_NAME,
            str(os.getpid()),
            _header_field(msgid, 32),
            "-",  # no structured data: everything is in the JSON message
        )
    )
    return (header + " " + BOM + json.dumps(fields, ensure_ascii=False, separators=(",", ":"))).encode("utf-8")


def _address(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"audit_syslog: expected host:port or a socket path, got {target!r}")
    return host.strip("[]"), int(port)


def send(target: str, message: bytes) -> bool:
    """Send one message to `target` (host:port over UDP, or a Unix datagram socket's path); False when it could
    not be sent (logged, without the message's content)."""
    try:
        if "/" in target:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message, target)
        else:
            host, port = _address(target)
            family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
            with socket.socket(family, kind, proto) as sock:
                sock.sendto(message, address)
    except (OSError, ValueError) as exc:
        log.warning("audit record not sent to syslog %s: %s", target, exc)
        return False
    return True
