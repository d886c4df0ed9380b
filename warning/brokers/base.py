"""Shared machinery for broker processes: free ports, a Kafka wire-protocol probe and a
process-group supervisor that never leaves orphans behind.

A broker runs in its own session (``start_new_session=True``), so its whole process group can be
killed at once. Running brokers are registered with an :mod:`atexit` handler, and a SIGTERM
handler is installed when the current one is the default, so a terminated parent still kills
them. On Linux the child also gets ``PR_SET_PDEATHSIG=SIGKILL`` (via ``setpriv``), which covers
a parent killed with SIGKILL. Note that the "parent" for PDEATHSIG is the *thread* that started
the broker: start brokers from a long-lived thread (normally the main thread).
"""

from __future__ import annotations

import atexit
import base64
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid
import weakref
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, ClassVar, Mapping, NamedTuple, TypeVar

log = logging.getLogger(__name__)

__all__ = [
    "BrokerError",
    "BrokerProcess",
    "free_port",
    "group_alive",
    "ProbeResult",
    "probe_kafka",
    "wait_port_free",
]


class BrokerError(RuntimeError):
    """A broker failed to start or to stop."""


def random_cluster_id() -> str:
    """A Kafka-style cluster id: a random UUID, base64url without padding, as Kafka's
    ``Uuid.randomUuid()`` makes them — never starting with ``-`` (it would read as a CLI flag)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that is free right now (the OS picks it).

    The port can be taken by someone else before it is used; brokers started on a port chosen
    here retry with a new one when they lose that race.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_port_free(host: str, port: int, timeout: float = 10.0) -> bool:
    """Wait until nothing accepts connections on ``host:port``; return whether it is free."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                pass
        except OSError:
            return True
        time.sleep(0.1)
    return False


# --- Kafka wire protocol probe ------------------------------------------------------------------
#
# Two requests, hand-encoded so the probe needs no client library and logs nothing:
# ApiVersions v0 (every broker supports it), then Metadata in a non-flexible version both brokers
# accept (v4 preferred, v1 otherwise), asking for no topics. The broker is ready when the metadata
# lists at least one broker.

_API_METADATA = 3
_API_VERSIONS = 18


