"""Feeds as data: one descriptor per source of events.

A feed descriptor says everything the pipeline needs to know about one input feed: its record
schema (fields, types, ranges, enums — validated by msgspec in the hot path), its event-time
field, its text fields, how its fields map onto the canonical :class:`~warning.core.events.Event`
(category, kind, people, severity, repeat), its Chinese names, its raw topic and which detectors
apply to it. The four built-in feeds (12345 hotline, petitions, 110/public safety, grid-member
reports) are descriptors in ``warning/data/feeds.yaml``; a city adds a feed with one entry under
``feeds:`` in its configuration, no code.

Every record has the common fields ``id`` (1–200 characters), ``street_code``, ``district`` and
``address``; a descriptor lists the others.

>>> feeds = default_feeds()
>>> list(feeds)
['hotline', 'petition', 'public_safety', 'grid']
>>> g = feeds["grid"]
>>> g.topic, g.time_field, g.name_zh
('warning.raw.grid', 'reported_at', '网格员上报')
>>> rec = g.decoder().decode('{"id": "w1", "reported_at": "2025-03-01T09:00:00+08:00", '
...     '"issue_type": "矛盾纠纷", "content": "两户因漏水争执", "urgency": 2}'.encode())
>>> rec.issue_type, rec.urgency, rec.people_count
('矛盾纠纷', 2, None)
>>> g.decoder().decode(b'{"id": "w2", "reported_at": "2025-03-01T09:00:00+08:00", '
...     b'"issue_type": "x", "content": "y", "urgency": 9}')
Traceback (most recent call last):
...
msgspec.ValidationError: Expected `int` <= 3 - at `$.urgency`
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from importlib import resources
from typing import Annotated, Any, Literal, Mapping, Optional

import msgspec
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

Time = Annotated[datetime, msgspec.Meta(tz=True)]
_COMMON: dict[str, Any] = {
    "id": Annotated[str, msgspec.Meta(min_length=1, max_length=200)],
    "street_code": Optional[Annotated[str, msgspec.Meta(max_length=64)]],
    "district": Optional[Annotated[str, msgspec.Meta(max_length=500)]],
    "address": Optional[str],
}

#: detectors a feed can opt into (see warning.models.registry)
FEED_SIGNALS = ("volume", "theme", "text", "buildup", "group_petition", "crowd")


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_M):
    """One field of a feed's records."""

    type: Literal["str", "text", "int", "bool", "time", "object"]
    required: bool = False
    enum: Optional[list[str]] = None
    ge: Optional[int] = None
    le: Optional[int] = None
    max_length: Optional[int] = Field(None, ge=1)
    fields: Optional[dict[str, "FieldSpec"]] = None  # for "object": its (optional) subfields

    def annotation(self, name: str, feed: str) -> Any:
        t = self.type
        if t == "time":
            ann: Any = Time
        elif t == "int":
            meta = {k: v for k, v in (("ge", self.ge), ("le", self.le)) if v is not None}
            ann = Annotated[int, msgspec.Meta(**meta)] if meta else int
        elif t == "bool":
            ann = bool
        elif t == "object":
            sub = self.fields or {}
            ann = msgspec.defstruct(f"{feed}_{name}", [(k, Optional[s.annotation(k, feed)], None) for k, s in sub.items()],
                                    forbid_unknown_fields=False) if sub else dict[str, Any]
        elif self.enum:
            ann = Literal[tuple(self.enum)]  # type: ignore[valid-type]
        else:
            ann = Annotated[str, msgspec.Meta(max_length=self.max_length)] if self.max_length else str
        return ann if self.required else Optional[ann]


