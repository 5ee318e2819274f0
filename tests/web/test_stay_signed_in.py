"""Staying signed in through the pages (issue 23), with AppTest standing in for the browser: the sign-in hands the
page a one-time handoff for the cookie route (never the token), a new browser session resumes from the cookie, and
sign-out and ended sessions clear it, with the audit entries of sign-in and sign-out as before."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from monitor.security import audit, auth, session_cookie, sessions
from monitor.security.access import LEADER
from monitor.storage.store import connect
from monitor.web import ui

PASSWORD = "Strong-Pass-2026"
SCRIPT = re.compile(r'fetch\("_monitor/session", \{method: "(POST|DELETE)".*handoff: "([A-Za-z0-9_-]{43})"')


@pytest.fixture
def engine(own_demo_db, monkeypatch, settings):
    monkeypatch.setenv("MONITOR_DB_URL", own_demo_db)
    engine = connect(own_demo_db)
    auth.add_user(engine, "zhou", LEADER, "admin", password=PASSWORD, settings=settings, must_change=False)
    return engine


def _browser(monkeypatch, cookie: str = "") -> AppTest:
    """A new browser session (a reload, a new tab) whose handshake brought `cookie`."""
    monkeypatch.setattr(ui, "browser_cookie", lambda: cookie)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()


def _scripts(at: AppTest) -> list[tuple[str, str]]:
    """(method, handoff) of each cookie-route script the page carries."""
    return [m.groups() for e in at.get("html") if (m := SCRIPT.search(e.proto.body))]


def _entries(engine, action: str) -> int:
    return len(audit.entries(engine, username="zhou", action=action))


def _sign_in(at: AppTest) -> AppTest:
    at.text_input(key="sign_in_user").input("zhou")
    at.text_input(key="sign_in_password").input(PASSWORD)
    return at.button[0].click().run()


def test_a_sign_in_hands_the_page_a_handoff_and_a_new_tab_resumes_the_session(engine, monkeypatch):
    first = _sign_in(_browser(monkeypatch))
    assert first.metric and not first.text_input
    token = first.session_state["viewer"].session
    [(method, handoff)] = _scripts(first)
    assert method == "POST" and session_cookie.HANDOFFS.pending(handoff)
    assert all(token not in e.proto.body for e in first.get("html"))  # the page never holds the token
    assert session_cookie.HANDOFFS.redeem(handoff) == token  # what the route does with it
    assert not _scripts(first.run())  # redeemed: no longer offered

    second = _browser(monkeypatch, token)  # F5 or a new tab: the cookie came with the handshake
    assert second.metric and not second.text_input and not _scripts(second)
    assert second.session_state["viewer"] == first.session_state["viewer"]
    assert _entries(engine, "登录") == 1  # a resume is not a sign-in
    assert sessions.open_sessions(engine, 15)["username"].tolist().count("zhou") == 1
    first.run()
    assert first.metric  # the first tab goes on: both share the one session

    second.button(key="sign_out").click().run()
    assert [t.label for t in second.text_input] == ["用户名", "密码"]
    [(method, clear)] = _scripts(second)
    assert method == "DELETE" and session_cookie.answer(session_cookie.CLEAR, clear, token).clear
    first.run()  # the other tab's next click: signed out too, told why, no second entry
    assert not first.metric and any(sessions.SIGNED_OUT in i.value for i in first.info)
    assert _entries(engine, "退出") == 1

    reload = _browser(monkeypatch, token)  # a reload before the cookie was cleared opens nothing
    assert [t.label for t in reload.text_input] == ["用户名", "密码"] and not reload.metric
    assert _entries(engine, "退出") == 1


def test_a_cookie_of_a_session_that_idled_out_shows_why_once_and_is_cleared(engine, monkeypatch, settings):
    minutes = settings.session_timeout_minutes
    token = sessions.start(engine, "zhou", now=datetime.now() - timedelta(minutes=minutes + 1))
    at = _browser(monkeypatch, token)
    assert not at.metric and any(sessions.timed_out(minutes) in i.value for i in at.info)
    assert [m for m, _h in _scripts(at)] == ["DELETE"]
    again = _browser(monkeypatch, token)  # another tab of the browser finds it too: recorded once
    assert not again.metric
    ended = audit.entries(engine, username="zhou", action="退出")
    assert len(ended) == 1 and sessions.timed_out(minutes) in ended["detail"].iloc[0]


def test_a_cookie_of_no_session_shows_the_sign_in_form_quietly(engine, monkeypatch):
    at = _browser(monkeypatch, "x" * 43)
    assert [t.label for t in at.text_input] == ["用户名", "密码"] and not at.info and not _scripts(at)
