"""The notifier interface, the fields every receiver has, and the shared HTTP delivery step.

Like Alertmanager's ``notify/`` package: one notifier per receiver kind behind one interface; the
notifier only turns alerts into one HTTP request and classifies the response. The kinds live in
:mod:`warning.notify.kinds` (one module each, with its own configuration class) and are registered
in :mod:`warning.notify.wiring`; this module imports none of them. Routing (:mod:`.router`), rate
limiting/digests (:mod:`.ratelimit`) and retries (:mod:`.dispatch`) live elsewhere.

Classification of a response (:class:`DeliveryResult`):

* ``ok`` — HTTP 2xx (and, for the robots, JSON ``errcode == 0``);
* ``retry`` — transient: connection error, timeout, HTTP 5xx, 408, 425, 429, or a robot errcode
  known to mean "busy / too fast";
* ``permanent`` — any other answer (other 4xx, 3xx, robot errcodes such as a bad signature): retrying
  the same request cannot help; the dispatcher reports it so the alert can be dead-lettered together
  with the HTTP status and the (truncated) response body.

Secrets (HMAC keys, and robot URLs which embed their access token) are read from environment
variables or files (an inline ``url:`` carrying a token is refused unless ``allow_inline_secret``),
held as :class:`pydantic.SecretStr`, and never appear in ``repr``, logs, errors or ``model_dump``
(URLs are shown redacted, :mod:`.redact`). :meth:`ReceiverBase.findings` reports unsafe transport
(:mod:`.safety`).
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal, Mapping
from urllib.parse import urlsplit

import aiohttp
import orjson
from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationInfo, field_serializer, field_validator,
                      model_validator)

from warning import __version__
from warning.notify.redact import inline_secret_params, redact_text, redact_url, url_secrets
from warning.notify.safety import Finding, is_loopback

if TYPE_CHECKING:
    from warning.core.events import Alert

Status = Literal["ok", "retry", "permanent"]

USER_AGENT = f"warning-notify/{__version__}"
MAX_RESPONSE_BODY = 2048  # characters of a response body kept in a DeliveryResult
RETRY_HTTP = frozenset({408, 425, 429})


@dataclass(frozen=True)
class DeliveryResult:
    """Outcome of one HTTP request (one message, possibly carrying several alerts)."""

    status: Status
    http_status: int | None = None
    body: str = ""  # response body, truncated to MAX_RESPONSE_BODY characters
    error: str | None = None  # transport error or robot errcode/errmsg, URL redacted
    retry_after: float | None = None  # seconds, from a Retry-After header
    errcode: int | None = None  # robots: JSON errcode

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def describe(self) -> str:
        """Short, secret-free text for logs and dead letters."""
        parts = [self.status]
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.errcode is not None:
            parts.append(f"errcode {self.errcode}")
        if self.error:
            parts.append(self.error)
        return " ".join(parts)

    def redacted(self, redact: Callable[[str], str]) -> "DeliveryResult":
        """This result with ``redact`` applied to its texts (the error at most 300 characters)."""
        return dataclasses.replace(self, body=redact(self.body), error=None if self.error is None else redact(self.error)[:300])

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "http_status": self.http_status,
            "body": self.body,
            "error": self.error,
            "errcode": self.errcode,
            "retry_after": self.retry_after,
        }


def truncate_body(text: str, limit: int = MAX_RESPONSE_BODY) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------- config
def read_secret_file(path: Path, what: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ValueError(f"cannot read {what} file {str(path)!r}: {e.strerror or e}") from None
    if not value:
        raise ValueError(f"{what} file {str(path)!r} is empty")
    return value


def read_env(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name)
    if value is None or not value.strip():
        raise ValueError(f"environment variable {name} (the {what}) is not set")
    return value.strip()


def env_of(info: ValidationInfo) -> Mapping[str, str]:
    """The environment secrets are read from: ``context={"env": …}`` of the validation, else
    ``os.environ``."""
    ctx = info.context if isinstance(info.context, Mapping) else {}
    return ctx.get("env", os.environ)


class ReceiverBase(BaseModel):
    """What every notification target has (an entry of the YAML ``receivers:`` list). Each kind
    subclasses it with ``kind: Literal[...]`` and its own keys (see :mod:`warning.notify.kinds`);
    :mod:`warning.notify.wiring` makes the union on ``kind``.

    ``url`` may be given inline for plain webhooks; robot URLs carry their access token, so prefer
    ``url_env`` / ``url_file`` for them. Exactly one of ``url``, ``url_env``, ``url_file``.
    Resolution happens at validation; pass ``context={"env": {...}}`` to validate against a given
    environment (tests), else ``os.environ`` is used.
    """

    model_config = ConfigDict(extra="forbid", validate_default=True)

    #: messages per ``rate_limit_window_s`` when ``rate_limit_per_minute`` is not given
    default_rate_limit: ClassVar[int | None] = None

    name: str = Field(pattern=r"^[\w.\-]{1,64}$", description="unique; used in metrics labels and logs")
    kind: str
    url: SecretStr | None = Field(None, description="http(s) URL (treated as secret: robot URLs embed a token)")
    url_env: str | None = Field(None, description="environment variable holding the URL")
    url_file: Path | None = Field(None, description="file holding the URL")
    timeout_s: float = Field(10.0, gt=0, le=300, description="per HTTP request, connect to last byte")
    send_resolved: bool = Field(True, description="also deliver status=resolved (已解除)")
    rate_limit_per_minute: int | None = Field(None, ge=1, le=100_000, description="default 20 for wecom/dingtalk, none otherwise")
    rate_limit_window_s: float = Field(60.0, gt=0, le=3600, description="the rate-limit window (60 s; shorter only in tests)")
    allow_insecure_http: bool = Field(False, description="accept plain http:// to a non-loopback host (a warning, not an error)")
    allow_inline_secret: bool = Field(False, description="accept a key/token in an inline url: (a warning, not an error)")

    _url: str = PrivateAttr("")
    #: the inline url: of a robot is its credential even without a recognised parameter name
    url_is_credential: ClassVar[bool] = False

    @field_serializer("url")
    def _dump_url(self, v: SecretStr | None) -> str | None:
        """Dumps (``config check``) show where alerts go, never the token: ``…/send?key=***``."""
        return None if v is None else redact_url(v.get_secret_value().strip())

    # Presence checks per key, so an error names the exact key (receivers.2.url_env); also for the
    # signing secret of the kinds that have one.
    @field_validator("url_env", "secret_env", check_fields=False)
    @classmethod
    def _env_set(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None:
            read_env(env_of(info), v, "receiver URL" if info.field_name == "url_env" else "signing secret")
        return v

    @field_validator("url_file", "secret_file", check_fields=False)
    @classmethod
    def _file_ok(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        if v is not None:
            read_secret_file(v, "URL" if info.field_name == "url_file" else "secret")
        return v

    @model_validator(mode="after")
    def _resolve_url(self, info: ValidationInfo) -> "ReceiverBase":
        given = [k for k in ("url", "url_env", "url_file") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of url, url_env, url_file" + (f" (got {', '.join(given)})" if given else ""))
        if self.url is not None:
            url = self.url.get_secret_value().strip()
        elif self.url_env is not None:
            url = read_env(env_of(info), self.url_env, "receiver URL")
        else:
            assert self.url_file is not None
            url = read_secret_file(self.url_file, "URL")
        p = urlsplit(url)
        if p.scheme not in ("http", "https") or not p.hostname:
            raise ValueError(f"url must be an absolute http(s) URL, got {redact_url(url)!r}")
        self._url = url
        return self

    # --- resolved values
    @property
    def target_url(self) -> str:
        """The real URL (secret for robots): pass only to the HTTP client."""
        return self._url

    @property
    def redacted_url(self) -> str:
        return redact_url(self._url)

    @property
    def secret_value(self) -> str | None:
        """The signing secret (kinds that sign override this)."""
        return None

    @property
    def has_secret(self) -> bool:
        return self.secret_value is not None

    @property
    def url_key(self) -> str:
        """Which of ``url``, ``url_env``, ``url_file`` gave the URL."""
        return "url" if self.url is not None else "url_env" if self.url_env is not None else "url_file"

    def secret_values(self) -> list[str]:
        """Every secret of this receiver (URL and its credential parts, signing secret): what
        :meth:`redact` removes from texts."""
        return [*url_secrets(self._url), *([self.secret_value] if self.secret_value else [])]

    def redact(self, text: str) -> str:
        """``text`` without this receiver's secrets (nor any URL credential): for logs, errors,
        dead letters."""
        return redact_text(text, self.secret_values())

    def findings(self) -> list[Finding]:
        """Transport-safety findings (:mod:`warning.notify.safety`), keys relative to the receiver."""
        out: list[Finding] = []
        p = urlsplit(self._url)
        host = p.hostname or ""
        if p.scheme == "http" and not is_loopback(host):
            out.append(Finding(
                self.name, self.url_key, "insecure_http", self.allow_insecure_http,
                f"接收端 {self.name!r} 使用明文 http:// 发往非本机地址 {host}，预警内容{'和密钥' if self.url_is_credential else ''}"
                f"可被窃听、篡改；请改用 https://，确需明文时设置 allow_insecure_http: true",
                f"receiver {self.name!r} sends over plain http:// to the non-loopback host {host} (readable and alterable "
                f"in transit); use https://, or set allow_insecure_http: true"))
        if self.url is not None:
            params = inline_secret_params(self._url)
            if params or self.url_is_credential:
                what = ", ".join(params) if params else "the URL"
                out.append(Finding(
                    self.name, "url", "inline_secret", self.allow_inline_secret,
                    f"接收端 {self.name!r} 的 url 内联了密钥（{what}）：配置文件因此成为机密，容易被提交、粘贴或打印；"
                    f"请改用 url_env（环境变量名）或 url_file（文件路径），确需内联时设置 allow_inline_secret: true",
                    f"receiver {self.name!r} has a credential ({what}) inline in url: the config file becomes a secret, easily "
                    f"committed, pasted or printed; give it with url_env or url_file, or set allow_inline_secret: true"))
        return out

    @property
    def rate_limit(self) -> int | None:
        """Effective messages per window (robots default to 20/min)."""
        return self.rate_limit_per_minute if self.rate_limit_per_minute is not None else self.default_rate_limit

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, kind={self.kind!r}, url={self.redacted_url!r}, "
            f"secret={'***' if self.has_secret else None}, send_resolved={self.send_resolved}, "
            f"rate_limit={self.rate_limit})"
        )

    __str__ = __repr__

    def __rich_repr__(self):  # pragma: no cover - rich pretty printing
        yield "name", self.name
        yield "kind", self.kind
        yield "url", self.redacted_url


# --------------------------------------------------------------------------------------- notifier
class Notifier(abc.ABC):
    """Turns alerts into one HTTP request to one receiver.

    ``notify(alerts)`` must not raise on delivery problems: it returns a :class:`DeliveryResult`.
    ``max_batch`` is how many alerts one call may carry (the dispatcher respects it); robots accept
    more than one only to send a digest.
    """

    kind: ClassVar[str]
    max_batch: ClassVar[int] = 1

    def __init__(self, receiver: ReceiverBase, *, session: aiohttp.ClientSession | None = None, clock: Callable[[], float] = time.time) -> None:
        self.receiver = receiver
        self.clock = clock  # wall clock (signing timestamps)
        self._session = session
        self._own_session = session is None

    @property
    def name(self) -> str:
        return self.receiver.name

    def wants(self, alert: Alert) -> bool:
        """False for resolved alerts when the receiver has ``send_resolved: false``."""
        return self.receiver.send_resolved if alert.status == "resolved" else True

    @abc.abstractmethod
    async def notify(self, alerts: list[Alert]) -> DeliveryResult:
        """Deliver ``alerts`` (1 ≤ len ≤ max_batch) in one request."""

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=8, enable_cleanup_closed=True),
                headers={"User-Agent": USER_AGENT},
            )
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str] | None = None) -> tuple[DeliveryResult, str]:
        """POST ``body`` and classify by HTTP status. Returns (result, response text); robots
        refine a 2xx by its JSON errcode."""
        from yarl import URL

        hdrs = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
        if headers:
            hdrs.update(headers)
        sess = await self.session()
        timeout = aiohttp.ClientTimeout(total=self.receiver.timeout_s)
        try:
            async with sess.post(URL(url, encoded=True), data=body, headers=hdrs, timeout=timeout, allow_redirects=False) as resp:
                raw = await resp.content.read(64 * 1024)
                text = raw.decode("utf-8", errors="replace")
                status = resp.status
                retry_after = _parse_retry_after(resp.headers.get("Retry-After"))
        except asyncio.TimeoutError:
            return DeliveryResult("retry", error=f"timeout after {self.receiver.timeout_s:g}s"), ""
        except aiohttp.ClientConnectorError as e:
            return DeliveryResult("retry", error=self.receiver.redact(f"connection failed: {e.os_error or type(e).__name__}")), ""
        except (aiohttp.ClientError, OSError) as e:
            return DeliveryResult("retry", error=self.receiver.redact(f"{type(e).__name__}: {e}")), ""
        body_txt = truncate_body(self.receiver.redact(text))
        if 200 <= status < 300:
            return DeliveryResult("ok", http_status=status, body=body_txt), text
        transient = status >= 500 or status in RETRY_HTTP
        return DeliveryResult("retry" if transient else "permanent", http_status=status, body=body_txt, retry_after=retry_after, error=f"HTTP {status}"), text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.receiver!r})"


def _parse_retry_after(v: str | None) -> float | None:
    if not v:
        return None
    try:
        return max(0.0, float(v))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(v).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (non-ASCII kept as is)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