class Feed(_M):
    """Descriptor of one feed. ``name`` is its source name (the key under ``feeds:``)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    name_zh: str = Field(description="Chinese name, e.g. 12345热线")
    noun_zh: str = Field(description="what one record is, in evidence texts, e.g. 12345热线诉求")
    short_zh: str = Field(description="short name, e.g. 热线")
    group_zh: str = Field("", description="name in the multi-source rule (default: name_zh)")
    topic: str = Field("", description="raw topic (default warning.raw.<name>)")
    time_field: str
    fields: dict[str, FieldSpec]
    text_fields: list[str] = Field(default_factory=list, description="joined with 。 into the event's text")
    category_field: Optional[str] = None
    kind_field: Optional[str] = None
    people_field: Optional[str] = None
    people_default: int = Field(1, ge=0, description="people_count when the record has none")
    severity_field: Optional[str] = None
    repeat_field: Optional[str] = None
    theme: Literal["category", "kind", "none"] = Field("category", description="which field makes the theme key")
    group: str = Field("", description="feed group in the multi-source rule (default: name)")
    volume_signal: str = Field("", description="signal name of its volume scan (default <name>_volume)")
    theme_signal: str = Field("", description="signal name of its theme scan (default: the volume signal)")
    signals: list[Literal["volume", "theme", "text", "buildup", "group_petition", "crowd"]] = Field(
        default_factory=lambda: ["volume", "theme", "text", "buildup"],
        description="detectors that apply: volume and theme scans, text signals (risk terms, mood), "
                    "build-up (long windows report as slow_buildup), group petition and crowd rules")
    id_prefix: str = Field("", description="prefix of simulated record ids")
    key: str = Field(pattern=r"^[A-JLMO-QS-Z]$", description="state/evidence key of its volume (one capital; K, N and R are taken)")
    theme_prefix: str = Field("", pattern=r"^([A-JLMO-QS-Z])?$", description="prefix of its theme keys; feeds with the same prefix share one theme mix")
    initial_rate: float = Field(1.0, gt=0, description="records per street-hour assumed before anything is learned")
    theme_noun_zh: str = Field("", description="what a record of one theme is, in evidence: 「供暖」类诉求 (default noun_zh)")

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("name"):
            data = dict(data)
            n = data["name"]
            if not data.get("topic"):
                data["topic"] = f"warning.raw.{n}"
            if not data.get("group"):
                data["group"] = n
            if not data.get("group_zh"):
                data["group_zh"] = data.get("name_zh", n)
            if not data.get("volume_signal"):
                data["volume_signal"] = f"{n}_volume"
            if not data.get("theme_signal"):
                data["theme_signal"] = data["volume_signal"]
            if not data.get("theme_noun_zh"):
                data["theme_noun_zh"] = data.get("noun_zh", "")
            if "theme" not in data:  # a feed with nothing to group its records by has no theme
                data["theme"] = "category" if data.get("category_field") else "kind" if data.get("kind_field") else "none"
        return data

    @model_validator(mode="after")
    def _fields_exist(self) -> "Feed":
        names = set(self.fields) | set(_COMMON)
        for attr in ("time_field", "category_field", "kind_field", "people_field", "severity_field", "repeat_field"):
            v = getattr(self, attr)
            if v is not None and v not in names:
                raise ValueError(f"{attr}: {v!r} is not a field of the feed")
        for f in self.text_fields:
            if f not in names:
                raise ValueError(f"text_fields: {f!r} is not a field of the feed")
        types = {k: s.type for k, s in self.fields.items()} | {"street_code": "str", "district": "str", "address": "text"}
        want = {"people_field": ("int",), "severity_field": ("int",), "repeat_field": ("bool",),
                "category_field": ("str", "text"), "kind_field": ("str", "text")}
        for attr, ok in want.items():
            v = getattr(self, attr)
            if v is not None and types.get(v) not in ok:
                raise ValueError(f"{attr}: {v!r} is a field of type {types.get(v)}, expected {' or '.join(ok)}")
        for f in self.text_fields:
            if types.get(f) not in ("str", "text"):
                raise ValueError(f"text_fields: {f!r} is a field of type {types.get(f)}, expected str or text")
        if self.theme != "none" and self.has("theme"):
            field = self.category_field if self.theme == "category" else self.kind_field
            if field is None:
                raise ValueError(f"theme: {self.theme} needs {self.theme}_field")
        if self.fields.get(self.time_field, FieldSpec(type="str")).type != "time":
            raise ValueError(f"time_field: {self.time_field!r} must be a field of type time")
        for k in self.fields:
            if k in _COMMON:
                raise ValueError(f"fields.{k}: common field, declared for every feed")
        return self

    @cached_property
    def record_type(self) -> type[msgspec.Struct]:
        """The msgspec struct of this feed's records (unknown extra fields are accepted)."""
        required = [(k, s.annotation(k, self.name)) for k, s in self.fields.items() if s.required]
        optional = [(k, s.annotation(k, self.name), None) for k, s in self.fields.items() if not s.required]
        common_req = [("id", _COMMON["id"])]
        common_opt = [(k, v, None) for k, v in _COMMON.items() if k != "id"]
        return msgspec.defstruct(f"{self.name}_record", [*common_req, *required, *common_opt, *optional],
                                 forbid_unknown_fields=False, kw_only=True)

    def decoder(self) -> msgspec.json.Decoder:
        return msgspec.json.Decoder(self.record_type)

    @cached_property
    def text_sized_fields(self) -> tuple[str, ...]:
        """Fields whose length is bounded by ``ingest.max_text_chars`` (free text)."""
        return tuple(["address", *(k for k, s in self.fields.items() if s.type == "text")])

    def has(self, signal: str) -> bool:
        return signal in self.signals


def _data_text(name: str) -> str:
    return resources.files("warning.data").joinpath(name).read_text(encoding="utf-8")


def load_feeds(raw: Mapping[str, Any]) -> dict[str, Feed]:
    """Descriptors from a ``{name: {...}}`` mapping (the name is taken from the key)."""
    return {name: Feed.model_validate({**(spec or {}), "name": name}) for name, spec in raw.items()}


def default_feeds() -> dict[str, Feed]:
    """The built-in feeds (``warning/data/feeds.yaml``): hotline, petition, public_safety, grid."""
    return load_feeds(yaml.safe_load(_data_text("feeds.yaml")))


FeedSet = Mapping[str, Feed]
