"""Run the pure core over recorded events, in-process, exactly as the workers would.

The core objects come from the composition root, :class:`warning.core.pipeline.Pipeline`: records
go through the same :class:`~warning.core.ingest.Ingestor` (parse, validate, mask, text signals),
are deduplicated by (source, id), and are routed to one :class:`~warning.core.engine.Engine` per
partition — the partition Kafka's default partitioner (murmur2 of the street key) would give them
on ``warning.events`` with ``kafka.partitions`` partitions — so the backtest's alerts are those the
stream workers emit for the same records. Each engine's reorder buffer gets the workers' limit
(``windows.max_buffered``).

Three entry points (the contract other modules use, e.g. :mod:`warning.backtest.sweep`):

* :func:`run` — raw JSONL lines (each names its ``source``): parse → dedup → enrich → detect;
* :func:`run_events` — enriched events (``warning.events`` records): detect only, no text work;
* :func:`enrich_to_file` — raw lines → the accepted, enriched events as JSONL, once; ``run_events``
  over that file gives exactly the alerts ``run`` gives over the raw lines (same order too).

**Parallel runs** (``jobs=N``): the engines are independent, so job ``j`` (a forked process) runs
the engines of partitions ``p % N == j``. In a raw run every job reads and parses all records and
keeps every duplicate filter (they are per feed over all records, and cheap), but enriches text
and detects only for the events of its partitions — text work is the expensive part. Each alert
is tagged with the index of the record that caused it (or, at the end, with its partition), and
the jobs' alerts are merged by tag: exactly the order, and so the bytes, of one process. The input
must be re-readable: a file (:func:`iter_lines`), a list, or a source object with
``read(progress, part)`` (the Kafka inputs of ``warning backtest``). Memory stays bounded: every
job streams its input in chunks of :data:`CHUNK` records.

Progress: ``progress(n)`` is called as input is consumed, ``n`` in the input's own unit — bytes
for a file (:attr:`FileLines.total` is its size, so a bar can show an ETA), records otherwise;
with ``jobs=N`` the jobs' progress is summed (for an input every job reads whole, divided by N).
"""

from __future__ import annotations

import heapq
import itertools
import multiprocessing as mp
import os
import time
import traceback
from multiprocessing.connection import wait as mp_wait
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from warning.config import Settings
from warning.core.events import ALERT_DECODER, ALERT_ENCODER, EVENT_ENCODER, Alert
from warning.core.pipeline import Pipeline, RunStats, merge_spending

#: records per chunk (the text enricher scores a chunk in one batch)
CHUNK = 2000
#: the tag index of the alerts of the final flush (after every record)
FLUSH_INDEX = 1 << 62

Progress = Callable[[int], None]
Tag = tuple[int, int]


class FileLines:
    """The non-empty lines of a JSONL file (stripped). Re-readable: each iteration opens the file
    again (so parallel jobs each stream it); :meth:`read` reports progress in bytes."""

    partitioned = False  # every job reads all of it

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def total(self) -> int:
        """Progress total: the file's size in bytes."""
        return self.path.stat().st_size

    def __iter__(self) -> Iterator[bytes]:
        return self.read()

    def read(self, progress: Progress | None = None, part: tuple[int, int] | None = None) -> Iterator[bytes]:  # noqa: ARG002
        done = 0
        with open(self.path, "rb", buffering=1 << 20) as f:
            for line in f:
                if progress is not None:
                    done += len(line)
                    if done >= 1 << 20:
                        progress(done)
                        done = 0
                line = line.strip()
                if line:
                    yield line
        if progress is not None and done:
            progress(done)


def iter_lines(path: str | Path) -> FileLines:
    """The non-empty lines of a JSONL file (re-readable; see :class:`FileLines`)."""
    return FileLines(path)


def progress_total(lines: Any) -> int | None:
    """The progress total of an input (bytes of a file), None if unknown."""
    total = getattr(lines, "total", None)
    return total if isinstance(total, int) else None


# ---------------------------------------------------------------------- the entry points
def run(settings: Settings, lines: Iterable[bytes], start: float | None = None, end: float | None = None,
        enricher: Any = None, progress: Progress | None = None, jobs: int = 1,
        watch: set[str] | None = None) -> tuple[list[Alert], RunStats]:
    """Run the pipeline over raw JSONL lines; returns (alerts in emission order, stats).
    ``watch``: street keys whose hourly (observed, expected) series to return in ``stats.series``."""
    return _run("raw", settings, lines, start, end, enricher, progress, jobs, watch)


