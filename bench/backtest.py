"""Backtest throughput against an orjson-parse-only pass of the same file, measured in the same run.

    .venv/bin/python bench/backtest.py [--days 7] [--scale 1] [--input FILE] [--jobs 2] [--keep DIR]
    .venv/bin/python bench/backtest.py --year [--jobs 2] [--keep DIR] [--input YEAR.jsonl]  # a simulated year (~34M records, ~12 GB)

1. input: ``warning simulate --days D --scale S`` (7 days at scale 1 ≈ 740k records, Beijing's
   volume), or ``--input FILE`` (raw JSONL, each line with ``source``);
2. baseline: ``orjson.loads`` of every line of the file, streamed (records/s);
3. raw backtest (``warning backtest --input``: parse, dedup, mask, risk terms, sentiment, detect),
   one process, then ``--jobs N``;
4. the enriched events of the same records written once (``enrich_to_file``), then the enriched
   backtest (``warning backtest --from-events``), one process and ``--jobs N``;
5. two parts of the work alone, timed in the bench's own process like the baseline: ``mask_pii``
   of every record's text, and msgspec decoding of every enriched event — the one-process
   backtests do each on top of the rest of their work.

Each backtest runs as its own ``warning`` process (records/s from its own timer, which excludes
start-up; CPU seconds of the process and its jobs, and records per CPU-second — the rate on an idle
core; peak memory of the process tree as summed PSS, sampled every second — it must not grow with
the input, the read is streamed). Prints records/s, records/s
per process, the ratio to the baseline, and the issue's targets next to the measured numbers with
PASS/FAIL: raw ≥ 20,000 records/s per process, enriched ≥ 100,000 records/s per process, and a
year at scale 1 in ≤ 10 minutes with ``--jobs 2`` (extrapolated from the measured ``--jobs N``
rate; ``--year`` simulates the year into a file, streamed, and runs it — wall time printed).
The alerts of ``--jobs N`` and ``--from-events`` are checked byte-equal to the one-process raw run.

On a shared machine the wall-clock rates are lower bounds: the load average at start and end is
printed; compare ratios across runs, not absolute rates.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RAW_TARGET = 20_000  # records/s per process, raw records with text enrichment
EVENTS_TARGET = 100_000  # records/s per process, enriched events
YEAR_TARGET_S = 600.0  # a simulated year at scale 1 with --jobs 2
YEAR_RECORDS = 33_900_000  # warning simulate --start 2025-01-06 --days 365 --scale 1 --seed 11: 33,898,850 records, 11.9 GB


@dataclass
class Measured:
    name: str
    records: int
    seconds: float  # the run's own timer (no start-up)
    processes: int
    cpu_s: float | None = None
    pss_peak_mb: float | None = None
    rss_max_proc_mb: float | None = None

    @property
    def rate(self) -> float:
        return self.records / max(self.seconds, 1e-9)

    @property
    def per_process(self) -> float:
        return self.rate / self.processes

    @property
    def per_cpu_s(self) -> float | None:
        """Records per CPU-second (all processes, start-up included): the rate of one process on a
        core of its own — what the wall rate would be on an idle machine."""
        return self.records / self.cpu_s if self.cpu_s else None


# ---------------------------------------------------------------------- memory of a process tree
def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def _mem_kb(pid: int, field: str) -> int:
    """``field`` (``Pss:`` of smaps_rollup, or ``VmRSS:`` of status) of a process, in kB."""
    path = f"/proc/{pid}/smaps_rollup" if field == "Pss:" else f"/proc/{pid}/status"
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeRss:
    """Samples the memory of a process and its descendants (Linux /proc) every ``every`` s: the
    peak of their summed PSS (forked jobs share pages copy-on-write; PSS splits shared pages
    between the processes, so the sum is what the tree really holds) and the largest RSS of one."""

    def __init__(self, pid: int, every: float = 1.0) -> None:
        self.pid, self.every = pid, every
        self.peak_kb = 0
        self.max_proc_kb = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids, todo = [], [self.pid]
            while todo:
                p = todo.pop()
                pids.append(p)
                todo += _children(p)
            self.peak_kb = max(self.peak_kb, sum(_mem_kb(p, "Pss:") for p in pids))
            self.max_proc_kb = max(self.max_proc_kb, max((_mem_kb(p, "VmRSS:") for p in pids), default=0))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._t.join()


# ---------------------------------------------------------------------- the runs
STATS_LINE = re.compile(r"records=(\d+) .*seconds=([\d.]+)")


def run_child(name: str, argv: list[str], processes: int) -> Measured:
    """``python <argv>`` as its own process; records and seconds from its stats line."""
    proc = subprocess.Popen([sys.executable, *argv], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rss = TreeRss(proc.pid)
    _, err = proc.communicate()
    rss.stop()
    if proc.returncode != 0:
        sys.exit(f"{name} failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    m = STATS_LINE.search(err.decode())
    if m is None:
        sys.exit(f"{name}: no stats line in\n{err.decode()[-2000:]}")
    return Measured(name, int(m.group(1)), float(m.group(2)), processes,
                    pss_peak_mb=rss.peak_kb / 1024, rss_max_proc_mb=rss.max_proc_kb / 1024)


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measured(name: str, args: list[str], processes: int, argv: list[str] | None = None) -> Measured:
    """``warning <args>`` (or ``python <argv>``) timed, with the CPU of it and its jobs and the peak PSS."""
    c0 = cpu_children()
    m = run_child(name, argv if argv is not None else ["-m", "warning", *args], processes)
    m.cpu_s = cpu_children() - c0  # the process and its jobs (waited for), start-up included
    print(f"  {m.name}: {m.records:,} records in {m.seconds:.1f} s → {m.rate:,.0f} records/s "
          f"(CPU {m.cpu_s:.0f} s, peak PSS {m.pss_peak_mb:,.0f} MB)", flush=True)
    return m


def each_line(name: str, path: Path, fn: Callable[[bytes], object]) -> Measured:
    """``fn`` of every non-blank line of ``path`` (streamed), timed in this process."""
    n = 0
    t0 = time.perf_counter()
    with open(path, "rb", buffering=1 << 20) as f:
        for line in f:
            if line.strip():
                fn(line)
                n += 1
    m = Measured(name, n, time.perf_counter() - t0, 1)
    print(f"  {m.name}: {n:,} records in {m.seconds:.1f} s → {m.rate:,.0f} records/s", flush=True)
    return m


def orjson_baseline(path: Path) -> Measured:
    """Parse every line with orjson (streamed): the baseline the issue's targets are relative to."""
    return each_line("orjson parse only (baseline)", path, orjson.loads)


