"""The server's cookie route (issue 23), called as the browser calls it, through the ASGI middleware in front of
Streamlit: it sets the HttpOnly, SameSite=Strict session cookie for a handoff from the app's own page, clears it,
and answers nothing else."""

from __future__ import annotations

import asyncio
import json

import pytest

from monitor.security import session_cookie
from monitor.security.session_cookie import CLEAR, HANDOFFS, SET
from monitor.web.serve import SessionCookie

TOKEN = "k" * 43
HOST = "127.0.0.1:8501"
SAME = {"origin": f"http://{HOST}", "host": HOST, "sec-fetch-site": "same-origin", "content-type": "application/json"}


def _call(method: str, body: bytes = b"", headers: dict | None = None, path: str = session_cookie.ROUTE):
    """(status, headers as (name, value) pairs) of one request; the app behind answers 299 (reached Streamlit)."""

    async def behind(scope, receive, send):
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "scheme": "http",
        "server": ("127.0.0.1", 8501),
        "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(SessionCookie(behind)(scope, receive, send))
    start = sent[0]
    return start["status"], [(k.decode().lower(), v.decode()) for k, v in start["headers"]]


def _cookies(headers) -> list[str]:
    return [v for k, v in headers if k == "set-cookie"]


def _body(handoff: str) -> bytes:
    return json.dumps({"handoff": handoff}).encode()


def test_a_handoff_from_the_apps_own_page_sets_an_http_only_strict_cookie():
    status, headers = _call("POST", _body(HANDOFFS.issue(TOKEN)), SAME)
    assert status == 204
    [cookie] = _cookies(headers)
    parts = [p.strip().lower() for p in cookie.split(";")]
    assert parts[0] == f"monitor_session={TOKEN}".lower()
    assert {"httponly", "path=/", "samesite=strict"} <= set(parts)
    assert "secure" not in parts and not any(p.startswith(("max-age", "expires")) for p in parts)  # until closed
    assert ("cache-control", "no-store") in headers


def test_the_cookie_is_secure_behind_an_https_proxy_and_the_route_works_under_a_base_path():
    status, headers = _call(
        "POST", _body(HANDOFFS.issue(TOKEN)), {**SAME, "x-forwarded-proto": "https"}, path="/monitor/_monitor/session"
    )
    assert status == 204 and "secure" in [p.strip().lower() for p in _cookies(headers)[0].split(";")]


@pytest.mark.parametrize(
    "headers",
    [
        {**SAME, "origin": "http://evil.example"},  # another site's page
        {k: v for k, v in SAME.items() if k != "origin"},  # no Origin: not a page's fetch
        {**SAME, "sec-fetch-site": "cross-site"},
        {**SAME, "content-type": "text/plain"},  # a simple request another site could send without asking first
    ],
)
def test_other_sites_and_simple_requests_get_nothing_and_spend_nothing(headers):
    handoff = HANDOFFS.issue(TOKEN)
    status, answered = _call("POST", _body(handoff), headers)
    assert status == 403 and not _cookies(answered)
    assert _call("POST", _body(handoff), SAME)[0] == 204  # still there for the app's own page


def test_a_used_unknown_or_oversized_handoff_is_refused():
    handoff = HANDOFFS.issue(TOKEN)
    assert _call("POST", _body(handoff), SAME)[0] == 204
    status, headers = _call("POST", _body(handoff), SAME)
    assert status == 403 and not _cookies(headers)
    assert _call("POST", _body("z" * 43), SAME)[0] == 403
    assert _call("POST", b"{not json", SAME)[0] == 403
    assert _call("POST", json.dumps({"handoff": HANDOFFS.issue(TOKEN), "pad": "x" * 2000}).encode(), SAME)[0] == 403


def test_a_clear_handoff_clears_the_cookie_that_holds_its_token_only():
    own = {**SAME, "cookie": f"monitor_session={TOKEN}"}
    status, headers = _call("DELETE", _body(HANDOFFS.issue(TOKEN, CLEAR)), own)
    [cookie] = _cookies(headers)
    assert status == 204 and cookie.lower().startswith('monitor_session="";') and "max-age=0" in cookie.lower()
    newer = {**SAME, "cookie": f"monitor_session={'n' * 43}"}
    status, headers = _call("DELETE", _body(HANDOFFS.issue(TOKEN, CLEAR)), newer)
    assert status == 204 and not _cookies(headers)
    assert _call("DELETE", _body(HANDOFFS.issue(TOKEN, SET)), own)[0] == 403  # a sign-in's handoff clears nothing


def test_other_methods_and_paths():
    assert _call("GET", headers=SAME)[0] == 405
    assert _call("GET", headers=SAME, path="/_stcore/health")[0] == 299  # handed on to Streamlit
    assert _call("POST", _body(HANDOFFS.issue(TOKEN)), SAME, path="/_monitor/session/x")[0] == 299