def _request(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    client_id = b"warning-probe"
    header = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
    data = _recv_exact(sock, size)
    if struct.unpack(">i", data[:4])[0] != corr:
        raise OSError("correlation id mismatch")
    return data[4:]


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed by broker")
        buf += chunk
    return bytes(buf)


class ProbeResult(NamedTuple):
    """What a broker said about itself."""

    brokers: int
    cluster_id: str | None


def _string(data: bytes, pos: int) -> tuple[str | None, int]:
    n = struct.unpack(">h", data[pos : pos + 2])[0]
    pos += 2
    if n < 0:
        return None, pos
    return data[pos : pos + n].decode(errors="replace"), pos + n


def probe_kafka(host: str, port: int, timeout: float = 2.0) -> ProbeResult:
    """Ask ``host:port`` for ApiVersions and Metadata; return broker count and cluster id.

    ``brokers`` is 0 while the broker answers but lists no brokers yet; raises :class:`OSError`
    when nothing answers in Kafka protocol.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        data = _request(sock, _API_VERSIONS, 0, 1, b"")
        error, count = struct.unpack(">hi", data[:6])
        if error != 0:
            raise OSError(f"ApiVersions error code {error}")
        versions: dict[int, tuple[int, int]] = {}
        for i in range(count):
            key, lo, hi = struct.unpack(">hhh", data[6 + 6 * i : 12 + 6 * i])
            versions[key] = (lo, hi)
        lo, hi = versions.get(_API_METADATA, (0, -1))
        if lo <= 4 <= hi:
            # topics: empty array (null would mean "all topics"); allow_auto_topic_creation=false
            data = _request(sock, _API_METADATA, 4, 2, struct.pack(">ib", 0, 0))
            pos = 4  # throttle_time_ms
            brokers = struct.unpack(">i", data[pos : pos + 4])[0]
            pos += 4
            for _ in range(brokers):
                pos += 4  # node_id
                _, pos = _string(data, pos)  # host
                pos += 4  # port
                _, pos = _string(data, pos)  # rack
            cluster_id, pos = _string(data, pos)
            return ProbeResult(int(brokers), cluster_id)
        if lo <= 1 <= hi:
            data = _request(sock, _API_METADATA, 1, 2, struct.pack(">i", 0))
            return ProbeResult(int(struct.unpack(">i", data[:4])[0]), None)
        raise OSError(f"no usable Metadata version in {lo}..{hi}")


# --- process supervision ------------------------------------------------------------------------

_live: "weakref.WeakSet[BrokerProcess]" = weakref.WeakSet()
_live_lock = threading.Lock()
_hooks_installed = False


def _kill_all_live() -> None:
    """Kill every broker still running (atexit / signal path: fast, no graceful shutdown)."""
    with _live_lock:
        brokers = list(_live)
    for b in brokers:
        try:
            b.stop(grace=2.0)
        except Exception:  # pragma: no cover - best effort at exit
            pass


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _kill_all_live()
    # Die the way the default action would, so the exit status still says "killed by SIGTERM".
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_kill_all_live)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            # Only take over the default action; a program with its own handler (Faust, a web
            # server) shuts down its way and the atexit handler stops the broker afterwards.
            if signal.getsignal(sig) == signal.SIG_DFL:
                signal.signal(sig, _on_sigterm)


def pdeathsig_supported() -> bool:
    """Whether brokers die with a parent killed by SIGKILL (Linux + util-linux ``setpriv``)."""
    return bool(_setpriv())


def _setpriv() -> list[str]:
    """Command prefix that makes the child die with its parent, when the OS offers it."""
    exe = shutil.which("setpriv") or shutil.which("setpriv", path="/usr/bin:/bin")
    if exe and os.uname().sysname == "Linux":
        return [exe, "--pdeathsig", "KILL", "--"]
    return []


_B = TypeVar("_B", bound="BrokerProcess")


class BrokerProcess:
    """A broker running as a child process group on loopback.

    Subclasses set :attr:`kind` and implement :meth:`_command` (and may override
    :meth:`_prepare` / :meth:`_cleanup`). Use as a context manager or call :meth:`start` and
    :meth:`stop`.
    """

    kind: ClassVar[str] = "?"
    #: How long stop() waits after SIGTERM before SIGKILL.
    stop_grace: ClassVar[float] = 5.0

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        die_with_parent: bool = True,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.port: int = port or 0
        self.startup_timeout = startup_timeout
        self.die_with_parent = die_with_parent
        self._log_path_arg = Path(log_path) if log_path else None
        self.log_path: Path | None = self._log_path_arg
        self._own_log = False
        self._log_offset = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None
        #: Unique per instance, so the readiness probe knows it talks to *this* broker.
        self.cluster_id: str = random_cluster_id()

    # -- public API --------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients (kafka-python, aiokafka)."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """``kafka://host:port`` for Faust's ``broker=`` setting."""
        return f"kafka://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id of the broker (also its process group id), or None when not started."""
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def start(self: _B) -> _B:
        """Start the broker and wait until it answers Kafka metadata requests."""
        if self.running:
            return self
        t0 = time.monotonic()
        attempts = 1 if self._requested_port else 3
        last: Exception | None = None
        for _ in range(attempts):
            self.port = self._requested_port or free_port(self.host)
            try:
                self._start_once()
                self.startup_seconds = time.monotonic() - t0
                log.info("%s broker ready at %s in %.1fs", self.kind, self.bootstrap,
                         self.startup_seconds)
                return self
            except _PortTaken as e:  # lost the free-port race: try another port
                last = e
                self._kill_group(grace=1.0)
            except BaseException:
                self._own_log = False  # keep the log the error message points to
                self.stop()
                raise
        self.stop()
        raise BrokerError(f"{self.kind}: could not bind a port: {last}")

    def stop(self, grace: float | None = None) -> None:
        """Stop the broker: SIGTERM to its process group, SIGKILL after ``grace`` seconds
        (default :attr:`stop_grace`). Idempotent."""
        try:
            self._kill_group(grace=self.stop_grace if grace is None else grace)
        finally:
            with _live_lock:
                _live.discard(self)
            self._cleanup()
            if self._own_log and self.log_path is not None:
                self.log_path.unlink(missing_ok=True)
                self.log_path = None
                self._own_log = False

    def log_tail(self, lines: int = 40, *, this_run: bool = True) -> str:
        """The last lines of the broker log (for error messages); by default only this run's."""
        if not self.log_path or not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as f:
            if this_run:
                f.seek(self._log_offset)
            text = f.read().decode(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def __enter__(self: _B) -> _B:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.bootstrap} pid={self.pid} {state}>"

    # -- subclass hooks ----------------------------------------------------------------------

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _env(self) -> Mapping[str, str] | None:
        return None

    def _prepare(self) -> None:
        """Called before each launch attempt (write configs, fetch jars...)."""

    def _cleanup(self) -> None:
        """Called after the process is gone (remove temp dirs)."""

    def _port_taken(self, log_text: str) -> bool:
        return "Address in use" in log_text or "Address already in use" in log_text

    # -- internals ---------------------------------------------------------------------------

    def _open_log(self) -> Any:
        if self._log_path_arg is None and self.log_path is None:
            import tempfile

            fd, name = tempfile.mkstemp(prefix=f"{self.kind}-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
            self._own_log = True
        assert self.log_path is not None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.log_path, "ab")
        self._log_offset = f.seek(0, os.SEEK_END)
        return f

    def _start_once(self) -> None:
        _install_hooks()
        self._prepare()
        cmd = self._command()
        if self.die_with_parent:
            cmd = _setpriv() + cmd
        env = dict(os.environ)
        env.update(self._env() or {})
        with self._open_log() as logf:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
                close_fds=True,
            )
        with _live_lock:
            _live.add(self)
        deadline = time.monotonic() + self.startup_timeout
        last_err: Exception | None = None
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                tail = self.log_tail()
                if self._port_taken(tail):
                    raise _PortTaken(f"port {self.port} in use")
                raise BrokerError(
                    f"{self.kind} broker exited with code {code} during start-up "
                    f"(log: {self.log_path}):\n{tail}"
                )
            try:
                res = probe_kafka(self.host, self.port, timeout=2.0)
                if res.brokers > 0 and self.proc.poll() is None:
                    if res.cluster_id in (None, self.cluster_id):
                        return
                    # Somebody else's broker answers on "our" port: we lost the port race.
                    raise _PortTaken(
                        f"port {self.port} in use (answered by cluster {res.cluster_id!r})"
                    )
            except OSError as e:
                last_err = e
            time.sleep(0.1)
        raise BrokerError(
            f"{self.kind} broker not ready on {self.bootstrap} after {self.startup_timeout:.0f}s "
            f"({last_err}); log {self.log_path}:\n{self.log_tail()}"
        )

    def _kill_group(self, grace: float) -> None:
        proc = self.proc
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the child leads its own group
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            except PermissionError:  # pragma: no cover
                break
            if _wait_group_gone(proc, pgid, wait):
                break
        else:
            raise BrokerError(f"{self.kind} broker process group {pgid} survived SIGKILL")
        try:
            proc.wait(timeout=1.0)  # reap, so no zombie is left
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass


def group_alive(pgid: int) -> bool:
    """Whether process group ``pgid`` still has a live (non-zombie) member.

    Zombies are ignored: a container whose PID 1 does not reap orphans keeps them forever, and
    they hold no port, memory or files.
    """
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():  # pragma: no cover - non-Linux
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ..." — comm may contain spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _wait_group_gone(proc: subprocess.Popen[bytes], pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        proc.poll()  # reap the leader
        if not group_alive(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


class _PortTaken(BrokerError):
    pass
