"""A backlog of raw records is read in step by event time (``windows.align_ahead_seconds``,
:mod:`warning.streams.align`): the rare feeds do not run hours ahead of the hotline and overflow
the reorder buffer, which would make the hotline's records late."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import orjson
import pytest

from warning.config import load_settings
from warning.core.timeutil import parse_time
from warning.sim.generator import SimParams, Simulator
from warning.streams.healthz import detected
from warning.streams.topics import ensure_topics

from failover_helpers import healthz
from test_ingest_kafka import produce
from worker_proc import Worker, isolated_env, metric_value

pytestmark = pytest.mark.integration


def backlog(prefix: str, days: int = 2, scale: float = 0.05) -> list[tuple[str, bytes, bytes]]:
    """The simulator's records of ``days`` days (each feed in event-time order), for the raw topics."""
    sim = Simulator(SimParams(start=int(parse_time("2025-03-03T00:00:00+08:00").timestamp()), days=days, seed=3,
                              scale=scale))
    out = []
    for _stats, records, _ in sim.iter_days():
        for rec in records:
            src = rec.pop("source")
            out.append((f"{prefix}.{src}", orjson.dumps(rec), (rec.get("street_code") or rec["id"]).encode()))
    return out


def drain(env: dict[str, str], log: Path, n: int) -> tuple[dict, str]:
    """Start a worker on the backlog; when detection has taken every record: (healthz, metrics)."""
    w = Worker(env, log).start()
    try:
        deadline = time.monotonic() + 300
        while True:
            h = healthz(w.web) or {}
            taken = detected(h)
            if h.get("accepted") == n and taken == n:
                break
            assert time.monotonic() < deadline and w.proc.poll() is None, (h, w.log_tail())
            time.sleep(0.5)
        with urllib.request.urlopen(w.web + "/metrics", timeout=5) as r:
            return h, r.read().decode()
    finally:
        w.stop(graceful=False)


@pytest.mark.slow
def test_a_backlog_is_read_in_step_by_event_time(broker, tmp_path: Path) -> None:
    prefix = f"al{int(time.time() * 1000) % 10**8}"
    env = isolated_env(tmp_path, broker.url, prefix=prefix, WARNING_WINDOWS__MAX_BUFFERED="300")
    ensure_topics(load_settings(None, env=env))
    records = backlog(prefix)
    produce(broker.bootstrap, records)  # all written before the worker starts: a backlog
    h, metrics = drain(env, tmp_path / "worker.log", len(records))
    held = metric_value(metrics, "warning_ingest_partitions_held_total")
    # Without the alignment (windows.align_ahead_seconds: 0) 5,078 of these 9,680 records came late.
    assert held > 0, "the rare feeds ran ahead and were held back"
    assert h["late_events"] <= len(records) // 100, (h["late_events"], len(records), held)
