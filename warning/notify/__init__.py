"""Alert delivery: one notifier per receiver kind behind one interface (like Alertmanager's
``notify/``), with routing, rate limiting/digests and retries kept separate from delivery.

* :mod:`.base` — :class:`Notifier`, :class:`ReceiverBase` (what every receiver has), :class:`DeliveryResult`
* :mod:`.kinds` — one module per receiver kind: generic, alertmanager, wecom, dingtalk
* :mod:`.wiring` — the registry kind → (config class, notifier class); :func:`build_notifier`
* :mod:`.render` — Chinese text/markdown of alerts, defensive PII masking
* :mod:`.router` — YAML ``receivers:`` / ``routes:``
* :mod:`.ratelimit` — sliding-window limiter and digest planning
* :mod:`.dispatch` — :class:`Dispatcher`: per-receiver queues, retries, outcome hooks
* :mod:`.sink` — a local webhook sink printing alerts as Chinese text
* :mod:`.safety` — transport-safety findings of receivers (unsigned, plain http, inline secrets)
* :mod:`.redact` — secrets out of every printed text (URLs as ``…?key=***``)

Everything works on :class:`warning.core.events.Alert`. The names below are imported on first use
(this package imports none of its modules, so importing one module never imports the others).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Delivery": "dispatch",
    "DeliveryResult": "base",
    "DispatchStats": "dispatch",
    "Dispatcher": "dispatch",
    "Notifier": "base",
    "Outcome": "dispatch",
    "Receiver": "base",
    "ReceiverBase": "base",
    "RetryPolicy": "dispatch",
    "Router": "router",
    "RoutingConfig": "router",
    "build_notifier": "wiring",
    "check_receivers": "safety",
    "load_routing": "router",
    "parse_receiver": "wiring",
    "redact_text": "redact",
    "start_sink": "sink",
    "verify_signature": "kinds.generic",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), "ReceiverBase" if name == "Receiver" else name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
