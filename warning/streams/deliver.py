"""Delivery in the stream: ``warning.alerts`` is the outbox.

An alert's offset is acked (so committed) only when every routed receiver reached a 2xx, or
gave up for good and the alert landed on ``warning.alerts.deadletter`` with the receiver's
response. A crash before that means the alert is delivered again (receivers deduplicate by
``Idempotency-Key: <alert_id>:<status>``), never lost. A slow or dead receiver delays only its
own queue (see :mod:`warning.notify.dispatch`).

Records are decoded into :class:`~warning.core.events.Alert` (the DESIGN.md contract); one that
does not decode goes to ``warning.alerts.deadletter`` as ``{"alert": null, "record": <its text>,
"outcome": {"status": "invalid", "error": <why>, …}}`` and is acked — it never stops the agent.

Silences (:mod:`warning.streams.silence`): before routing, the agent asks whether the alert's
street+signal is silenced by a trusted record on ``warning.alerts.feedback``; if so — firing or
resolved — it is not submitted to any receiver, it is acked, counted in
``warning_notifications_silenced_total{signal}`` and logged (alert id, street code, signal, until;
nothing of a person). The alert itself stays on ``warning.alerts`` for the dashboard and history.
At start the agent waits for the silences to be read (bounded, then it delivers without them).

Rate-limited receivers (WeCom / DingTalk robots) share one budget across all deliver workers
(:mod:`warning.streams.budget`): for those the agent hands the alert on to the internal topic
``<app_id>-deliver-budget`` (keyed by receiver; after the silence check, as before) and the
alert is acked once the hand-on is on the broker and its other receivers are done; the one
worker that owns the receiver's partition there sends it under the receiver's limit. Receivers
without a limit are delivered directly, as before. ``delivery.shared_budget: false`` delivers
everything directly (each worker then keeps its own limit).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any

import msgspec
import orjson

from warning.config import Settings
from warning.core.events import ALERT_DECODER, Alert
from warning.core.signals import feed_signals
from warning.core.signed_records import iso_time
from warning.notify.dispatch import Delivery, Dispatcher, Outcome, RetryPolicy
from warning.notify.router import Router
from warning.notify.wiring import build_notifier
from warning.streams import metrics as m
from warning.streams.budget import BudgetService
from warning.streams.contiguous import OrderedAcks
from warning.streams.silence import READY_TIMEOUT_S, add_silences

log = logging.getLogger("warning.deliver")

#: exit status when a failed alert could not be dead-lettered either (redelivered after the restart)
EXIT_DEADLETTER_FAILED = 71


class _Ticket:
    """An alert's event on ``warning.alerts``: acked when its parts (direct delivery, hand-on) are done."""

    __slots__ = ("event", "parts")

    def __init__(self, event: Any) -> None:
        self.event = event
        self.parts = 0


