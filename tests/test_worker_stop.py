"""A graceful stop ends even when the broker is gone (``worker.stop_timeout_s``, exit status 75).

Before: with the broker stopped, a SIGTERM'd worker took 62 s on Tansu (mode's own service stop
timeout) and exited 0 as if nothing had happened; on Apache Kafka the producer's flush can wait
for Faust's ``producer_request_timeout`` (20 min).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from warning.brokers import BrokerProcess
from warning.streams.app import EXIT_STOP_TIMEOUT
from failover_helpers import healthz
from kafka_helpers import fresh_broker
from worker_proc import Worker, isolated_env

pytestmark = pytest.mark.integration


def _wait_running(w: Worker, timeout: float = 180.0) -> None:
    """Until the worker's first rebalance has ended (``/healthz``)."""
    deadline = time.monotonic() + timeout
    while ((healthz(w.web, timeout=2) or {}).get("rebalance_ended_at")) is None:
        assert time.monotonic() < deadline and w.proc.poll() is None, w.log_tail()
        time.sleep(0.3)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tansu", pytest.param("apache", marks=pytest.mark.apache)])
def test_sigterm_with_the_broker_gone_ends_within_stop_timeout(kind: str, tmp_path: Path) -> None:
    b = fresh_broker(kind, tmp_path).start()
    stop_timeout = 6.0
    env = isolated_env(tmp_path, b.url, WARNING_WORKER__STOP_TIMEOUT_S=str(stop_timeout))
    w = Worker(env, tmp_path / "worker.log").start()
    try:
        _wait_running(w)
        b.stop()
        time.sleep(3)  # the worker notices: its fetches and metadata refreshes fail
        t0 = time.monotonic()
        os.killpg(w.proc.pid, signal.SIGTERM)
        try:
            rc = w.proc.wait(stop_timeout + 20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker still running {stop_timeout + 20:.0f} s after SIGTERM\n{w.log_tail()}")
        took = time.monotonic() - t0
        log = w.log_path.read_text(errors="replace")
        # The group leave cannot finish without a broker: the timer ends the process, saying why.
        assert rc == EXIT_STOP_TIMEOUT, (rc, w.log_tail())
        assert "stop did not end within" in log and "worker.stop_timeout_s" in log, w.log_tail()
        assert took >= stop_timeout - 0.5
        assert took < stop_timeout + 5, (took, w.log_tail())
    finally:
        w.stop(graceful=False)
        b.stop()


def test_sigterm_with_the_broker_up_stops_cleanly(broker: BrokerProcess, tmp_path: Path) -> None:
    """The timer does not cut a stop that ends: exit status 0, no stop-timeout error."""
    env = isolated_env(tmp_path, broker.url, WARNING_WORKER__STOP_TIMEOUT_S="15")
    w = Worker(env, tmp_path / "worker.log").start()
    try:
        _wait_running(w)
        os.killpg(w.proc.pid, signal.SIGTERM)
        rc = w.proc.wait(40)
        assert rc == 0, (rc, w.log_tail())
        assert "stop did not end within" not in w.log_path.read_text(errors="replace")
    finally:
        w.stop(graceful=False)
