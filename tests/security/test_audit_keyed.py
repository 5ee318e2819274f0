"""The audit trail that cannot be cut short unseen: entries keyed with a secret outside the database, checkpoints
outside it, syslog copies in RFC 5424 form, and entries from before the key still verifying."""

from __future__ import annotations

import json
import re
import socket
import stat
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from etl.cli import main
from monitor.security import audit, trail
from monitor.storage.store import connect

T0 = datetime(2026, 11, 23, 9, 0)


@pytest.fixture(autouse=True)
def audit_trail(tmp_path, monkeypatch):
    """This test's own key and checkpoint file (never the project's data/ folder); syslog off."""
    folder = tmp_path / "audit_trail"
    monkeypatch.setenv(trail.ENV_KEY_FILE, str(folder / "audit.key"))
    monkeypatch.setenv(trail.ENV_CHECKPOINT_FILE, str(folder / "audit_checkpoints.jsonl"))
    monkeypatch.setenv(trail.ENV_SYSLOG, "")
    return folder


@pytest.fixture
def engine(db_url):
    return connect(db_url)


def _entries(engine, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        audit.record(engine, "jiuzhu", "导出", "预警", f"第 {i} 次", rows=i, now=T0 + timedelta(hours=i))


def _rows(conn) -> list[dict]:
    return [dict(r) for r in conn.execute(sa.text("SELECT * FROM audit_log ORDER BY id")).mappings()]


def _marks(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "audit_checkpoints.jsonl").read_text(encoding="utf-8").splitlines()]


def test_a_cut_of_entries_written_before_the_last_checkpoint_is_detected(engine, db_url, capsys):
    _entries(engine, 5)
    mark = audit.checkpoint(engine, "测试")
    assert (mark["last_id"], mark["count"], mark["keyed_from"]) == (5, 5, 1)
    with engine.begin() as conn:  # the last two deleted and the head rewound: the chain itself is consistent
        third = conn.execute(sa.text("SELECT hash FROM audit_log WHERE id = 3")).scalar()
        conn.execute(sa.text("DELETE FROM audit_log WHERE id > 3"))
        conn.execute(sa.text("UPDATE audit_chain SET last_id = 3, last_hash = :h"), {"h": third})
    result = audit.verify(engine)
    assert not result.ok and "检查点短" in result.message and "第 5 条" in result.message
    assert main(["audit", "verify", "--db", db_url]) == 1
    assert "审计链异常" in capsys.readouterr().out
    _entries(engine, 2, start=10)  # new entries refill the ids, but not with the hash the checkpoint saw
    again = audit.verify(engine)
    assert not again.ok and "第 5 条记录与" in again.message and "检查点不符" in again.message


