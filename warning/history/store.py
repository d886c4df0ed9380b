"""HistoryStore: every alert and feedback record in a real database (SQLite or PostgreSQL).

One code path through SQLAlchemy Core (:mod:`warning.history.schema`); the only dialect
differences are the upsert construct (both dialects have ``INSERT … ON CONFLICT``), how a write
transaction takes its lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL an advisory lock) and the
SQLite pragmas (WAL, ``synchronous=NORMAL``, busy timeout).

A consumer (the dashboard) reads ``warning.alerts``, ``warning.alerts.feedback`` and
``warning.events`` and hands batches to :meth:`HistoryStore.apply`, which writes the rows *and*
the next offset of each (topic, partition) in one transaction, and skips records at offsets
already stored: each record lands in the database exactly once, and a consumer resumes from
:meth:`HistoryStore.positions`. Rebuilding a fresh database from the same records (in any
interleaving of partitions) gives the same rows.

Only feedback the caller marked ``trusted`` (signature verified with
``verify(rec, sources, now=None, purpose=PURPOSE, source_field="source")``) counts for verdicts,
"handled" and silences; untrusted rows are stored with ``trusted = false`` and shown as such.

>>> import tempfile, os
>>> store = HistoryStore.open("sqlite:///" + os.path.join(tempfile.mkdtemp(), "h.sqlite3"))
>>> a = {"alert_id": "a1", "status": "firing", "level": "yellow", "signal": "hotline_volume",
...      "street_code": "110105001", "street_name": "建外街道", "district": "朝阳区",
...      "window_start": "2025-03-01T09:00:00+08:00", "window_end": "2025-03-01T10:00:00+08:00",
...      "starts_at": "2025-03-01T09:12:00+08:00", "observed": 9, "expected": 2, "score": 5.1,
...      "summary_zh": "建外街道 12345热线诉求量异常升高", "evidence": {}, "sample_texts": []}
>>> fb = {"alert_id": "a1", "action": "false_alarm", "by": "王科长", "at": "2025-03-01T11:00:00+08:00"}
>>> r = store.apply([Consumed("alert", "warning.alerts", 0, 0, a),
...                  Consumed("feedback", "warning.alerts.feedback", 0, 0, fb, trusted=True)])
>>> [(x["alert_id"], x["level"], x["verdict"]) for x in r.alerts], r.invalid
([('a1', 'yellow', 'false_alarm')], 0)
>>> store.apply([Consumed("alert", "warning.alerts", 0, 0, a)]).skipped  # same offset again
1
>>> store.positions()
{('warning.alerts', 0): 1, ('warning.alerts.feedback', 0): 1}
>>> store.query_alerts(AlertQuery(district="朝阳区", verdict="false_alarm"))[0]
1
>>> store.precision(("signal",))
[{'signal': 'hotline_volume', 'alerts': 1, 'confirmed': 0, 'false_alarm': 1, 'precision': 0.0}]
>>> store.close()
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Iterator, Literal, Mapping, Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy import event as sa_event

from warning.core.alert_feedback import ACTION_ZH, MAX_SILENCE_HOURS, VERDICTS, parse_feedback
from warning.core.events import Alert
from warning.core.signals import LEVEL_RANK, LEVELS
from warning.core.signed_records import parse_time
from warning.history import schema as S

__all__ = ["HistoryStore", "Consumed", "AlertQuery", "Applied", "ALERT_ROW_KEYS"]

#: keys of an AlertRow (the dict the inbox, the screen and the SSE stream carry). ``level`` is the
#: latest record's, ``max_level`` the highest so far; ``first_seen_s`` is ``starts_at`` in epoch
#: seconds; ``updated_at`` the latest record's ``window_end`` (``ends_at`` once resolved);
#: ``silenced_until`` the street+signal's active silence when the row was read (wall clock).
ALERT_ROW_KEYS = (
    "alert_id", "street_code", "street_name", "district", "signal", "level", "max_level", "status",
    "starts_at", "ends_at", "updated_at", "first_seen_s", "score", "observed", "expected", "summary_zh",
    "verdict", "verdict_by", "handled_at", "handled_by", "silenced_until", "n_records",
)
STATUSES = ("firing", "resolved", "open")
VERDICT_FILTERS = ("confirmed", "false_alarm", "none")
PRECISION_KEYS = ("signal", "district", "street_code", "level")
_CHUNK = 500
#: feedback said up to this far in the future (the writer's clock ahead) already counts for silences
_CLOCK_SKEW_S = 60.0
_PG_LOCK_KEY = 0x7761726E696E67  # pg_advisory_xact_lock: one history writer at a time


@dataclass(frozen=True)
class Consumed:
    """One record read from Kafka. ``trusted`` matters only for feedback: the caller verified its
    signature (``verify(..., now=None)``)."""

    kind: Literal["alert", "feedback", "event"]
    topic: str
    partition: int
    offset: int
    value: Mapping[str, Any]
    trusted: bool = False


@dataclass
class Applied:
    """What one :meth:`HistoryStore.apply` changed: ``alerts`` (AlertRows of the alerts changed),
    ``feedback`` (the rows added), ``invalid`` (records skipped as not the contract; with their
    short ``reasons``, no record content), ``skipped`` (already stored), ``events`` (counted)."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    invalid: int = 0
    skipped: int = 0
    events: int = 0
    reasons: list[str] = field(default_factory=list)


