"""Parse → validate → resolve place → mask and enrich text → canonical :class:`Event`.

Pure and deterministic: the reference time for "future" / "too old" checks is the record's Kafka
timestamp when there is one (so a replay of a topic decides exactly as the live run did), never
the wall clock. Every failure is a :class:`Rejected` with a machine-readable ``reason``:

=====================  ==========================================================
reason                 meaning
=====================  ==========================================================
``too_large``          the record has more than ``ingest.max_record_bytes`` bytes (checked first)
``invalid_utf8``       bytes are not UTF-8, anywhere in the record (values, keys, ignored fields)
``invalid_json``       not parseable JSON, or arrays/objects nested deeper than :data:`MAX_NESTING`
``not_object``         JSON, but not an object
``missing_field``      a required field is absent
``wrong_type``         a field has the wrong JSON type (e.g. ``"severity": "3"``)
``invalid_value``      right type, value outside the contract (enum, range, no offset)
``unknown_source``     ``source`` is not a configured feed (files), or no such feed
``unknown_street``     ``street_code`` given but not a street of the configured region
``time_in_future``     event time later than the record's timestamp + tolerance
``time_too_old``       event time before the floor or older than ``max_age_days``
``text_too_long``      a text field longer than ``ingest.max_text_chars``
``processing_error``   an unexpected failure while processing (a bug: the record is kept)
=====================  ==========================================================

>>> from warning.core.registry import Registry
>>> ing = Ingestor(IngestSettings(), Registry.load("110000"))
>>> ev = ing.parse("hotline", '{"id":"h1","received_at":"2025-03-01T09:30:00+08:00",'
...     '"street_code":"110105001","type":"投诉","category":"供暖","content":"我叫王小明，电话13812345678，家里不热"}'
...     .encode())
>>> ev.street_name, ev.district, ev.key, ev.text
('建外街道', '朝阳区', '110105001', '我叫王**，电话138****5678，家里不热')
>>> ing.parse("hotline", b'{"id": 1}').reason
'wrong_type'

The record as a whole is screened before it is parsed (size, encoding, nesting), so an invalid
byte in a field the feed ignores, or in a key, is ``invalid_utf8`` and never ``missing_field``
or accepted:

>>> ing.parse("hotline", b'{"id": "h2", "\\xff": 1}').reason
'invalid_utf8'
>>> ing.parse("hotline", b'[' * 100 + b']' * 100).detail
'arrays/objects nested deeper than 64 levels'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Protocol

import msgspec
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from warning.core.events import Event, Risk
from warning.core.feeds import Feed, default_feeds
from warning.core.registry import Registry
from warning.core.timeutil import BEIJING, iso, parse_time

#: Deepest nesting of JSON arrays/objects a record may have (the feeds are flat objects). A fixed
#: bound keeps the decision independent of the interpreter's recursion limit and of how deep the
#: caller's stack is (msgspec recurses through C, bounded by that limit), so a replay decides as
#: the live worker did.
MAX_NESTING = 64

#: What a Kafka request needs beyond the record: dead-letter headers (reason, detail ≤ 500
#: characters, source, offsets...), or an event's enrichment fields, and the batch framing.
KAFKA_HEADROOM_BYTES = 64 * 1024

_JSON_TOKEN = re.compile(rb'\\.|["\[\]{}]', re.S)  # an escape pair, a quote or a bracket


def nesting_exceeds(data: bytes, limit: int = MAX_NESTING) -> bool:
    """True if JSON ``data`` nests arrays/objects deeper than ``limit`` (brackets inside strings
    do not count). Cheap for real records: only one with more than ``limit`` opening brackets
    in all is scanned — in one linear pass (escapes skipped, quotes toggle "in a string") — and
    the scan stops at the first level past the limit.

    >>> nesting_exceeds(b'{"a": [[1], {"b": 2}]}', limit=3), nesting_exceeds(b'[[[[]]]]', limit=3)
    (False, True)
    >>> nesting_exceeds(b'{"text": "' + b'[' * 100 + b'"}', limit=3)
    False
    >>> esc = bytes([92, 34])  # an escaped quote inside a string does not end it
    >>> nesting_exceeds(b'{"t": "' + esc + b'[[[[' + esc + b'"}', limit=3), nesting_exceeds(b'[[[["' + esc * 50_000, limit=3)
    (False, True)
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    in_string = False
    for m in _JSON_TOKEN.finditer(data):
        tok = m.group()
        if len(tok) == 2:  # an escape pair: inside a string it is text; outside, invalid JSON anyway
            continue
        if tok == b'"':
            in_string = not in_string
        elif in_string:
            continue
        elif tok == b"[" or tok == b"{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class _EventTime:
    """:func:`~warning.core.timeutil.iso` of event times, faster for whole seconds.

    ``iso`` builds a ``datetime`` per call; for a whole second it only formats the date and the
    time of day in Beijing time (a fixed offset). The date part (and the offset) come from
    ``iso`` itself, once per day, and are checked against it; other times go to ``iso``.

    >>> t = _EventTime()
    >>> [t(x) == iso(x) for x in (1735689600.0, 1735689600.5, 1772380806.0, 946684799.0)]
    [True, True, True, True]
    """

    __slots__ = ("_days", "_offset")

    # whole seconds between 2000-01-01 and 9999-12-31 (four-digit years, as iso writes them)
    _LO, _HI = 946684800, 253402214400

    def __init__(self) -> None:
        self._days: dict[int, tuple[str, str]] = {}
        off = BEIJING.utcoffset(None)
        self._offset = int(off.total_seconds()) if off is not None and off.total_seconds().is_integer() else None

    def __call__(self, ts: float) -> str:
        if self._offset is None or not ts.is_integer() or not self._LO <= ts < self._HI:
            return iso(ts)
        day, sec = divmod(int(ts) + self._offset, 86400)
        parts = self._days.get(day)
        if parts is None:
            midnight = iso(float(day * 86400 - self._offset))
            date, suffix = midnight[:11], midnight[19:]  # "YYYY-MM-DDT", "+08:00"
            if midnight != f"{date}00:00:00{suffix}" or len(self._days) >= 100_000:
                return iso(ts)
            parts = self._days[day] = (date, suffix)
        h, rest = divmod(sec, 3600)
        m, s = divmod(rest, 60)
        return f"{parts[0]}{h:02d}:{m:02d}:{s:02d}{parts[1]}"


