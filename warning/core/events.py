"""The canonical event on ``warning.events``, the alert on ``warning.alerts``, dead letters.

Records of each feed are validated by the struct their feed descriptor makes
(:mod:`warning.core.feeds`); whatever the feed, ingest turns a record into one :class:`Event`.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

import msgspec


class Risk(msgspec.Struct, omit_defaults=False):
    hits: dict[str, int] = {}
    max_weight: float = 0.0
    terms: list[dict[str, Any]] = []
    negated: int = 0


class Event(msgspec.Struct, omit_defaults=False):
    """One canonical event, whatever feed it came from (the value on ``warning.events``).

    ``street_code`` is empty when the place resolved only to a district (``district_code`` set)
    or not at all; ``key`` is the partition key (street code, else district code, else
    ``"unresolved"``). ``ts`` is the event time in epoch seconds, ``event_time`` the same as ISO.
    ``source`` is the feed's name; ``category``, ``kind``, ``people_count``, ``severity`` and
    ``is_repeat`` are mapped from the record by its feed descriptor (e.g. ``kind`` is the hotline
    type 咨询/求助/…, the petition form, the 110 event type or the grid issue type). ``text`` is masked: no personal data leaves ingest.
    ``entities``: the specific place/organisation names of the masked text
    (:func:`warning.core.text.entity.entities`), found once at ingest so that detection — and a
    ``--from-events`` replay — does no text work; None on records written before it was added
    (the detector then finds them itself). Like the other text signals they are those of the code
    that ingested the event: to try a change of the name finder, replay the raw records.
    """

    event_id: str
    source: str
    id: str
    ts: float
    event_time: str
    key: str
    street_code: str
    street_name: str
    district_code: str
    district: str
    resolved_by: str
    category: str
    kind: str
    people_count: int
    severity: int
    is_repeat: bool
    text: str
    pii: dict[str, int]
    sentiment_neg: Optional[float] = None
    anger: Optional[float] = None  # anger/arousal in [0, 1] (warning.core.text.mood)
    risk: Optional[Risk] = None
    raw_partition: int = -1  # partition of the raw topic it came from (-1: a file)
    via: int = -1  # partition of the ingest rekey topic it was handed on through (-1: none)
    entities: Optional[list[str]] = None


def example_event(**fields: Any) -> Event:
    """An event of 建外街道 (朝阳区) at 2025-03-01 09:00 Beijing, for examples and tests; ``fields``
    override any field (``source`` also sets ``event_id``).

    >>> example_event(source="petition", people_count=6).event_id
    'petition:1'
    """
    base: dict[str, Any] = dict(
        event_id="", source="hotline", id="1", ts=1740790800.0, event_time="2025-03-01T09:00:00+08:00",
        key="110105001", street_code="110105001", street_name="建外街道", district_code="110105", district="朝阳区",
        resolved_by="street_code", category="", kind="", people_count=1, severity=0, is_repeat=False, text="", pii={})
    base.update(fields)
    if not base["event_id"]:
        base["event_id"] = f"{base['source']}:{base['id']}"
    return Event(**base)


class DeadLetter(msgspec.Struct, omit_defaults=True):
    """Why and where a record was rejected.

    On ``warning.deadletter`` the record's *value is the original bytes, unchanged* (and its key
    the original key), so nothing is lost and nothing grows past the broker's size limit; these
    fields travel as headers ``warning.<field>`` (the Kafka Connect dead-letter convention). In
    files (backtests) the same struct is written as JSON with ``original`` base64-encoded. The
    dead-letter topic may hold personal data: access it like the raw topics.
    """

    reason: str
    detail: str
    source: str
    topic: str
    partition: int
    offset: int
    timestamp_ms: Optional[int] = None
    dead_lettered_at: Optional[str] = None
    original: Optional[bytes] = None

    def headers(self) -> list[tuple[str, bytes]]:
        out = [
            ("warning.reason", self.reason.encode()),
            ("warning.detail", self.detail[:1000].encode("utf-8", "replace")),
            ("warning.source", self.source.encode()),
            ("warning.topic", self.topic.encode()),
            ("warning.partition", str(self.partition).encode()),
            ("warning.offset", str(self.offset).encode()),
        ]
        if self.timestamp_ms is not None:
            out.append(("warning.timestamp_ms", str(self.timestamp_ms).encode()))
        if self.dead_lettered_at:
            out.append(("warning.dead_lettered_at", self.dead_lettered_at.encode()))
        return out

    @classmethod
    def from_headers(cls, headers: list[tuple[str, bytes]], value: bytes | None) -> "DeadLetter":
        h = {k.removeprefix("warning."): v.decode("utf-8", "replace") for k, v in headers if k.startswith("warning.")}
        return cls(
            reason=h.get("reason", ""), detail=h.get("detail", ""), source=h.get("source", ""),
            topic=h.get("topic", ""), partition=int(h.get("partition", -1)), offset=int(h.get("offset", -1)),
            timestamp_ms=int(h["timestamp_ms"]) if "timestamp_ms" in h else None,
            dead_lettered_at=h.get("dead_lettered_at"), original=value,
        )


EVENT_ENCODER = msgspec.json.Encoder()
EVENT_DECODER = msgspec.json.Decoder(Event)
DEADLETTER_DECODER = msgspec.json.Decoder(DeadLetter)


class Alert(msgspec.Struct, omit_defaults=False):
    """One alert (DESIGN.md output contract): the value on ``warning.alerts`` and the body of the
    generic webhook. Made by :mod:`warning.core.decide`, carried unchanged to every notifier.

    >>> a = Alert(alert_id="a1", status="firing", level="orange", signal="risk_terms",
    ...           street_code="110105001", street_name="建外街道", district="朝阳区",
    ...           window_start="2025-03-01T09:00:00+08:00", window_end="2025-03-01T10:00:00+08:00",
    ...           starts_at="2025-03-01T09:12:00+08:00", observed=1.0, expected=0.0, score=0.6,
    ...           summary_zh="…")
    >>> ALERT_DECODER.decode(ALERT_ENCODER.encode(a)) == a
    True
    >>> list(msgspec.structs.asdict(a))[:4]
    ['alert_id', 'status', 'level', 'signal']
    >>> a["level"], "level" in a, "to_dict" in a, a.get("nope", "-")
    ('orange', True, False, '-')
    """

    alert_id: str
    status: Literal["firing", "resolved"]
    level: Literal["blue", "yellow", "orange", "red"]
    signal: str
    street_code: str
    street_name: str
    district: str
    window_start: str
    window_end: str
    starts_at: str
    ends_at: Optional[str] = None
    observed: float = 0.0
    expected: float = 0.0
    score: float = 0.0
    summary_zh: str = ""
    evidence: dict[str, Any] = {}
    sample_texts: list[str] = []

    def to_dict(self) -> dict[str, Any]:
        """The contract's JSON object as a dict (for code that needs a mapping)."""
        return msgspec.structs.asdict(self)

    def __getitem__(self, name: str) -> Any:
        """Read access by contract key (``alert["level"]``), as for the JSON object."""
        if name not in self.__struct_fields__:
            raise KeyError(name)
        return getattr(self, name)

    def __contains__(self, name: object) -> bool:
        return name in self.__struct_fields__

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self, name) if name in self.__struct_fields__ else default

    def keys(self) -> tuple[str, ...]:
        return self.__struct_fields__


ALERT_ENCODER = msgspec.json.Encoder()
ALERT_DECODER = msgspec.json.Decoder(Alert)