def run_events(settings: Settings, events: Iterable[bytes], start: float | None = None, end: float | None = None,
               progress: Progress | None = None, jobs: int = 1,
               watch: set[str] | None = None) -> tuple[list[Alert], RunStats]:
    """Run detection over enriched events (``warning.events`` records, e.g. a file written by
    :func:`enrich_to_file`, or the events topic); returns (alerts in emission order, stats).
    ``stats.records`` counts the event records; undecodable ones are dead-lettered
    (``invalid_event``), event ids a partition already took are duplicates. ``watch`` as for :func:`run`."""
    return _run("events", settings, events, start, end, None, progress, jobs, watch)


def enrich_to_file(settings: Settings, lines: Iterable[bytes], path: str | Path, start: float | None = None,
                   end: float | None = None, enricher: Any = None, progress: Progress | None = None) -> RunStats:
    """Parse, deduplicate and enrich raw lines once; write the accepted events, in input order, as
    enriched-event JSONL to ``path`` (atomically). :func:`run_events` over it gives the alerts
    :func:`run` gives over ``lines`` (with the same settings but detection's)."""
    t0 = time.perf_counter()
    pipe = Pipeline.from_settings(settings, enricher=enricher)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        for chunk in _chunks(_read(lines, progress, None)):
            evs = pipe.enrich_lines(chunk, start, end)
            if evs:
                f.write(b"\n".join(EVENT_ENCODER.encode(ev) for ev in evs) + b"\n")
    os.replace(tmp, path)
    pipe.stats.seconds = time.perf_counter() - t0
    return pipe.stats


def write_alerts(path: Path, alerts: list[Alert]) -> None:
    with open(path, "wb") as f:
        for a in alerts:
            f.write(ALERT_ENCODER.encode(a) + b"\n")


# ---------------------------------------------------------------------- one job
def _run(kind: str, settings: Settings, lines: Iterable[bytes], start: float | None, end: float | None,
         enricher: Any, progress: Progress | None, jobs: int, watch: set[str] | None = None) -> tuple[list[Alert], RunStats]:
    if jobs < 1:
        raise ValueError(f"jobs must be ≥ 1, got {jobs}")
    t0 = time.perf_counter()
    jobs = min(jobs, settings.kafka.partitions)  # a job per partition at most
    if jobs == 1:
        tagged, pipe = _job(kind, settings, lines, start, end, enricher, (0, 1), progress, watch)
        pipe.stats.seconds = time.perf_counter() - t0
        return [a for _, a in tagged], pipe.stats
    if not (hasattr(lines, "read") or isinstance(lines, (list, tuple))):
        raise ValueError("jobs > 1 needs an input every job can read: a file (iter_lines), a list, "
                         "or a source with read(progress, part)")
    alerts, stats = _parallel(kind, settings, lines, start, end, enricher, progress, jobs, watch)
    stats.seconds = time.perf_counter() - t0
    return alerts, stats


def _job(kind: str, settings: Settings, lines: Iterable[bytes], start: float | None, end: float | None,
         enricher: Any, part: tuple[int, int], progress: Progress | None,
         watch: set[str] | None = None) -> tuple[list[tuple[Tag, Alert]], Pipeline]:
    """The engines of partitions ``p % n == j`` (``part = (j, n)``) over the whole input; alerts
    tagged (record index, partition) or (:data:`FLUSH_INDEX`, partition) for the final flush."""
    j, n = part
    keep: Callable[[int], bool] | None = None if n == 1 else (lambda p: p % n == j)
    pipe = Pipeline.from_settings(settings, enricher=enricher)
    for e in pipe.engines:  # the reorder-buffer limit the stream workers apply (windows.max_buffered)
        e.max_buffered = settings.windows.max_buffered
        if watch:
            e.watch = set(watch)
    out: list[tuple[Tag, Alert]] = []
    base = 0
    for chunk in _chunks(_read(lines, progress, part if n > 1 else None)):
        if kind == "raw":
            tagged = pipe.feed_lines_tagged(chunk, start, end, keep)
        else:
            tagged = pipe.feed_events_tagged(chunk, start, end, keep, count_invalid=j == 0)
        out += [((base + i, 0), a) for i, a in tagged]
        base += len(chunk)
    out += [((FLUSH_INDEX, p), a) for p, a in pipe.flush_tagged(keep)]
    if watch:  # a street lives in one partition
        pipe.stats.series = dict(sorted((k, v) for e in pipe.engines for k, v in getattr(e, "series", {}).items()))
    return out, pipe


def _read(lines: Iterable[bytes], progress: Progress | None, part: tuple[int, int] | None) -> Iterator[bytes]:
    read = getattr(lines, "read", None)
    if read is not None:
        return read(progress, part)
    if progress is None:
        return iter(lines)
    return count_progress(lines, progress)


