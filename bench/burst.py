"""Burst: a backlog of N raw records hits one worker at once; how fast it drains, what memory it
holds, and what the lag metrics say while and after it drains.

    .venv/bin/python bench/burst.py --n 50000
    .venv/bin/python bench/burst.py --n 150000 --settle 150
    .venv/bin/python bench/burst.py --n 150000 --env WARNING_WINDOWS__MAX_BUFFERED=1000
    .venv/bin/python bench/burst.py --n 10000 --settle 60 --trace   # where the memory grew (slow)

Embedded broker (Tansu), one real ``warning worker`` subprocess (2 partitions, as in the tests).
The records come from ``warning simulate`` (one simulated day ending now, at the scale that gives
about N records; the last N are kept, so event times run up to the wall clock) and are produced
as fast as kafka-python can, after the worker has joined. Every second the worker's ``/metrics``
and ``/proc/<pid>/status`` are read. Prints records/s (ingest: accepted + dead-lettered +
duplicates reaching N; detection: ``warning_events_unprocessed`` reaching 0 when the worker
exports it), peak RSS (VmHWM), RSS after drain (``--settle`` seconds after ingest finished), and
every 5 s: RSS, commit lag of ``warning.events``, unprocessed, reorder-buffered, held (unacked) and
watermark delay. ``--trace`` runs the worker under tracemalloc and prints the live-memory growth
from "worker ready" to "drained" by file and line, and the RSS before/after ``malloc_trim(0)``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from warning.brokers.tansu import EmbeddedBroker  # noqa: E402
from warning.config import load_settings  # noqa: E402
from warning.core.timeutil import BEIJING  # noqa: E402
from warning.streams.topics import ensure_topics  # noqa: E402

#: records a day of ``warning simulate --scale 1`` gives (roughly; the daily profile varies)
PER_DAY_AT_SCALE_1 = 90_000


#: ``--trace``: put in the worker's PYTHONPATH as sitecustomize. It starts tracemalloc, snapshots
#: when ``<out>.ready`` appears (worker warmed up) and, when ``<out>.now`` appears (burst drained),
#: writes the growth since then by file and by line, and the RSS before/after glibc malloc_trim(0).
TRACE_HOOK = """\
import ctypes, os, threading, time, tracemalloc

def _rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

if os.environ.get("BURST_TRACE_OUT"):
    tracemalloc.start(1)
    out = os.environ["BURST_TRACE_OUT"]

    def _watch():
        first = None
        while not os.path.exists(out + ".now"):
            if first is None and os.path.exists(out + ".ready"):
                first = tracemalloc.take_snapshot()
            time.sleep(1)
        snap = tracemalloc.take_snapshot()
        with open(out, "w") as f:
            f.write(f"traced total {sum(s.size for s in snap.statistics('filename')) / 1e6:.1f} MB\\n")
            if first is not None:
                for key in ("filename", "lineno"):
                    diff = snap.compare_to(first, key)
                    f.write(f"growth since ready: {sum(d.size_diff for d in diff) / 1e6:.1f} MB; top by {key}\\n")
                    for d in diff[:30]:
                        print(d, file=f)
            before = _rss()
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            f.write(f"RSS before malloc_trim {before:.0f} MB, after {_rss():.0f} MB\\nEND\\n")

    threading.Thread(target=_watch, daemon=True).start()