ENRICH = """
import sys, time
from warning.backtest.runner import enrich_to_file, iter_lines
from warning.config import load_settings
from warning.streams.app import build_enricher
s = load_settings(None)
st = enrich_to_file(s, iter_lines(sys.argv[1]), sys.argv[2], enricher=build_enricher(s))
print(f"records={st.records} accepted={st.accepted} seconds={st.seconds:.3f}", file=sys.stderr)
"""


def parts_alone(raw: Path, events: Path) -> list[Measured]:
    """Two parts of the work alone, timed in this process like the baseline: the one-process
    backtests do each of them on top of the rest of their work.

    * ``mask_pii`` of every raw record's text (its feed's ``text_fields`` joined with 。, as ingest
      builds it), streamed, only the masking timed. The raw backtest masks the text of every
      accepted record in its range (with ``--jobs``, of its own partitions) before risk terms,
      sentiment, entities and detection; this pass masks every line's, rejected or duplicate ones too (the simulator writes
      none by default). Lines that are not JSON objects are skipped;
    * decoding every enriched event with the decoder ``--from-events`` uses (``EVENT_DECODER``,
      msgspec, streamed), before any detector sees it. A job of ``--jobs N`` decodes only the key of
      other partitions' events, and a slimmer struct would decode faster: this row is what the
      present decoder costs one process, not a floor of every design.
    """
    from warning.core.events import EVENT_DECODER
    from warning.core.feeds import default_feeds
    from warning.core.text.mask import mask_pii

    fields = {name: feed.text_fields for name, feed in default_feeds().items()}
    n, warm, spent = 0, 1000, 0.0  # the first texts untimed: lazy loads (tagger, dictionaries)
    with open(raw, "rb", buffering=1 << 20) as f:
        for line in f:
            try:
                rec = orjson.loads(line) if line.strip() else None
            except orjson.JSONDecodeError:
                rec = None
            if not isinstance(rec, dict):
                continue
            text = "。".join(str(v) for v in (rec.get(k) for k in fields.get(rec.get("source"), ())) if v)
            if warm:
                warm -= 1
                mask_pii(text)
            t0 = time.perf_counter()
            if text:
                mask_pii(text)
            spent += time.perf_counter() - t0
            n += 1
    mask = Measured("mask_pii of each text only", n, spent, 1)
    print(f"  {mask.name}: {mask.records:,} records in {mask.seconds:.1f} s → {mask.rate:,.0f} records/s", flush=True)
    return [mask, each_line("decode each enriched event only", events, EVENT_DECODER.decode)]


