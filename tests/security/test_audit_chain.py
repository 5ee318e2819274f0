"""The audit hash chain: verification, tampering found, archives, concurrent writers, the migration."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from etl.cli import main
from monitor.security import audit, auth
from monitor.security.access import (
    ADMIN,
)
from monitor.storage.store import connect

T0 = datetime(2026, 11, 23, 9, 0)


@pytest.fixture
def engine(db_url):
    return connect(db_url)


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


@pytest.mark.parametrize(
    "tamper, message",
    [
        ("DELETE FROM audit_log WHERE id = 2", "第 2 至 2 条记录缺失"),
        ("DELETE FROM audit_log WHERE id = 5", "已被删除"),
        ("UPDATE audit_log SET username = 'someone' WHERE id = 1", "第 1 条记录内容已被修改"),
        ("UPDATE audit_log SET hash = prev_hash WHERE id = 4", "第 4 条记录内容已被修改"),
        (
            "UPDATE audit_log SET prev_hash = (SELECT hash FROM audit_log WHERE id = 2) WHERE id = 4",
            "第 4 条记录与前一条不衔接",
        ),
    ],
)
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

    from monitor.storage.store import MIGRATIONS

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
            conn.execute(
                sa.text(
                    "INSERT INTO audit_log (at, username, action, object, detail, result) VALUES "
                    "(:at, 'boss', '登录', 'boss', '', '成功')"
                ),
                {"at": f"2026-01-0{i + 1} 08:00:00"},
            )
    old.dispose()
    engine = connect(url)
    assert auth.users(engine).set_index("username").loc["boss", "role"] == ADMIN
    audit.record(engine, "boss", "导出", "x")
    result = audit.verify(engine)
    assert result.ok and result.entries == 4
