"""Staying signed in (issue 23): one-time handoffs for the cookie route, what the route does with them, and resuming
a session from the browser's cookie with the idle time-out, one session per account and account changes intact."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from monitor.security import auth, session_cookie, sessions
from monitor.security.access import ENROLLMENT
from monitor.security.session_cookie import CLEAR, SET, Handoffs, Notices, answer, resume
from monitor.storage import store
from monitor.storage.store import connect

T0 = datetime(2026, 11, 23, 9, 0)
PASSWORD = "Strong-Pass-2026"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- handoffs and the route's answer


def test_a_handoff_stands_for_its_token_once():
    handoffs = Handoffs()
    secret = handoffs.issue("t" * 43)
    assert secret != "t" * 43 and session_cookie.well_formed(secret)
    assert handoffs.pending(secret)
    assert handoffs.redeem(secret) == "t" * 43
    assert not handoffs.pending(secret)
    assert handoffs.redeem(secret) is None  # used up


def test_a_handoff_expires_and_is_forgotten():
    clock = Clock()
    handoffs = Handoffs(seconds=60, clock=clock)
    late, early = handoffs.issue("a" * 43), handoffs.issue("b" * 43)
    clock.now += 59
    assert handoffs.redeem(early) == "b" * 43
    clock.now += 2
    assert not handoffs.pending(late) and handoffs.redeem(late) is None
    handoffs.issue("c" * 43)  # issuing drops the expired ones
    assert len(handoffs._pending) == 1


def test_a_handoff_serves_only_its_purpose_and_a_wrong_use_spends_it():
    handoffs = Handoffs()
    clear = handoffs.issue("t" * 43, CLEAR)
    assert handoffs.redeem(clear, SET) is None
    assert handoffs.redeem(clear, CLEAR) is None  # spent by the wrong try: no second guess


@pytest.mark.parametrize("secret", ["", "x", "t" * 43 + "=", "é" * 43, "../" * 15, "t" * 42])
def test_malformed_or_unknown_handoffs_are_refused(secret):
    handoffs = Handoffs()
    handoffs.issue("t" * 43)
    assert handoffs.redeem(secret) is None


def test_the_route_sets_the_cookie_for_a_set_handoff_and_clears_only_its_own_token():
    handoffs = Handoffs()
    mine, other = "m" * 43, "o" * 43
    assert answer(SET, handoffs.issue(mine), None, handoffs) == session_cookie.Answer(204, token=mine)
    assert answer(SET, "n" * 43, None, handoffs).status == 403
    assert answer(CLEAR, handoffs.issue(mine, CLEAR), mine, handoffs) == session_cookie.Answer(204, clear=True)
    # a tab that found its old session ended does not clear the cookie of a newer sign-in in the same browser
    assert answer(CLEAR, handoffs.issue(mine, CLEAR), other, handoffs) == session_cookie.Answer(204, clear=False)
    assert answer(CLEAR, handoffs.issue(mine, CLEAR), None, handoffs).clear is False
    assert answer(CLEAR, handoffs.issue(mine, SET), mine, handoffs).status == 403


def test_the_end_of_a_shared_session_is_noticed_once():
    notices = Notices()
    assert notices.first("s" * 43)
    assert not notices.first("s" * 43)
    assert notices.first("r" * 43)


# ---------------------------------------------------------------- resuming from the cookie


@pytest.fixture
def engine(db_url, settings):
    engine = connect(db_url)
    auth.add_user(engine, "zhou", ENROLLMENT, "admin", password=PASSWORD, now=T0, settings=settings, must_change=False)
    return engine


def test_the_cookie_resumes_the_same_session_with_the_account_read_again(engine, settings):
    signed_in = auth.sign_in(engine, "zhou", PASSWORD, now=T0, settings=settings)
    found = resume(engine, signed_in.session, settings, now=T0 + timedelta(minutes=10))
    assert found.viewer == signed_in and found.ended == ""
    # the resume counts as a click: the idle clock starts again
    assert sessions.check(engine, signed_in.session, 15, now=T0 + timedelta(minutes=24)) == ""
    # one session per account still: the tabs of the browser share it, no second session was started
    assert sessions.open_sessions(engine, 15, now=T0 + timedelta(minutes=24))["username"].tolist() == ["zhou"]
    # the account is read again: a password reset by an administrator must be changed first
    auth.reset_password(engine, "zhou", "admin", password="Other-Pass-2026", now=T0 + timedelta(minutes=25))
    again = resume(engine, signed_in.session, settings, now=T0 + timedelta(minutes=26))
    assert again.viewer == dataclasses.replace(signed_in, must_change=True)


def test_a_cookie_of_an_ended_session_resumes_nothing_and_says_why(engine, settings):
    first = auth.sign_in(engine, "zhou", PASSWORD, now=T0, settings=settings)
    second = auth.sign_in(engine, "zhou", PASSWORD, now=T0 + timedelta(minutes=1), settings=settings)
    assert resume(engine, first.session, settings, now=T0 + timedelta(minutes=2)) == session_cookie.Resumed(
        None, "zhou", sessions.REPLACED
    )
    sessions.end(engine, second.session, now=T0 + timedelta(minutes=3))  # signed out
    assert resume(engine, second.session, settings, now=T0 + timedelta(minutes=4)).ended == sessions.SIGNED_OUT


def test_the_idle_time_out_ends_a_session_the_cookie_would_resume(engine, settings):
    viewer = auth.sign_in(engine, "zhou", PASSWORD, now=T0, settings=settings)
    late = T0 + timedelta(minutes=settings.session_timeout_minutes + 1)
    found = resume(engine, viewer.session, settings, now=late)
    reason = sessions.timed_out(settings.session_timeout_minutes)
    assert found == session_cookie.Resumed(None, "zhou", reason, just_ended=True)
    assert resume(engine, viewer.session, settings, now=late).just_ended is False  # ended once, by the first look


def test_account_changes_end_the_session_the_cookie_holds(engine, settings):
    viewer = auth.sign_in(engine, "zhou", PASSWORD, now=T0, settings=settings)
    auth.set_role(engine, "zhou", "救助专员", None, by="anquan", now=T0)
    assert "角色已变更" in resume(engine, viewer.session, settings, now=T0).ended
    viewer = auth.sign_in(engine, "zhou", PASSWORD, now=T0, settings=settings)
    with engine.begin() as conn:  # disabled behind the app's back: the resume itself ends the session
        conn.execute(store.users.update().where(store.users.c.username == "zhou").values(active=False))
    found = resume(engine, viewer.session, settings, now=T0)
    assert (found.viewer, found.ended, found.just_ended) == (None, session_cookie.ACCOUNT_GONE, True)
    assert sessions.check(engine, viewer.session, 15, now=T0) == session_cookie.ACCOUNT_GONE


@pytest.mark.parametrize("cookie", ["", "garbage", "x" * 43, "' OR 1=1 --"])
def test_a_cookie_that_names_no_session_resumes_nothing_quietly(engine, settings, cookie):
    assert resume(engine, cookie, settings, now=T0) == session_cookie.Resumed(None)


def test_the_state_of_a_session_says_who_and_whether_this_look_ended_it(engine, settings):
    viewer = auth.sign_in(engine, "zhou", PASSWORD, now=T0, settings=settings)
    assert sessions.state(engine, viewer.session, 15, now=T0) == sessions.State("zhou", "")
    assert sessions.state(engine, "u" * 43, 15, now=T0) == sessions.State(None, sessions.UNKNOWN)
    assert sessions.state(engine, viewer.session, 15, now=T0 + timedelta(minutes=16)).just_ended