def add_delivery(app: Any, settings: Settings) -> Router:
    """Register the notification agent. Validates the routing config now (fail fast)."""
    n = settings.kafka.partitions
    router = Router.from_settings(settings)
    for f in settings.feeds.values():  # titles of configured feeds' signals, also in a deliver-only worker
        feed_signals(f.name, f.name_zh, f.group, f.volume_signal, f.theme_signal)
    alerts_topic = app.topic(settings.topics.alerts, value_serializer="raw", key_serializer="raw", partitions=n)
    dlq = app.topic(settings.topics.alerts_deadletter, value_serializer="raw", key_serializer="raw", partitions=n)
    dc = settings.delivery
    retry = RetryPolicy(base_s=dc.retry_base_s, cap_s=max(dc.retry_cap_s, dc.retry_base_s),
                        max_attempts=dc.max_attempts, max_age_s=dc.max_age_s)
    silences = add_silences(app, settings) if router.receivers else None
    app.warning_silences = silences  # type: ignore[attr-defined]

    def on_done(alert: Alert, receiver: str, outcome: Outcome) -> None:
        m.NOTIFICATIONS.labels(receiver, outcome.status).inc()

    def on_attempt(receiver: str, result: Any, seconds: float, n_alerts: int) -> None:
        m.NOTIFICATION_SECONDS.labels(receiver).observe(seconds)
        if result.status == "retry":
            m.NOTIFICATIONS.labels(receiver, "retry").inc()

    budget = BudgetService(app, settings, router, retry, on_done=on_done, on_attempt=on_attempt)
    app.warning_budget = budget  # type: ignore[attr-defined]
    shared = budget.names  # receivers with a rate limit: their budget is held by one worker of the group
    direct = [n for n in router.receivers if n not in shared]
    # Receiver-level filters (send_resolved) of the shared receivers, checked before the hand-on.
    gates = {n: build_notifier(router.receivers[n]) for n in shared}
    if shared:
        @app.task
        async def deliver_budget() -> None:
            await budget.run()

    contiguous = getattr(app, "warning_contiguous", None)  # set by warning.streams.app.create_app

    @app.agent(alerts_topic, name="warning.deliver")
    async def deliver(stream: Any) -> None:
        async def take(batch: list[Any]) -> list[Any]:  # each partition's alerts in offset order, none skipped
            return batch if contiguous is None else await contiguous.take(batch)

        def holding(batch: list[Any]) -> Any:  # a failure reads the batch's partitions again
            return contextlib.nullcontext() if contiguous is None else contiguous.holding(batch)

        if not router.receivers:
            async for batch in stream.noack_take(500, within=0.02):  # nothing to deliver to: consume, ack
                batch = await take(batch)
                with holding(batch):
                    for event in batch:
                        await stream.ack(event)
            return

        # Deliveries finish in any order; Faust would commit past an alert still being delivered
        # if a later one were acked first (it commits the first run of acked offsets).
        acks = OrderedAcks(stream.ack) if contiguous is None else contiguous.ordered_acks("deliver", stream.ack)
        waiting: dict[int, _Ticket] = {}
        if silences is not None:
            await silences.wait_ready(READY_TIMEOUT_S)

        async def part_done(t: _Ticket) -> None:
            t.parts -= 1
            if t.parts == 0:
                await acks.done(t.event)

        async def on_complete(dl: Delivery) -> None:
            ticket = waiting.pop(id(dl), None)
            try:
                for o in dl.failures():
                    body = orjson.dumps({"alert": dl.alert.to_dict(), "outcome": o.to_dict()})
                    await dlq.send(key=dl.alert.street_code.encode(), value=body)
                    m.NOTIFICATIONS.labels(o.receiver, "deadletter").inc()
            except Exception:
                # Neither delivered nor dead-lettered: it may not be acked (lost), and left unacked it
                # would hold back every later alert of its partition. Exit as a kill -9 would: the
                # partition's next owner delivers it again.
                log.critical("alert %s: delivery failed and its dead letter could not be written; exiting",
                             dl.alert.alert_id, exc_info=True)
                os._exit(EXIT_DEADLETTER_FAILED)
            if ticket is not None:
                await part_done(ticket)

        async def deliver_batch(d: Dispatcher, batch: list[Any]) -> None:
            for event in batch:
                acks.add(event)
            handed: list[tuple[str, Alert]] = []
            handed_tickets: list[_Ticket] = []
            for event in batch:
                msg = event.message
                try:
                    alert = ALERT_DECODER.decode(msg.value)
                except msgspec.DecodeError as e:  # also ValidationError: JSON, but not the contract
                    log.error("invalid alert at partition %d offset %d: %s", msg.partition, msg.offset, e)
                    body = orjson.dumps({"alert": None, "record": bytes(msg.value or b"").decode("utf-8", "replace"), "outcome": {
                        "receiver": None, "status": "invalid", "error": str(e)[:500],
                        "partition": msg.partition, "offset": msg.offset}})
                    await dlq.send(key=msg.key or b"", value=body)
                    m.NOTIFICATIONS.labels("(none)", "deadletter").inc()
                    await acks.done(event)
                    continue
                until = silences.silenced(alert, time.time()) if silences is not None else None
                if until is not None:
                    m.NOTIFICATIONS_SILENCED.labels(alert.signal).inc()
                    log.info("静默未发送 silenced, not delivered: alert %s (%s) street %s signal %s until %s",
                             alert.alert_id, alert.status, alert.street_code, alert.signal, iso_time(until))
                    await acks.done(event)
                    continue
                names = router.route(alert)
                ticket = _Ticket(event)
                to_direct = [n for n in names if n not in shared]
                to_budget = [n for n in names if n in shared and gates[n].wants(alert)]
                if to_direct:
                    dl = d.submit(alert, to_direct)
                    if not dl.done():
                        ticket.parts += 1
                        waiting[id(dl)] = ticket
                if to_budget:
                    ticket.parts += 1
                    handed.extend((n, alert) for n in to_budget)
                    handed_tickets.append(ticket)
                if ticket.parts == 0:
                    await acks.done(event)
            if handed:
                await budget.hand_on(handed)  # on the broker (retried until it is)
                for ticket in handed_tickets:
                    await part_done(ticket)

        async with Dispatcher(router, receivers=direct, retry=retry, on_done=on_done, on_attempt=on_attempt,
                              on_complete=on_complete) as d:
            async for batch in stream.noack_take(500, within=0.02):
                batch = await take(batch)
                with holding(batch):
                    await deliver_batch(d, batch)

    return router
