"""Apache Kafka 4.x as a single-node KRaft broker on loopback, for development and CI.

The heavy lifting lives in ``deploy/kafka/kafka.sh`` (one implementation for operators and for
Python): ``fetch`` resolves ``org.apache.kafka:kafka_2.13`` and its runtime jars from Maven Central
into ``deploy/kafka/lib/`` (cached in ``~/.m2``; a no-op once done, so it works offline), and
``run PORT`` writes ``server.properties``, formats the storage and ``exec``\\ s the JVM
(``kafka.Kafka``). :class:`ApacheKafka` runs ``kafka.sh run`` in its own process group with a
temporary state directory and free ports, waits until the broker answers metadata requests, and
kills the JVM on stop.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import ClassVar

from warning.brokers.base import BrokerError, BrokerProcess, free_port

__all__ = ["ApacheKafka", "apache_available", "fetch_jars", "kafka_home"]


def kafka_home() -> Path:
    """The ``deploy/kafka`` directory (``$WARNING_KAFKA_HOME`` overrides the repository's)."""
    env = os.environ.get("WARNING_KAFKA_HOME")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "deploy" / "kafka"


def _java_major() -> int | None:
    java = shutil.which("java")
    if not java:
        return None
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)', out)
    return int(m.group(1)) if m else None


def _fetched(home: Path) -> bool:
    """Whether ``lib/`` holds the jars for the current ``pom.xml`` (same test as kafka.sh)."""
    stamp = home / "lib" / ".pom.sha256"
    try:
        want = hashlib.sha256((home / "pom.xml").read_bytes()).hexdigest()
        return stamp.read_text().strip() == want and any((home / "lib").glob("kafka_2.13-*.jar"))
    except OSError:
        return False


def apache_available(home: Path | None = None) -> tuple[bool, str]:
    """Whether Apache Kafka can run here: ``(True, "")`` or ``(False, reason)``.

    Needs ``deploy/kafka/kafka.sh``, Java 17+, and either fetched jars or Maven to fetch them.
    """
    home = home or kafka_home()
    if not (home / "kafka.sh").is_file():
        return False, f"Apache Kafka needs {home}/kafka.sh (set WARNING_KAFKA_HOME): not found"
    missing = []
    major = _java_major()
    if major is None:
        missing.append("java")
    if not _fetched(home) and not shutil.which("mvn"):
        missing.append("mvn")
    if missing:
        return False, f"Apache Kafka needs java+mvn: {' and '.join(missing)} not found"
    if major is not None and major < 17:
        return False, f"Apache Kafka 4.x needs Java 17+, found Java {major}"
    return True, ""


class ApacheKafka(BrokerProcess):
    """Single-node KRaft Apache Kafka (broker + controller in one JVM) on free loopback ports.

    ``state_dir`` holds ``server.properties``, the data and ``logs/server.log``; by default a
    temporary directory removed on :meth:`stop`. ``log_path`` receives the JVM's stdout/stderr.
    ``jvm_opts`` defaults to the C1-only JIT (``-XX:TieredStopAtLevel=1``): it starts ~30% faster
    and burns less CPU on a small shared machine, at some cost in peak throughput — pass ``""``
    for benchmarks. ``$KAFKA_JVM_OPTS`` is appended.
    """

    kind: ClassVar[str] = "apache"
    stop_grace: ClassVar[float] = 15.0

    def __init__(
        self,
        port: int | None = None,
        *,
        controller_port: int | None = None,
        host: str = "127.0.0.1",
        state_dir: str | os.PathLike[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        home: str | os.PathLike[str] | None = None,
        heap: str = "512m",
        jvm_opts: str = "-XX:TieredStopAtLevel=1",
        startup_timeout: float = 180.0,
        fetch: bool = True,
        die_with_parent: bool = True,
    ) -> None:
        super().__init__(
            port,
            host=host,
            log_path=log_path,
            startup_timeout=startup_timeout,
            die_with_parent=die_with_parent,
        )
        self.home = Path(home) if home else kafka_home()
        self.heap = heap
        self.jvm_opts = jvm_opts
        self.fetch_if_missing = fetch
        self._controller_port_arg = controller_port
        self.controller_port: int = controller_port or 0
        self._state_dir_arg = Path(state_dir) if state_dir else None
        self.state_dir: Path | None = self._state_dir_arg

    @property
    def server_log(self) -> Path | None:
        """The broker's own log (log4j), inside the state directory."""
        return self.state_dir / "logs" / "server.log" if self.state_dir else None

    def fetch(self) -> float:
        """Resolve the jars with Maven unless present (``kafka.sh fetch``); return seconds spent."""
        return fetch_jars(self.home)

    def log_tail(self, lines: int = 40, *, this_run: bool = True) -> str:
        out = super().log_tail(lines, this_run=this_run)
        log = self.server_log
        if log and log.exists():
            server = log.read_text(errors="replace").splitlines()[-lines:]
            out = f"{out}\n--- {log} ---\n" + "\n".join(server)
        return out

    def _prepare(self) -> None:
        ok, reason = apache_available(self.home)
        if not ok:
            raise BrokerError(reason)
        if not _fetched(self.home):
            if not self.fetch_if_missing:
                raise BrokerError(f"Kafka jars missing: run {self.home}/kafka.sh fetch")
            self.fetch()
        if self.state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="apache-kafka-"))
        else:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        cport = self._controller_port_arg
        while not cport or cport == self.port:
            cport = free_port(self.host)
        self.controller_port = cport

    def _command(self) -> list[str]:
        return ["bash", str(self.home / "kafka.sh"), "run", str(self.port)]

    def _env(self) -> dict[str, str]:
        assert self.state_dir is not None
        return {
            "KAFKA_STATE_DIR": str(self.state_dir),
            "KAFKA_HOST": self.host,
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_CLUSTER_ID": self.cluster_id,
            "KAFKA_HEAP_OPTS": f"-Xmx{self.heap} -Xms128m",
            "KAFKA_JVM_OPTS": f"{self.jvm_opts} {os.environ.get('KAFKA_JVM_OPTS', '')}".strip(),
        }

    def _port_taken(self, log_text: str) -> bool:
        return "Address already in use" in log_text or "BindException" in log_text

    def _cleanup(self) -> None:
        if self._state_dir_arg is None and self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None


def fetch_jars(home: Path | None = None, timeout: float = 1800.0) -> float:
    """Run ``kafka.sh fetch`` (Maven; no-op when up to date); return the seconds it took."""
    home = home or kafka_home()
    t0 = time.monotonic()
    res = subprocess.run(
        ["bash", str(home / "kafka.sh"), "fetch"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if res.returncode != 0:
        raise BrokerError(f"kafka.sh fetch failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return time.monotonic() - t0
