"""Delivery in the stream: ``warning.alerts`` is the outbox.

An alert's offset is acked (so committed) only when every routed receiver reached a 2xx, or
gave up for good and the alert landed on ``warning.alerts.deadletter`` with the receiver's
response. A crash before that means the alert is delivered again (receivers deduplicate by
``Idempotency-Key: <alert_id>:<status>``), never lost. A slow or dead receiver delays only its
own queue (see :mod:`warning.notify.dispatch`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import orjson

from warning.config import Settings
from warning.notify.dispatch import Delivery, Dispatcher, Outcome, RetryPolicy
from warning.notify.router import Router
from warning.streams import metrics as m

log = logging.getLogger("warning.deliver")


def add_delivery(app: Any, settings: Settings) -> Router:
    """Register the notification agent. Validates the routing config now (fail fast)."""
    n = settings.kafka.partitions
    router = Router.from_settings(settings, env=os.environ)
    alerts_topic = app.topic(settings.topics.alerts, value_serializer="raw", key_serializer="raw", partitions=n)
    dlq = app.topic(settings.topics.alerts_deadletter, value_serializer="raw", key_serializer="raw", partitions=n)
    dc = settings.delivery
    retry = RetryPolicy(base_s=dc.retry_base_s, cap_s=max(dc.retry_cap_s, dc.retry_base_s),
                        max_attempts=dc.max_attempts, max_age_s=dc.max_age_s)

    def on_done(alert: dict, receiver: str, outcome: Outcome) -> None:
        m.NOTIFICATIONS.labels(receiver, outcome.status).inc()

    def on_attempt(receiver: str, result: Any, seconds: float, n_alerts: int) -> None:
        m.NOTIFICATION_SECONDS.labels(receiver).observe(seconds)
        if result.status == "retry":
            m.NOTIFICATIONS.labels(receiver, "retry").inc()

    @app.agent(alerts_topic, name="warning.deliver")
    async def deliver(stream: Any) -> None:
        if not router.receivers:
            async for _ in stream:  # nothing to deliver to: consume (and ack) only
                pass
            return

        waiting: dict[int, Any] = {}

        async def on_complete(dl: Delivery) -> None:
            event = waiting.pop(id(dl), None)
            for o in dl.failures():
                body = orjson.dumps({"alert": dl.alert, "outcome": o.to_dict()})
                await dlq.send(key=dl.alert.get("street_code", "").encode(), value=body)
                m.NOTIFICATIONS.labels(o.receiver, "deadletter").inc()
            if event is not None:
                await stream.ack(event)

        async with Dispatcher(router, retry=retry, on_done=on_done, on_attempt=on_attempt, on_complete=on_complete) as d:
            async for batch in stream.noack_take(500, within=0.02):
                for event in batch:
                    try:
                        alert = orjson.loads(event.message.value)
                    except orjson.JSONDecodeError:
                        log.error("undecodable alert at partition %d offset %d", event.message.partition, event.message.offset)
                        await stream.ack(event)
                        continue
                    if not router.route(alert):
                        await stream.ack(event)
                        continue
                    dl = d.submit(alert)
                    if dl.done():
                        await stream.ack(event)
                    else:
                        waiting[id(dl)] = event

    return router