class IngestSettings(BaseModel):
    """The ``ingest:`` section of the configuration."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    dedup_horizon_hours: float = Field(72.0, gt=0, description="exact duplicates by (source, id) within this event-time horizon are dropped")
    dedup_max_ids: int = Field(500_000, ge=1000, description="bound on remembered ids per raw partition")
    max_text_chars: int = Field(20_000, ge=100, description="longer texts are dead-lettered (text_too_long)")
    max_record_bytes: int = Field(
        256 * 1024, ge=4096,
        description="larger raw records are dead-lettered (too_large) before they are parsed; must hold a text "
                    "of max_text_chars (3 bytes per Chinese character in UTF-8) and stay below kafka.max_request_size")
    max_future_minutes: float = Field(10.0, ge=0, description="event time later than the record's Kafka timestamp by more than this is dead-lettered")
    max_age_days: Optional[float] = Field(None, gt=0, description="if set, event time older than the record's Kafka timestamp by more than this is dead-lettered (off by default: replays of old data carry new timestamps)")
    min_event_time: str = Field("2000-01-01T00:00:00+08:00", description="absolute floor for event time")
    batch_size: int = Field(1000, ge=1)
    batch_within_s: float = Field(0.05, gt=0)

    @field_validator("min_event_time")
    @classmethod
    def _time(cls, v: str) -> str:
        parse_time(v)
        return v

    @model_validator(mode="after")
    def _record_holds_text(self) -> "IngestSettings":
        need = 3 * self.max_text_chars + 4096
        if self.max_record_bytes < need:
            raise ValueError(f"max_record_bytes ({self.max_record_bytes}) must hold a text of max_text_chars "
                             f"({self.max_text_chars} characters, 3 bytes each in UTF-8) and the other fields: at least {need}")
        return self


class Rejected(msgspec.Struct):
    reason: str
    detail: str


class Enricher(Protocol):  # implemented by warning.core.text.TextEnricher
    def enrich(self, text: str) -> Any: ...


def _classify_validation(msg: str) -> str:
    if msg.startswith("Object missing required field"):
        return "missing_field"
    if msg.startswith("Expected `object`, got") and " - at `" not in msg:
        return "not_object"
    if msg.startswith("Expected `") and ", got `" in msg:
        return "wrong_type"
    return "invalid_value"


#: (masked text, pii, sentiment, risk, anger, place names of the masked text)
TextFields = tuple[str, dict[str, int], Optional[float], Optional[Risk], Optional[float], list[str]]


def _fill_text(ev: Event, sig: TextFields) -> None:
    """Set an event's text fields from its text's signals (so that detection does no text work)."""
    ev.text, ev.pii, ev.sentiment_neg, ev.risk, ev.anger, ev.entities = sig


@dataclass
class IngestStats:
    """What parsing made of the records (before duplicates are dropped: the composition root,
    :class:`warning.core.pipeline.Pipeline`, counts accepted / duplicate / dead-lettered records)."""

    valid: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    unresolved: int = 0  # valid, but placed at district level or not at all

    @property
    def dead_lettered(self) -> int:
        return sum(self.rejected.values())


class Ingestor:
    """Turns raw bytes of one feed into canonical events. One per worker (or backtest run)."""

    def __init__(self, ingest: IngestSettings, registry: Registry, feeds: Mapping[str, Feed] | None = None,
                 enricher: Enricher | None = None) -> None:
        self.cfg = ingest
        self.registry = registry
        self.feeds = dict(feeds) if feeds is not None else default_feeds()
        self.enricher = enricher
        self.max_text = ingest.max_text_chars
        self.max_bytes = ingest.max_record_bytes
        self.max_future_s = ingest.max_future_minutes * 60.0
        self.max_age_s = ingest.max_age_days * 86400.0 if ingest.max_age_days else None
        self.floor_ts = parse_time(ingest.min_event_time).timestamp()
        self._decoders = {name: f.decoder() for name, f in self.feeds.items()}
        self._any = msgspec.json.Decoder()
        self._event_time = _EventTime()
        self.stats = IngestStats()

    # ------------------------------------------------------------------ public
    def parse(self, source: str, data: bytes, timestamp_ms: int | None = None) -> Event | Rejected:
        """Parse one raw record of ``source``; ``timestamp_ms`` is the Kafka record timestamp."""
        out = self.parse_batch([(source, data, timestamp_ms)])[0]
        assert out is not None  # (no keep: every record is parsed)
        return out

    def _validate(self, source: str, data: bytes, timestamp_ms: int | None,
                  prechecked: bool = False) -> tuple[Event | Rejected, str]:
        """Everything but the text signals: the event (text fields still empty) and its raw text."""
        try:
            out, text = self._parse(source, data, timestamp_ms, prechecked)
        except UnicodeDecodeError as e:  # msgspec raises it for bad UTF-8 inside strings
            out, text = Rejected("invalid_utf8", f"invalid UTF-8 at byte {e.start}"), ""
        except RecursionError:  # a backstop: precheck bounds the nesting well below the recursion limit
            out, text = Rejected("invalid_json", "arrays/objects nested too deep"), ""
        except Exception as e:  # never let one record stop the worker: dead-letter it, say why
            out, text = Rejected("processing_error", f"{type(e).__name__}: {e}"[:500]), ""
        if isinstance(out, Rejected):
            self.stats.rejected[out.reason] = self.stats.rejected.get(out.reason, 0) + 1
        else:
            self.stats.valid += 1
            if not out.street_code:
                self.stats.unresolved += 1
        return out, text

    def parse_file_line(self, line: bytes) -> tuple[str, Event | Rejected]:
        """A JSONL line from a file: the source is named by the record's ``source`` field."""
        return self.parse_file_lines([line])[0]

    def parse_file_lines(self, lines: list[bytes]) -> list[tuple[str, Event | Rejected]]:
        """Many JSONL lines at once (batch text enrichment); same results as line by line."""
        placed = self.place_file_lines(lines)
        self.enrich_events([(ev, text) for _, ev, text in placed if not isinstance(ev, Rejected)])
        return [(source, ev) for source, ev, _ in placed]

    def place_file_lines(self, lines: list[bytes]) -> list[tuple[str, Event | Rejected, str]]:
        """:meth:`parse_file_lines` without the text work: ``(source, event or rejection, raw
        text)``, the event's text fields still empty — :meth:`enrich_events` fills them (the
        backtest enriches only the records it keeps)."""
        out: list[tuple[str, Event | Rejected, str]] = []
        for line in lines:
            bad = self.precheck(line)
            if bad is not None:
                out.append(("unknown", self._count(bad), ""))
                continue
            try:
                obj = self._any.decode(line)
            except (msgspec.DecodeError, UnicodeDecodeError) as e:
                out.append(("unknown", self._count(self._decode_error(line, e)), ""))
                continue
            except RecursionError:
                out.append(("unknown", self._count(Rejected("invalid_json", "arrays/objects nested too deep")), ""))
                continue
            source = obj.get("source") if isinstance(obj, dict) else None
            if not isinstance(source, str) or source not in self.feeds:
                out.append(("unknown", self._count(Rejected("unknown_source", f"source must be one of {', '.join(self.feeds)}, got {source!r}")), ""))
                continue
            ev, text = self._validate(source, line, None, prechecked=True)
            out.append((source, ev, text))
        return out

    def enrich_events(self, pending: list[tuple[Event, str]]) -> None:
        """Fill the text fields (masked text, pii, sentiment, risk, anger, place names) of events
        from :meth:`place_file_lines` with their raw texts, in one batch."""
        if not pending:
            return
        for (ev, _), sig in zip(pending, self._text_signals([t for _, t in pending])):
            _fill_text(ev, sig)

    def _count(self, r: Rejected) -> Rejected:
        self.stats.rejected[r.reason] = self.stats.rejected.get(r.reason, 0) + 1
        return r

    def parse_batch(self, items: list[tuple[str, bytes, int | None]], prechecked: bool = False,
                    keep: Callable[[int, Event], bool] | None = None,
                    skip: Callable[[int], bool] | None = None) -> list[Event | Rejected | None]:
        """Parse many records; their texts are enriched in one batch (the fast path). ``prechecked``:
        :meth:`precheck` has passed them already (file lines). ``keep(i, event)``, if given, is asked
        in order for each valid record not skipped (below) before any text work; one it declines is
        ``None`` in the result, its text untouched (the stream keeps such records for later and
        parses them again when it hands them back). ``skip(i)``, if given, is asked first, before the record is even
        decoded: one it skips is ``None`` too (the stream skips the records of a partition it has
        just held back: a held partition's records can come back many times before it is read).

        >>> from warning.core.registry import Registry
        >>> ing = Ingestor(IngestSettings(), Registry.load("110000"))
        >>> rec = '{"id": "H1", "received_at": "2025-03-03T08:00:00+08:00", "street_code": "110105001", "type": "投诉", "category": "噪音", "content": "楼上噪音"}'.encode()
        >>> [type(o).__name__ for o in ing.parse_batch([("hotline", rec, None), ("hotline", b"not json", None)])]
        ['Event', 'Rejected']
        >>> [type(o).__name__ for o in ing.parse_batch([("hotline", rec, None), ("hotline", b"not json", None)],
        ...                                            skip=lambda i: i == 1)]
        ['Event', 'NoneType']
        """
        outs: list[Event | Rejected | None] = []
        texts: list[str] = []
        idx: list[int] = []
        for i, (source, data, ts_ms) in enumerate(items):
            if skip is not None and skip(i):
                outs.append(None)
                continue
            out, text = self._validate(source, data, ts_ms, prechecked)
            if not isinstance(out, Rejected):
                if keep is not None and not keep(i, out):
                    outs.append(None)
                    continue
                idx.append(len(outs))
                texts.append(text)
            outs.append(out)
        if texts:
            for i, sig in zip(idx, self._text_signals(texts)):
                ev = outs[i]
                assert isinstance(ev, Event)
                _fill_text(ev, sig)
        return outs

    def _text_signals(self, texts: list[str]) -> list[TextFields]:
        from warning.core.text.entity import entities

        out: list[TextFields] = []
        if self.enricher is None:
            from warning.core.text import mask_pii

            for t in texts:
                masked, pii = mask_pii(t) if t else ("", {})
                out.append((masked, {k: v for k, v in pii.items() if v}, None, None, None,
                            entities(masked) if masked else []))
            return out
        nonempty = [t for t in texts if t]
        sigs = iter(self.enricher.enrich_many(nonempty) if nonempty else [])
        for t in texts:
            if not t:
                out.append(("", {}, None, None, None, []))
                continue
            sig = next(sigs)
            r = sig.risk
            risk = Risk(hits=dict(r["hits"]), max_weight=float(r["max_weight"]), terms=list(r["terms"]),
                        negated=int(r.get("negated", 0)))
            out.append((sig.masked, {k: v for k, v in sig.pii.items() if v}, float(sig.sentiment_neg), risk,
                        float(sig.anger), entities(sig.masked) if sig.masked else []))
        return out

    # ------------------------------------------------------------------ steps
    def precheck(self, data: bytes) -> Rejected | None:
        """Screen a whole raw record before it is decoded: size (``too_large``), encoding
        (``invalid_utf8``: msgspec skips the fields a feed does not declare, keys included, without
        checking them) and nesting (``invalid_json``). None if it may be decoded.

        >>> from warning.core.registry import Registry
        >>> ing = Ingestor(IngestSettings(max_record_bytes=70_000, max_text_chars=20_000), Registry.load("110000"))
        >>> ing.precheck(b'{"id": "' + b'x' * 80_000 + b'"}')
        Rejected(reason='too_large', detail='record has 80010 bytes (max 70000: ingest.max_record_bytes)')
        >>> ing.precheck('{"内容": "好"}'.encode()) is None
        True
        """
        n = len(data)
        if n > self.max_bytes:
            return Rejected("too_large", f"record has {n} bytes (max {self.max_bytes}: ingest.max_record_bytes)")
        if not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as e:
                return Rejected("invalid_utf8", f"invalid UTF-8 at byte {e.start}")
        if nesting_exceeds(data):
            return Rejected("invalid_json", f"arrays/objects nested deeper than {MAX_NESTING} levels")
        return None

    @staticmethod
    def _decode_error(data: bytes, e: Exception) -> Rejected:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as ue:
            return Rejected("invalid_utf8", f"invalid UTF-8 at byte {ue.start}")
        return Rejected("invalid_json", str(e))

    def _parse(self, source: str, data: bytes, timestamp_ms: int | None,
               prechecked: bool = False) -> tuple[Event | Rejected, str]:
        dec = self._decoders.get(source)
        if dec is None:
            return Rejected("unknown_source", f"unknown source {source!r}"), ""
        bad = None if prechecked else self.precheck(data)
        if bad is not None:
            return bad, ""
        try:
            rec = dec.decode(data)
        except msgspec.ValidationError as e:
            msg = str(e)
            return Rejected(_classify_validation(msg), msg), ""
        except msgspec.DecodeError as e:
            return self._decode_error(data, e), ""

        feed = self.feeds[source]
        when = getattr(rec, feed.time_field)
        ts = when.timestamp()
        if ts < self.floor_ts:
            return Rejected("time_too_old", f"event time {when.isoformat()} is before {self.cfg.min_event_time}"), ""
        if timestamp_ms is not None and timestamp_ms > 0:
            ref = timestamp_ms / 1000.0
            if ts > ref + self.max_future_s:
                return Rejected("time_in_future", f"event time {when.isoformat()} is {(ts - ref) / 60:.0f} min after the record timestamp"), ""
            if self.max_age_s is not None and ts < ref - self.max_age_s:
                return Rejected("time_too_old", f"event time {when.isoformat()} is {(ref - ts) / 86400:.0f} days before the record timestamp"), ""

        # Free-text fields: bounded length.
        for name in feed.text_sized_fields:
            value = getattr(rec, name)
            if value is not None and len(value) > self.max_text:
                what = "address" if name == "address" else "text"
                return Rejected("text_too_long", f"{what} has {len(value)} characters (max {self.max_text})"), ""

        if rec.street_code and rec.street_code not in self.registry.streets:
            return Rejected("unknown_street", f"street_code {rec.street_code!r} is not a 街道/乡镇 of region {self.registry.region_code}"), ""
        res = self.registry.resolve(rec.street_code, rec.address, rec.district)

        parts = [getattr(rec, f) for f in feed.text_fields]
        text = "。".join(p for p in parts if p) if len(parts) > 1 else ((parts[0] or "") if parts else "")
        people = getattr(rec, feed.people_field) if feed.people_field else None
        severity = getattr(rec, feed.severity_field) if feed.severity_field else None
        st, dist = res.street, res.district
        return Event(
            event_id=f"{source}:{rec.id}",
            source=source,
            id=rec.id,
            ts=ts,
            event_time=self._event_time(ts),
            key=res.key,
            street_code=st.code if st else "",
            street_name=st.name if st else "",
            district_code=dist.code if dist else "",
            district=dist.name if dist else "",
            resolved_by=res.how,
            category=(getattr(rec, feed.category_field) or "") if feed.category_field else "",
            kind=(getattr(rec, feed.kind_field) or "") if feed.kind_field else "",
            people_count=people if people is not None else feed.people_default,
            severity=severity or 0,
            is_repeat=bool(getattr(rec, feed.repeat_field)) if feed.repeat_field else False,
            text="",  # filled with the masked text and its signals by parse_batch
            pii={},
        ), text