def enrich_once(raw: Path, events: Path) -> Measured:
    return measured("enrich once (enrich_to_file)", [], 1, argv=["-c", ENRICH, str(raw), str(events)])


def simulate(out: Path, days: float, scale: float, seed: int) -> Path:
    print(f"simulating {days:g} days at scale {scale:g} → {out} …", flush=True)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "warning", "simulate", "--start", "2025-01-06", "--days", str(days),
                        "--scale", str(scale), "--seed", str(seed), "--out", str(out), "-q"], cwd=ROOT,
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(r.stderr[-3000:])
    print(f"  {r.stderr.strip()}  [{time.perf_counter() - t0:.0f} s]", flush=True)
    return out / "events.jsonl"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# ---------------------------------------------------------------------- output
def table(rows: list[Measured], base: Measured, targets: dict[str, tuple[float, str]]) -> None:
    print()
    print(f"{'':38s} {'records/s':>10s} {'per proc':>10s} {'vs orjson':>9s} {'CPU s':>7s} {'rec/CPU-s':>9s} "
          f"{'peak PSS':>9s}   target (judged on the wall rate per process)")
    for m in rows:
        cpu = f"{m.cpu_s:7.0f} {m.per_cpu_s:9,.0f}" if m.cpu_s else f"{'':7s} {'':9s}"
        rss = f"{m.pss_peak_mb:6,.0f} MB" if m.pss_peak_mb is not None else f"{'':9s}"
        tgt = ""
        if m.name in targets:
            goal, what = targets[m.name]
            tgt = f"≥ {goal:,.0f}/s per process ({what}): {'PASS' if m.per_process >= goal else 'FAIL'}"
        print(f"{m.name:38s} {m.rate:10,.0f} {m.per_process:10,.0f} {m.rate / base.rate:8.3f}× {cpu} {rss}   {tgt}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", type=Path, default=None, help="raw JSONL (default: simulate)")
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", type=Path, default=None, help="work in this directory and keep its files")
    ap.add_argument("--year", action="store_true",
                    help="simulate 365 days at scale 1 into a file (streamed, ~12 GB; or give it as --input) and run it with --jobs; wall time")
    a = ap.parse_args()
    work = a.keep or Path(tempfile.mkdtemp(prefix="bench-backtest-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} CPUs, load average {loadavg()} (at start)", flush=True)
    if a.year:
        return year(work, a.jobs, a.seed, a.input)
    raw = a.input or simulate(work / "sim", a.days, a.scale, a.seed)
    size_mb = raw.stat().st_size / 2**20
    print(f"input {raw} ({size_mb:,.0f} MB)", flush=True)

    base = orjson_baseline(raw)
    j = a.jobs
    raw1 = measured("raw backtest, 1 process", ["backtest", "--input", str(raw), "--out", str(work / "raw1"), "-q"], 1)
    rawj = measured(f"raw backtest, --jobs {j}", ["backtest", "--input", str(raw), "--out", str(work / f"raw{j}"), "-q",
                                                  "--jobs", str(j)], j)
    events = work / "enriched.jsonl"
    enr = enrich_once(raw, events)
    ev1 = measured("enriched events, 1 process", ["backtest", "--from-events", "--input", str(events),
                                                  "--out", str(work / "ev1"), "-q"], 1)
    evj = measured(f"enriched events, --jobs {j}", ["backtest", "--from-events", "--input", str(events),
                                                    "--out", str(work / f"ev{j}"), "-q", "--jobs", str(j)], j)
    mask, dec = parts_alone(raw, events)
    same = {name: (work / name / "alerts.jsonl").read_bytes() == (work / "raw1" / "alerts.jsonl").read_bytes()
            for name in (f"raw{j}", "ev1", f"ev{j}")}
    rows = [base, mask, raw1, rawj, enr, dec, ev1, evj]
    table(rows, base, {raw1.name: (RAW_TARGET, "raw"), ev1.name: (EVENTS_TARGET, "enriched")})
    n_alerts = len((work / "raw1" / "alerts.jsonl").read_bytes().splitlines())
    print(f"\nalerts: {n_alerts:,}; byte-identical to the one-process raw run: "
          + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in same.items()))
    print(f"memory: input {size_mb:,.0f} MB; peak PSS {raw1.pss_peak_mb:,.0f} MB (raw, 1 process), "
          f"{rawj.pss_peak_mb:,.0f} MB summed over --jobs {j} and its parent (largest process RSS {rawj.rss_max_proc_mb:,.0f} MB)")
    est = YEAR_RECORDS / rawj.rate
    print(f"a year at scale 1 (≈{YEAR_RECORDS / 1e6:.0f}M records) with --jobs {j} at the measured {rawj.rate:,.0f} records/s: "
          f"≈{est / 60:,.0f} min (target ≤ {YEAR_TARGET_S / 60:.0f} min: {'PASS' if est <= YEAR_TARGET_S else 'FAIL'}, "
          f"extrapolated; run it with --year)")
    print(f"machine: load average {loadavg()} (at end); wall rates on a shared machine are lower bounds")
    if not a.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    if not all(same.values()):
        sys.exit(1)


