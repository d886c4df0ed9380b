"""Generic JSON webhook: the body is the alert itself (DESIGN.md output contract), signed.

Request (one alert per request)::

    POST <url>
    Content-Type: application/json; charset=utf-8
    X-Warning-Timestamp: 1735689600                 (Unix seconds, decimal)
    X-Warning-Signature: 5f2c…                       (only when the receiver has a secret)
    Idempotency-Key: <alert_id>:<status>             (e.g. "a1b2c3:firing")

    {"alert_id": …, "status": "firing", "level": "orange", …}

Signature (64 lowercase hex characters)::

    X-Warning-Signature = hex( HMAC-SHA256( key = secret (UTF-8),
                                            msg = timestamp (ASCII) + "\\n" + raw request body ) )

Verify on the receiving side over the *raw* body bytes (before any JSON parsing), compare in
constant time and reject timestamps outside a tolerance (default 300 s) to stop replays — see
:func:`verify_signature`. A standalone snippet for receivers written in Python::

    import hashlib, hmac, time

    def verify(secret: str, timestamp: str, body: bytes, signature: str, tolerance_s: int = 300) -> bool:
        if abs(time.time() - int(timestamp)) > tolerance_s:
            return False
        mac = hmac.new(secret.encode(), timestamp.encode() + b"\\n" + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(mac, signature)

Delivery is at least once: the same alert may arrive more than once (a retry after a lost
response); deduplicate on ``Idempotency-Key``. A new timestamp and signature are computed for every
attempt, the body stays byte-identical.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Literal

from pydantic import Field

from warning.core.events import ALERT_ENCODER, Alert
from warning.notify.base import DeliveryResult, Notifier
from warning.notify.safety import Finding
from warning.notify.kinds.common import IDEMPOTENCY_HEADER, SignedReceiver, idempotency_key
from warning.notify.render import sanitize_alert

TIMESTAMP_HEADER = "X-Warning-Timestamp"
SIGNATURE_HEADER = "X-Warning-Signature"


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}\\n".encode() + body`` keyed with ``secret``.

    >>> sign("s3cret", 1735689600, b'{"a":1}')[:16]
    '9063f070238b7b3b'
    """
    msg = str(timestamp).encode("ascii") + b"\n" + body
    return hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).hexdigest()


def verify_signature(secret: str, timestamp: str | int, body: bytes, signature: str, tolerance_s: float = 300.0, *, now: float | None = None) -> bool:
    """True when ``signature`` is valid for ``body`` and ``timestamp`` is within ``tolerance_s`` of
    now. Accepts an optional ``sha256=`` prefix. Constant-time comparison.

    >>> sig = sign("k", 100, b"{}")
    >>> verify_signature("k", "100", b"{}", sig, now=150), verify_signature("k", "100", b"{} ", sig, now=150)
    (True, False)
    >>> verify_signature("k", "100", b"{}", sig, tolerance_s=10, now=150)
    False
    """
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        return False
    now = time.time() if now is None else now
    if abs(now - ts) > tolerance_s:
        return False
    sig = signature.strip()
    if sig.startswith("sha256="):
        sig = sig[len("sha256="):]
    expected = sign(secret, str(ts), body)
    return hmac.compare_digest(expected, sig.lower())


class GenericReceiver(SignedReceiver):
    """``kind: generic`` — the alert JSON, signed with ``secret_env`` / ``secret_file``. Without a
    secret the receiver is refused (:mod:`warning.notify.safety`) unless ``allow_unsigned: true``.

    >>> r = GenericReceiver(name="ops", kind="generic", url="https://ops.example/a")
    >>> [(f.key, f.code, f.allowed) for f in r.findings()]
    [('secret_env', 'unsigned', False)]
    >>> GenericReceiver(name="ops", kind="generic", url="https://ops.example/a", allow_unsigned=True).findings()[0].allowed
    True
    """

    kind: Literal["generic"]
    allow_unsigned: bool = Field(False, description="send without X-Warning-Signature (a warning, not an error)")

    def findings(self) -> list[Finding]:
        out = super().findings()
        if not self.has_secret:
            out.append(Finding(
                self.name, "secret_env", "unsigned", self.allow_unsigned,
                f"通用 webhook 接收端 {self.name!r} 未配置签名密钥，请求不带 X-Warning-Signature，接收方无法识别伪造的预警；"
                f"请设置 secret_env（环境变量名）或 secret_file，确需不签名时设置 allow_unsigned: true",
                f"generic receiver {self.name!r} has no signing secret: requests carry no X-Warning-Signature and the "
                f"receiving side cannot tell forged alerts; set secret_env or secret_file, or allow_unsigned: true"))
        return out


def request_for(alert: Alert, secret: str | None, now: float) -> tuple[bytes, dict[str, str]]:
    """Body and headers of the generic webhook request for ``alert`` at time ``now``: the body is
    the DESIGN.md alert JSON, field for field (``ALERT_ENCODER``)."""
    body = ALERT_ENCODER.encode(sanitize_alert(alert))
    ts = str(int(now))
    headers = {TIMESTAMP_HEADER: ts, IDEMPOTENCY_HEADER: idempotency_key(alert)}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, ts, body)
    return body, headers


class GenericNotifier(Notifier):
    """POST each alert as the DESIGN.md alert JSON, signed (see module doc)."""

    kind = "generic"
    max_batch = 1
    receiver: GenericReceiver

    async def notify(self, alerts: list[Alert]) -> DeliveryResult:
        result = DeliveryResult("ok")
        # One request per alert; max_batch=1 means the dispatcher sends one at a time. Given more,
        # send in order and stop at the first failure (the caller retries the whole list; the
        # receiver deduplicates the already-delivered ones by Idempotency-Key).
        for alert in alerts:
            body, headers = request_for(alert, self.receiver.secret_value, self.clock())
            result, _ = await self.post(self.receiver.target_url, body, headers)
            if not result.ok:
                return result
        return result
