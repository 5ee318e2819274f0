"""Access control: every role against every page and query, town scope, masking, audit, formula injection,
sign-in throttling and session expiry."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from monitor import audit, auth, followup, queries, workflow
from monitor.access import (ADMIN, ASSISTANCE, AUDITOR, ENROLLMENT, LEADER, PAGES, ROLES, SECURITY, AccessDenied,
                            Viewer, mask_id, mask_name, mask_phone, neutralise, neutralise_frame)
from monitor.auth import AuthError
from monitor.store import connect
from monitor.views import alerts as alert_views
from monitor.views import outreach as outreach_views

from conftest import open_page


@pytest.fixture
def demo(demo_db, monkeypatch, tmp_path):
    """A private copy of the demo database (these tests write audit rows and workflow changes)."""
    own = tmp_path / "monitor.db"
    shutil.copyfile(demo_db.removeprefix("sqlite:///"), own)
    url = f"sqlite:///{own}"
    monkeypatch.setenv("MONITOR_DB_URL", url)
    return connect(url)


def _towns(engine, n: int) -> frozenset[str]:
    codes = queries.towns(engine).index.tolist()
    return frozenset(codes[:n])


def _viewers(engine) -> dict[str, Viewer]:
    return {LEADER: Viewer("lingdao", LEADER), ENROLLMENT: Viewer("kuomian", ENROLLMENT, _towns(engine, 3)),
            ASSISTANCE: Viewer("jiuzhu", ASSISTANCE, _towns(engine, 5)), ADMIN: Viewer("admin", ADMIN),
            SECURITY: Viewer("anquan", SECURITY), AUDITOR: Viewer("shenji", AUDITOR)}


def _app(engine, page: str | None, viewer: Viewer, **state) -> AppTest:
    return open_page(str(engine.url), page, viewer, **state)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_role_on_every_page(demo, role, page):
    viewer = _viewers(demo)[role]
    at = _app(demo, page, viewer)
    assert not at.exception, at.exception
    if role in PAGES[page]:
        assert not at.error
        assert at.header or at.subheader
    else:
        assert at.error and "无权" in at.error[0].value
        assert not at.dataframe and not at.metric and not at.get("vega_lite_chart")


def test_scope_is_enforced_in_the_query_layer(demo, settings):
    viewers = _viewers(demo)
    names = queries.division_names(demo)
    everyone = queries.outreach(demo, 2025)
    kuomian = viewers[ENROLLMENT]
    mine = outreach_views.rows(demo, 2025, names, kuomian)
    assert len(mine) == int(everyone["town_code"].isin(kuomian.towns).sum()) > 0
    assert set(mine["town_code"]) <= kuomian.towns
    for role in (LEADER, ASSISTANCE):
        with pytest.raises(AccessDenied):
            outreach_views.rows(demo, 2025, names, viewers[role])

    jiuzhu = viewers[ASSISTANCE]
    all_alerts = queries.alerts(demo, 2025)
    seen = alert_views.rows(demo, 2025, names, jiuzhu)
    inside = all_alerts["village_code"].str.slice(0, 9).str.ljust(12, "0").isin(jiuzhu.towns)
    assert len(seen) == int(inside.sum()) > 0
    for role in (LEADER, ENROLLMENT):
        with pytest.raises(AccessDenied):
            alert_views.rows(demo, 2025, names, viewers[role])
    outsider = all_alerts.loc[~inside & (all_alerts["village_code"] != ""), "id_number"].iloc[0]
    with pytest.raises(AccessDenied):
        alert_views.person_settlements(demo, 2025, outsider, settings, jiuzhu)
    with pytest.raises(AccessDenied):
        workflow.push(demo, 2025, [outsider], "民政", "jiuzhu", names, settings, viewer=jiuzhu)
    with pytest.raises(AccessDenied):
        workflow.close(demo, 2025, [outsider], "备注", "jiuzhu", viewer=jiuzhu)
    unlisted = everyone.loc[~everyone["town_code"].isin(kuomian.towns) & (everyone["town_code"] != ""), "id_number"]
    with pytest.raises(AccessDenied):
        followup.record_outcome(demo, 2025, unlisted.iloc[0], "无法联系", "", "kuomian", viewer=kuomian)
    # The administrator sees every town, including persons outside the register.
    assert len(alert_views.rows(demo, 2025, names, viewers[ADMIN])) == len(all_alerts)


def test_feedback_for_someone_outside_the_scope_is_unknown(demo, settings, tmp_path):
    viewers, names = _viewers(demo), queries.division_names(demo)
    everyone = queries.alerts(demo, 2025)
    workflow.push(demo, 2025, everyone["id_number"].tolist(), "民政", "admin", names, settings)
    jiuzhu = viewers[ASSISTANCE]
    inside = everyone["village_code"].str.slice(0, 9).str.ljust(12, "0").isin(jiuzhu.towns)
    mine, other = everyone.loc[inside, "id_number"].iloc[0], everyone.loc[~inside, "id_number"].iloc[0]
    reply = tmp_path / "reply.csv"
    reply.write_text(f"身份证号,年度,核实结果,核实日期,备注\n{mine},2025,纳入监测,2025-12-20,\n"
                     f"{other},2025,纳入监测,2025-12-20,\n", encoding="utf-8")
    result = workflow.import_feedback(demo, reply, settings, "jiuzhu", "990101000000", viewer=jiuzhu)
    assert result.rows_loaded == 1
    assert result.rejects[["row", "reason"]].values.tolist() == [[3, "UNKNOWN_PERSON"]]


@pytest.mark.parametrize("raw, expected", [
    ("11010519491231002X", "110105********002X"), ("990101199001011234", "990101********1234"), ("", ""),
])
def test_mask_id(raw, expected):
    assert mask_id(pd.Series([raw])).iloc[0] == expected


@pytest.mark.parametrize("raw, expected", [("张三", "张*"), ("欧阳娜娜", "欧***"), ("李", "李"), ("", "")])
def test_mask_name(raw, expected):
    assert mask_name(pd.Series([raw])).iloc[0] == expected


@pytest.mark.parametrize("raw, expected", [("13912345678", "139****5678"), ("0791-1234", "*********"), ("", "")])
def test_mask_phone(raw, expected):
    assert mask_phone(pd.Series([raw])).iloc[0] == expected


@pytest.mark.parametrize("raw, expected", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+86 139", "'+86 139"), ("@SUM(1)", "'@SUM(1)"),
    ("-1+2", "'-1+2"), ("-12.30", "-12.30"), ("+5", "+5"), ("张三", "张三"), ("\tcmd", "'\tcmd"),
])
def test_formula_injection_is_neutralised(raw, expected):
    assert neutralise(pd.Series([raw])).iloc[0] == expected


def test_exports_neutralise_text_cells(tmp_path):
    from monitor import exports, workbooks

    frame = pd.DataFrame({"姓名": ["=1+1", "李四"], "金额": ["-5.00", "3.00"]})
    out = tmp_path / "x.csv"
    exports.write_csv(frame, out)
    assert out.read_text(encoding="utf-8-sig").splitlines()[1:] == ["'=1+1,-5.00", "李四,3.00"]
    assert neutralise_frame(frame)["姓名"].tolist() == ["'=1+1", "李四"]
    rows = pd.DataFrame({h: ["=cmd|' /C calc'!A0"] for h, _ in workbooks.DOOR_TO_DOOR} | {"乡镇": ["甲镇"],
                                                                                          "村社区": ["甲村"]})
    book = workbooks.door_to_door(rows, "t", "2025-12-31")
    sheet = pd.read_excel(pd.io.common.BytesIO(book), header=None, engine="calamine", dtype=str)
    assert sheet.iloc[3, 1] == "'=cmd|' /C calc'!A0"


def test_failed_sign_ins_lock_the_user_name_for_a_while(demo, settings):
    t0 = datetime(2026, 11, 23, 9, 0)
    auth.add_user(demo, "zhang", ENROLLMENT, "admin", password="Right-password-1", now=t0, settings=settings)
    for i in range(settings.lockout_failures):
        with pytest.raises(AuthError, match="用户名或密码错误"):
            auth.sign_in(demo, "zhang", "wrong", now=t0 + timedelta(minutes=i), settings=settings)
    locked = t0 + timedelta(minutes=4 + settings.lockout_minutes)  # 30 minutes after the fifth failure
    assert auth.locked_until(demo, "zhang", settings, now=t0 + timedelta(minutes=5)) == locked
    with pytest.raises(AuthError, match="已锁定至 09:34"):  # even the right password, while locked
        auth.sign_in(demo, "zhang", "Right-password-1", now=t0 + timedelta(minutes=20), settings=settings)
    for name in ("nobody",):  # an unknown user name locks the same way and hears the same words
        for i in range(settings.lockout_failures):
            with pytest.raises(AuthError, match="用户名或密码错误"):
                auth.sign_in(demo, name, "x", now=t0 + timedelta(minutes=i), settings=settings)
        with pytest.raises(AuthError, match="已锁定"):
            auth.sign_in(demo, name, "x", now=t0 + timedelta(minutes=6), settings=settings)
    viewer = auth.sign_in(demo, "zhang", "Right-password-1", now=locked + timedelta(seconds=1), settings=settings)
    assert (viewer.username, viewer.role, viewer.towns) == ("zhang", ENROLLMENT, None)
    log = audit.entries(demo, username="zhang")
    assert log["action"].value_counts().to_dict() == {"登录失败": 6, "登录": 1}
    assert audit.entries(demo, action="用户变更")["object"].tolist() == ["zhang"]


def test_an_administrator_unlocks_sooner(demo, settings):
    t0 = datetime(2026, 11, 23, 9, 0)
    auth.add_user(demo, "wang", ENROLLMENT, "admin", password="Right-password-2", now=t0, settings=settings)
    for i in range(settings.lockout_failures):
        with pytest.raises(AuthError):
            auth.sign_in(demo, "wang", "wrong", now=t0 + timedelta(seconds=i), settings=settings)
    auth.unlock(demo, "wang", "admin")
    assert auth.locked_until(demo, "wang", settings, now=t0 + timedelta(minutes=1)) is None
    assert auth.sign_in(demo, "wang", "Right-password-2", now=t0 + timedelta(minutes=1), settings=settings)


@pytest.mark.parametrize("password, problem", [
    ("Short-1", "至少 10 位"), ("alllowercase123", "三类"), ("NOLOWER-12345", None), ("Has-zhao-in-1", "用户名"),
    ("Good-Password-9", None),
])
def test_password_rule(settings, password, problem):
    problems = auth.password_problems(password, "zhao", settings)
    assert (problem is None and problems == []) or any(problem in p for p in problems)


def test_a_new_password_is_changed_at_first_sign_in_and_the_last_five_are_not_reused(demo, settings):
    t0 = datetime(2026, 1, 5, 9, 0)
    first = auth.add_user(demo, "liu", ASSISTANCE, "admin", now=t0, settings=settings)
    assert not auth.password_problems(first, "liu", settings)
    assert auth.sign_in(demo, "liu", first, now=t0, settings=settings).must_change
    passwords = [f"Pass-word-{i}x" for i in range(6)]
    with pytest.raises(AuthError, match="原密码"):
        auth.change_password(demo, "liu", "wrong", passwords[0], settings, now=t0)
    with pytest.raises(AuthError, match="不符合"):
        auth.change_password(demo, "liu", first, "short", settings, now=t0)
    previous = first
    for i, password in enumerate(passwords[:5]):
        auth.change_password(demo, "liu", previous, password, settings, now=t0 + timedelta(days=i))
        previous = password
    assert not auth.sign_in(demo, "liu", previous, now=t0 + timedelta(days=5), settings=settings).must_change
    for reused in passwords[1:5]:  # the current one and the three before it
        with pytest.raises(AuthError, match="最近 5 次"):
            auth.change_password(demo, "liu", previous, reused, settings, now=t0 + timedelta(days=6))
    auth.change_password(demo, "liu", previous, first, settings, now=t0 + timedelta(days=6))  # six changes ago
    old_age = t0 + timedelta(days=6 + settings.password_max_age_days + 1)
    assert auth.sign_in(demo, "liu", first, now=old_age, settings=settings).must_change  # too old


def test_the_app_asks_for_a_new_password_before_anything_else(demo):
    viewer = Viewer("liu", ASSISTANCE, None, must_change=True)
    at = _app(demo, None, viewer)
    assert [t.label for t in at.text_input] == ["原密码", "新密码", "再次输入新密码"]
    asked = _app(demo, "4_alerts.py", viewer)  # a page asked for directly shows nothing of it
    assert not asked.metric and not asked.dataframe


def test_passwords_are_stored_as_argon2_hashes(demo):
    password = auth.add_user(demo, "li", ADMIN, "admin")
    with demo.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM users WHERE username = 'li'")).scalar()
    assert stored.startswith("$argon2") and password not in stored


def test_bootstrap_creates_the_three_administrators_once(sqlite_url, settings):
    engine = connect(sqlite_url)
    made = auth.bootstrap_admin(engine, settings)
    assert [(u, r) for u, r, _ in made] == [("admin", ADMIN), ("security", SECURITY), ("auditor", AUDITOR)]
    for username, role, password in made:
        assert not auth.password_problems(password, username, settings)
        first = auth.sign_in(engine, username, password, settings=settings)
        assert (first.role, first.must_change, first.second_factor) == (role, True, "enrol")
    assert auth.bootstrap_admin(engine) == []


def test_unmasked_view_is_audited(demo):
    at = _app(demo, "4_alerts.py", Viewer("jiuzhu", ASSISTANCE, _towns(demo, 5)))
    table = at.dataframe[0]
    assert table.value["身份证号"].str.contains(r"\*{8}").all()
    at.session_state["alert_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    at.button(key="alert_unmask").click().run()
    assert not at.exception
    entries = audit.entries(demo, username="jiuzhu", action="查看明细")
    assert len(entries) == 1 and entries["object"].iloc[0] == "预警"
    assert any("********" not in m.value and "**" in m.value for m in at.markdown)


def test_an_idle_session_ends(demo):
    at = _app(demo, "1_overview.py", Viewer("admin", ADMIN), last_seen=datetime.now() - timedelta(minutes=16))
    assert not at.metric
    assert any("自动退出" in i.value for i in at.info) or any("请先登录" in w.value for w in at.warning)
    ended = audit.entries(demo, username="admin", action="退出")
    assert len(ended) == 1 and "15 分钟未操作" in ended["detail"].iloc[0]


def test_random_passwords_never_contain_a_short_user_name(monkeypatch, settings):
    """token_urlsafe can spell 'li'; the generator draws again until the rule holds for that user."""
    draws = iter(["abcLIdefgh12klmn", "abcdefGHIJ12mnop"])
    monkeypatch.setattr(auth.secrets, "token_urlsafe", lambda _n: next(draws))
    password = auth._random_password(settings, "li")
    assert "li" not in password.lower() and not auth.password_problems(password, "li", settings)
