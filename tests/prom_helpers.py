"""Real Prometheus and Alertmanager for tests: subprocesses on free loopback ports.

Import in tests as ``from tests.prom_helpers import ...`` (or ``from prom_helpers import ...``;
pytest puts ``tests/`` on ``sys.path``).

Binaries come from the Debian packages ``prometheus`` (``prometheus``, ``promtool``) and
``prometheus-alertmanager`` (``prometheus-alertmanager``, ``amtool``; upstream names the server
``alertmanager``, also accepted). :func:`require_tool` skips a test when one is missing — except with
``CI=true``, where CI installs them (``.ci/run``), so a missing tool fails the test instead.

Typical use (everything blocks; from asyncio wrap calls in ``asyncio.to_thread``)::

    with Alertmanager(webhook_url, deploy_config=True, workdir=tmp_path / "am") as am, \\
         Prometheus(["127.0.0.1:6066"], alertmanager=am, workdir=tmp_path / "prom") as prom:
        prom.wait_for_targets_up()
        prom.wait_for_alert("WarningStreetRiskRed", labels={"street": "110105001"})
        print(prom.query('warning_risk_level'))

Each server writes its generated config, data directory and log under its ``workdir`` (default: a
new temporary directory, removed again by ``stop()``); ``stop()`` (or leaving the ``with`` block)
terminates the process and waits for it. Servers still running at
interpreter exit are stopped by an ``atexit`` hook, so a failed test leaves no process behind.
Only 127.0.0.1 is used; Alertmanager's cluster (gossip) listener is disabled.
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import yaml

__all__ = [
    "ALERTMANAGER_CONFIG",
    "Alertmanager",
    "Prometheus",
    "PROMETHEUS_CONFIG",
    "RULES_FILE",
    "REPO",
    "RULES_TEST_FILE",
    "ServerError",
    "alertmanager_config",
    "deploy_alertmanager_config",
    "find_tool",
    "free_port",
    "in_ci",
    "require_tool",
]

REPO = Path(__file__).resolve().parents[1]
PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"
RULES_FILE = REPO / "deploy" / "prometheus" / "rules" / "warning.rules.yml"
RULES_TEST_FILE = REPO / "deploy" / "prometheus" / "rules" / "warning.rules.test.yml"
ALERTMANAGER_CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"

# tool → executable names, first found wins
_TOOLS: dict[str, tuple[str, ...]] = {
    "prometheus": ("prometheus",),
    "promtool": ("promtool",),
    "alertmanager": ("prometheus-alertmanager", "alertmanager"),
    "amtool": ("amtool",),
}
_PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
}
_EXTRA_DIRS = ("/usr/bin", "/usr/sbin", "/usr/local/bin")


class ServerError(RuntimeError):
    """A server did not start / answer; the message ends with the tail of its log."""


# ------------------------------------------------------------------------------------------------
# tools


def in_ci() -> bool:
    """True when ``CI`` is set to 1/true/yes (as ``.ci/run`` does)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def find_tool(tool: str) -> str | None:
    """Absolute path of ``prometheus`` | ``promtool`` | ``alertmanager`` | ``amtool``, or None.

    Looks in PATH, then /usr/bin, /usr/sbin, /usr/local/bin (Debian installs to /usr/bin)."""
    for name in _TOOLS[tool]:
        found = shutil.which(name)
        if found:
            return found
        for d in _EXTRA_DIRS:
            p = Path(d) / name
            if p.is_file() and os.access(p, os.X_OK):
                return str(p)
    return None


