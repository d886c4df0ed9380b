"""Transport-safety checks of receivers: what ``warning config check`` reports and what the worker
refuses to start with.

Three findings, each naming the receiver and its key:

* ``unsigned`` — a ``generic`` receiver without ``secret_env`` / ``secret_file``: its requests
  carry no ``X-Warning-Signature``, so the receiving system cannot tell our alerts from forged ones;
* ``insecure_http`` — a plain ``http://`` URL to a host that is not loopback (``127.0.0.0/8``,
  ``::1``, ``localhost``): alerts (and a robot's key) can be read and altered on the way;
* ``inline_secret`` — a credential written into an inline ``url:`` (a WeCom ``key=``, a DingTalk
  ``access_token=``, any ``token=`` / ``secret=`` / ``password=``-like parameter, or
  ``user:password@``): the config file then is a secret, and is easily committed, pasted or
  printed. Give the URL with ``url_env`` / ``url_file`` instead.

Each is an error (``config check`` exits 2, the worker does not start) unless the receiver sets
its allow flag — ``allow_unsigned``, ``allow_insecure_http``, ``allow_inline_secret`` — which
turns it into a warning (printed by ``config check``, logged once when the worker starts).

>>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("::1"), is_loopback("10.0.0.7")
(True, True, True, False)
>>> f = Finding("ops", "receivers.0.url", "insecure_http", allowed=False, zh="明文", en="plain")
>>> f.line()
'错误 error receivers.0.url: 明文 / plain'
>>> [x.code for x in errors_of([f, Finding("b", "k", "unsigned", allowed=True, zh="", en="")])]
['insecure_http']
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Iterable, Literal

Code = Literal["unsigned", "insecure_http", "inline_secret"]

#: the receiver key that turns a finding into a warning
ALLOW_FLAG: dict[str, str] = {
    "unsigned": "allow_unsigned",
    "insecure_http": "allow_insecure_http",
    "inline_secret": "allow_inline_secret",
}


@dataclass(frozen=True)
class Finding:
    """One safety problem of one receiver. ``key`` is the dotted config key (``receivers.0.url``)."""

    receiver: str
    key: str
    code: Code
    allowed: bool  # the receiver's allow flag is set: a warning, not an error
    zh: str
    en: str

    def line(self) -> str:
        """One line for a terminal or a log: level, key, Chinese / English."""
        return f"{'警告 warning' if self.allowed else '错误 error'} {self.key}: {self.zh} / {self.en}"

    def with_prefix(self, prefix: str) -> "Finding":
        return Finding(self.receiver, f"{prefix}.{self.key}" if prefix else self.key, self.code, self.allowed, self.zh, self.en)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (IPv4 ``127.0.0.0/8``, IPv6 ``::1``)."""
    h = host.strip("[]").lower().rstrip(".")
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_receivers(receivers: Iterable[Any], prefix: str = "receivers") -> list[Finding]:
    """Findings of every receiver (objects with ``findings()``, i.e.
    :class:`~warning.notify.base.ReceiverBase`), keys prefixed with ``receivers.<i>``."""
    return [f.with_prefix(f"{prefix}.{i}") for i, r in enumerate(receivers) for f in r.findings()]


def errors_of(findings: Iterable[Finding]) -> list[Finding]:
    """The findings not allowed by their receiver: they stop ``config check`` (exit 2) and the worker."""
    return [f for f in findings if not f.allowed]


def warnings_of(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.allowed]
