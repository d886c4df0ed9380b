"""Reading a worker's ``/healthz`` body (:func:`warning.streams.app.create_app`): how much of its
input it has taken — for tools that wait for a worker to catch up (``warning demo``,
``bench/ingest.py``).

>>> h = {"accepted": 5, "dead_lettered": 1, "duplicates": 2,
...      "engines": {"0": {"released": 3, "late": 1, "buffered": 0}, "1": {"released": 0, "late": 0, "buffered": 1}}}
>>> ingested(h), detected(h)
(8, 5)
>>> detected({"accepted": 0})   # no detection stage (or not started, or fenced)
0
"""

from __future__ import annotations

from typing import Any


def ingested(h: dict[str, Any]) -> int:
    """Raw records ingest has taken: accepted (after the dedup hop), dead-lettered, or duplicates."""
    return h.get("accepted", 0) + h.get("dead_lettered", 0) + h.get("duplicates", 0)


def detected(h: dict[str, Any]) -> int:
    """Accepted events detection has taken: applied to the street state, counted late, or waiting
    in the reorder buffer."""
    return sum(e["released"] + e["late"] + e["buffered"] for e in (h.get("engines") or {}).values())
