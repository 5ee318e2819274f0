"""Start the Streamlit server with app.py's st.navigation in charge from the very first request, and a health check
that fails while the database or the data folder cannot be used.

Streamlit treats a `pages/` folder beside the entry script as its legacy multipage mode until
`st.navigation` has run once in the process: the first deep link after a start then shows a
spurious "Page not found" or, for a link named like a page file, runs that file without app.py.
Declaring the legacy mode off before the server starts removes both.

Streamlit's own `/_stcore/health` says "ok" whenever the server runs. The app is therefore served as an `st.App`
(Streamlit's ASGI app, which `streamlit run` finds in this file) with a middleware of ours in front: it answers
`/_stcore/health` with 503 and the reason (no path) while the database is missing, unreadable, read-only or short of
disk, or the data folder is gone or not writable, and hands it on to Streamlit otherwise. A second one is the cookie
route of monitor.security.session_cookie, which keeps a browser signed in across reloads and tabs.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from functools import lru_cache
from urllib.parse import urlsplit

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from monitor.config import PROJECT_ROOT, Settings, data_path, database_url, load_settings
from monitor.security import session_cookie
from monitor.storage.database import health

APP = PROJECT_ROOT / "app.py"
HEALTH = "/_stcore/health"


@lru_cache(maxsize=1)
def _settings() -> Settings:
    return load_settings(os.environ.get("MONITOR_CONFIG") or None)


def problem() -> str:
    """Why the app cannot work now, in a few words without paths; '' when the database and the data folder can be
    read and written (the same database as the pages': MONITOR_DB_URL, else config's)."""
    settings = _settings()
    data = data_path(settings)
    if not data.is_dir():
        return "数据文件夹不存在"
    try:
        with tempfile.TemporaryFile(dir=data):
            pass
    except OSError as exc:
        return f"数据文件夹不能写入（{type(exc).__name__}）"
    return health(database_url(settings, os.environ.get("MONITOR_DB_URL") or None))


class HealthGate:
    """ASGI middleware: a failing problem() turns Streamlit's health check into 503 with the reason."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith(HEALTH):
            try:
                reason = await run_in_threadpool(problem)
            except Exception as exc:  # any failure of the probe is a failed health check
                reason = f"健康检查出错（{type(exc).__name__}）"
            if reason:
                response = PlainTextResponse(reason, status_code=503, headers={"Cache-Control": "no-cache"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def same_origin(request: Request) -> bool:
    """A request of the app's own page: its Origin names the host it was sent to, and the browser's Sec-Fetch-Site,
    when it sends one, says same-origin."""
    origin, host = request.headers.get("origin"), request.headers.get("host")
    fetch_site = request.headers.get("sec-fetch-site", "same-origin")
    return bool(origin and host) and urlsplit(origin or "").netloc == host and fetch_site == "same-origin"


async def _handoff(request: Request) -> str:
    """The handoff of a JSON body {"handoff": "..."} of at most a kilobyte; '' for anything else."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return ""  # the JSON type makes another site's page ask first (CORS preflight), and no grant is given
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > 1024:
            return ""
    try:
        value = json.loads(body or b"{}").get("handoff", "")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


async def cookie_response(request: Request) -> Response:
    """POST sets the session cookie for a SET handoff, DELETE clears it for a CLEAR one (session_cookie.answer):
    HttpOnly, SameSite=Strict, Secure when the page came over HTTPS, for the whole site, until the browser closes.
    Nothing is answered to another site's page, and nothing here is cached."""
    purpose = {"POST": session_cookie.SET, "DELETE": session_cookie.CLEAR}.get(request.method)
    if purpose is None:
        return Response(status_code=405, headers={"Allow": "POST, DELETE", "Cache-Control": "no-store"})
    if not same_origin(request):
        return Response(status_code=403, headers={"Cache-Control": "no-store"})
    done = session_cookie.answer(purpose, await _handoff(request), request.cookies.get(session_cookie.COOKIE))
    response = Response(status_code=done.status, headers={"Cache-Control": "no-store"})
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    if done.token:
        response.set_cookie(
            session_cookie.COOKIE, done.token, path="/", secure=secure, httponly=True, samesite="strict"
        )
    elif done.clear:
        response.delete_cookie(session_cookie.COOKIE, path="/", secure=secure, httponly=True, samesite="strict")
    return response


class SessionCookie:
    """ASGI middleware: the cookie route (session_cookie.ROUTE, under any base path the app is served at)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith(session_cookie.ROUTE):
            response = await cookie_response(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


app = st.App(APP, middleware=[Middleware(HealthGate), Middleware(SessionCookie)])


def main(argv: list[str] | None = None) -> None:
    """`streamlit run` on this file, which serves `app` above; new files are private to the service (umask 077)."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    os.umask(0o077)
    PagesManager.uses_pages_directory = False
    sys.argv = ["streamlit", "run", __file__, *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
