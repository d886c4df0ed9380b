"""What several receiver kinds share: signing-secret keys, robot keys (mentions, errcodes, size
cap, 20/min), the robots' errcode classification, the ``Idempotency-Key`` and the mention rule.

The kinds import this module and :mod:`warning.notify.base`, never each other.

>>> from warning.core.events import Alert
>>> a = Alert(alert_id="a1", status="firing", level="orange", signal="risk_terms", street_code="110105001",
...           street_name="建外街道", district="朝阳区", window_start="", window_end="", starts_at="")
>>> idempotency_key(a), mention_wanted([a], "red"), mention_wanted([a], "yellow")
('a1:firing', False, True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

import orjson
from pydantic import Field, PrivateAttr, SecretStr, ValidationInfo, field_validator, model_validator

from warning.core.events import Alert
from warning.core.signals import level_rank
from warning.notify.base import DeliveryResult, Notifier, ReceiverBase, Status, dumps, env_of, read_env, read_secret_file
from warning.notify.render import normalize_level

IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_ROBOT_RATE = 20  # messages per minute, the WeCom / DingTalk robot limit
RATE_LIMIT_ERRCODES = frozenset({45009, 130101, 410100})  # robots' "too many messages" errcodes


def idempotency_key(alert: Alert) -> str:
    """``<alert_id>:<status>``: receivers deduplicate redeliveries on it."""
    return f"{alert.alert_id}:{alert.status}"


def mention_wanted(alerts: Sequence[Alert], min_level: str) -> bool:
    """Mention people only for a firing alert at or above ``min_level``."""
    floor = level_rank(min_level)
    return any(a.status != "resolved" and level_rank(a.level) >= floor for a in alerts)


class SignedReceiver(ReceiverBase):
    """Keys of kinds that sign their requests. The secret comes only from ``secret_env`` or
    ``secret_file`` (an inline ``secret`` is rejected; presence is checked by the base class)."""

    secret: Any = Field(None, exclude=True, description="not allowed: use secret_env or secret_file")
    secret_env: str | None = Field(None, description="environment variable holding the signing secret")
    secret_file: Path | None = Field(None, description="file holding the signing secret")

    _secret: SecretStr | None = PrivateAttr(None)

    @field_validator("secret")
    @classmethod
    def _no_inline_secret(cls, v: Any) -> Any:
        if v is not None:
            raise ValueError("inline secrets are not allowed: use secret_env (environment variable name) or secret_file (path)")
        return v

    @model_validator(mode="after")
    def _resolve_secret(self, info: ValidationInfo) -> "SignedReceiver":
        if self.secret_env is not None and self.secret_file is not None:
            raise ValueError("give at most one of secret_env, secret_file")
        if self.secret_env is not None:
            self._secret = SecretStr(read_env(env_of(info), self.secret_env, "signing secret"))
        elif self.secret_file is not None:
            self._secret = SecretStr(read_secret_file(self.secret_file, "secret"))
        return self

    @property
    def secret_value(self) -> str | None:
        return self._secret.get_secret_value() if self._secret is not None else None


class RobotReceiver(ReceiverBase):
    """Keys of the group robots (WeCom, DingTalk): mentions, extra transient errcodes, size cap;
    20 messages a minute unless ``rate_limit_per_minute`` says otherwise."""

    default_rate_limit: ClassVar[int | None] = DEFAULT_ROBOT_RATE
    url_is_credential: ClassVar[bool] = True  # the key / access_token is in the URL

    mentions: list[str] = Field(default_factory=list, description="WeCom userids / DingTalk mobiles or userids")
    mention_min_level: str = Field("blue", description="mention people only at this level or above")
    link_template: str | None = Field(None, description="detail link, str.format over alert fields, e.g. https://ops/streets/{street_code}")
    transient_errcodes: list[int] = Field(default_factory=list, description="extra errcodes to retry")
    max_bytes: int | None = Field(None, ge=256, description="message size cap (default 4096 WeCom, 20000 DingTalk)")

    @field_validator("mention_min_level")
    @classmethod
    def _level(cls, v: str) -> str:
        return normalize_level(v)

    @field_validator("mentions", mode="before")
    @classmethod
    def _mentions(cls, v: Any) -> Any:
        if isinstance(v, (str, int)):
            v = [v]
        if not isinstance(v, list):
            return v
        out = []
        for m in v:  # YAML gives unquoted mobiles as ints
            if isinstance(m, bool) or not isinstance(m, (str, int)):
                raise ValueError(f"invalid mention {m!r}")
            m = str(m).strip().lstrip("@")
            if not m or any(c in m for c in "<>\n\r "):
                raise ValueError(f"invalid mention {m!r}")
            out.append(m)
        return out


class RobotNotifier(Notifier):
    """A group robot: one markdown message per call (a digest when given several alerts), and an
    HTTP 200 answer refined by its JSON ``errcode``."""

    transient_errcodes: ClassVar[frozenset[int]] = frozenset()
    #: ``message_for(alerts, receiver)``: the JSON message (a staticmethod of each kind)
    message_for: ClassVar[Callable[[list[Alert], Any], dict[str, Any]]]
    receiver: RobotReceiver

    def url(self) -> str:
        """Where to post (DingTalk signs it per attempt)."""
        return self.receiver.target_url

    async def notify(self, alerts: list[Alert]) -> DeliveryResult:
        res, text = await self.post(self.url(), dumps(self.message_for(alerts, self.receiver)))
        # a robot's errmsg may quote the URL (so the key): redacted here too, not only in the dispatcher
        return robot_result(res, text, self.transient_errcodes | frozenset(self.receiver.transient_errcodes)).redacted(self.receiver.redact)


def robot_result(res: DeliveryResult, text: str, transient_codes: frozenset[int]) -> DeliveryResult:
    """Refine a 2xx robot response by its JSON ``errcode`` (WeCom and DingTalk answer HTTP 200 with
    ``{"errcode": …, "errmsg": …}``)."""
    if res.status != "ok":
        return res
    try:
        data = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or "errcode" not in data:
        return DeliveryResult("retry", http_status=res.http_status, body=res.body, error="robot answered without a JSON errcode")
    try:
        code = int(data.get("errcode"))
    except (TypeError, ValueError):
        return DeliveryResult("retry", http_status=res.http_status, body=res.body, error="robot answered a non-numeric errcode")
    if code == 0:
        return DeliveryResult("ok", http_status=res.http_status, body=res.body, errcode=0)
    msg = str(data.get("errmsg", ""))[:200]
    status: Status = "retry" if code in transient_codes else "permanent"
    # "Too fast" answers: someone else shares the robot, or our clock and theirs disagree; wait a
    # whole window before the next attempt.
    retry_after = 60.0 if code in RATE_LIMIT_ERRCODES else None
    return DeliveryResult(status, http_status=res.http_status, body=res.body, errcode=code, error=f"errcode {code}: {msg}", retry_after=retry_after)
