"""Takeover time and per-worker throughput of a group of workers, kill -9 of one, then a fresh one (issue 13).

    .venv/bin/python bench/failover.py [--days 7] [--scale 1] [--workers 3] [--partitions 12]
                                       [--standby on,off] [--session-timeout 3] [--kill-at 0.4] [--fresh-at 0.7]

A simulated week at scale 1 (``warning simulate --days 7 --scale 1``, ≈ 740k records) is produced
as a stream kept at most ``--backlog`` records ahead of what the workers have read (each record
to the raw partition of its street, as ``tests/test_failover.py`` does) to ``--workers`` workers in one consumer group on an Apache Kafka 4.x broker, followed by one
sentinel record per watermark lane that closes every window. When ``--kill-at`` of the records
have been read, one worker is killed with SIGKILL; when ``--fresh-at`` have been read, a fresh
worker is started. Each run is made with standby replicas of the state tables (``--standby on``:
``worker.standby_replicas=1``) and without (``off``: a takeover replays the partition's whole
changelog) — the baseline, in the same run.

**Takeover time** of a partition of the killed worker: from the SIGKILL to the moment its new owner
has restored the partition's detection engine and reads its first event (the engine is restored
lazily on the first event after Faust has recovered the table: ``restored_at`` in ``/healthz``).
Reported as the largest over the orphaned partitions, split into the group noticing the death
(SIGKILL → rebalance start on the survivors: the session timeout) and the rest (rebalance,
changelog recovery, first fetch). For the fresh worker: from its join (rebalance start on the
others) to its first event on each partition it takes.

**Per-worker throughput**: raw records read per second by each worker (its ``warning_events_total``
counter, every outcome), over three steady phases: all workers, after the kill, after the fresh
worker joined. Baseline: ``warning backtest`` over the same records in one process.

The alerts on ``warning.alerts`` (deduplicated by id and status, ``tests/failover_helpers.comparable``)
are compared with two backtests of the same records: of the raw file (reported; an instant rule —
fired on arrival — can start an episode on another of its events when two arrive the other way
round on the topic than in the file) and ``warning backtest --from-events`` of the events topic,
in the order the workers read it, which they must equal; each detection partition's counters must equal the events
on its partition; each partition taken over must be restored from a checkpoint (``restored_offset``
in ``/healthz``), not rebuilt from an empty state. Exit status 1 when not. The machine is shared: the load average is printed with
each measurement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import orjson  # noqa: E402

from chaos import start_broker  # noqa: E402
from failover_helpers import (  # noqa: E402
    Cluster, Feeder, changelog_counts, comparable, create_topics, event_counts, failover_env, healthz, read_alerts, routed,
    topic_backtest,
    sentinel_time, sentinels,
)
from warning.config import load_settings  # noqa: E402
from worker_proc import metric_value  # noqa: E402


def load() -> str:
    a, b, c = os.getloadavg()
    return f"load {a:.1f}/{b:.1f}/{c:.1f} on {os.cpu_count()} cores"


def read_count(url: str) -> float | None:
    """Raw records read by a worker so far (every outcome of ``warning_events_total``)."""
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=3) as r:
            return metric_value(r.read().decode(), "warning_events_total")
    except Exception:
        return None


class Sampler(threading.Thread):
    """Every ``every`` seconds: each live worker's read counter (kept per worker after it dies)."""

    def __init__(self, cluster: Cluster, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.every = every
        self.samples: dict[str, list[tuple[float, float]]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for name, w in list(self.cluster.live().items()):
                c = read_count(w.web)
                if c is not None:
                    self.samples.setdefault(name, []).append((time.time(), c))
            self.stop.wait(self.every)

    def total(self) -> float:
        return sum(s[-1][1] for s in self.samples.values() if s)

    def rate(self, name: str, t0: float, t1: float) -> float | None:
        """Records/s of ``name`` between wall times ``t0`` and ``t1`` (its samples inside)."""
        s = [x for x in self.samples.get(name, []) if t0 <= x[0] <= t1]
        if len(s) < 2 or s[-1][0] - s[0][0] < 2:
            return None
        return (s[-1][1] - s[0][1]) / (s[-1][0] - s[0][0])


def wait_restored(cluster: Cluster, parts: set[int], after: float, names: list[str],
                  timeout: float) -> dict[int, tuple[str, float, int]]:
    """Partition → (worker, restored_at, offset of the checkpoint it was restored from or -1) once
    each of ``parts`` has an engine restored after ``after`` on one of ``names``."""
    got: dict[int, tuple[str, float, int]] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not parts <= set(got):
        for n in names:
            w = cluster.workers.get(n)
            h = healthz(w.web) if w is not None else None
            for p, e in ((h or {}).get("engines") or {}).items():
                p = int(p)
                if p in parts and e.get("restored_at") and e["restored_at"] > after and p not in got:
                    got[p] = (n, e["restored_at"], e.get("restored_offset", -1))
        time.sleep(0.2)
    return got


def rebalance_start(cluster: Cluster, names: list[str], after: float, timeout: float = 60.0) -> float | None:
    """The earliest rebalance start after ``after`` reported by ``names`` (``/healthz``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ts = [h["rebalance_started_at"] for n in names
              if (h := healthz(cluster.workers[n].web)) and h.get("rebalance_started_at") and h["rebalance_started_at"] > after]
        if ts:
            return min(ts)
        time.sleep(0.2)
    return None


def run_mode(args: argparse.Namespace, broker: Any, work: Path, standby: bool, records: list, closing: list,
             expected: set, cutoff: str, data_events: int) -> dict[str, Any]:
    mode = "standby" if standby else "no-standby"
    prefix = f"fo{'s' if standby else 'n'}{int(time.time()) % 10**6}"
    env = failover_env(work / mode, broker.url, prefix, partitions=args.partitions, lateness_min=args.lateness,
                       WARNING_KAFKA__SESSION_TIMEOUT_S=str(args.session_timeout),
                       WARNING_KAFKA__HEARTBEAT_INTERVAL_S=str(min(0.5, args.session_timeout / 6)),
                       WARNING_WORKER__STANDBY_REPLICAS="1" if standby else "0")
    (work / mode).mkdir(parents=True, exist_ok=True)
    settings = load_settings(None, env=env)
    create_topics(settings)
    cluster = Cluster(env, work / mode, args.partitions)
    names = [f"w{i + 1}" for i in range(args.workers)]
    victim, fresh = names[1], f"w{args.workers + 1}"
    out: dict[str, Any] = {"mode": mode}
    sampler = Sampler(cluster)
    feeder = Feeder(broker.bootstrap, settings.raw_topics())
    try:
        for n in names:
            cluster.start(n)
        owned = cluster.wait_owned(240)
        print(f"[{mode}] {len(names)} workers own {args.partitions} partitions: {owned}  ({load()})", flush=True)
        sampler.start()
        t_feed = time.time()
        n = len(records)

        def feed() -> None:  # keep at most --backlog records ahead of what the workers have read
            chunk = 500
            for i in range(0, n, chunk):
                while feeder.sent - sampler.total() > args.backlog:
                    time.sleep(0.05)
                feeder.feed(records[i:i + chunk])
            feeder.feed(closing)

        feeding = threading.Thread(target=feed, daemon=True)
        feeding.start()

        def wait_read(frac: float) -> None:
            while sampler.total() < frac * n:
                if not feeding.is_alive() and sampler.total() >= n:
                    return
                time.sleep(0.5)

        wait_read(args.kill_at)
        orphaned = set(owned[victim])
        survivors = [x for x in names if x != victim]
        t_kill = cluster.kill9(victim)
        print(f"[{mode}] kill -9 {victim} (partitions {sorted(orphaned)}) at {sampler.total():.0f} records read "
              f"({load()})", flush=True)
        t_reb = rebalance_start(cluster, survivors, t_kill)
        restored = wait_restored(cluster, orphaned, t_kill, survivors, timeout=300)
        takeover = {p: r[1] - t_kill for p, r in restored.items()}
        out.update(takeover=takeover, from_empty=sorted(p for p, r in restored.items() if r[2] < 0), detect=(t_reb - t_kill) if t_reb else None, orphaned=sorted(orphaned),
                   t_kill=t_kill, load_kill=load())
        if len(restored) < len(orphaned):
            print(f"[{mode}] partitions not taken over in 300 s: {sorted(orphaned - set(restored))}", flush=True)
        else:
            print(f"[{mode}] takeover: max {max(takeover.values()):.1f} s, median "
                  f"{statistics.median(takeover.values()):.1f} s (death noticed after {out['detect'] or float('nan'):.1f} s)",
                  flush=True)
        # the survivors' own partitions paused too (eager rebalance): when did they resume?
        own = set(range(args.partitions)) - orphaned
        resumed = wait_restored(cluster, own, t_kill, survivors, timeout=120)
        out["survivor_pause"] = max((r[1] - t_kill for r in resumed.values()), default=None)
        t_after_kill = max([r[1] for r in restored.values()] + [t_kill])

        wait_read(args.fresh_at)
        t_fresh = time.time()
        cluster.start(fresh)
        owned2 = cluster.wait_owned(240)
        t_join = rebalance_start(cluster, survivors, t_fresh)
        mine = set(owned2.get(fresh, []))
        restored4 = wait_restored(cluster, mine, t_fresh, [fresh], timeout=300)
        out.update(fresh_parts=sorted(mine), fresh_start=t_fresh,
                   fresh_takeover={p: r[1] - (t_join or t_fresh) for p, r in restored4.items()},
                   fresh_from_empty=sorted(p for p, r in restored4.items() if r[2] < 0),
                   fresh_from_start={p: r[1] - t_fresh for p, r in restored4.items()}, load_fresh=load())
        if restored4:
            print(f"[{mode}] fresh worker {fresh} took {sorted(mine)}: first events {max(out['fresh_takeover'].values()):.1f} s "
                  f"after its join, {max(out['fresh_from_start'].values()):.1f} s after its start ({load()})", flush=True)
        t_after_fresh = max([r[1] for r in restored4.values()] + [t_fresh])

        feeding.join()
        t_fed = time.time()
        live = list(cluster.live())
        # as many as the backtest's (an instant rule may start an episode on another event: below)
        got = read_alerts(broker.bootstrap, settings.topics.alerts, args.partitions,
                          until=lambda a: len(comparable(a, cutoff)) >= len(expected), settle_s=10,
                          timeout=args.drain_timeout)
        t_end = time.time()
        have = comparable(got, cutoff)
        out.update(alerts_missing=len(expected - have), alerts_extra=len(have - expected), alerts=len(expected),
                   alerts_differ=sorted(expected ^ have))
        # the same records in the order the workers read them: `warning backtest --from-events` over the
        # events topic (per partition in offset order). Instant rules fire on arrival, so an episode's
        # first alert can differ from the raw file's backtest when two of its events arrive the other way round.
        ordered = topic_backtest(env, work / mode / "from-events", cutoff)
        out.update(alerts_vs_topic=len(ordered), topic_missing=len(ordered - have), topic_extra=len(have - ordered))
        ids = event_counts(broker.bootstrap, settings.topics.events, args.partitions, expected=data_events, timeout=120)
        want = {p: len(v) for p, v in ids.items()}
        # detection may still be working through its backlog (and checkpoints once a second): wait
        deadline = time.monotonic() + 180
        while True:
            counts = changelog_counts(broker.bootstrap, settings.worker.app_id, args.partitions, idle_s=1.5)
            counted = {p: c["released"] + c["late"] for p, c in counts.items()}
            if counted == want or time.monotonic() > deadline:
                break
            time.sleep(3)
        out.update(events_on_topic=sum(want.values()), counts_differ={p: (counted.get(p), want[p]) for p in want
                                                                      if counted.get(p) != want[p]})
        # steady-phase throughput per worker
        phases = {"all": (t_feed + 10, t_kill), "after kill": (t_after_kill + 5, t_fresh),
                  "after fresh": (t_after_fresh + 5, t_fed)}
        out["rates"] = {ph: {w: sampler.rate(w, a, b) for w in names + [fresh]} for ph, (a, b) in phases.items()}
        out["wall"] = t_end - t_feed
        out["live"] = live
    finally:
        sampler.stop.set()
        feeder.close()
        cluster.stop()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--broker", choices=("apache", "tansu"), default="apache")
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", default="2025-03-03")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--standby", default="on,off", help="on, off or on,off")
    ap.add_argument("--session-timeout", type=float, default=3.0, help="seconds; the group notices a dead worker after this")
    ap.add_argument("--kill-at", type=float, default=0.4, help="share of the records read when one worker is killed")
    ap.add_argument("--fresh-at", type=float, default=0.7, help="share of the records read when a fresh worker starts")
    ap.add_argument("--lateness", type=int, default=360,
                    help="detect.allowed_lateness_minutes of the workers and the backtest (see tests/failover_helpers.failover_env)")
    ap.add_argument("--backlog", type=int, default=5000,
                    help="records produced ahead of those read (the producer waits above it: a stream, not a burst)")
    ap.add_argument("--drain-timeout", type=float, default=1800.0)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-failover-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"failover: {args.days:g} days at scale {args.scale:g}, {args.workers} workers, {args.partitions} partitions, "
          f"session timeout {args.session_timeout:g} s, standby {args.standby}; work dir {work} ({load()})", flush=True)

    sim = work / "sim"
    if not (sim / "events.jsonl").exists():
        t = time.monotonic()
        subprocess.run([sys.executable, "-m", "warning", "simulate", "--start", args.start, "--days", str(args.days),
                        "--scale", str(args.scale), "--seed", str(args.seed), "--out", str(sim)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        print(f"simulated in {time.monotonic() - t:.0f} s", flush=True)
    data = (sim / "events.jsonl").read_bytes().splitlines()
    settings = load_settings(None, env={"WARNING_KAFKA__PARTITIONS": str(args.partitions),
                                        "WARNING_DETECT__ALLOWED_LATENESS_MINUTES": str(args.lateness)})
    when = sentinel_time(data)
    sent = sentinels(settings, when)
    all_path = work / "all.jsonl"
    all_path.write_bytes(b"\n".join(data + [orjson.dumps(s) for s in sent]) + b"\n")
    cutoff = (when - timedelta(minutes=args.lateness + 120)).isoformat(timespec="seconds")

    from warning.backtest.runner import iter_lines, run
    from warning.streams.app import build_enricher

    t = time.monotonic()
    bt_alerts, bt_stats = run(settings, iter_lines(all_path), enricher=build_enricher(settings))
    bt_s = time.monotonic() - t
    expected = comparable(bt_alerts, cutoff)
    data_events = bt_stats.accepted - len(sent)
    print(f"backtest (baseline, one process): {len(data)} records in {bt_s:.0f} s = {len(data) / bt_s:,.0f} records/s; "
          f"{len(expected)} comparable alerts ({load()})", flush=True)
    t = time.monotonic()
    records = routed(settings, data)
    closing = routed(settings, [orjson.dumps(s) for s in sent])
    print(f"routed {len(records)} records in {time.monotonic() - t:.0f} s", flush=True)

    results = []
    with start_broker(args.broker, work) as broker:
        for mode in args.standby.split(","):
            results.append(run_mode(args, broker, work, mode.strip() == "on", records, closing, expected, cutoff,
                                    data_events))

    ok = True
    print()
    print(f"== failover bench: {len(data):,} records ({args.days:g} days, scale {args.scale:g}), {args.workers} workers, "
          f"{args.partitions} partitions, {args.broker} broker, session timeout {args.session_timeout:g} s")
    print(f"   baseline: backtest {len(data) / bt_s:,.0f} records/s in one process")
    for r in results:
        tk = r.get("takeover") or {}
        ft = r.get("fresh_takeover") or {}
        print(f"-- {r['mode']}")
        if tk:
            print(f"   takeover after kill -9 (SIGKILL → first event on each of {len(r['orphaned'])} orphaned partitions): "
                  f"max {max(tk.values()):.1f} s, median {statistics.median(tk.values()):.1f} s; death noticed after "
                  f"{r['detect'] if r['detect'] is not None else float('nan'):.1f} s; survivors' own partitions resumed after "
                  f"{r['survivor_pause'] if r['survivor_pause'] is not None else float('nan'):.1f} s  [{r['load_kill']}]")
        if ft:
            print(f"   fresh worker: first event on each of its {len(ft)} partitions max {max(ft.values()):.1f} s after its join "
                  f"({max(r['fresh_from_start'].values()):.1f} s after its process start)  [{r['load_fresh']}]")
        for ph, rates in r["rates"].items():
            vals = {w: v for w, v in rates.items() if v}
            if vals:
                print(f"   records/s per worker, {ph}: " + ", ".join(f"{w} {v:,.0f}" for w, v in vals.items())
                      + f"  (total {sum(vals.values()):,.0f}; ×{sum(vals.values()) / (len(data) / bt_s):.2f} the backtest)")
        print(f"   taken over from an empty state (no checkpoint restored): after the kill {r.get('from_empty') or 'none'}, "
              f"by the fresh worker {r.get('fresh_from_empty') or 'none'}")
        print(f"   alerts vs backtest of the raw file: {r['alerts']} expected, {r['alerts_missing']} missing, "
              f"{r['alerts_extra']} extra; events on warning.events {r['events_on_topic']:,} (backtest {data_events:,}); "
              f"partitions whose counters differ: {r['counts_differ'] or 'none'}; wall {r['wall']:.0f} s")
        for k in r["alerts_differ"]:
            print(f"     {'backtest only' if k in expected else 'stream only  '} {k}")
        print(f"   alerts vs backtest --from-events of the events topic (the order the workers read): {r['alerts_vs_topic']} "
              f"expected, {r['topic_missing']} missing, {r['topic_extra']} extra")
        ok = ok and not r["topic_missing"] and not r["topic_extra"] and not r["counts_differ"] \
            and r["events_on_topic"] == data_events and not r.get("from_empty") and not r.get("fresh_from_empty")
    if len(results) == 2 and results[0].get("takeover") and results[1].get("takeover"):
        a, b = (max(r["takeover"].values()) for r in results)
        print(f"   takeover {results[0]['mode']} / {results[1]['mode']}: {a:.1f} s / {b:.1f} s = ×{a / b:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
