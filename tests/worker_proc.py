"""Run ``warning worker`` as a real subprocess against a real broker (tests and benchmarks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from warning.brokers.base import free_port
from warning.core.feeds import default_feeds

ROOT = Path(__file__).resolve().parents[1]

# Tansu: group join waits session_timeout/2, changelog recovery needs one record per batch.
TEST_ENV = {
    "WARNING_KAFKA__SESSION_TIMEOUT_S": "2",
    "WARNING_KAFKA__HEARTBEAT_INTERVAL_S": "0.3",
    "WARNING_KAFKA__REBALANCE_TIMEOUT_S": "2",
    "WARNING_KAFKA__PARTITIONS": "2",
    # Tansu holds a fetch for the full wait even when data arrives (see warning/streams/faust_compat.py)
    "WARNING_KAFKA__FETCH_MAX_WAIT_MS": "50",
}


def isolated_env(tmp_path: Path, broker_url: str, prefix: str | None = None, **extra: str) -> dict[str, str]:
    """Unique app id, topics and data dir per test, so tests never see each other's records."""
    prefix = prefix or f"t{uuid.uuid4().hex[:8]}"
    env = dict(TEST_ENV)
    env.update({
        "WARNING_KAFKA__BROKER": broker_url,
        "WARNING_WORKER__APP_ID": f"{prefix}-app",
        "WARNING_WORKER__DATA_DIR": str(tmp_path / "data"),
        "WARNING_WORKER__WEB_PORT": str(free_port()),
        "WARNING_WORKER__LOG_LEVEL": "warning",
    })
    for t in ("events", "deadletter", "alerts", "alerts_deadletter", "feedback", "alerts_feedback"):
        env[f"WARNING_TOPICS__{t.upper()}"] = f"{prefix}.{t}"
    for f in default_feeds():  # raw topics: <prefix>.<feed>
        env[f"WARNING_FEEDS__{f.upper()}__TOPIC"] = f"{prefix}.{f}"
    env.update(extra)
    return env


class Worker:
    """``warning worker`` as a subprocess. Leaving ``with`` stops it gracefully (SIGTERM, then SIGKILL
    after 20 s) — or, with ``kill_on_exit=True``, at once with SIGKILL: for tests that observe nothing
    after the worker ends (a graceful stop takes a few seconds: last checkpoint, leave the group)."""

    def __init__(self, env: dict[str, str], log_path: Path, args: list[str] | None = None, *,
                 kill_on_exit: bool = False) -> None:
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.args = args or []
        self.kill_on_exit = kill_on_exit
        self.proc: subprocess.Popen | None = None

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.env['WARNING_WORKER__WEB_PORT']}"

    def start(self) -> "Worker":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "warning", "worker", *self.args],
            env=self.env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    def metrics(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.web + "/metrics", timeout=5) as r:
                    return r.read().decode()
            except Exception:
                if time.monotonic() > deadline or (self.proc and self.proc.poll() is not None):
                    raise
                time.sleep(0.3)

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, graceful: bool = True) -> None:
        """SIGTERM and wait (SIGKILL after 20 s); ``graceful=False``: SIGKILL at once."""
        if not graceful:
            self.kill9()
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()
        if getattr(self, "_log", None):
            self._log.close()

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def __enter__(self) -> "Worker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(graceful=not self.kill_on_exit)


def metric_value(text: str, name: str, **labels: str) -> float:
    """Sum of samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, val = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(val)
    return total
