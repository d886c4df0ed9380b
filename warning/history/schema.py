"""Tables of the alert history (SQLAlchemy Core; the same metadata for SQLite and PostgreSQL).

Natural keys only (no autoincrement ids): a record row is keyed by where it was read
(``topic``, ``partition_no``, ``offset_no``), so rebuilding a fresh database from the same topic
records gives byte-for-byte the same rows, whatever order the partitions are read in.

* ``alert_records`` — every alert record (firing, escalations, resolved), as read.
* ``alerts`` — one row per ``alert_id``: the current state, updated by
  :meth:`~warning.history.store.HistoryStore.apply` (latest level, max level, status, verdict,
  handled), so the inbox and the screen never aggregate records at query time.
* ``feedback`` — every alert-feedback record, ``trusted`` or not (only trusted rows count).
* ``street_hours`` — events counted per street, hour (epoch s, hour start) and source.
* ``positions`` — the next offset to read per (topic, partition), written in the same
  transaction as the rows (exactly-once into the database).

Times are kept twice where they are queried: the record's own ISO 8601 text (shown as given)
and epoch seconds (``*_s``, for filters and arithmetic).

>>> sorted(METADATA.tables)
['alert_records', 'alerts', 'feedback', 'positions', 'street_hours']
>>> sorted(c.name for c in alerts.primary_key)
['alert_id']
"""

from __future__ import annotations

import sqlalchemy as sa

METADATA = sa.MetaData()

alert_records = sa.Table(
    "alert_records", METADATA,
    sa.Column("topic", sa.String(), primary_key=True),
    sa.Column("partition_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("offset_no", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("alert_id", sa.String(), nullable=False),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("level", sa.String(), nullable=False),
    sa.Column("signal", sa.String(), nullable=False),
    sa.Column("street_code", sa.String(), nullable=False),
    sa.Column("street_name", sa.String(), nullable=False),
    sa.Column("district", sa.String(), nullable=False),
    sa.Column("window_start", sa.String(), nullable=False),
    sa.Column("window_end", sa.String(), nullable=False),
    sa.Column("starts_at", sa.String(), nullable=False),
    sa.Column("ends_at", sa.String()),
    sa.Column("starts_at_s", sa.Double, nullable=False),
    sa.Column("observed", sa.Double, nullable=False),
    sa.Column("expected", sa.Double, nullable=False),
    sa.Column("score", sa.Double, nullable=False),
    sa.Column("summary_zh", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),  # JSON text (sorted keys)
    sa.Column("sample_texts", sa.Text, nullable=False),  # JSON list text
    sa.Index("ix_alert_records_alert", "alert_id", "offset_no"),
)

alerts = sa.Table(
    "alerts", METADATA,
    sa.Column("alert_id", sa.String(), primary_key=True),
    sa.Column("street_code", sa.String(), nullable=False),
    sa.Column("street_name", sa.String(), nullable=False),
    sa.Column("district", sa.String(), nullable=False),
    sa.Column("signal", sa.String(), nullable=False),
    sa.Column("level", sa.String(), nullable=False),
    sa.Column("level_rank", sa.Integer, nullable=False),
    sa.Column("max_level", sa.String(), nullable=False),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("starts_at", sa.String(), nullable=False),
    sa.Column("starts_at_s", sa.Double, nullable=False),
    sa.Column("ends_at", sa.String()),
    sa.Column("updated_at", sa.String(), nullable=False),
    sa.Column("window_start", sa.String(), nullable=False),
    sa.Column("window_end", sa.String(), nullable=False),
    sa.Column("score", sa.Double, nullable=False),
    sa.Column("observed", sa.Double, nullable=False),
    sa.Column("expected", sa.Double, nullable=False),
    sa.Column("summary_zh", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),
    sa.Column("sample_texts", sa.Text, nullable=False),
    sa.Column("n_records", sa.Integer, nullable=False),
    # the record that set level/status (to apply a partition's records in order only once)
    sa.Column("last_topic", sa.String(), nullable=False),
    sa.Column("last_partition", sa.Integer, nullable=False),
    sa.Column("last_offset", sa.BigInteger, nullable=False),
    # from trusted feedback (recomputed from the feedback table whenever it or the alert changes)
    sa.Column("verdict", sa.String()),
    sa.Column("verdict_by", sa.String()),
    sa.Column("verdict_at_s", sa.Double),
    sa.Column("handled_at", sa.String()),
    sa.Column("handled_at_s", sa.Double),
    sa.Column("handled_by", sa.String()),
    sa.Index("ix_alerts_starts", "starts_at_s"),
    sa.Index("ix_alerts_district", "district", "starts_at_s"),
    sa.Index("ix_alerts_signal", "signal", "starts_at_s"),
    sa.Index("ix_alerts_level", "level", "starts_at_s"),
    sa.Index("ix_alerts_street", "street_code", "signal", "starts_at_s"),
    sa.Index("ix_alerts_status", "status", "level_rank"),
    sa.Index("ix_alerts_verdict", "signal", "district", "verdict"),  # covers precision()
)

feedback = sa.Table(
    "feedback", METADATA,
    sa.Column("topic", sa.String(), primary_key=True),
    sa.Column("partition_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("offset_no", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("alert_id", sa.String(), nullable=False),
    sa.Column("action", sa.String(), nullable=False),
    sa.Column("by", sa.String(), nullable=False),
    sa.Column("at", sa.String(), nullable=False),
    sa.Column("at_s", sa.Double, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("silence_hours", sa.Double),
    sa.Column("street_code", sa.String()),  # as given; the alert's when absent (resolved at query time)
    sa.Column("signal", sa.String()),
    sa.Column("source", sa.String()),
    sa.Column("trusted", sa.Boolean, nullable=False),
    sa.Index("ix_feedback_alert", "alert_id", "at_s"),
    sa.Index("ix_feedback_action", "action", "trusted"),
)

street_hours = sa.Table(
    "street_hours", METADATA,
    sa.Column("street_code", sa.String(), primary_key=True),
    sa.Column("hour", sa.BigInteger, primary_key=True, autoincrement=False),  # epoch s of the hour start
    sa.Column("source", sa.String(), primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
)

positions = sa.Table(
    "positions", METADATA,
    sa.Column("topic", sa.String(), primary_key=True),
    sa.Column("partition_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("next_offset", sa.BigInteger, nullable=False),
)

#: tables in a stable order (for dumps and comparisons)
TABLES: tuple[sa.Table, ...] = (alert_records, alerts, feedback, street_hours, positions)