"""


def proc_kb(pid: int, field: str) -> int:
    """A ``VmRSS`` / ``VmHWM`` line of ``/proc/<pid>/status``, in kB (0 when gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def scrape(url: str) -> dict[str, float]:
    """Sums of the series this bench reads (by metric name, the events topic only for the lag)."""
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
            text = r.read().decode()
    except Exception:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        head, _, val = line.rpartition(" ")
        name = head.split("{", 1)[0]
        if name == "warning_consumer_lag":
            name = "commit_lag_events" if ".events\"" in head else "commit_lag_raw"
        elif name == "warning_events_total":
            name = "ingested"
        elif name == "warning_watermark_delay_seconds":
            out[name] = max(out.get(name, float("-inf")), float(val))
            continue
        out[name] = out.get(name, 0.0) + float(val)
    return out


def simulate(n: int, out: Path) -> list[bytes]:
    """The last ``n`` records of one simulated day ending now."""
    start = (datetime.now(BEIJING) - timedelta(days=1)).replace(microsecond=0)
    scale = max(0.01, n / PER_DAY_AT_SCALE_1 * 1.4)
    r = subprocess.run([sys.executable, "-m", "warning", "simulate", "--start", start.isoformat(), "--days", "1",
                        "--scale", f"{scale:.3f}", "--seed", "11", "--out", str(out), "-q"],
                       cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    lines = (out / "events.jsonl").read_bytes().splitlines()
    if len(lines) < n:
        raise SystemExit(f"simulated only {len(lines)} records (< {n})")
    return lines[-n:]


def produce(bootstrap: str, prefix: str, lines: list[bytes]) -> None:
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=256 * 1024)
    for line in lines:
        rec = orjson.loads(line)
        src = rec.pop("source")
        key = (rec.get("street_code") or rec["id"]).encode()
        p.send(f"{prefix}.{src}", value=orjson.dumps(rec), key=key)
    p.flush(300)
    p.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50_000, help="records in the burst")
    ap.add_argument("--settle", type=float, default=150.0, help="seconds to watch after ingest has drained")
    ap.add_argument("--timeout", type=float, default=900.0, help="give up ingest after this many seconds")
    ap.add_argument("--env", action="append", default=[], help="extra worker setting, e.g. WARNING_WINDOWS__MAX_BUFFERED=5000")
    ap.add_argument("--trace", action="store_true", help="tracemalloc in the worker (slow): print where the memory grew")
    args = ap.parse_args()
    from worker_proc import Worker, isolated_env

    tmp = Path(tempfile.mkdtemp(prefix="bench-burst-"))
    if args.trace:
        (tmp / "hook").mkdir()
        (tmp / "hook" / "sitecustomize.py").write_text(TRACE_HOOK)
        args.env += [f"PYTHONPATH={tmp / 'hook'}", f"BURST_TRACE_OUT={tmp / 'trace.txt'}"]
    t = time.monotonic()
    lines = simulate(args.n, tmp / "sim")
    print(f"simulated {len(lines)} records in {time.monotonic() - t:.0f} s", flush=True)
    extra = dict(kv.split("=", 1) for kv in args.env)
    with EmbeddedBroker(log_path=tmp / "tansu.log") as b:
        env = isolated_env(tmp, b.url, prefix="burst", **extra)
        env.pop("WARNING_KAFKA__PRODUCER_MAX_BATCH_SIZE", None)
        ensure_topics(load_settings(None, env=env))
        with Worker(env, tmp / "worker.log") as w:
            pid = w.proc.pid
            # warm-up: one record through ingest and detection
            produce(b.bootstrap, "burst", lines[:1])
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                if scrape(w.web).get("ingested", 0) >= 1:
                    break
                time.sleep(0.3)
            time.sleep(3)
            rss0 = proc_kb(pid, "VmRSS")
            if "BURST_TRACE_OUT" in extra:
                Path(extra["BURST_TRACE_OUT"] + ".ready").touch()
                time.sleep(3)
            print(f"worker ready, RSS {rss0 / 1024:.0f} MB; producing {len(lines) - 1} records", flush=True)
            t0 = time.monotonic()
            produce(b.bootstrap, "burst", lines[1:])
            t_prod = time.monotonic() - t0
            print(f"produced in {t_prod:.1f} s", flush=True)
            rows: list[tuple[float, dict[str, float], int]] = []
            t_ingest = t_detect = None
            last_print = -5.0
            print(f"{'t/s':>5} {'RSS/MB':>7} {'ingested':>9} {'commit_lag':>10} {'unprocessed':>11} "
                  f"{'buffered':>8} {'held':>7} {'wm_delay/s':>10}", flush=True)
            while True:
                now = time.monotonic() - t0
                m = scrape(w.web)
                rss = proc_kb(pid, "VmRSS")
                rows.append((now, m, rss))
                if t_ingest is None and m.get("ingested", 0) >= len(lines):
                    t_ingest = now
                if (t_detect is None and t_ingest is not None and "warning_events_unprocessed" in m
                        and m["warning_events_unprocessed"] == 0):
                    t_detect = now
                if now - last_print >= 5:
                    last_print = now

                    def g(k: str, fmt: str = "{:.0f}") -> str:
                        return fmt.format(m[k]) if k in m else "-"

                    print(f"{now:5.0f} {rss / 1024:7.0f} {g('ingested'):>9} {g('commit_lag_events'):>10} "
                          f"{g('warning_events_unprocessed'):>11} {g('warning_reorder_buffered'):>8} "
                          f"{g('warning_detect_unacked_events'):>7} {g('warning_watermark_delay_seconds'):>10}", flush=True)
                if t_ingest is not None and now - t_ingest >= args.settle:
                    break
                if t_ingest is None and now > args.timeout:
                    print("ingest did not drain in time", flush=True)
                    break
                if w.proc.poll() is not None:
                    print("worker died:\n" + w.log_tail(), flush=True)
                    break
                time.sleep(1.0)
            if "BURST_TRACE_OUT" in extra:  # analysis: a sitecustomize in the worker dumps tracemalloc
                Path(extra["BURST_TRACE_OUT"] + ".now").touch()
                trace_out, done = Path(extra["BURST_TRACE_OUT"]), time.monotonic() + 600
                while time.monotonic() < done and not (trace_out.exists() and "END" in trace_out.read_text()):
                    time.sleep(2)
            hwm = proc_kb(pid, "VmHWM")
            rss_end = proc_kb(pid, "VmRSS")
            lag_zero = next((t for t, m, _ in rows if t_ingest and t >= t_ingest and m.get("commit_lag_events") == 0), None)
    n = len(lines)
    print("\n== burst", n, "records ==")
    if t_ingest:
        print(f"ingest drained in {t_ingest:.1f} s: {n / t_ingest:.0f} records/s")
    if t_detect:
        print(f"detection processed all in {t_detect:.1f} s: {n / t_detect:.0f} records/s "
              f"(unprocessed = 0 {t_detect - (t_ingest or 0):.1f} s after ingest)")
    print(f"commit lag of warning.events = 0: "
          + (f"{lag_zero - (t_ingest or 0):.0f} s after ingest drained" if lag_zero else f"not within {args.settle:.0f} s after ingest"))
    print(f"RSS before {rss0 / 1024:.0f} MB, peak (VmHWM) {hwm / 1024:.0f} MB, after drain (+{args.settle:.0f} s) "
          f"{rss_end / 1024:.0f} MB; peak growth per record {(hwm - rss0) * 1024 / n:.0f} B")
    if args.trace and (tmp / "trace.txt").exists():
        print("\n== tracemalloc in the worker ==\n" + (tmp / "trace.txt").read_text())
    os.environ.get("KEEP") or subprocess.run(["rm", "-rf", str(tmp)])


if __name__ == "__main__":
    main()