def test_an_emptied_log_is_detected_when_a_checkpoint_was_written(engine):
    _entries(engine, 3)
    audit.checkpoint(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log"))
        conn.execute(sa.text("DELETE FROM audit_chain"))
    result = audit.verify(engine)
    assert not result.ok and "检查点短" in result.message


@pytest.mark.parametrize("rehash", ["plain", "wrong key"])
def test_a_rewritten_and_rehashed_entry_is_detected(engine, rehash):
    _entries(engine, 5)
    with engine.begin() as conn:  # entry 2 rewritten and the chain from it rehashed by someone without the key
        rows, prev = _rows(conn), audit.GENESIS
        rows[1]["detail"] = "改过"
        for row in rows:
            if row["id"] >= 2:
                digest = audit.entry_hash(row, prev) if rehash == "plain" else audit.keyed_hash(row, prev, b"x" * 32)
                conn.execute(
                    sa.text("UPDATE audit_log SET detail = :d, prev_hash = :p, hash = :h WHERE id = :i"),
                    {"d": row["detail"], "p": prev, "h": digest, "i": row["id"]},
                )
                row["hash"] = digest
            prev = row["hash"]
        conn.execute(sa.text("UPDATE audit_chain SET last_hash = :h"), {"h": prev})
    result = audit.verify(engine)
    assert not result.ok and result.bad_id == 2 and "密钥校验不符" in result.message


def test_moving_the_start_of_the_keyed_part_is_detected(engine):
    _entries(engine, 3)
    audit.checkpoint(engine)
    with engine.begin() as conn:  # every entry rehashed plainly and the chain declared un-keyed
        rows, prev = _rows(conn), audit.GENESIS
        for row in rows:
            digest = audit.entry_hash(row, prev)
            conn.execute(
                sa.text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :i"),
                {"p": prev, "h": digest, "i": row["id"]},
            )
            prev = digest
        conn.execute(sa.text("UPDATE audit_chain SET last_hash = :h, keyed_from_id = NULL"), {"h": prev})
    result = audit.verify(engine)
    assert not result.ok and "检查点不符" in result.message


def test_checkpoints_follow_loads_and_verifications(engine, audit_trail):
    _entries(engine, 2)
    assert not (audit_trail / "audit_checkpoints.jsonl").exists()
    audit.record(engine, "wang", "载入", "运行 #1", "命令行", 6, now=T0)  # what pipeline._audit_load writes
    assert [(m["last_id"], m["why"]) for m in _marks(audit_trail)] == [(3, "载入")]
    assert audit.verify_and_record(engine, "shenji", now=T0).ok
    assert [(m["last_id"], m["why"]) for m in _marks(audit_trail)] == [(3, "载入"), (4, "审计校验")]
    mark = _marks(audit_trail)[-1]
    assert mark["db"] == trail.database_id(engine) and set(mark) >= {"at", "count", "last_id", "head"}
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET rows = 9 WHERE id = 1"))
    assert not audit.verify_and_record(engine, "shenji", now=T0).ok
    assert [m["why"] for m in _marks(audit_trail)][2:] == ["审计校验（未通过）"]
    assert not audit.verify(engine).ok  # the broken chain's checkpoint excuses nothing
    assert stat.S_IMODE((audit_trail / "audit_checkpoints.jsonl").stat().st_mode) == 0o600


def test_another_database_has_its_own_checkpoints(tmp_path, engine):
    _entries(engine, 3)
    audit.checkpoint(engine)
    other = connect(f"sqlite:///{tmp_path / 'other.db'}")
    _entries(other, 1)
    assert audit.verify(other).ok and audit.verify(engine).ok


def test_the_key_file_is_made_once_readable_by_the_service_only(engine, audit_trail):
    _entries(engine, 1)
    key_file = audit_trail / "audit.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(audit_trail.stat().st_mode) == 0o700
    assert len(bytes.fromhex(key_file.read_text().strip())) == 32
    made = key_file.read_bytes()
    trail._keys.clear()  # as a new process would
    _entries(engine, 1, start=1)
    assert key_file.read_bytes() == made and audit.verify(engine).ok
    assert not list(audit_trail.glob(".audit.key.*"))  # no half-written key left


def test_a_missing_key_fails_the_verification_with_its_path(engine, audit_trail):
    _entries(engine, 2)
    (audit_trail / "audit.key").unlink()
    trail._keys.clear()
    result = audit.verify(engine)
    assert not result.ok and "audit.key" in result.message and "第 1 条起" in result.message


def test_entries_written_before_the_key_still_verify_and_stay_covered(tmp_path):
    from alembic import command
    from alembic.config import Config

    from monitor.storage.store import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with old.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0008")
    with old.begin() as conn:  # three entries chained with the plain SHA-256 of the version before
        prev = audit.GENESIS
        for i in range(1, 4):
            entry = {"id": i, "at": f"2026-01-0{i} 08:00:00", "username": "boss", "action": "登录"}
            entry |= {"object": "boss", "detail": "", "rows": None, "result": "成功"}
            digest = audit.entry_hash(entry, prev)
            conn.execute(
                sa.text(
                    "INSERT INTO audit_log (id, at, username, action, object, detail, rows, result, prev_hash, hash) "
                    "VALUES (:id, :at, :username, :action, :object, :detail, :rows, :result, :p, :h)"
                ),
                entry | {"p": prev, "h": digest},
            )
            prev = digest
        conn.execute(sa.text("UPDATE audit_chain SET last_id = 3, last_hash = :h WHERE id = 1"), {"h": prev})
    old.dispose()
    engine = connect(url)  # migration 0009 needs no key
    assert audit.verify(engine).ok
    audit.record(engine, "boss", "导出", "x")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT keyed_from_id FROM audit_chain")).scalar() == 4
    result = audit.verify(engine)
    assert result.ok and result.entries == 4
    with engine.begin() as conn:  # an old entry rewritten and the old part rehashed: the first keyed entry breaks
        rows, prev = _rows(conn), audit.GENESIS
        rows[0]["username"] = "someone"
        for row in rows[:3]:
            digest = audit.entry_hash(row, prev)
            conn.execute(
                sa.text("UPDATE audit_log SET username = :u, prev_hash = :p, hash = :h WHERE id = :i"),
                {"u": row["username"], "p": prev, "h": digest, "i": row["id"]},
            )
            prev = digest
        conn.execute(sa.text("UPDATE audit_log SET prev_hash = :p WHERE id = 4"), {"p": prev})
    broken = audit.verify(engine)
    assert not broken.ok and broken.bad_id == 4


RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)) "
    r"(?P<host>[!-~]{1,255}) "
    r"coverage-monitor (?P<pid>\d+) (?P<msgid>[!-~]{1,32}) - \ufeff(?P<msg>.*)$",
    re.DOTALL,
)