def require_tool(tool: str) -> str:
    """The tool's path; otherwise ``pytest.skip`` with the reason — or ``pytest.fail`` when CI=true."""
    import pytest

    path = find_tool(tool)
    if path:
        return path
    names = " / ".join(_TOOLS[tool])
    reason = f"{names} not found: install the Debian package '{_PACKAGES[tool]}' (apt-get install {_PACKAGES[tool]})"
    if in_ci():
        pytest.fail(f"{reason} — CI=true, and .ci/run installs it (APT_PACKAGES)", pytrace=False)
    pytest.skip(reason)
    raise AssertionError("unreachable")  # pragma: no cover


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port on ``host`` (the OS may hand it out again; servers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------------------
# configs


def alertmanager_config(
    webhook_url: str,
    *,
    group_by: Sequence[str] = ("alertname", "street"),
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "4h",
    receiver: str = "webhook",
) -> dict[str, Any]:
    """A minimal Alertmanager config: every alert to one webhook receiver (send_resolved)."""
    return {
        "route": {
            "receiver": receiver,
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [{"name": receiver, "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
    }


def deploy_alertmanager_config(
    webhook_url: str,
    *,
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "4h",
    path: Path = ALERTMANAGER_CONFIG,
) -> dict[str, Any]:
    """``deploy/alertmanager/alertmanager.yml`` made fast for tests: every webhook URL replaced by
    ``webhook_url`` and every route's timings replaced by the given ones (routes, receivers,
    inhibition and mute intervals unchanged)."""
    cfg = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    for rcv in cfg.get("receivers", []):
        for wh in rcv.get("webhook_configs", []) or []:
            wh["url"] = webhook_url

    def fix(route: dict[str, Any], root: bool) -> None:
        for key, val in (("group_wait", group_wait), ("group_interval", group_interval), ("repeat_interval", repeat_interval)):
            if root or key in route:
                route[key] = val
        for child in route.get("routes", []) or []:
            fix(child, False)

    fix(cfg["route"], True)
    return cfg


def _yaml_dump(data: Mapping[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(dict(data), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------
# servers

_RUNNING: set["_Server"] = set()


@atexit.register
def _stop_all() -> None:  # pragma: no cover - safety net
    for s in list(_RUNNING):
        try:
            s.stop()
        except Exception:
            pass


class _Server:
    tool = ""
    name = ""

    def __init__(self, workdir: Path | str | None, *, binary: str | None = None, host: str = "127.0.0.1") -> None:
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix=f"warning-{self.name}-")) if workdir is None else Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.binary = binary or find_tool(self.tool)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / f"{self.name}.log"
        self._log: Any = None

    # -- subclass hooks --
    def _write_config(self) -> None:
        raise NotImplementedError

    def _args(self) -> list[str]:
        raise NotImplementedError

    # -- lifecycle --
    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        """``host:port`` (for scrape / alerting targets)."""
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 30.0) -> "_Server":
        """Write the config, start the process, wait until ``/-/ready`` answers 200."""
        if self.running:
            return self
        if not self.binary:
            raise ServerError(f"{self.name}: executable not found (Debian package {_PACKAGES[self.tool]})")
        self._write_config()
        last_error: ServerError | None = None
        for _attempt in range(3):  # a port picked by free_port() can be taken meanwhile
            self.port = free_port(self.host)
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [self.binary, *self._args()],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,  # Ctrl-C in the terminal goes to pytest, not to us
            )
            _RUNNING.add(self)
            try:
                self._wait_ready(timeout)
                return self
            except ServerError as e:
                last_error = e
                self.stop()
                if "address already in use" not in str(e).lower():
                    raise
        assert last_error is not None
        raise last_error

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise ServerError(f"{self.name} exited with code {code} before it was ready\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise ServerError(f"{self.name} not ready at {self.url} after {timeout:.0f} s\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL. Idempotent."""
        proc, self.proc = self.proc, None
        _RUNNING.discard(self)
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None

    def cleanup(self) -> None:
        """``stop()``, then remove the workdir if this object created it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's log (for error messages)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return f"({self.log_path} unreadable)"
        tail = text.splitlines()[-lines:]
        return f"--- {self.log_path} (last {len(tail)} lines) ---\n" + "\n".join(tail)

    # -- HTTP --
    def get_json(self, path: str, params: Mapping[str, Any] | None = None, timeout: float = 10.0) -> Any:
        url = self.url + path + ("?" + urllib.parse.urlencode(params, doseq=True) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise ServerError(f"GET {url}: HTTP {e.code}: {e.read()[:500]!r}") from e

    def post_json(self, path: str, body: Any, timeout: float = 10.0) -> Any:
        req = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw = r.read()
                return json.loads(raw) if raw.strip() else None
        except urllib.error.HTTPError as e:
            raise ServerError(f"POST {req.full_url}: HTTP {e.code}: {e.read()[:500]!r}") from e

    @staticmethod
    def _poll(fn: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            last = fn()
            if last:
                return last
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not within {timeout:.0f} s")
            time.sleep(interval)


def _labels_match(labels: Mapping[str, str], want: Mapping[str, str] | None) -> bool:
    return not want or all(labels.get(k) == v for k, v in want.items())


class Prometheus(_Server):
    """A real Prometheus scraping ``targets`` (job ``job``), with ``rule_files``, sending alerts to
    ``alertmanager`` (an :class:`Alertmanager` or a ``host:port``), scrape and evaluation every 1 s.

    ``extra_scrape_configs``: further ``scrape_configs`` entries (dicts), as in prometheus.yml.
    After ``start()``: ``url``, ``port``, ``config_path``, ``config`` (the dict written)."""

    tool = "prometheus"
    name = "prometheus"

    def __init__(
        self,
        targets: Iterable[str],
        *,
        workdir: Path | str | None = None,
        rule_files: Iterable[Path | str] = (RULES_FILE,),
        alertmanager: "Alertmanager | str | None" = None,
        job: str = "warning",
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        extra_scrape_configs: Iterable[Mapping[str, Any]] = (),
        binary: str | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(workdir, binary=binary, host=host)
        self.targets = list(targets)
        self.rule_files = [str(Path(p).resolve()) for p in rule_files]
        self.alertmanager = alertmanager
        self.job = job
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.extra_scrape_configs = [dict(c) for c in extra_scrape_configs]
        self.config_path = self.workdir / "prometheus.yml"
        self.config: dict[str, Any] = {}

    def _write_config(self) -> None:
        cfg: dict[str, Any] = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "rule_files": self.rule_files,
            "scrape_configs": [
                {"job_name": self.job, "metrics_path": "/metrics", "static_configs": [{"targets": self.targets}]},
                *self.extra_scrape_configs,
            ],
        }
        if self.alertmanager is not None:
            am = self.alertmanager.address if isinstance(self.alertmanager, Alertmanager) else str(self.alertmanager)
            cfg["alerting"] = {"alertmanagers": [{"api_version": "v2", "static_configs": [{"targets": [am]}]}]}
        self.config = cfg
        _yaml_dump(cfg, self.config_path)

    def _args(self) -> list[str]:
        return [
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address={self.address}",
            f"--web.external-url=http://{self.address}/",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1d",
            # Re-send firing alerts every second (default 1m): an alert evaluated before the
            # Alertmanager was discovered (discovery updates come every 5 s) is not held back.
            "--rules.alert.resend-delay=1s",
            "--log.level=info",
        ]

    # -- API --
    def api(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET /api/v1/<path>`` → the ``data`` member (raises ServerError unless status=success)."""
        body = self.get_json("/api/v1/" + path.lstrip("/"), params)
        if body.get("status") != "success":
            raise ServerError(f"/api/v1/{path}: {body}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query → the result list (``[{"metric": {...}, "value": [ts, "v"]}, ...]``)."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = at
        data = self.api("query", params)
        res = data["result"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": res}]
        return res

    def query_value(self, expr: str) -> float | None:
        """The value of a query returning at most one sample, or None when it returns nothing."""
        res = self.query(expr)
        if not res:
            return None
        if len(res) > 1:
            raise ValueError(f"{expr!r} returned {len(res)} series")
        return float(res[0]["value"][1])

    def alerts(self) -> list[dict[str, Any]]:
        """``/api/v1/alerts``: pending and firing alerts (``labels``, ``annotations``, ``state``...)."""
        return self.api("alerts")["alerts"]

    def rules(self) -> list[dict[str, Any]]:
        """``/api/v1/rules`` groups (check ``health``/``lastError`` of each rule)."""
        return self.api("rules")["groups"]

    def targets_active(self) -> list[dict[str, Any]]:
        return self.api("targets")["activeTargets"]

    def reload(self) -> None:
        """Rewrite the config (e.g. after changing ``targets``) and ``POST /-/reload``."""
        self._write_config()
        req = urllib.request.Request(self.url + "/-/reload", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass

    def wait_for_targets_up(self, timeout: float = 20.0, job: str | None = None) -> list[dict[str, Any]]:
        """Until every target of ``job`` (default: this job) has been scraped successfully."""
        job = job or self.job

        def ok() -> list[dict[str, Any]] | None:
            ts = [t for t in self.targets_active() if t.get("labels", {}).get("job") == job]
            return ts if ts and all(t.get("health") == "up" for t in ts) else None

        try:
            return self._poll(ok, timeout, f"targets of job {job} up")
        except TimeoutError as e:
            raise TimeoutError(f"{e}: {self.targets_active()}") from None

    def wait_for(self, expr: str, predicate: Callable[[list[dict[str, Any]]], bool] = bool, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Poll an instant query until ``predicate(result)`` holds (default: non-empty); the result."""
        def check() -> list[dict[str, Any]] | None:
            res = self.query(expr)
            return res if predicate(res) else None

        return self._poll(check, timeout, f"query {expr!r}")

    def wait_for_alert(self, alertname: str, *, state: str = "firing", labels: Mapping[str, str] | None = None,
                       timeout: float = 20.0) -> dict[str, Any]:
        """Until Prometheus has the alert in ``state`` (pending|firing) with ``labels``; the alert."""
        def find() -> dict[str, Any] | None:
            for a in self.alerts():
                if a["labels"].get("alertname") == alertname and a.get("state") == state and _labels_match(a["labels"], labels):
                    return a
            return None

        try:
            return self._poll(find, timeout, f"Prometheus alert {alertname} {state}")
        except TimeoutError as e:
            raise TimeoutError(f"{e}; alerts now: {self.alerts()}\n{self.log_tail(10)}") from None


class Alertmanager(_Server):
    """A real Alertmanager sending every notification to ``webhook_url``.

    * default: :func:`alertmanager_config` — one webhook receiver, ``group_by``, ``group_wait`` 1 s,
      ``group_interval`` 1 s, ``repeat_interval`` 4 h;
    * ``deploy_config=True``: ``deploy/alertmanager/alertmanager.yml`` (its routes, receivers,
      inhibit rules) with all URLs → ``webhook_url`` and the timings above (:func:`deploy_alertmanager_config`);
    * ``config=<dict>``: exactly that config.
    """

    tool = "alertmanager"
    name = "alertmanager"

    def __init__(
        self,
        webhook_url: str | None = None,
        *,
        workdir: Path | str | None = None,
        deploy_config: bool = False,
        config: Mapping[str, Any] | None = None,
        group_by: Sequence[str] = ("alertname", "street"),
        group_wait: str = "1s",
        group_interval: str = "1s",
        repeat_interval: str = "4h",
        binary: str | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(workdir, binary=binary, host=host)
        if config is not None:
            self.config = copy.deepcopy(dict(config))
        elif webhook_url is None:
            raise ValueError("webhook_url or config is required")
        elif deploy_config:
            self.config = deploy_alertmanager_config(webhook_url, group_wait=group_wait, group_interval=group_interval,
                                                     repeat_interval=repeat_interval)
        else:
            self.config = alertmanager_config(webhook_url, group_by=group_by, group_wait=group_wait,
                                              group_interval=group_interval, repeat_interval=repeat_interval)
        self.webhook_url = webhook_url
        self.config_path = self.workdir / "alertmanager.yml"

    def _write_config(self) -> None:
        _yaml_dump(self.config, self.config_path)

    def _args(self) -> list[str]:
        return [
            f"--config.file={self.config_path}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address={self.address}",
            f"--web.external-url=http://{self.address}/",
            "--cluster.listen-address=",  # no gossip listener (it would bind 0.0.0.0:9094)
            "--log.level=info",
        ]

    # -- API v2 --
    def alerts(self, **filters: Any) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts`` (filters: ``active``, ``silenced``, ``inhibited``, ``filter=[...]``)."""
        params = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in filters.items()}
        return self.get_json("/api/v2/alerts", params or None)

    def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """``POST /api/v2/alerts``: each ``{"labels": {...}, "annotations": {...}, "startsAt"?, "endsAt"?}``."""
        self.post_json("/api/v2/alerts", list(alerts))

    def wait_for_alert(self, alertname: str, *, labels: Mapping[str, str] | None = None, timeout: float = 20.0) -> dict[str, Any]:
        """Until Alertmanager holds an alert ``alertname`` with ``labels``; the alert."""
        def find() -> dict[str, Any] | None:
            for a in self.alerts():
                if a["labels"].get("alertname") == alertname and _labels_match(a["labels"], labels):
                    return a
            return None

        return self._poll(find, timeout, f"Alertmanager alert {alertname}")
