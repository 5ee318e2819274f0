"""The second factor: TOTP codes from an authenticator app (RFC 6238), enrolment by a locally drawn QR code, and
one-time recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from datetime import datetime

import pyotp
import qrcode
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.security.access import ADMIN_ROLES
from monitor.storage import store

ISSUER = "参保与防返贫监测看板"
RECOVERY_CODES = 10
STEP_SECONDS = 30


def required(role: str, for_everyone: bool) -> bool:
    """The administrator roles always need the second factor; the others when the policy says so."""
    return role in ADMIN_ROLES or for_everyone


def new_secret() -> str:
    return pyotp.random_base32()


def enrolment_uri(username: str, secret: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_png(uri: str) -> bytes:
    """The QR code of an address as PNG bytes, drawn here (no web service sees the secret)."""
    buffer = io.BytesIO()
    qrcode.make(uri, box_size=6, border=2).save(buffer, format="PNG")
    return buffer.getvalue()


def code_at(secret: str, now: datetime) -> str:
    """The 6-digit code of a moment (what the authenticator app shows then)."""
    return pyotp.TOTP(secret).at(int(now.timestamp()))


def matching_step(secret: str, code: str, now: datetime, after: int | None) -> int | None:
    """The time step (of now ± one, for clock drift) whose code this is, if later than `after` (used steps cannot be
    used again)."""
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.at(step * STEP_SECONDS), code.strip()):
            return step
    return None


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").encode()).hexdigest()


def enrolled(engine: Engine, username: str) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(sa.select(store.users.c.totp_secret).where(store.users.c.username == username)).scalar()
            is not None
        )


def enrol(engine: Engine, username: str, secret: str, code: str, now: datetime | None = None) -> list[str] | None:
    """Keep the secret once the user proves the app has it (a correct code); returns the new recovery codes, to be
    shown once, or None when the code is wrong."""
    at = now or datetime.now()
    step = matching_step(secret, code, at, None)
    if step is None:
        return None
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    with engine.begin() as conn:
        conn.execute(
            store.users.update()
            .where(store.users.c.username == username)
            .values(totp_secret=secret, totp_last_step=step)
        )
        conn.execute(store.recovery_codes.delete().where(store.recovery_codes.c.username == username))
        conn.execute(store.recovery_codes.insert(), [{"username": username, "code_hash": _code_hash(c)} for c in codes])
    return codes


def check(engine: Engine, username: str, code: str, now: datetime | None = None) -> bool:
    """A current code from the app, or an unused recovery code (then used up)."""
    at = now or datetime.now()
    users, recovery = store.users, store.recovery_codes
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(users.c.totp_secret, users.c.totp_last_step).where(users.c.username == username)
        ).first()
        if row is None or row.totp_secret is None:
            return False
        if code.strip().isdigit():
            step = matching_step(row.totp_secret, code, at, row.totp_last_step)
            if step is None:
                return False
            conn.execute(users.update().where(users.c.username == username).values(totp_last_step=step))
            return True
        return bool(
            conn.execute(
                recovery.update()
                .where(
                    (recovery.c.username == username)
                    & (recovery.c.code_hash == _code_hash(code))
                    & recovery.c.used_at.is_(None)
                )
                .values(used_at=str(at.replace(microsecond=0)))
            ).rowcount
        )


def recovery_codes_left(engine: Engine, username: str) -> int:
    recovery = store.recovery_codes
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).where((recovery.c.username == username) & recovery.c.used_at.is_(None))
        ).scalar_one()


def reset(engine: Engine, username: str) -> None:
    """Forget the secret and recovery codes: the user enrols again at the next sign-in (lost phone)."""
    with engine.begin() as conn:
        conn.execute(
            store.users.update().where(store.users.c.username == username).values(totp_secret=None, totp_last_step=None)
        )
        conn.execute(store.recovery_codes.delete().where(store.recovery_codes.c.username == username))
