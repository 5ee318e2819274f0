"""等保 三级 hardening: second factor, one session per account, 三员分立, the security policy, the audit hash chain."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from etl.cli import main
from monitor import audit, auth, policy, second_factor, sessions
from monitor.access import (ACTIONS, ADMIN, ADMIN_ROLES, ASSISTANCE, AUDITOR, ENROLLMENT, PAGES, SECURITY, Viewer)
from monitor.auth import AuthError
from monitor.store import connect

from conftest import open_page

T0 = datetime(2026, 11, 23, 9, 0)


@pytest.fixture
def engine(db_url):
    return connect(db_url)


def _admin(engine, settings, username="xitong", role=ADMIN) -> str:
    password = "Strong-Pass-2026"
    auth.add_user(engine, username, role, "安装", password=password, now=T0, settings=settings, must_change=False)
    return password


def _enrolled(engine, settings, username="xitong", role=ADMIN) -> tuple[str, str, list[str]]:
    """An administrator who has bound the app at T0; returns password, secret and recovery codes."""
    password = _admin(engine, settings, username, role)
    pending = auth.sign_in(engine, username, password, now=T0, settings=settings)
    secret = second_factor.new_secret()
    _viewer, codes = auth.confirm_enrolment(engine, pending, secret, second_factor.code_at(secret, T0), settings,
                                            now=T0)
    return password, secret, codes


# ---------------------------------------------------------------- second factor

def test_an_administrator_binds_the_app_at_first_sign_in(engine, settings):
    password = _admin(engine, settings)
    pending = auth.sign_in(engine, "xitong", password, now=T0, settings=settings)
    assert pending.second_factor == "enrol" and not pending.session
    secret = second_factor.new_secret()
    uri = second_factor.enrolment_uri("xitong", secret)
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
    assert second_factor.qr_png(uri).startswith(b"\x89PNG")
    with pytest.raises(AuthError, match="动态口令不正确"):
        auth.confirm_enrolment(engine, pending, secret, "000000" if second_factor.code_at(secret, T0) != "000000"
                               else "111111", settings, now=T0)
    assert not second_factor.enrolled(engine, "xitong")
    viewer, codes = auth.confirm_enrolment(engine, pending, secret, second_factor.code_at(secret, T0), settings,
                                           now=T0)
    assert viewer.session and not viewer.second_factor
    assert len(codes) == len(set(codes)) == second_factor.RECOVERY_CODES
    assert second_factor.recovery_codes_left(engine, "xitong") == 10
    with engine.connect() as conn:  # only hashes of the recovery codes are kept
        stored = conn.execute(sa.text("SELECT code_hash FROM recovery_codes")).scalars().all()
    assert not set(codes) & set(stored)


def test_a_code_is_asked_for_at_every_sign_in_and_cannot_be_replayed(engine, settings):
    password, secret, _codes = _enrolled(engine, settings)
    later = T0 + timedelta(minutes=10)
    pending = auth.sign_in(engine, "xitong", password, now=later, settings=settings)
    assert pending.second_factor == "verify"
    code = second_factor.code_at(secret, later)
    assert auth.confirm_code(engine, pending, code, settings, now=later).session
    with pytest.raises(AuthError, match="动态口令错误"):  # the same code again, within its 30 seconds
        auth.confirm_code(engine, pending, code, settings, now=later + timedelta(seconds=5))
    drifted = later + timedelta(minutes=1)  # the phone 30 seconds behind still works
    assert auth.confirm_code(engine, pending, second_factor.code_at(secret, drifted - timedelta(seconds=30)),
                             settings, now=drifted)


def test_a_recovery_code_works_once_and_a_reset_binds_again(engine, settings):
    password, _secret, codes = _enrolled(engine, settings)
    pending = auth.sign_in(engine, "xitong", password, now=T0, settings=settings)
    assert auth.confirm_code(engine, pending, codes[3].upper(), settings, now=T0).session
    with pytest.raises(AuthError):
        auth.confirm_code(engine, pending, codes[3], settings, now=T0)
    assert second_factor.recovery_codes_left(engine, "xitong") == 9
    auth.reset_second_factor(engine, "xitong", by="anquan", now=T0)
    assert auth.sign_in(engine, "xitong", password, now=T0, settings=settings).second_factor == "enrol"
    assert audit.entries(engine, action="用户变更")["detail"].tolist()[0] == "重置动态口令"


def test_wrong_codes_count_towards_the_lock_out(engine, settings):
    password, secret, _codes = _enrolled(engine, settings)
    pending = auth.sign_in(engine, "xitong", password, now=T0, settings=settings)
    for i in range(settings.lockout_failures):
        with pytest.raises(AuthError, match="动态口令错误"):
            auth.confirm_code(engine, pending, "12345x"[: 5] + str(i), settings, now=T0 + timedelta(minutes=i))
    at = T0 + timedelta(minutes=6)
    with pytest.raises(AuthError, match="已锁定"):
        auth.confirm_code(engine, pending, second_factor.code_at(secret, at), settings, now=at)
    with pytest.raises(AuthError, match="已锁定"):
        auth.sign_in(engine, "xitong", password, now=at, settings=settings)


@pytest.mark.parametrize("role, everyone, asked", [
    (ADMIN, False, True), (SECURITY, False, True), (AUDITOR, False, True), (ENROLLMENT, False, False),
    (ASSISTANCE, True, True),
])
def test_who_needs_the_second_factor(role, everyone, asked):
    assert second_factor.required(role, everyone) is asked


# ---------------------------------------------------------------- sessions

def test_a_second_sign_in_ends_the_first_session_which_is_told_why(engine, settings):
    auth.add_user(engine, "zhou", ENROLLMENT, "admin", password="Strong-Pass-2026", settings=settings, must_change=False)
    first = auth.sign_in(engine, "zhou", "Strong-Pass-2026", now=T0, settings=settings)
    assert sessions.check(engine, first.session, 15, now=T0 + timedelta(minutes=1)) == ""
    second = auth.sign_in(engine, "zhou", "Strong-Pass-2026", now=T0 + timedelta(minutes=2), settings=settings)
    assert sessions.check(engine, first.session, 15, now=T0 + timedelta(minutes=3)) == sessions.REPLACED
    assert sessions.check(engine, second.session, 15, now=T0 + timedelta(minutes=3)) == ""
    assert sessions.open_sessions(engine, 15, now=T0 + timedelta(minutes=3))["username"].tolist() == ["zhou"]


def test_an_idle_session_times_out_by_the_clock(engine, settings):
    auth.add_user(engine, "wu", ENROLLMENT, "admin", password="Strong-Pass-2026", settings=settings, must_change=False)
    viewer = auth.sign_in(engine, "wu", "Strong-Pass-2026", now=T0, settings=settings)
    assert sessions.check(engine, viewer.session, 15, now=T0 + timedelta(minutes=14)) == ""  # a click renews it
    assert sessions.check(engine, viewer.session, 15, now=T0 + timedelta(minutes=28)) == ""
    assert sessions.check(engine, viewer.session, 15, now=T0 + timedelta(minutes=44)) == sessions.timed_out(15)
    assert sessions.check(engine, viewer.session, 15, now=T0 + timedelta(minutes=45)) == sessions.timed_out(15)


def test_the_replaced_session_sees_the_reason_in_the_app(demo_copy):
    url, engine = demo_copy
    at = open_page(url, "1_overview.py", Viewer("lingdao", "领导"))
    assert at.metric
    sessions.start(engine, "lingdao")  # the same account signs in from another browser
    at.run()
    assert not at.metric and any("请先登录" in w.value for w in at.warning)
    at.switch_page("pages/0_sign_in.py").run()  # where the browser's navigation sends a viewer without a session
    assert any(sessions.REPLACED in i.value for i in at.info)
    assert [t.label for t in at.text_input] == ["用户名", "密码"]


def test_disabling_an_account_or_changing_its_role_ends_its_session(engine, settings):
    auth.add_user(engine, "zheng", ENROLLMENT, "admin", password="Strong-Pass-2026", settings=settings, must_change=False)
    viewer = auth.sign_in(engine, "zheng", "Strong-Pass-2026", now=T0, settings=settings)
    auth.set_role(engine, "zheng", ASSISTANCE, None, by="anquan", now=T0)
    assert "角色已变更" in sessions.check(engine, viewer.session, 15, now=T0)
    viewer = auth.sign_in(engine, "zheng", "Strong-Pass-2026", now=T0, settings=settings)
    auth.set_active(engine, "zheng", False, by="admin", now=T0)
    assert sessions.check(engine, viewer.session, 15, now=T0) == "账户已停用"


# ---------------------------------------------------------------- 三员分立

def test_the_three_administrators_share_no_duty_and_see_no_resident_data_but_the_system_one():
    duties = {role: {a for a, roles in ACTIONS.items() if role in roles} for role in ADMIN_ROLES}
    assert duties == {ADMIN: {"outreach", "alerts", "load", "users"}, SECURITY: {"security"}, AUDITOR: {"audit"}}
    pages = {role: {p for p, roles in PAGES.items() if role in roles} for role in ADMIN_ROLES}
    assert pages[SECURITY] == {"8_security.py"} and pages[AUDITOR] == {"9_audit.py"}
    assert not pages[ADMIN] & (pages[SECURITY] | pages[AUDITOR])


def test_one_role_per_account_and_nobody_changes_their_own(engine, settings):
    _admin(engine, settings, "anquan", SECURITY)
    with pytest.raises(AuthError, match="自己的角色"):
        auth.set_role(engine, "anquan", ADMIN, None, by="anquan")
    auth.add_user(engine, "newbie", "", "admin", settings=settings)
    assert auth.users(engine).set_index("username").loc["newbie", "role"] == ""
    auth.set_role(engine, "newbie", AUDITOR, None, by="anquan")
    auth.set_role(engine, "newbie", ADMIN, None, by="anquan")
    roles = auth.users(engine).set_index("username")["role"]
    assert roles["newbie"] == ADMIN and roles["anquan"] == SECURITY  # the new role replaced the old one


def test_the_demo_has_one_account_of_each_administrator(engine):
    auth.demo_accounts(engine, [])
    roles = auth.users(engine)["role"].value_counts()
    assert all(roles[r] == 1 for r in ADMIN_ROLES)


def test_an_account_without_a_role_sees_no_page(demo_copy):
    url, _engine = demo_copy
    at = open_page(url, None, Viewer("newbie", ""))
    assert any("尚未分配角色" in i.value for i in at.info)
    assert not at.metric and not at.dataframe


# ---------------------------------------------------------------- policy

def test_the_security_administrator_tightens_the_lock_out(engine, settings):
    changed = policy.change(engine, {"lockout_failures": 3, "session_timeout_minutes": 15}, "anquan", settings, now=T0)
    assert changed == ["lockout_failures"]  # 15 minutes was already in force
    tight = policy.effective(engine, settings)
    assert tight.lockout_failures == 3 and tight.lockout_minutes == settings.lockout_minutes
    auth.add_user(engine, "qian", ENROLLMENT, "admin", password="Strong-Pass-2026", settings=tight)
    for i in range(3):
        with pytest.raises(AuthError):
            auth.sign_in(engine, "qian", "wrong", now=T0 + timedelta(minutes=i), settings=tight)
    assert auth.locked_accounts(engine, tight, now=T0 + timedelta(minutes=3)) == {
        "qian": T0 + timedelta(minutes=2 + tight.lockout_minutes)}
    assert auth.locked_until(engine, "qian", settings, now=T0 + timedelta(minutes=3)) is None  # 5 under config
    log = audit.entries(engine, action="安全策略")
    assert log[["username", "detail"]].values.tolist() == [["anquan", "5 → 3"]]
    with pytest.raises(policy.PolicyError, match="密码最短长度"):
        policy.change(engine, {"password_min_length": 6}, "anquan", settings)
    assert policy.change(engine, {"totp_for_everyone": 1}, "anquan", settings)
    assert auth.sign_in(engine, "qian", "Strong-Pass-2026", now=T0 + timedelta(hours=2),
                        settings=policy.effective(engine, settings)).second_factor == "enrol"


# ---------------------------------------------------------------- the audit chain

def _entries(engine, n: int) -> None:
    for i in range(n):
        audit.record(engine, "jiuzhu", "导出", "预警", f"第 {i} 次", rows=i, now=T0 + timedelta(days=i))


def test_the_chain_verifies_and_an_edited_row_is_found_by_the_command(engine, db_url, capsys):
    _entries(engine, 5)
    assert audit.verify(engine).ok
    assert main(["audit", "verify", "--db", db_url]) == 0
    with engine.begin() as conn:  # an edit behind the product's back
        conn.execute(sa.text("UPDATE audit_log SET rows = 999 WHERE id = 3"))
    assert main(["audit", "verify", "--db", db_url]) == 1
    assert "第 3 条记录内容已被修改" in capsys.readouterr().out
    last = audit.last_verification(engine)
    assert not last["ok"] and last["entries"] == 6  # five and the first verification's own entry
    logged = audit.entries(engine, action="审计校验")
    assert logged["result"].tolist() == ["失败", "成功"]


@pytest.mark.parametrize("tamper, message", [
    ("DELETE FROM audit_log WHERE id = 2", "第 2 至 2 条记录缺失"),
    ("DELETE FROM audit_log WHERE id = 5", "已被删除"),
    ("UPDATE audit_log SET username = 'someone' WHERE id = 1", "第 1 条记录内容已被修改"),
    ("UPDATE audit_log SET hash = prev_hash WHERE id = 4", "第 4 条记录内容已被修改"),
    ("UPDATE audit_log SET prev_hash = (SELECT hash FROM audit_log WHERE id = 2) WHERE id = 4",
     "第 4 条记录与前一条不衔接"),
])
def test_deleted_or_forged_rows_break_the_chain(engine, tamper, message):
    _entries(engine, 5)
    with engine.begin() as conn:
        conn.execute(sa.text(tamper))
    result = audit.verify(engine)
    assert not result.ok and message in result.message


def test_old_entries_go_to_an_archive_file_and_the_chain_still_verifies(engine, tmp_path):
    _entries(engine, 5)  # T0 .. T0 + 4 days
    now = T0 + timedelta(days=180 + 2, hours=12)  # the first three are older than 180 days
    archived = audit.archive(engine, tmp_path, 180, by="定时任务", now=now)
    assert archived.name == "audit_000000001-000000003.jsonl"
    lines = [json.loads(line) for line in archived.read_text(encoding="utf-8").splitlines()]
    assert [r["detail"] for r in lines] == ["第 0 次", "第 1 次", "第 2 次"] and all(r["hash"] for r in lines)
    assert audit.entries(engine)["id"].tolist() == [6, 5, 4]  # the archiving is itself an entry
    assert audit.verify(engine, tmp_path).ok and audit.verify(engine, tmp_path).entries == 6
    assert audit.archive(engine, tmp_path, 180, by="定时任务", now=now) is None  # nothing more is old enough
    lines[1]["detail"] = "改过"
    archived.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), encoding="utf-8")
    broken = audit.verify(engine, tmp_path)
    assert not broken.ok and "归档文件：第 2 条记录内容已被修改" in broken.message


def test_concurrent_writers_keep_one_chain(engine):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: audit.record(engine, f"u{i % 4}", "导出", "x", str(i)), range(40)))
    result = audit.verify(engine)
    assert result.ok and result.entries == 40


def test_retention_below_180_days_is_refused(tmp_path):
    from monitor.config import ConfigError, parse_settings

    with pytest.raises(ConfigError, match="at least 180 days"):
        parse_settings({"security": {"audit_retention_days": 90}})


def test_migration_chains_entries_written_before_it_and_renames_the_administrator(tmp_path):
    from alembic import command
    from alembic.config import Config

    from monitor.store import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with old.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
    with old.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (username, role, active) VALUES ('boss', '管理员', 1)"))
        for i in range(3):
            conn.execute(sa.text("INSERT INTO audit_log (at, username, action, object, detail, result) VALUES "
                                 "(:at, 'boss', '登录', 'boss', '', '成功')"), {"at": f"2026-01-0{i + 1} 08:00:00"})
    old.dispose()
    engine = connect(url)
    assert auth.users(engine).set_index("username").loc["boss", "role"] == ADMIN
    audit.record(engine, "boss", "导出", "x")
    result = audit.verify(engine)
    assert result.ok and result.entries == 4


# ---------------------------------------------------------------- the pages

@pytest.fixture
def demo_copy(demo_db, monkeypatch, tmp_path):
    import shutil

    own = tmp_path / "monitor.db"
    shutil.copyfile(demo_db.removeprefix("sqlite:///"), own)
    url = f"sqlite:///{own}"
    monkeypatch.setenv("MONITOR_DB_URL", url)
    return url, connect(url)


def test_security_page_shows_locks_sessions_password_ages_and_the_last_verification(demo_copy, settings):
    url, engine = demo_copy
    auth.add_user(engine, "sun", ENROLLMENT, "admin", password="Strong-Pass-2026", settings=settings)
    for _ in range(settings.lockout_failures):
        with pytest.raises(AuthError):
            auth.sign_in(engine, "sun", "wrong", settings=settings)
    audit.verify_and_record(engine, "shenji")
    at = open_page(url, "8_security.py", Viewer("anquan", SECURITY))
    assert not at.exception and not at.error
    assert any("sun" in w.value and "锁定" in w.value for w in at.warning)
    accounts = at.dataframe[0].value.set_index("用户名")
    assert accounts.loc["sun", "锁定至"] and accounts.loc["sun", "密码状态"] == "待本人修改"
    assert accounts.loc["sun", "密码已用天数"] == 0 and accounts.loc["sun", "动态口令"] == "不需要"
    assert "anquan" in at.dataframe[1].value["用户名"].tolist()  # the open sessions: its own at least
    assert any("审计链完整" in s.value for s in at.success)
    at.selectbox(key="security_user").set_value("sun").run()
    at.button(key="unlock").click().run()
    assert auth.locked_until(engine, "sun", settings) is None
    assert audit.entries(engine, username="anquan", action="用户变更")["detail"].tolist() == ["解除锁定"]


def test_audit_page_verifies_and_exports_for_the_audit_administrator_only(demo_copy):
    url, engine = demo_copy
    at = open_page(url, "9_audit.py", Viewer("shenji", AUDITOR))
    assert not at.exception and not at.error
    at.button(key="verify_audit").click().run()
    assert any("审计链完整" in s.value for s in at.success)
    for role in (ADMIN, SECURITY):
        denied = open_page(url, "9_audit.py", Viewer("x", role))
        assert denied.error and not denied.dataframe


def test_second_factor_page_binds_the_app(demo_copy, settings):
    url, engine = demo_copy
    _admin(engine, settings, "sysop")
    pending = auth.sign_in(engine, "sysop", "Strong-Pass-2026", settings=settings)
    at = open_page(url, None, pending)
    assert at.title[0].value == "动态口令验证" and at.get("image")
    secret = at.code[0].value
    at.text_input(key="totp_code").input(second_factor.code_at(secret, datetime.now()))
    at.button[0].click().run()  # the form's 验证 button
    assert not at.exception
    assert len(at.code[0].value.splitlines()) == 10  # the recovery codes, shown once
    at.button(key="recovery_codes_saved").click().run()
    assert dataclasses.asdict(at.session_state["viewer"])["session"]
    assert at.session_state["viewer"].role == ADMIN and not at.session_state["viewer"].second_factor
