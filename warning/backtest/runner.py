"""Run the pure core over recorded events, in-process, exactly as the workers would.

The core objects come from the composition root, :class:`warning.core.pipeline.Pipeline`: records
go through the same :class:`~warning.core.ingest.Ingestor` (parse, validate, mask, text signals),
are deduplicated by (source, id), and are routed to one :class:`~warning.core.engine.Engine` per
partition — the partition Kafka's default partitioner (murmur2 of the street key) would give them
on ``warning.events`` with ``kafka.partitions`` partitions — so the backtest's alerts are those the
stream workers emit for the same records. Each engine's reorder buffer gets the workers' limit
(``windows.max_buffered``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

from warning.config import Settings
from warning.core.events import ALERT_ENCODER, Alert
from warning.core.pipeline import Pipeline, RunStats


def iter_lines(path: str | Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        for line in f:
            line = line.strip()
            if line:
                yield line


def run(settings: Settings, lines: Iterable[bytes], start: float | None = None, end: float | None = None,
        enricher: Any = None, progress: Any = None) -> tuple[list[dict[str, Any]], RunStats]:
    """Run the pipeline over raw JSONL lines; returns (alerts in emission order, stats)."""
    t0 = time.perf_counter()
    pipe = Pipeline.from_settings(settings, enricher=enricher)
    for e in pipe.engines:  # the reorder-buffer limit the stream workers apply (windows.max_buffered)
        e.max_buffered = settings.windows.max_buffered
    alerts = pipe.feed_all(lines, start, end, progress)
    alerts += pipe.flush()
    pipe.stats.seconds = time.perf_counter() - t0
    return alerts, pipe.stats


def write_alerts(path: Path, alerts: list[Alert]) -> None:
    with open(path, "wb") as f:
        for a in alerts:
            f.write(ALERT_ENCODER.encode(a) + b"\n")