def test_entries_and_checkpoints_reach_syslog_over_udp_in_rfc_5424_form(engine, monkeypatch):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        monkeypatch.setenv(trail.ENV_SYSLOG, f"127.0.0.1:{receiver.getsockname()[1]}")
        audit.record(engine, "jiuzhu", "导出", "预警", "乡镇=青禾镇", rows=12, now=T0)
        entry = RFC5424.match(receiver.recv(65535).decode("utf-8"))
        audit.checkpoint(engine, "每小时")
        mark = RFC5424.match(receiver.recv(65535).decode("utf-8"))
    assert entry and mark
    assert (int(entry["pri"]), entry["msgid"]) == (13 * 8 + 6, "audit")  # log audit, informational
    fields = json.loads(entry["msg"])
    assert (fields["id"], fields["username"], fields["action"], fields["rows"]) == (1, "jiuzhu", "导出", 12)
    assert len(fields["hash"]) == 64
    assert (int(mark["pri"]), mark["msgid"]) == (13 * 8 + 5, "checkpoint")  # log audit, notice
    assert json.loads(mark["msg"])["head"] == fields["hash"]


def test_syslog_to_a_unix_socket_and_a_log_system_that_is_down(engine, monkeypatch, tmp_path):
    path = tmp_path / "log.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        receiver.settimeout(5)
        monkeypatch.setenv(trail.ENV_SYSLOG, str(path))
        audit.record(engine, "wang", "登录", "wang", now=T0)
        assert RFC5424.match(receiver.recv(65535).decode("utf-8"))
    monkeypatch.setenv(trail.ENV_SYSLOG, str(tmp_path / "gone.sock"))
    audit.record(engine, "wang", "退出", "wang", now=T0)  # not sent, logged; the entry is kept
    assert audit.verify(engine).ok and audit.verify(engine).entries == 2


def test_the_settings_of_a_config_key_the_chain_when_no_variable_is_set(engine, monkeypatch, tmp_path, settings):
    import dataclasses

    monkeypatch.delenv(trail.ENV_KEY_FILE)
    monkeypatch.delenv(trail.ENV_CHECKPOINT_FILE)
    own = dataclasses.replace(settings, data_dir=str(tmp_path / "data"))
    (tmp_path / "data").mkdir()  # as `etl init` leaves it
    with audit.configured(own):
        _entries(engine, 2)
        audit.checkpoint(engine)
        assert audit.verify(engine).ok
    assert (tmp_path / "data" / "audit.key").exists() and (tmp_path / "data" / "audit_checkpoints.jsonl").exists()


def test_the_scheduler_writes_a_checkpoint_every_hour_with_its_config(tmp_path, sqlite_url, monkeypatch):
    from conftest import ROOT

    from monitor.config import load_settings
    from monitor.load import scheduler

    monkeypatch.delenv(trail.ENV_KEY_FILE)
    monkeypatch.delenv(trail.ENV_CHECKPOINT_FILE)
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(text.replace('data_dir = "data"', f'data_dir = "{tmp_path / "data"}"'), encoding="utf-8")
    own = load_settings(config)
    (tmp_path / "data").mkdir()
    spec = {s.id: s for s in scheduler.job_specs(own)}["audit_checkpoint"]
    assert spec.trigger.interval == timedelta(hours=1)
    engine = connect(sqlite_url)
    with audit.configured(own):
        _entries(engine, 2)
    scheduler.audit_checkpoint(str(config), sqlite_url)
    assert [(m["last_id"], m["why"]) for m in _marks(tmp_path / "data")] == [(2, "每小时")]
    with audit.configured(own):
        assert audit.verify(engine).ok


def test_a_data_folder_that_has_gone_is_not_made_again_for_a_new_key(engine, monkeypatch, tmp_path, settings):
    import dataclasses

    monkeypatch.delenv(trail.ENV_KEY_FILE)
    monkeypatch.delenv(trail.ENV_CHECKPOINT_FILE)
    moved = dataclasses.replace(settings, data_dir=str(tmp_path / "moved"))
    with audit.configured(moved), pytest.raises(OSError, match="数据文件夹"):
        audit.record(engine, "wang", "登录", "wang")
    assert not (tmp_path / "moved").exists() and audit.entries(engine).empty
