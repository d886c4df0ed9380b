"""A graceful stop ends even when the broker is gone (``worker.stop_timeout_s``, exit status 75).

Before: with the broker stopped, a SIGTERM'd worker took 62 s on Tansu (mode's own service stop
timeout) and exited 0 as if nothing had happened; on Apache Kafka the producer's flush can wait
for Faust's ``producer_request_timeout`` (20 min).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import warnings
from datetime import datetime
from pathlib import Path

import pytest

from warning.brokers import BrokerProcess
from warning.streams.app import EXIT_STOP_TIMEOUT
from failover_helpers import healthz
from kafka_helpers import fresh_broker
from worker_proc import Worker, isolated_env

pytestmark = pytest.mark.integration


def story(log: str) -> str:
    """The worker log without the connection errors it repeats every 100 ms while the broker is
    gone, its tracebacks (written to stderr token by token, one log line each) joined up — a
    string, so that pytest prints it whole when an assertion fails."""
    out: list[str] = []
    for line in log.splitlines():
        if any(s in line for s in ("Unable connect to node", "Failed fetch messages", "Unable to update metadata",
                                   "Group Coordinator Request failed", "Heartbeat send request failed")):
            continue
        head, sep, msg = line.partition("[WARNING] ")
        if sep and msg.strip() == "^":
            continue
        if sep and out and out[-1].startswith("  |"):
            out[-1] += msg.strip() + " "
        elif sep:
            out.append("  | " + msg.strip() + " ")
        else:
            out.append(line)
    return "\n".join(out[-80:])


#: a log line's time stamp (the worker's local time; a line may start with terminal escapes)
STAMP = r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]"
STOPPING = re.compile(STAMP + r" .*worker stopping \(([^)]*)\): ends within")
TIMED_OUT = re.compile(STAMP + r" .*stop did not end within [\d.]+ s \(worker\.stop_timeout_s")


def logged(pattern: re.Pattern[str], log: str) -> tuple[datetime, str] | None:
    """The time stamp and the last group of the first line of ``log`` matching ``pattern``."""
    m = pattern.search(log)
    return None if m is None else (datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f"), m.group(m.lastindex or 1))


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
        assert w.proc.poll() is None, f"the worker ended before SIGTERM:\n{story(w.log_path.read_text(errors='replace'))}"
        early = logged(STOPPING, w.log_path.read_text(errors="replace"))  # began to stop on its own
        os.killpg(w.proc.pid, signal.SIGTERM)
        try:
            rc = w.proc.wait(stop_timeout + 20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker still running {stop_timeout + 20:.0f} s after SIGTERM\n{w.log_tail()}")
        took = time.monotonic() - t0
        log = w.log_path.read_text(errors="replace")
        assert took < stop_timeout + 5, f"{took:.1f} s\n{story(log)}"
        if rc == 1 and "We experienced a crash" in log:
            # The stop itself failed on the missing broker (once in CI a KafkaConnectionError,
            # whose call was cut from the log); Faust then ends the process reporting the crash.
            # mode's Service.crash logs the reason it crashes with ("Crashed reason=<repr>")
            assert re.search(r"Crashed reason=\w*KafkaConnectionError", log), story(log)
            return
        # Else the group leave cannot finish without a broker: the timer ends the process, saying why,
        # stop_timeout after the stop began by the worker's own clock (its log line says why it stopped)
        assert rc == EXIT_STOP_TIMEOUT, f"exit status {rc}\n{story(log)}"
        began, ended = logged(STOPPING, log), logged(TIMED_OUT, log)
        assert began is not None and ended is not None, story(log)
        took_logged = (ended[0] - began[0]).total_seconds()
        assert stop_timeout - 0.2 <= took_logged <= stop_timeout + 2, f"{took_logged:.2f} s\n{story(log)}"
        if early is None:  # the SIGTERM began the stop: the test's clock agrees
            assert began[1] == "SIGTERM", story(log)
            assert took >= stop_timeout - 0.5, f"{took:.2f} s\n{story(log)}"
        else:
            # Once in CI the stop began about 3 s before the SIGTERM, about when the broker went (the
            # log then did not say why; it does now). Not reproduced in 9 runs: reported, not failed
            # on, so that its cause shows in the suite's summary.
            warnings.warn(f"the worker began to stop before the SIGTERM ({early[1]}):\n{story(log)}")
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