def count_progress(lines: Iterable[bytes], progress: Progress, every: int = 1000) -> Iterator[bytes]:
    """``lines``, calling ``progress(n)`` every ``every`` records (and at the end)."""
    n = 0
    for line in lines:
        yield line
        n += 1
        if n == every:
            progress(n)
            n = 0
    if n:
        progress(n)


def _chunks(it: Iterator[bytes], size: int = CHUNK) -> Iterator[list[bytes]]:
    while True:
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        yield chunk


# ---------------------------------------------------------------------- jobs in parallel
def _child(conn: Any, counters: Any, kind: str, settings: Settings, lines: Iterable[bytes], start: float | None,
           end: float | None, enricher: Any, part: tuple[int, int], watch: set[str] | None) -> None:
    j, n = part

    def progress(k: int) -> None:
        counters[j] += k

    try:
        tagged, pipe = _job(kind, settings, lines, start, end, enricher, part, progress, watch)
        spending = [(p, pipe.engine_spending(p)) for p in range(pipe.partitions) if p % n == j]
        conn.send(("ok", [(tag, ALERT_ENCODER.encode(a)) for tag, a in tagged], pipe.stats, spending))
    except BaseException:  # noqa: BLE001 — reported to the parent, which raises
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _parallel(kind: str, settings: Settings, lines: Iterable[bytes], start: float | None, end: float | None,
              enricher: Any, progress: Progress | None, jobs: int, watch: set[str] | None) -> tuple[list[Alert], RunStats]:
    # fork: the children inherit settings, the enricher and the input object without pickling
    ctx = mp.get_context("fork")
    counters = ctx.Array("q", jobs, lock=False)
    shared_read = not getattr(lines, "partitioned", False)
    procs: list[Any] = []
    conns: list[Any] = []
    try:
        for j in range(jobs):
            r, w = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_child, name=f"backtest-job-{j}", daemon=True,
                            args=(w, counters, kind, settings, lines, start, end, enricher, (j, jobs), watch))
            p.start()
            w.close()
            procs.append(p)
            conns.append(r)
        results: list[Any] = [None] * jobs
        reported = 0
        while any(r is None for r in results):
            for c in mp_wait([conns[j] for j in range(jobs) if results[j] is None], timeout=0.5):
                j = conns.index(c)
                try:
                    msg = c.recv()
                except EOFError:
                    procs[j].join(5)
                    raise RuntimeError(f"backtest job {j} died (exit code {procs[j].exitcode})") from None
                if msg[0] != "ok":
                    raise RuntimeError(f"backtest job {j} failed:\n{msg[1]}")
                results[j] = msg
            if progress is not None:
                done = sum(counters)
                done = done // jobs if shared_read else done
                if done > reported:
                    progress(done - reported)
                    reported = done
        for p in procs:
            p.join()
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
        for c in conns:
            c.close()
    merged = heapq.merge(*[r[1] for r in results], key=lambda x: x[0])
    alerts = [ALERT_DECODER.decode(b) for _, b in merged]
    stats = _merge_stats(kind, [r[2] for r in results])
    stats.alerts = len(alerts)
    spending = sorted((ps for r in results for ps in r[3]), key=lambda x: x[0])
    stats.budget = merge_spending(settings.alerts, [sp for _, sp in spending])
    for r in results:
        stats.series.update(r[2].series)
    stats.series = dict(sorted(stats.series.items()))
    return alerts, stats


def _merge_stats(kind: str, parts: list[RunStats]) -> RunStats:
    """The jobs' stats as one run's. Raw: every job counted every record (job 0's counts), the
    engine counts are summed. Events: each job counted the events of its partitions (and job 0
    the undecodable records): all summed."""
    first = parts[0]
    out = RunStats()
    if kind == "raw":
        out.records, out.accepted, out.duplicates = first.records, first.accepted, first.duplicates
        out.out_of_range, out.unresolved = first.out_of_range, first.unresolved
        out.dead_lettered = dict(first.dead_lettered)
        out.first_ts, out.last_ts = first.first_ts, first.last_ts
    else:
        for s in parts:
            out.records += s.records
            out.accepted += s.accepted
            out.duplicates += s.duplicates
            out.out_of_range += s.out_of_range
            out.unresolved += s.unresolved
            for k, v in s.dead_lettered.items():
                out.dead_lettered[k] = out.dead_lettered.get(k, 0) + v
        firsts = [s.first_ts for s in parts if s.first_ts is not None]
        lasts = [s.last_ts for s in parts if s.last_ts is not None]
        out.first_ts = min(firsts) if firsts else None
        out.last_ts = max(lasts) if lasts else None
    out.late = sum(s.late for s in parts)
    return out
