"""The worker's web server serves only its own pages (issue 11, defect 3).

Faust's built-in ``/router/`` and ``/table/`` pages answered anyone who could reach the port with
record ids (``/table/dedup/…``) and pickled detector state (``/table/detect/meta%3A0/``). Only
``/metrics`` and ``/healthz`` are served now; everything else is a 404.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest

from warning.config import load_settings
from warning.streams.topics import ensure_topics

from worker_proc import Worker, isolated_env

pytestmark = pytest.mark.integration

CLOSED = ["/", "/router/", "/table/", "/table/dedup/", "/table/detect/", "/table/detect/meta%3A0/",
          "/graph/", "/stats/", "/performance/", "/assignment/"]


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_only_metrics_and_healthz_are_served(broker, tmp_path):
    env = isolated_env(tmp_path, broker.url)
    ensure_topics(load_settings(None, env=env))
    with Worker(env, tmp_path / "w.log") as w:
        w.metrics(timeout=60)  # up
        deadline = time.monotonic() + 30
        while status(w.web + "/healthz") != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert status(w.web + "/healthz") == 200
        assert status(w.web + "/metrics") == 200
        served = {path: status(w.web + path) for path in CLOSED}
    assert served == {path: 404 for path in CLOSED}, served
