"""Input contract (DESIGN.md) as msgspec structs, and the canonical event on ``warning.events``.

msgspec validates in the hot path: types are strict (``true`` is not an int, ``"3"`` is not a
severity), times must carry an offset, unknown extra fields are accepted and ignored.

>>> rec = msgspec.json.decode(b'{"id":"1","occurred_at":"2025-01-01T08:00:00+08:00",'
...     b'"event_type":"\\u6597\\u6bb4","severity":3}', type=PublicSafetyRecord)
>>> rec.severity, rec.people_count
(3, None)
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Optional

import msgspec

Source = Literal["hotline", "petition", "public_safety"]
SOURCES: tuple[str, ...] = ("hotline", "petition", "public_safety")

Time = Annotated[datetime, msgspec.Meta(tz=True)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Code = Annotated[str, msgspec.Meta(max_length=64)]
Short = Annotated[str, msgspec.Meta(max_length=500)]
Text = str  # length is checked against config (ingest.max_text_chars), not statically


class Caller(msgspec.Struct, forbid_unknown_fields=False):
    name: Optional[str] = None
    phone: Optional[str] = None


class Petitioner(msgspec.Struct, forbid_unknown_fields=False):
    name: Optional[str] = None
    id_number: Optional[str] = None
    phone: Optional[str] = None


class HotlineRecord(msgspec.Struct, forbid_unknown_fields=False):
    id: Id
    received_at: Time
    type: Literal["咨询", "求助", "投诉", "举报", "建议"]
    category: Short
    content: Text
    street_code: Optional[Code] = None
    district: Optional[Short] = None
    address: Optional[Text] = None
    title: Optional[Text] = None
    caller: Optional[Caller] = None


class PetitionRecord(msgspec.Struct, forbid_unknown_fields=False):
    id: Id
    received_at: Time
    form: Literal["来信", "来访", "网上", "电话"]
    people_count: Annotated[int, msgspec.Meta(ge=1, le=100_000)]
    category: Short
    content: Text
    street_code: Optional[Code] = None
    district: Optional[Short] = None
    address: Optional[Text] = None
    is_repeat: Optional[bool] = None
    petitioner: Optional[Petitioner] = None


class PublicSafetyRecord(msgspec.Struct, forbid_unknown_fields=False):
    id: Id
    occurred_at: Time
    event_type: Short
    severity: Annotated[int, msgspec.Meta(ge=1, le=4)]
    street_code: Optional[Code] = None
    district: Optional[Short] = None
    address: Optional[Text] = None
    people_count: Optional[Annotated[int, msgspec.Meta(ge=0, le=100_000)]] = None
    description: Optional[Text] = None


RECORD_TYPES: dict[str, type[msgspec.Struct]] = {
    "hotline": HotlineRecord,
    "petition": PetitionRecord,
    "public_safety": PublicSafetyRecord,
}


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
    ``kind`` is the hotline type (咨询/求助/投诉/举报/建议), the petition form or the public-safety
    event type. ``text`` is masked: no personal data leaves ingest.
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
    risk: Optional[Risk] = None
    raw_partition: int = -1  # partition of the raw topic it came from (-1: a file)


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