@dataclass
class AlertQuery:
    """Filters of :meth:`HistoryStore.query_alerts` (``None`` = any). ``district``/``level``/
    ``signal``/``street_code`` take one value or a list; ``status`` is ``firing``, ``resolved`` or
    ``open`` (firing without a verdict); ``verdict`` is ``confirmed``, ``false_alarm`` or ``none``;
    ``since``/``until`` (epoch s) bound ``starts_at`` (since ≤ t < until); ``limit`` ≤ 1000."""

    district: str | Sequence[str] | None = None
    level: str | Sequence[str] | None = None
    signal: str | Sequence[str] | None = None
    status: str | None = None
    verdict: str | None = None
    street_code: str | Sequence[str] | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 100
    offset: int = 0


# ------------------------------------------------------------------------------------------------
# record → row


def _canon(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class _Invalid(ValueError):
    pass


def _alert_record(value: Mapping[str, Any]) -> dict[str, Any]:
    """Validated row of ``alert_records`` (without its position), or :class:`_Invalid`."""
    if isinstance(value, Alert):
        value = value.to_dict()
    if not isinstance(value, Mapping):
        raise _Invalid("alert: not an object")
    try:
        a = msgspec.convert(dict(value), Alert)
    except (msgspec.ValidationError, TypeError) as e:
        raise _Invalid(f"alert: {str(e)[:120]}") from None
    if not a.alert_id.strip():
        raise _Invalid("alert: empty alert_id")
    t = parse_time(a.starts_at)
    if t is None:
        raise _Invalid("alert: starts_at is not an ISO time with offset")
    for k in ("observed", "expected", "score"):
        if not math.isfinite(getattr(a, k)):
            raise _Invalid(f"alert: {k} is not finite")
    try:
        evidence, samples = _canon(a.evidence), _canon(a.sample_texts)
    except (TypeError, ValueError):
        raise _Invalid("alert: evidence is not JSON") from None
    row = {
        "alert_id": a.alert_id, "status": a.status, "level": a.level, "signal": a.signal,
        "street_code": a.street_code, "street_name": a.street_name, "district": a.district,
        "window_start": a.window_start, "window_end": a.window_end, "starts_at": a.starts_at,
        "ends_at": a.ends_at, "starts_at_s": t, "observed": float(a.observed), "expected": float(a.expected),
        "score": float(a.score), "summary_zh": a.summary_zh, "evidence": evidence, "sample_texts": samples,
    }
    if any("\x00" in v for v in row.values() if isinstance(v, str)):
        raise _Invalid("alert: NUL character")
    return row


def _feedback_row(value: Mapping[str, Any], trusted: bool) -> dict[str, Any]:
    try:
        fb = parse_feedback(value)
    except ValueError as e:
        raise _Invalid(f"feedback: {str(e)[:120]}") from None
    row = {
        "alert_id": fb.alert_id, "action": fb.action, "by": fb.by, "at": fb.at, "at_s": fb.at_s,
        "note": fb.note, "silence_hours": fb.silence_hours, "street_code": fb.street_code,
        "signal": fb.signal, "source": fb.source, "trusted": bool(trusted),
    }
    if any("\x00" in v for v in row.values() if isinstance(v, str)):
        raise _Invalid("feedback: NUL character")
    return row


def _event_key(value: Mapping[str, Any]) -> tuple[str, int, str] | None:
    """(street_code, hour start, source) of an event; None when it has no street (district-level)."""
    if not isinstance(value, Mapping):
        raise _Invalid("event: not an object")
    ts, src, street = value.get("ts"), value.get("source"), value.get("street_code")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not math.isfinite(ts):
        raise _Invalid("event: ts is not a number")
    if not isinstance(src, str) or not src or "\x00" in src:
        raise _Invalid("event: source is not a string")
    if not isinstance(street, str) or "\x00" in street:
        raise _Invalid("event: street_code is not a string")
    if not street:
        return None
    return street, int(ts // 3600) * 3600, src


def _updated_at(rec: Mapping[str, Any]) -> str:
    if rec["status"] == "resolved" and rec.get("ends_at"):
        return rec["ends_at"]
    return rec["window_end"]


def _max_level(a: str, b: str) -> str:
    return a if LEVEL_RANK.get(a, 0) >= LEVEL_RANK.get(b, 0) else b


def _fold(state: dict[str, Any] | None, rec: dict[str, Any], pos: tuple[str, int, int]) -> dict[str, Any]:
    """The alert's current state after one more record (records of an alert come in offset order)."""
    latest = {k: rec[k] for k in ("street_code", "street_name", "district", "signal", "level", "status",
                                    "ends_at", "window_start", "window_end", "score", "observed",
                                    "expected", "summary_zh")}
    latest.update(level_rank=LEVEL_RANK[rec["level"]], updated_at=_updated_at(rec),
                  last_topic=pos[0], last_partition=pos[1], last_offset=pos[2])
    if state is None:
        return {"alert_id": rec["alert_id"], **latest, "max_level": rec["level"], "starts_at": rec["starts_at"],
                "starts_at_s": rec["starts_at_s"], "evidence": rec["evidence"], "sample_texts": rec["sample_texts"],
                "n_records": 1, "verdict": None, "verdict_by": None, "verdict_at_s": None,
                "handled_at": None, "handled_at_s": None, "handled_by": None}
    new = {**state, **latest, "max_level": _max_level(state["max_level"], rec["level"]),
           "n_records": state["n_records"] + 1}
    # a resolved record usually carries no evidence/samples: keep the firing ones
    if rec["evidence"] != "{}":
        new["evidence"] = rec["evidence"]
    if rec["sample_texts"] != "[]":
        new["sample_texts"] = rec["sample_texts"]
    return new


def _fb_order(r: Mapping[str, Any]) -> tuple[float, str, int, int]:
    return (r["at_s"], r["topic"], r["partition_no"], r["offset_no"])


def _until_iso(at: str, hours: float) -> str:
    return (datetime.fromisoformat(at) + timedelta(hours=hours)).isoformat(timespec="seconds")


def _chunks(xs: Sequence[Any], n: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(xs), n):
        yield xs[i:i + n]


# ------------------------------------------------------------------------------------------------


class HistoryStore:
    """The alert history database (see the module docstring). Thread-safe (a connection pool)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        if self.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as _insert
        elif self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as _insert
        else:  # pragma: no cover - settings only accept the two
            raise ValueError(f"unsupported database {self.dialect!r} (sqlite or postgresql)")
        self._insert = _insert

    # -- lifecycle --------------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, create: bool = True, echo: bool = False) -> "HistoryStore":
        """Connect (creating the tables if missing). ``sqlite:///PATH`` (directory created, WAL
        mode) or ``postgresql+psycopg://…`` (``postgresql://`` is taken as psycopg 3)."""
        u = sa.engine.make_url(url)
        kw: dict[str, Any] = {"echo": echo}
        if u.drivername in ("postgresql", "postgres"):
            u = u.set(drivername="postgresql+psycopg")
        if u.get_backend_name() == "sqlite":
            db = u.database or ""
            if db and db != ":memory:" and not db.startswith("file:"):
                from pathlib import Path

                Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
            else:
                kw["poolclass"] = sa.pool.StaticPool
            kw["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kw["pool_pre_ping"] = True
        engine = sa.create_engine(u, **kw)
        if engine.dialect.name == "sqlite":
            _sqlite_setup(engine)
        store = cls(engine)
        if create:
            S.METADATA.create_all(engine)
        return store

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "HistoryStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.info["begin_immediate"] = True
            try:
                with conn.begin():
                    if self.dialect == "postgresql":
                        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
                    yield conn
            finally:
                conn.info.pop("begin_immediate", None)

    def _upsert(self, conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]],
                add: Sequence[str] = ()) -> None:
        """Insert rows, replacing (or for ``add`` columns: adding to) the row with the same key."""
        if not rows:
            return
        ins = self._insert(table)
        keys = [c.name for c in table.primary_key]
        sets = {c.name: (table.c[c.name] + ins.excluded[c.name] if c.name in add else ins.excluded[c.name])
                for c in table.columns if c.name not in keys}
        for chunk in _chunks(rows):
            conn.execute(ins.on_conflict_do_update(index_elements=keys, set_=sets), list(chunk))

    # -- writing ----------------------------------------------------------------------------------

    def apply(self, batch: Sequence[Consumed]) -> Applied:
        """Store a batch in one transaction (see the module docstring). Never raises on a bad
        record (counted in ``invalid``); raises on database errors (nothing is then stored)."""
        out = Applied()
        if not batch:
            return out
        ordered = sorted(batch, key=lambda c: (c.topic, c.partition, c.offset))
        with self._write() as conn:
            stored = {(r.topic, r.partition_no): r.next_offset for r in conn.execute(sa.select(S.positions))}
            nxt: dict[tuple[str, int], int] = {}
            recs: list[dict[str, Any]] = []
            fbs: list[dict[str, Any]] = []
            counts: Counter[tuple[str, int, str]] = Counter()
            for c in ordered:
                k = (c.topic, int(c.partition))
                floor = max(stored.get(k, 0), nxt.get(k, 0))
                if c.offset < floor:
                    out.skipped += 1
                    continue
                nxt[k] = int(c.offset) + 1
                pos = {"topic": c.topic, "partition_no": int(c.partition), "offset_no": int(c.offset)}
                try:
                    if c.kind == "alert":
                        recs.append({**pos, **_alert_record(c.value)})
                    elif c.kind == "feedback":
                        fbs.append({**pos, **_feedback_row(c.value, c.trusted)})
                    elif c.kind == "event":
                        key = _event_key(c.value)
                        out.events += 1
                        if key is not None:
                            counts[key] += 1
                    else:
                        raise _Invalid(f"unknown kind {c.kind!r}")
                except _Invalid as e:
                    out.invalid += 1
                    if len(out.reasons) < 20:
                        out.reasons.append(str(e))
            if recs:
                conn.execute(sa.insert(S.alert_records), recs)
            if fbs:
                conn.execute(sa.insert(S.feedback), fbs)
            if counts:
                self._upsert(conn, S.street_hours, [
                    {"street_code": s, "hour": h, "source": src, "n": n} for (s, h, src), n in counts.items()
                ], add=("n",))
            self._upsert(conn, S.positions, [
                {"topic": t, "partition_no": p, "next_offset": o} for (t, p), o in nxt.items()
            ])
            changed = self._update_alerts(conn, recs, fbs)
            if changed:
                sil = self._silence_map(conn, None)
                out.alerts = [self._row(r, sil) for r in changed]
            out.feedback = [_fb_public(r) for r in fbs]
        return out

    def _update_alerts(self, conn: sa.Connection, recs: list[dict[str, Any]],
                       fbs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fold the records into ``alerts`` and recompute verdict/handled of every touched alert."""
        ids = list(dict.fromkeys([r["alert_id"] for r in recs] + [f["alert_id"] for f in fbs]))
        if not ids:
            return []
        state: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids):
            for r in conn.execute(sa.select(S.alerts).where(S.alerts.c.alert_id.in_(chunk))).mappings():
                state[r["alert_id"]] = dict(r)
        for rec in recs:  # already in (topic, partition, offset) order
            pos = (rec["topic"], rec["partition_no"], rec["offset_no"])
            body = {k: v for k, v in rec.items() if k not in ("topic", "partition_no", "offset_no")}
            state[rec["alert_id"]] = _fold(state.get(rec["alert_id"]), body, pos)
        touched = [i for i in ids if i in state]
        if not touched:
            return []
        fb_rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        f = S.feedback.c
        for chunk in _chunks(touched):
            q = sa.select(S.feedback).where(f.alert_id.in_(chunk), f.trusted == sa.true(),
                                            f.action.in_(("confirmed", "false_alarm", "handled")))
            for r in conn.execute(q).mappings():
                fb_rows[r["alert_id"]].append(dict(r))
        for i in touched:
            _judge(state[i], fb_rows.get(i, []))
        rows = [state[i] for i in touched]
        self._upsert(conn, S.alerts, rows)
        return rows

    # -- reading ----------------------------------------------------------------------------------

    def positions(self) -> dict[tuple[str, int], int]:
        """The next offset to read per (topic, partition)."""
        with self.engine.connect() as conn:
            return {(r.topic, r.partition_no): int(r.next_offset) for r in conn.execute(sa.select(S.positions))}

    def query_alerts(self, q: AlertQuery | None = None) -> tuple[int, list[dict[str, Any]]]:
        """(total matching, the page of AlertRows), newest ``starts_at`` first."""
        q = q or AlertQuery()
        conds = _conditions(q)
        a = S.alerts.c
        limit = max(0, min(int(q.limit), 1000))
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(S.alerts).where(*conds)).scalar_one()
            rows = conn.execute(sa.select(*_ROW_COLS).where(*conds).order_by(a.starts_at_s.desc(), a.alert_id.desc())
                                .limit(limit).offset(max(0, int(q.offset)))).mappings().all()
            sil = self._silence_map(conn, None) if rows else {}
        return int(total), [self._row(r, sil) for r in rows]

    def get_alert(self, alert_id: str) -> dict[str, Any] | None:
        """The alert with its evidence, its records (``history``) and its feedback, or None."""
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(S.alerts).where(S.alerts.c.alert_id == alert_id)).mappings().first()
            if r is None:
                return None
            ar = S.alert_records.c
            recs = conn.execute(sa.select(S.alert_records).where(ar.alert_id == alert_id)
                                .order_by(ar.topic, ar.partition_no, ar.offset_no)).mappings().all()
            f = S.feedback.c
            fbs = conn.execute(sa.select(S.feedback).where(f.alert_id == alert_id)
                               .order_by(f.at_s, f.topic, f.partition_no, f.offset_no)).mappings().all()
            sil = self._silence_map(conn, None)
        alert = self._row(r, sil)
        alert.update(evidence=json.loads(r["evidence"]), sample_texts=json.loads(r["sample_texts"]),
                     window_start=r["window_start"], window_end=r["window_end"])
        history = [{k: x[k] for k in ("status", "level", "starts_at", "ends_at", "window_start", "window_end",
                                      "observed", "expected", "score", "summary_zh")} for x in recs]
        return {"alert": alert, "history": history, "feedback": [_fb_public(dict(x)) for x in fbs]}

    def active_alerts(self) -> list[dict[str, Any]]:
        """Firing alerts, worst level first, then score (desc), then newest."""
        a = S.alerts.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*_ROW_COLS).where(a.status == "firing")
                                .order_by(a.level_rank.desc(), a.score.desc(), a.starts_at_s.desc(),
                                          a.alert_id)).mappings().all()
            sil = self._silence_map(conn, None) if rows else {}
        return [self._row(r, sil) for r in rows]

    def precision(self, by: Sequence[str] = ("signal",), *, since: float | None = None,
                  until: float | None = None) -> list[dict[str, Any]]:
        """Per group of ``by`` (``()`` = one overall row): alerts, confirmed, false_alarm and
        precision = confirmed / (confirmed + false_alarm) (None when no verdict), over the alerts
        that started in [since, until)."""
        by = tuple(by)
        bad = [k for k in by if k not in PRECISION_KEYS]
        if bad:
            raise ValueError(f"precision: cannot group by {bad} (choose from {PRECISION_KEYS})")
        a = S.alerts.c
        cols = [a[k] for k in by]
        conf = sa.func.sum(sa.case((a.verdict == "confirmed", 1), else_=0))
        false = sa.func.sum(sa.case((a.verdict == "false_alarm", 1), else_=0))
        q = sa.select(*cols, sa.func.count().label("n"), conf.label("c"), false.label("f"))
        q = q.where(*_time_conds(since, until)).group_by(*cols).order_by(*cols)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        out = []
        for r in rows:
            c, f_, n = int(r["c"] or 0), int(r["f"] or 0), int(r["n"])
            if not by and n == 0:
                c = f_ = 0
            out.append({**{k: r[k] for k in by}, "alerts": n, "confirmed": c, "false_alarm": f_,
                        "precision": (c / (c + f_)) if c + f_ else None})
        return out

    def silences(self, now: float) -> list[dict[str, Any]]:
        """Active silences at ``now``: the latest trusted silence/unsilence (said by ``now``) of each
        street+signal, if it is a silence not yet expired. Sorted by street, signal. A silence
        without street/signal covers its alert's (once the alert is in the history)."""
        with self.engine.connect() as conn:
            m = self._silence_map(conn, now)
        return [m[k] for k in sorted(m)]

    def _silence_map(self, conn: sa.Connection, now: float | None) -> dict[tuple[str, str], dict[str, Any]]:
        """(street_code, signal) → active silence at ``now`` (None: the wall clock)."""
        import time as _time

        now = _time.time() if now is None else float(now)
        f, a = S.feedback.c, S.alerts.c
        q = (sa.select(f.topic, f.partition_no, f.offset_no, f.alert_id, f.action, f.by, f.at, f.at_s,
                       f.silence_hours, f.note,
                       sa.func.coalesce(f.street_code, a.street_code).label("street"),
                       sa.func.coalesce(f.signal, a.signal).label("sig"))
             .select_from(S.feedback.outerjoin(S.alerts, a.alert_id == f.alert_id))
             .where(f.trusted == sa.true(), f.action.in_(("silence", "unsilence")),
                    f.at_s <= now + _CLOCK_SKEW_S,
                    # older records cannot matter: a silence lasts at most MAX_SILENCE_HOURS, and
                    # only the latest record per street+signal counts (keeps this query bounded)
                    f.at_s > now - MAX_SILENCE_HOURS * 3600.0 - _CLOCK_SKEW_S))
        latest: dict[tuple[str, str], Mapping[str, Any]] = {}
        for r in conn.execute(q).mappings():
            if not r["street"] or not r["sig"]:
                continue
            k = (r["street"], r["sig"])
            if k not in latest or _fb_order(r) > _fb_order(latest[k]):
                latest[k] = r
        out = {}
        for k, r in latest.items():
            if r["action"] != "silence":
                continue
            until_s = r["at_s"] + float(r["silence_hours"]) * 3600.0
            if until_s > now:
                out[k] = {"street_code": k[0], "signal": k[1], "until": _until_iso(r["at"], float(r["silence_hours"])),
                          "until_s": until_s, "by": r["by"], "at": r["at"], "alert_id": r["alert_id"],
                          "note": r["note"]}
        return out

    def street_series(self, street_code: str, end: float, hours: int = 168) -> dict[str, Any]:
        """Hourly event counts of a street for the ``hours`` hours up to the one holding ``end``:
        ``{"hours": [epoch s of each hour start], "observed": [total], "by_source": {src: [n]}}``."""
        hours = max(1, int(hours))
        last = int(end // 3600) * 3600
        first = last - (hours - 1) * 3600
        hs = [first + i * 3600 for i in range(hours)]
        idx = {h: i for i, h in enumerate(hs)}
        c = S.street_hours.c
        q = sa.select(c.hour, c.source, c.n).where(c.street_code == street_code, c.hour >= first, c.hour <= last)
        observed = [0] * hours
        by_source: dict[str, list[int]] = {}
        with self.engine.connect() as conn:
            for h, src, n in conn.execute(q):
                i = idx.get(int(h))
                if i is None:
                    continue
                observed[i] += int(n)
                by_source.setdefault(src, [0] * hours)[i] += int(n)
        return {"hours": hs, "observed": observed, "by_source": dict(sorted(by_source.items()))}

    def monthly(self, month: str, tz: str = "+08:00") -> dict[str, Any]:
        """The monthly report's data (:func:`warning.history.monthly.monthly_data`)."""
        from warning.history.monthly import monthly_data

        return monthly_data(self, month, tz=tz)

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every table's rows, sorted (for tests and diagnostics: two rebuilds compare equal)."""
        out = {}
        with self.engine.connect() as conn:
            for t in S.TABLES:
                rows = conn.execute(sa.select(t).order_by(*t.primary_key.columns)).all()
                out[t.name] = [tuple(r) for r in rows]
        return out

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _row(r: Mapping[str, Any], sil: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, Any]:
        s = sil.get((r["street_code"], r["signal"]))
        return {
            "alert_id": r["alert_id"], "street_code": r["street_code"], "street_name": r["street_name"],
            "district": r["district"], "signal": r["signal"], "level": r["level"], "max_level": r["max_level"],
            "status": r["status"], "starts_at": r["starts_at"], "ends_at": r["ends_at"],
            "updated_at": r["updated_at"], "first_seen_s": r["starts_at_s"], "score": r["score"],
            "observed": r["observed"], "expected": r["expected"], "summary_zh": r["summary_zh"],
            "verdict": r["verdict"], "verdict_by": r["verdict_by"], "handled_at": r["handled_at"],
            "handled_by": r["handled_by"], "silenced_until": s["until"] if s else None, "n_records": r["n_records"],
        }


_ROW_COLS = [S.alerts.c[k] for k in (
    "alert_id", "street_code", "street_name", "district", "signal", "level", "max_level", "status", "starts_at",
    "starts_at_s", "ends_at", "updated_at", "score", "observed", "expected", "summary_zh", "verdict", "verdict_by",
    "handled_at", "handled_by", "n_records")]


def _fb_public(r: Mapping[str, Any]) -> dict[str, Any]:
    return {"alert_id": r["alert_id"], "action": r["action"], "action_zh": ACTION_ZH.get(r["action"], r["action"]),
            "by": r["by"], "at": r["at"], "note": r["note"], "silence_hours": r["silence_hours"],
            "street_code": r["street_code"], "signal": r["signal"], "source": r["source"],
            "trusted": bool(r["trusted"])}


def _judge(state: dict[str, Any], fb: Iterable[Mapping[str, Any]]) -> None:
    """Verdict = the latest trusted confirmed/false_alarm; handled = the first trusted handled."""
    verdicts = sorted((r for r in fb if r["action"] in VERDICTS), key=_fb_order)
    handled = sorted((r for r in fb if r["action"] == "handled"), key=_fb_order)
    v = verdicts[-1] if verdicts else None
    h = handled[0] if handled else None
    state.update(verdict=v["action"] if v else None, verdict_by=v["by"] if v else None,
                 verdict_at_s=v["at_s"] if v else None, handled_at=h["at"] if h else None,
                 handled_at_s=h["at_s"] if h else None, handled_by=h["by"] if h else None)


def _one_or_many(col: sa.ColumnElement[Any], v: str | Sequence[str] | None) -> list[sa.ColumnElement[bool]]:
    if v is None or v == "":
        return []
    if isinstance(v, str):
        return [col == v]
    return [col.in_(list(v))]


def _time_conds(since: float | None, until: float | None) -> list[sa.ColumnElement[bool]]:
    a = S.alerts.c
    out = []
    if since is not None:
        out.append(a.starts_at_s >= float(since))
    if until is not None:
        out.append(a.starts_at_s < float(until))
    return out


def _conditions(q: AlertQuery) -> list[sa.ColumnElement[bool]]:
    a = S.alerts.c
    conds = (_one_or_many(a.district, q.district) + _one_or_many(a.level, q.level)
             + _one_or_many(a.signal, q.signal) + _one_or_many(a.street_code, q.street_code))
    if q.level is not None and not isinstance(q.level, str):
        bad = [x for x in q.level if x not in LEVELS]
    else:
        bad = [q.level] if q.level and q.level not in LEVELS else []
    if bad:
        raise ValueError(f"level: {bad} (choose from {', '.join(LEVELS)})")
    if q.status:
        if q.status not in STATUSES:
            raise ValueError(f"status: {q.status!r} (choose from {', '.join(STATUSES)})")
        if q.status == "open":
            conds += [a.status == "firing", a.verdict.is_(None)]
        else:
            conds.append(a.status == q.status)
    if q.verdict:
        if q.verdict not in VERDICT_FILTERS:
            raise ValueError(f"verdict: {q.verdict!r} (choose from {', '.join(VERDICT_FILTERS)})")
        conds.append(a.verdict.is_(None) if q.verdict == "none" else a.verdict == q.verdict)
    return conds + _time_conds(q.since, q.until)


def _sqlite_setup(engine: sa.Engine) -> None:
    """WAL, NORMAL sync, busy timeout; ``BEGIN IMMEDIATE`` for writes (SQLAlchemy's pysqlite recipe)."""

    @sa_event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver must not BEGIN by itself; see _begin
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
        finally:
            cur.close()

    @sa_event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("begin_immediate") else "BEGIN")

