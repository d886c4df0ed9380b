"""Alert delivery: one notifier per receiver kind behind one interface (like Alertmanager's
``notify/``), with routing, rate limiting/digests and retries kept separate from delivery.

* :mod:`.base` — :class:`Notifier`, :class:`Receiver` (config), :class:`DeliveryResult`
* :mod:`.generic`, :mod:`.alertmanager`, :mod:`.wecom`, :mod:`.dingtalk` — the receiver kinds
* :mod:`.render` — Chinese text/markdown of alerts, defensive PII masking
* :mod:`.router` — YAML ``receivers:`` / ``routes:``
* :mod:`.ratelimit` — sliding-window limiter and digest planning
* :mod:`.dispatch` — :class:`Dispatcher`: per-receiver queues, retries, outcome hooks
* :mod:`.sink` — a local webhook sink printing alerts as Chinese text
"""

from warning.notify.base import DeliveryResult, Notifier, Receiver, build_notifier
from warning.notify.dispatch import Delivery, DispatchStats, Dispatcher, Outcome, RetryPolicy
from warning.notify.generic import verify_signature
from warning.notify.router import Router, RoutingConfig, load_routing
from warning.notify.sink import start_sink

__all__ = [
    "Delivery",
    "DeliveryResult",
    "DispatchStats",
    "Dispatcher",
    "Notifier",
    "Outcome",
    "Receiver",
    "RetryPolicy",
    "Router",
    "RoutingConfig",
    "build_notifier",
    "load_routing",
    "start_sink",
    "verify_signature",
]
