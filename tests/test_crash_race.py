"""A worker that dies between writing a batch's events and its seen-marks loses no event
(issue 11, defect 1), on a real broker.

The worker (tests/fault_worker.py) exits at the ingest checkpoint's failpoint, right after flushing
its producer: what it wrote before the failpoint is on the broker, nothing after. The seen-marks
must come after the events — had they been written first, the restarted worker would recover them
from the changelog and drop the redelivered records as duplicates, and their events would be lost.
"""

from __future__ import annotations

import subprocess
import sys
import time

import orjson
import pytest

from warning.config import load_settings
from warning.streams.topics import ensure_topics

from fault_worker import EXIT_CODE
from kafka_helpers import consume_all, produce
from samples import enc, hotline
from worker_proc import ROOT, Worker, isolated_env

pytestmark = pytest.mark.integration


class FaultWorker(Worker):
    def __init__(self, failpoint: str, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.failpoint = failpoint

    def start(self) -> "FaultWorker":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "fault_worker.py"), self.failpoint, *self.args],
            env=self.env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self


def event_ids(bootstrap: str, topic: str, want: set[str], timeout: float = 90.0) -> list[str]:
    """Ids on ``topic`` (with repeats), read until every id of ``want`` is there or ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        ids = [orjson.loads(r.value)["id"] for r in consume_all(bootstrap, topic, idle=2.0, timeout=30)]
        if want <= set(ids) or time.monotonic() > deadline:
            return ids
        time.sleep(1.0)


def test_crash_between_events_and_seen_marks_loses_no_event(broker, tmp_path):
    prefix = f"cr{int(time.time() * 1000) % 10**8}"
    env = isolated_env(tmp_path, broker.url, prefix=prefix, WARNING_KAFKA__PRODUCER_MAX_BATCH_SIZE="1")
    ids = [f"h{i}" for i in range(20)]
    ensure_topics(load_settings(None, env=env))

    w1 = FaultWorker("ingest.between_writes", env, tmp_path / "w1.log").start()
    try:
        produce(broker.bootstrap, f"{prefix}.hotline", [enc(hotline(i)) for i in range(20)], keys=ids)
        rc = w1.proc.wait(120)
    finally:
        w1.stop()
    assert rc == EXIT_CODE, f"the worker did not stop at the failpoint (exit {rc}):\n{w1.log_tail()}"

    with Worker(env, tmp_path / "w2.log", kill_on_exit=True) as w2:  # SIGKILL at the end: worker_proc.Worker
        got = event_ids(broker.bootstrap, f"{prefix}.events", set(ids))
        log = w2.log_tail()
    missing = sorted(set(ids) - set(got))
    assert not missing, f"events lost after the crash: {missing}\n{log}"
