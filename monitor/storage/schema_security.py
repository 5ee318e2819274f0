"""The database schema, part three: accounts, second factor, sessions, the security policy and the audit log."""

from __future__ import annotations

import sqlalchemy as sa

from monitor.storage.schema import BIG, S, metadata, plain_columns

users = sa.Table(
    "users",
    metadata,
    sa.Column("username", S(64), primary_key=True),
    sa.Column("display_name", sa.Text),
    sa.Column("role", S(8)),
    sa.Column("towns", sa.Text),
    sa.Column("password_hash", sa.Text),
    sa.Column("active", sa.Boolean),
    sa.Column("created_at", S(19)),
    sa.Column("password_changed_at", S(19)),
    sa.Column("must_change", sa.Boolean),
    # The TOTP secret (base32) once enrolled, and the last time step used, so a code cannot be replayed.
    sa.Column("totp_secret", sa.Text),
    sa.Column("totp_last_step", BIG),
)
# One-time recovery codes of the second factor, as SHA-256 hashes (the codes are random, so no slow hash is needed).
recovery_codes = sa.Table(
    "recovery_codes",
    metadata,
    *plain_columns(("username", S(64)), ("code_hash", S(64)), ("used_at", S(19))),
    sa.Index("ix_recovery_codes_user", "username"),
)
# Signed-in sessions: a new sign-in ends the account's other sessions, which learn why at their next click.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", S(64), primary_key=True),
    sa.Column("username", S(64), index=True),
    sa.Column("started_at", S(19)),
    sa.Column("last_seen", S(19)),
    sa.Column("ended_at", S(19)),
    sa.Column("end_reason", sa.Text),
)
# The security administrator's password, lock-out, session and second-factor policy (overrides config.toml).
security_policy = sa.Table(
    "security_policy",
    metadata,
    sa.Column("key", S(64), primary_key=True),
    sa.Column("value", BIG),
    sa.Column("changed_at", S(19)),
    sa.Column("changed_by", S(64)),
)
# Earlier password hashes, so the last few cannot be used again.
password_history = sa.Table(
    "password_history",
    metadata,
    *plain_columns(("username", S(64)), ("password_hash", sa.Text), ("at", S(19))),
    sa.Index("ix_password_history_user", "username"),
)
sign_in_failures = sa.Table(
    "sign_in_failures",
    metadata,
    *plain_columns(("username", S(64)), ("at", S(26))),
    sa.Index("ix_sign_in_failures_user", "username"),
)
# Append-only and hash-chained: each row's hash covers its fields and the previous row's hash. Rows leave only by
# archiving (to a file, with their hashes), after the retention period.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", S(19)),
    sa.Column("username", S(64)),
    sa.Column("action", S(16)),
    sa.Column("object", sa.Text),
    sa.Column("detail", sa.Text),
    sa.Column("rows", BIG),
    sa.Column("result", S(8)),
    sa.Column("prev_hash", S(64)),
    sa.Column("hash", S(64)),
)
# One row (id 1): the chain's head (last id and hash), where it starts after archiving, and the first entry hashed
# with the secret key (HMAC; entries before it keep their plain SHA-256; NULL until the first keyed entry).
audit_chain = sa.Table(
    "audit_chain",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_id", sa.Integer),
    sa.Column("last_hash", S(64)),
    sa.Column("archived_through_id", sa.Integer),
    sa.Column("archived_hash", S(64)),
    sa.Column("keyed_from_id", sa.Integer),
)
audit_verifications = sa.Table(
    "audit_verifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", S(19)),
    sa.Column("by", S(64)),
    sa.Column("ok", sa.Boolean),
    sa.Column("entries", BIG),
    sa.Column("message", sa.Text),
)
