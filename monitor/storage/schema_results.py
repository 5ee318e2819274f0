"""The database schema, part two: what loads compute (coverage, outreach, alerts, summaries, campaign progress) and
the case work on it (alert states and events, pushes, feedback, follow-up, SMS batches)."""

from __future__ import annotations

import sqlalchemy as sa

from monitor.storage.schema import BIG, S, metadata, plain_columns

coverage = sa.Table(
    "coverage",
    metadata,
    *plain_columns(
        ("year", sa.Integer),
        ("run_id", sa.Integer),
        ("code", S(12)),
        ("name", sa.Text),
        ("level", S(8)),
        ("parent_code", S(12)),
        ("urban_rural", S(3)),
        ("in_scope", BIG),
        ("enrolled", BIG),
        ("vulnerable_in_scope", BIG),
        ("vulnerable_enrolled", BIG),
        ("newborn_in_scope", BIG),
        ("newborn_enrolled", BIG),
        ("enrolled_local", BIG),
        ("enrolled_elsewhere", BIG),
        ("duplicate_enrolled", BIG),
    ),
    sa.Index("ix_coverage_year", "year", "level"),
)
outreach = sa.Table(
    "outreach",
    metadata,
    *plain_columns(
        ("year", sa.Integer),
        ("seq", BIG),
        ("id_number", S(18)),
        ("name", sa.Text),
        ("town_code", S(12)),
        ("village_code", S(12)),
        ("household_id", sa.Text),
        ("priority", sa.Integer),
        ("identity_type", S(32)),
        ("subsidy_mode", S(8)),
        ("subsidy_cents", BIG),
        ("phone", sa.Text),
        ("address", sa.Text),
        ("remark", sa.Text),
    ),
    sa.Index("ix_outreach_year", "year", "town_code"),
)
alerts = sa.Table(
    "alerts",
    metadata,
    *plain_columns(
        ("year", sa.Integer),
        ("seq", BIG),
        ("id_number", S(18)),
        ("name", sa.Text),
        ("village_code", S(12)),
        ("identity_type", S(32)),
        ("alert_type", S(8)),
        ("vulnerable", sa.Boolean),
        ("total_cost", BIG),
        ("basic_paid", BIG),
        ("critical_paid", BIG),
        ("assistance_paid", BIG),
        ("other_paid", BIG),
        ("funds_paid", BIG),
        ("measure", BIG),
        ("threshold", BIG),
        ("rules", S(255)),
        ("level", S(2)),
        ("trigger_date", S(10)),
        ("n_settlements", BIG),
        ("inpatient_stays", BIG),
    ),
    sa.Index("ix_alerts_year", "year", "id_number"),
    # the map's alert counts per division, grouped from the index alone (a city's map: 0.45 → 0.05 s)
    sa.Index("ix_alerts_village", "year", "village_code"),
)
# The watch list (临界关注, SPEC §9): persons not alerted, close to a rule's threshold; in export order (seq).
watch = sa.Table(
    "watch",
    metadata,
    *plain_columns(
        ("year", sa.Integer),
        ("seq", BIG),
        ("id_number", S(18)),
        ("name", sa.Text),
        ("village_code", S(12)),
        ("identity_type", S(32)),
        ("alert_type", S(8)),
        ("measure", BIG),  # the person-year sum (个人负担)
        ("threshold", BIG),  # the chosen rule's full threshold
        ("rule", S(64)),
        ("rule_measure", BIG),  # what that rule measures (the year's sum, or one stay)
        ("ratio", BIG),  # 100 × rule_measure ÷ threshold in hundredths, half-up
    ),
    sa.Index("ix_watch_year", "year", "id_number"),
)
alert_states = sa.Table(
    "alert_states",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("id_number", S(18), primary_key=True),
    sa.Column("state", S(8)),
    sa.Column("level", S(2)),
    sa.Column("upgraded", sa.Boolean),
    sa.Column("updated_at", S(19)),
    sa.Column("updated_by", S(64)),
    sa.Column("batch_no", S(32)),
    sa.Column("department", S(32)),
    sa.Column("pushed_at", S(19)),
    sa.Column("result", S(16)),
    sa.Column("verified_on", S(10)),
    sa.Column("remark", sa.Text),
    sa.Column("closed_at", S(19)),
    # the alert list's columns (cases.alert_case.STATE_COLUMNS) read from the index alone: 0.45 → 0.18 s for a city
    sa.Index("ix_alert_states_list", "year", "id_number", "state", "upgraded", "batch_no", "department", "result"),
)
# Help measures (帮扶措施, SPEC §10) taken for a verified alert: one row each, never updated or deleted.
alert_measures = sa.Table(
    "alert_measures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    *plain_columns(
        ("year", sa.Integer),
        ("id_number", S(18)),
        ("kind", S(16)),  # 医疗救助, 临时救助, 大病保险倾斜, 慈善救助, 其他
        ("taken_on", S(10)),
        ("amount", BIG),  # cents; NULL when not given
        ("department", S(32)),
        ("recorded_at", S(19)),
        ("recorded_by", S(64)),
        ("source", S(64)),  # 页面, or 反馈导入 #<id>
    ),
    sa.Index("ix_alert_measures_year", "year", "id_number"),
)
# Every transition of an alert, never updated or deleted: who, when, from which state to which.
alert_events = sa.Table(
    "alert_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    *plain_columns(
        ("year", sa.Integer),
        ("id_number", S(18)),
        ("at", S(19)),
        ("by", S(64)),
        ("action", S(8)),
        ("state_before", S(8)),
        ("state_after", S(8)),
        ("level", S(2)),
        ("detail", sa.Text),
    ),
    sa.Index("ix_alert_events_person", "year", "id_number"),
)
push_batches = sa.Table(
    "push_batches",
    metadata,
    sa.Column("batch_no", S(32), primary_key=True),
    sa.Column("year", sa.Integer),
    sa.Column("department", S(32)),
    sa.Column("created_at", S(19)),
    sa.Column("created_by", S(64)),
    sa.Column("rows", BIG),
    sa.Column("filters", sa.Text),
    sa.Column("content", sa.LargeBinary),
)
# Drafts of push batches prepared by the scheduler; a person approves (pushes) or discards them.
push_drafts = sa.Table(
    "push_drafts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("year", sa.Integer),
    sa.Column("department", S(32)),
    sa.Column("created_at", S(19)),
    sa.Column("created_by", S(64)),
    sa.Column("ids", sa.Text),
    sa.Column("rows", BIG),
    sa.Column("status", S(8)),
    sa.Column("decided_at", S(19)),
    sa.Column("decided_by", S(64)),
    sa.Column("batch_no", S(32)),
)
feedback_imports = sa.Table(
    "feedback_imports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", S(19)),
    sa.Column("by", S(64)),
    sa.Column("file", sa.Text),
    sa.Column("rows_read", BIG),
    sa.Column("rows_loaded", BIG),
    sa.Column("rows_rejected", BIG),
)
feedback_rejects = sa.Table(
    "feedback_rejects",
    metadata,
    *plain_columns(
        ("import_id", sa.Integer),
        ("file", sa.Text),
        ("row", BIG),
        ("reason", S(32)),
        ("column", S(32)),
        ("original", sa.Text),
    ),
    sa.Index("ix_feedback_rejects_import", "import_id"),
)
# Enrollment follow-up: every recorded outcome is kept; the latest per person is the current one.
outreach_outcomes = sa.Table(
    "outreach_outcomes",
    metadata,
    *plain_columns(
        ("year", sa.Integer),
        ("id_number", S(18)),
        ("outcome", S(16)),
        ("remark", sa.Text),
        ("at", S(19)),
        ("by", S(64)),
    ),
    sa.Index("ix_outreach_outcomes_person", "year", "id_number"),
)