def year(work: Path, jobs: int, seed: int, raw: Path | None = None) -> None:
    """Simulate a year at scale 1 into a file (the simulator streams it day by day; or take
    ``--input``, a year simulated before), then run the raw backtest with ``--jobs`` on it; prints
    both wall times and the peak PSS."""
    if raw is None:
        t0 = time.perf_counter()
        raw = simulate(work / "year", 365, 1.0, seed)
        print(f"input {raw} ({raw.stat().st_size / 2**30:,.1f} GB), simulated in {(time.perf_counter() - t0) / 60:.1f} min",
              flush=True)
    else:
        print(f"input {raw} ({raw.stat().st_size / 2**30:,.1f} GB), simulated before", flush=True)
    t1 = time.perf_counter()
    m = measured(f"raw backtest of a year, --jobs {jobs}", ["backtest", "--input", str(raw), "--out", str(work / "year-out"),
                                                           "-q", "--jobs", str(jobs)], jobs)
    wall = time.perf_counter() - t1
    print(f"\na year at scale 1: {m.records:,} records, backtest --jobs {jobs} wall {wall / 60:.1f} min "
          f"(run timer {m.seconds / 60:.1f} min; {m.rate:,.0f} records/s, {m.per_process:,.0f} per process; "
          f"peak PSS {m.pss_peak_mb:,.0f} MB) — target ≤ {YEAR_TARGET_S / 60:.0f} min: "
          f"{'PASS' if m.seconds <= YEAR_TARGET_S else 'FAIL'}")
    print(f"machine: load average {loadavg()} (at end)")


if __name__ == "__main__":
    main()
