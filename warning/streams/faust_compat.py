"""Settings Faust does not expose, applied to its aiokafka consumer.

Faust creates its worker consumer with ``fetch_max_wait_ms=1500`` hard-coded. A broker that
answers a fetch as soon as data arrives (Apache Kafka) makes that harmless; one that holds the
fetch for the full wait adds up to 1.5 s per hop (ingest → detect → deliver), so it is a setting
here: ``kafka.fetch_max_wait_ms`` (default 1500, as Faust; the demo and the tests on the
embedded Tansu broker use 50).
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

_ORIGINAL = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer


def _create_worker_consumer(self: Any, transport: Any) -> Any:
    consumer = _ORIGINAL(self, transport)
    wait = getattr(self.app, "warning_fetch_max_wait_ms", None)
    if wait is not None:
        consumer._fetch_max_wait_ms = int(wait)
    return consumer


def install() -> None:
    faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]