run_summaries = sa.Table(
    "run_summaries",
    metadata,
    *plain_columns(
        ("run_id", sa.Integer),
        ("year", sa.Integer),
        ("in_scope", BIG),
        ("enrolled", BIG),
        ("vulnerable_in_scope", BIG),
        ("vulnerable_enrolled", BIG),
        ("newborn_in_scope", BIG),
        ("newborn_enrolled", BIG),
        ("outreach", BIG),
        ("alerts", BIG),
        ("alerts_red", BIG),
        ("alerts_orange", BIG),
        ("alerts_yellow", BIG),
    ),
    sa.Index("ix_run_summaries_year", "year"),
)

# Daily progress of the collection period, computed by each run of the year before the target year.
campaign_progress = sa.Table(
    "campaign_progress",
    metadata,
    *plain_columns(
        ("target_year", sa.Integer),
        ("level", S(8)),
        ("code", S(12)),
        ("day", S(10)),
        ("enrolled", BIG),
        ("vulnerable_enrolled", BIG),
        ("in_scope", BIG),
        ("vulnerable_in_scope", BIG),
        ("target", BIG),
        ("previous_enrolled", BIG),
    ),
    sa.Index("ix_campaign_progress", "target_year", "level", "code"),
)
# SMS reminder batches of the collection period: what was sent to the gateway, by whom, for which place.
sms_batches = sa.Table(
    "sms_batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", S(19)),
    sa.Column("by", S(64)),
    sa.Column("target_year", sa.Integer),
    sa.Column("place", sa.Text),
    sa.Column("priorities", S(16)),
    sa.Column("rows", BIG),
    sa.Column("left_out", sa.Text),
)
