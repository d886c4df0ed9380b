"""Signed records from configured sources: HMAC-SHA256 over a canonical encoding, a time window.

A topic that changes what the pipeline does (``warning.feedback`` trains the sentiment model,
``warning.alerts.feedback`` marks and silences alerts) must not obey whoever can write to it. Each
trusted writer is a *source* with an id and a secret shared with the workers; a record names its
source in ``by``, its signing time in ``at`` (ISO 8601 with offset) and carries ``sig``::

    sig = hex( HMAC-SHA256( key = secret (UTF-8),
                            msg = purpose + "\\n" + canonical(record without "sig") ) )

``canonical`` is JSON with sorted keys, no whitespace, UTF-8 (non-ASCII not escaped) — in Python
``json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``; every field except
``sig`` is signed, so a note or a label cannot be changed without the key. ``purpose`` names the
contract (:data:`PURPOSE_SENTIMENT_LABEL`, :data:`PURPOSE_ALERT_FEEDBACK`), so a record signed for
one topic is never valid on another even when one key signs both.

:func:`verify` takes the record, the sources config (:class:`SignedSources`) and the time now,
and says ``ok`` or why not: ``unsigned`` (no ``by`` or no ``sig``), ``unknown_source``,
``bad_signature``, ``bad_time`` (``at`` missing or not a time with offset), ``stale`` (older
than ``max_age_s``) or ``future`` (more than ``max_future_s`` ahead). The signature is checked
before the time, so nothing unauthenticated decides the reason beyond "not signed right".
:class:`ReplayGuard` remembers the digests of verified records for the window (a record older
than the window is ``stale`` anyway), so a replayed copy is seen once.

Secrets come from ``secret`` (a :class:`~pydantic.SecretStr`, e.g. set by the environment
variable ``WARNING_FEEDBACK__SOURCES__<ID>__SECRET``), ``secret_env`` (the name of an environment
variable) or ``secret_file``; exactly one. They are never dumped or printed.

Examples
--------

>>> cfg = SignedSources.model_validate({"sources": {"dashboard": {"secret": "s3cret-0123456789abcdef"}}})
>>> now = 1_780_000_000.0
>>> rec = sign_record({"text": "物业不作为", "label": "negative", "by": "dashboard"},
...                   cfg.secret_of("dashboard"), now, PURPOSE_SENTIMENT_LABEL)
>>> sorted(rec), len(rec["sig"])
(['at', 'by', 'label', 'sig', 'text'], 64)
>>> verify(rec, cfg, now + 5).reason
'ok'
>>> verify({**rec, "label": "positive"}, cfg, now).reason
'bad_signature'
>>> verify({**rec, "sig": "签名"}, cfg, now).reason
'bad_signature'
>>> verify({**rec, "by": "nobody"}, cfg, now).reason
'unknown_source'
>>> verify({k: v for k, v in rec.items() if k != "sig"}, cfg, now).reason
'unsigned'
>>> verify(rec, cfg, now + 2 * 3600).reason
'stale'
>>> verify(rec, cfg, now, purpose=PURPOSE_ALERT_FEEDBACK).reason
'bad_signature'
>>> guard = ReplayGuard()
>>> v = verify(rec, cfg, now)
>>> guard.seen(v, now), guard.seen(v, now)
(False, True)
>>> cfg.model_dump(mode="json")["sources"]
{'dashboard': {'secret': '**********', 'secret_env': None, 'secret_file': None}}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationInfo, model_validator

PURPOSE_SENTIMENT_LABEL = "warning.feedback/v1"
PURPOSE_ALERT_FEEDBACK = "warning.alerts.feedback/v1"

#: the reasons :func:`verify` gives (besides ``ok``); metric labels stay bounded
REASONS = ("unsigned", "unknown_source", "bad_signature", "bad_time", "stale", "future")
MIN_SECRET_CHARS = 16


class SourceKey(BaseModel):
    """One trusted writer's key: exactly one of ``secret``, ``secret_env``, ``secret_file``."""

    model_config = ConfigDict(extra="forbid")

    secret: SecretStr | None = Field(None, description="the shared secret (prefer secret_env / secret_file)")
    secret_env: str | None = Field(None, description="environment variable holding the secret")
    secret_file: Path | None = Field(None, description="file holding the secret")

    _key: SecretStr = PrivateAttr(SecretStr(""))

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> "SourceKey":
        given = [n for n in ("secret", "secret_env", "secret_file") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of secret, secret_env, secret_file")
        if self.secret is not None:
            value = self.secret.get_secret_value().strip()
        elif self.secret_env is not None:
            ctx = info.context if isinstance(info.context, Mapping) else {}
            value = (ctx.get("env", os.environ).get(self.secret_env) or "").strip()
            if not value:
                raise ValueError(f"environment variable {self.secret_env} (the source's secret) is not set")
        else:
            try:
                value = Path(self.secret_file).read_text(encoding="utf-8").strip()  # type: ignore[arg-type]
            except OSError as e:
                raise ValueError(f"cannot read secret file {str(self.secret_file)!r}: {e.strerror or e}") from None
        if len(value) < MIN_SECRET_CHARS:
            raise ValueError(f"the secret must have at least {MIN_SECRET_CHARS} characters (e.g. `openssl rand -hex 32`)")
        self._key = SecretStr(value)
        return self

    def key(self) -> bytes:
        return self._key.get_secret_value().encode("utf-8")


class SignedSources(BaseModel):
    """Who may write a signed topic, and how fresh a record must be."""

    model_config = ConfigDict(extra="forbid")

    sources: dict[str, SourceKey] = Field(default_factory=dict, description="source id (the records' `by`) → its key")
    max_age_s: float = Field(3600.0, gt=0, le=7 * 86400, description="reject records signed longer ago than this (replay window)")
    max_future_s: float = Field(300.0, ge=0, le=86400, description="tolerated clock skew: reject records signed further ahead")

    def secret_of(self, source: str) -> bytes:
        """The key of ``source`` (KeyError if not configured)."""
        return self.sources[source].key()


class Verdict(NamedTuple):
    """What :func:`verify` found: ``reason`` is ``ok`` or one of :data:`REASONS`; ``digest``
    (SHA-256 of the signature, hex) and ``at`` (epoch seconds) are set once the signature holds."""

    reason: str
    digest: str | None = None
    at: float | None = None

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


def canonical(record: Mapping[str, Any]) -> bytes:
    """The signed bytes of a record: every field but ``sig``, JSON with sorted keys, compact.

    >>> canonical({"sig": "x", "b": 1, "a": "街道"})
    b'{"a":"\\xe8\\xa1\\x97\\xe9\\x81\\x93","b":1}'
    """
    body = {k: v for k, v in record.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def signature(record: Mapping[str, Any], key: bytes, purpose: str) -> str:
    """``hex(HMAC-SHA256(key, purpose + "\\n" + canonical(record)))``."""
    return hmac.new(key, purpose.encode("utf-8") + b"\n" + canonical(record), hashlib.sha256).hexdigest()


def iso_time(epoch_s: float) -> str:
    """``1780000000`` → ``'2026-05-28T20:26:40+00:00'`` (seconds, UTC, with offset)."""
    return datetime.fromtimestamp(int(epoch_s), tz=timezone.utc).isoformat()


def sign_record(record: Mapping[str, Any], key: bytes, now: float, purpose: str,
                source_field: str = "by") -> dict[str, Any]:
    """``record`` with ``at`` (now, unless given) and ``sig`` set; the source must already be in it
    (in ``by``, or in ``source_field`` for contracts where ``by`` names a person)."""
    if not isinstance(record.get(source_field), str) or not record[source_field]:
        raise ValueError(f"the record must name its source in {source_field!r}")
    out = {k: v for k, v in record.items() if k != "sig"}
    out.setdefault("at", iso_time(now))
    out["sig"] = signature(out, key, purpose)
    return out


def parse_time(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 time with offset, else None (a naive time is ambiguous).

    >>> parse_time("2026-05-29T04:26:40+08:00"), parse_time("2026-05-29T04:26:40"), parse_time(5)
    (1780000000.0, None, None)
    """
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t.timestamp() if t.tzinfo is not None else None


def verify(record: Mapping[str, Any], sources: SignedSources, now: float | None,
           purpose: str = PURPOSE_SENTIMENT_LABEL, source_field: str = "by") -> Verdict:
    """Whether ``record`` is signed by a configured source within the time window (see module doc).

    ``source_field`` is the field naming the source (``by`` for sentiment labels; alert feedback
    names the person in ``by`` and the signing source in ``source``). ``now=None`` checks the
    signature and ``at`` only, not freshness (for history: the verdict must not depend on when a
    topic is read)."""
    by, sig = record.get(source_field), record.get("sig")
    if not isinstance(by, str) or not by or not isinstance(sig, str) or not sig:
        return Verdict("unsigned")
    src = sources.sources.get(by)
    if src is None:
        return Verdict("unknown_source")
    try:
        expected = signature(record, src.key(), purpose)
    except (TypeError, ValueError):  # not JSON-encodable (NaN, …): cannot have been signed
        return Verdict("bad_signature")
    if not hmac.compare_digest(expected.encode("ascii"), sig.strip().lower().encode("utf-8", "replace")):
        return Verdict("bad_signature")
    digest = hashlib.sha256(expected.encode("ascii")).hexdigest()
    at = parse_time(record.get("at"))
    if at is None:
        return Verdict("bad_time", digest)
    if now is None:
        return Verdict("ok", digest, at)
    if at < now - sources.max_age_s:
        return Verdict("stale", digest, at)
    if at > now + sources.max_future_s:
        return Verdict("future", digest, at)
    return Verdict("ok", digest, at)


class ReplayGuard:
    """Digests of verified records seen within the window; bounded (oldest forgotten first).

    A digest is kept until its record's ``at`` leaves the window (then the copy is ``stale``)
    or ``max_entries`` newer ones push it out.
    """

    def __init__(self, max_age_s: float = 3600.0, max_future_s: float = 300.0, max_entries: int = 100_000) -> None:
        self.max_age_s, self.max_future_s, self.max_entries = max_age_s, max_future_s, max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()

    def seen(self, verdict: Verdict, now: float) -> bool:
        """True if this verified record was seen before; otherwise remember it and return False."""
        if verdict.digest is None:
            raise ValueError("only verified records are remembered")
        self._expire(now)
        if verdict.digest in self._seen:
            return True
        self._seen[verdict.digest] = verdict.at if verdict.at is not None else now
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        return False

    def _expire(self, now: float) -> None:
        # insertion order is close to `at` order; stop at the first one still in the window
        limit = now - self.max_age_s - self.max_future_s
        while self._seen:
            digest, at = next(iter(self._seen.items()))
            if at >= limit:
                break
            del self._seen[digest]

    def __len__(self) -> int:
        return len(self._seen)

    def to_state(self) -> list[list[Any]]:
        return [[d, at] for d, at in self._seen.items()]

    def load_state(self, state: Any) -> None:
        self._seen = OrderedDict((str(d), float(at)) for d, at in (state or []))
