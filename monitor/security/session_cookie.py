"""Staying signed in across reloads and tabs of one browser: the session cookie, the one-time handoff that gets it
set, and resuming a session from it.

The cookie holds the token sessions.start made (only its hash is stored) and is set by the server, HttpOnly (no page
script can read it) and SameSite=Strict (no other site's page sends it). A page cannot set an HttpOnly cookie, so
after a sign-in the page is given a handoff secret (HANDOFFS.issue): one use, HANDOFF_SECONDS long, kept in this
process's memory only. A script of the page posts it to the server's cookie route (monitor.web.serve), which redeems
it for the token and answers with the cookie; signing out, or finding the session ended, clears it the same way. A
new browser session (F5, a new tab) finds the cookie in its handshake and resumes the session (resume); all tabs of
the browser then share that one session, which times out, is replaced by a sign-in elsewhere and ends on sign-out or
an account change like any other.

Pure of the web server and of Streamlit: monitor.web glues it to both.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.config import Settings
from monitor.security import sessions
from monitor.security.access import Viewer
from monitor.security.auth import viewer_of
from monitor.storage import store

COOKIE = "monitor_session"
ROUTE = "/_monitor/session"  # the server's cookie route: POST a handoff to set the cookie, DELETE one to clear it
HANDOFF_SECONDS = 60
SET, CLEAR = "set", "clear"  # what a handoff lets the route do: set the cookie, or clear it while it holds the token
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32), as sessions.start and Handoffs.issue make
_KEPT = 10_000  # pending handoffs and noticed ends kept at most (the oldest go first)
ACCOUNT_GONE = "账户已停用"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def well_formed(value: str) -> bool:
    """A token or a handoff as this module makes them: anything else is not looked up."""
    return bool(_TOKEN.fullmatch(value))


class Handoffs:
    """One-time secrets standing for a session token and what to do with its cookie (SET or CLEAR): each is redeemed
    at most once, for that purpose, within `seconds` of being issued. Kept in memory as hashes, so they die with the
    process."""

    def __init__(self, seconds: float = HANDOFF_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds, self._clock = seconds, clock
        self._pending: OrderedDict[str, tuple[str, str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self, token: str, purpose: str = SET) -> str:
        secret = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            for key in [k for k, (_t, _p, until) in self._pending.items() if until <= now]:
                del self._pending[key]
            while len(self._pending) >= _KEPT:
                self._pending.popitem(last=False)
            self._pending[_hash(secret)] = (token, purpose, now + self._seconds)
        return secret

    def redeem(self, secret: str, purpose: str = SET) -> str | None:
        """The token the secret stands for, once; None when it is unknown, used, expired or for the other purpose
        (a wrong purpose uses it up too)."""
        if not well_formed(secret):
            return None
        with self._lock:
            entry = self._pending.pop(_hash(secret), None)
            now = self._clock()
        return entry[0] if entry is not None and entry[1] == purpose and entry[2] > now else None

    def pending(self, secret: str) -> bool:
        """Whether the secret can still be redeemed (the page goes on offering it until then)."""
        with self._lock:
            entry = self._pending.get(_hash(secret))
            return entry is not None and entry[2] > self._clock()


class Notices:
    """Which ended sessions have had their sign-out recorded: the tabs of a browser share one session, and the first
    tab to find it ended records the 退出 entry for all of them (as one tab did before they could share it)."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, token: str) -> bool:
        """True the first time the session's end is noticed in this process, False afterwards."""
        key = _hash(token)
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            while len(self._seen) > _KEPT:
                self._seen.popitem(last=False)
            return True


HANDOFFS = Handoffs()
NOTICES = Notices()


@dataclass(frozen=True)
class Answer:
    """The cookie route's answer to a handoff."""

    status: int  # 204: done; 403: refused (unknown, used, expired or for the other purpose)
    token: str = ""  # the cookie's new value (SET)
    clear: bool = False  # clear the cookie (CLEAR, when it holds the handoff's token)


def answer(purpose: str, handoff: str, cookie: str | None, handoffs: Handoffs = HANDOFFS) -> Answer:
    """What the cookie route does with a handoff: SET sets the cookie to its token; CLEAR clears the cookie only
    while it holds its token, so a tab that finds its session ended does not clear a newer sign-in's cookie."""
    token = handoffs.redeem(handoff, purpose)
    if token is None:
        return Answer(403)
    if purpose == SET:
        return Answer(204, token=token)
    return Answer(204, clear=cookie is not None and secrets.compare_digest(cookie.encode(), token.encode()))


@dataclass(frozen=True)
class Resumed:
    """What a browser's cookie gives a new browser session."""

    viewer: Viewer | None  # signed in again, with the same session
    username: str = ""  # the session's account ('' when no session has the token)
    ended: str = ""  # why the session no longer holds ('' when resumed, or when no session has the token)
    just_ended: bool = False  # this look ended it (idle past the time-out, or the account is gone)


def resume(engine: Engine, token: str, settings: Settings, now: datetime | None = None) -> Resumed:
    """The signed-in viewer of the cookie's session, if it is still open (it is then marked seen, as a click does).
    The account is read again: its role, towns and whether the password must be changed now. A session exists only
    after the whole sign-in, second factor included, so none is asked for again."""
    if not well_formed(token):
        return Resumed(None)
    at = now or datetime.now()
    found = sessions.state(engine, token, settings.session_timeout_minutes, at)
    if found.username is None:
        return Resumed(None)
    if found.ended:
        return Resumed(None, found.username, found.ended, found.just_ended)
    with engine.connect() as conn:
        row = conn.execute(sa.select(store.users).where(store.users.c.username == found.username)).mappings().first()
    if row is None or not row["active"]:  # disabling an account ends its sessions; this is the safety net
        sessions.end(engine, token, ACCOUNT_GONE, at)
        return Resumed(None, found.username, ACCOUNT_GONE, just_ended=True)
    return Resumed(viewer_of(row, settings, at, session=token))
