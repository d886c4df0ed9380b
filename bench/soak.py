"""Soak: half an hour at 3× Beijing's peak hour, 10 × ``kill -9`` of the worker and a webhook
receiver down for 10 minutes in the middle.

    .venv/bin/python bench/soak.py [--broker apache|tansu] [--minutes 30] [--kills 10]
                                   [--outage-minutes 10] [--rate R] [--rate-factor 3]

Beijing's peak hour is derived from the simulator (``warning/sim``) at scale 1: the busiest hour
of a simulated week (seed 7, from Monday 2025-03-03), in records/s over all feeds; the default
rate is 3× that (``--rate`` sets it directly). The records are the simulator's — background of
the peak day from the peak hour on, plus two incidents per minute (every kind in turn: extreme threats,
group petitions, multi-source conflicts … raise alerts on arrival), each in its own stretch of
the run — re-timed to now with unique ids, so the worker raises alerts live. They are sent as
real producers do (half keyless, 2 % exact re-sends).

One ``warning worker`` (ingest + detect + deliver) runs against a real broker; it is killed with
SIGKILL ``--kills`` times, evenly spread with random jitter, and restarted after 0.5–3 s. A
generic webhook receiver (a local aiohttp server on 127.0.0.1, signed with a secret) is down for
``--outage-minutes`` in the middle of the run. Every minute it prints records in, events out,
alerts on ``warning.alerts``, webhooks delivered, the worker's RSS; at the end totals, lost events,
alerts delivered against those on the topic (after the receiver is back, everything queued must
arrive: delivery retries), RSS min/max/final. Baseline measured in the same run: the records on
the raw topics (the broker's own count). Exit code 1 on any lost event or undelivered alert.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from chaos import (  # noqa: E402
    IdTail, KillableWorker, RecordProducer, env_for, healthz, losses, pace, retimed, rss_mb, sim_day, start_broker,
)
from warning.brokers.base import free_port  # noqa: E402
from warning.config import load_settings  # noqa: E402
from warning.core.timeutil import BEIJING, parse_time  # noqa: E402
from warning.streams.topics import ensure_topics  # noqa: E402

WEEK_START = "2025-03-03T00:00:00+08:00"  # a Monday


def peak_hour(seed: int = 7, scale: float = 1.0) -> tuple[datetime, int]:
    """The busiest hour of a simulated week (its start, Beijing time) and its number of records."""
    from warning.sim.generator import SimParams, Simulator

    start = int(parse_time(WEEK_START).timestamp())
    sim = Simulator(SimParams(start=start, days=7, seed=seed, scale=scale))
    per_hour: collections.Counter[int] = collections.Counter()
    for _stats, _records, times in sim.iter_days():
        for t in times:
            per_hour[(t - start) // 3600] += 1
    h, n = max(per_hour.items(), key=lambda kv: kv[1])
    return datetime.fromtimestamp(start + h * 3600, BEIJING), n


def incident_records(seed: int, n: int) -> list[list[dict]]:
    """The events of ``n`` incidents of a simulated week, every kind in turn (shuffled per round),
    one list per incident in event-time order, as records with their ``source`` (ids and times
    are set when sent)."""
    from warning.sim.generator import SimParams, Simulator
    from warning.sim.incidents import KINDS

    start = int(parse_time(WEEK_START).timestamp())
    sim = Simulator(SimParams(start=start, days=7, seed=seed, scale=1.0, warmup_days=0,
                              incidents_per_week=max(6.0, n * 1.5)))
    rnd = random.Random(seed)
    by_kind: dict[str, list] = collections.defaultdict(list)
    for inc in sim.incidents:
        if inc.events:
            by_kind[inc.kind].append(inc)
    picked = []
    while len(picked) < n and any(by_kind.values()):
        for kind in rnd.sample(KINDS, len(KINDS)):
            if by_kind[kind] and len(picked) < n:
                picked.append(by_kind[kind].pop(rnd.randrange(len(by_kind[kind]))))
    return [[{k: v for k, v in e.items() if not k.startswith("_")} | {"id": ""}
             for e in sorted(inc.events, key=lambda e: e["_ts"])] for inc in picked]


class Sink:
    """The generic webhook receiver in a thread of its own; :meth:`down` / :meth:`up` stop and
    restart it on the same port."""

    def __init__(self, port: int, secret: str) -> None:
        self.port, self.secret = port, secret
        self.loop = asyncio.new_event_loop()
        self.received: set[tuple[str, str, str]] = set()  # (alert_id, status, level)
        self.posts = 0
        self.runner = None
        threading.Thread(target=self.loop.run_forever, daemon=True, name="sink").start()

    def _on_alert(self, a: dict) -> None:
        self.posts += 1
        self.received.add((a["alert_id"], a["status"], a["level"]))

    def up(self) -> None:
        from warning.notify.sink import start_sink

        async def go() -> None:
            self.runner, _ = await start_sink("127.0.0.1", self.port, self._on_alert, secret=self.secret)
        asyncio.run_coroutine_threadsafe(go(), self.loop).result(30)

    def down(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
            self.runner = None

    @property
    def is_up(self) -> bool:
        return self.runner is not None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--broker", choices=("apache", "tansu"), default="apache")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--outage-minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=None, help="records/s (default: --rate-factor × the peak hour)")
    ap.add_argument("--rate-factor", type=float, default=3.0)
    ap.add_argument("--keyless-share", type=float, default=0.5)
    ap.add_argument("--resend-share", type=float, default=0.02)
    ap.add_argument("--drain-timeout", type=float, default=600.0)
    ap.add_argument("--incidents-per-minute", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    duration = args.minutes * 60

    t_sim = time.monotonic()
    peak_at, peak_n = peak_hour(args.seed)
    peak_rate = peak_n / 3600
    rate = args.rate or args.rate_factor * peak_rate
    print(f"Beijing peak hour (simulator, scale 1, week from {WEEK_START[:10]}, seed {args.seed}): "
          f"{peak_at:%Y-%m-%d %H:00} ({peak_at:%a}), {peak_n:,} records = {peak_rate:.2f} records/s; "
          f"soak rate {rate:.2f} records/s ({rate / peak_rate:.1f}×) for {args.minutes:g} min "
          f"({time.monotonic() - t_sim:.0f} s to simulate)", flush=True)
    n_total = int(rate * duration) + 100
    background = sim_day(peak_at.date().isoformat(), seed=args.seed, incidents_per_week=0, from_hour=peak_at.hour)
    n_inc = max(1, round(args.minutes * args.incidents_per_minute))
    incidents = incident_records(args.seed, n_inc)
    # one incident after the other, each in its own stretch of the run, its events spread evenly
    # over the stretch, background records in between
    seg = n_total / len(incidents)
    inc_at: dict[int, dict] = {}
    for k, evs in enumerate(incidents):
        for j, r in enumerate(evs):
            pos = int(k * seg + (j + 0.5) * seg / len(evs))
            while pos in inc_at:
                pos += 1
            inc_at[pos] = r
    print(f"records: {len(background):,} background of the peak day (cycled), {len(inc_at)} incident events "
          f"of {n_inc} incidents; {args.kills} kill -9; receiver down "
          f"{args.outage_minutes:g} min in the middle; logs {work}", flush=True)

    port = free_port()
    secret = os.urandom(16).hex()
    sink = Sink(port, secret)
    sink.up()
    with start_broker(args.broker, work) as broker:
        prefix = f"soak{int(time.time()) % 10**6}"
        env = env_for(work, broker.url, prefix, BENCH_SOAK_SECRET=secret, WARNING_RECEIVERS=orjson.dumps([{
            "name": "soak", "kind": "generic", "url": f"http://127.0.0.1:{port}/generic",
            "secret_env": "BENCH_SOAK_SECRET", "send_resolved": True}]).decode())
        settings = load_settings(None, env=env)
        ensure_topics(settings)
        raw = settings.raw_topics()
        t_events, t_dead, t_alerts = settings.topics.events, settings.topics.deadletter, settings.topics.alerts
        on_topic: set[tuple[str, str, str]] = set()

        def on_record(topic: str, value: bytes) -> None:
            if topic == t_alerts:
                try:
                    a = orjson.loads(value)
                    on_topic.add((a["alert_id"], a["status"], a["level"]))
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    pass

        tail = IdTail(broker.bootstrap, [t_events, t_dead, t_alerts, settings.topics.alerts_deadletter, *raw.values()],
                      on_record=on_record)
        tail.start()
        producer = RecordProducer(broker.bootstrap, raw, keyless_share=args.keyless_share,
                                  resend_share=args.resend_share, rnd=random.Random(args.seed + 1))
        worker = KillableWorker(env, work)
        worker.start()
        seq = iter(range(10**9))

        def send_one() -> None:
            n = next(seq)
            rec = inc_at.get(n) or background[n % len(background)]
            src, body = retimed(rec, new_id=f"{prefix}-{n}")
            producer.send(src, body)

        stop = threading.Event()
        t0 = time.monotonic()
        prod = threading.Thread(target=pace, args=(lambda: rate, send_one, t0 + duration, stop), daemon=True)
        prod.start()
        span = duration / max(1, args.kills)
        kill_at = sorted(t0 + span * (k + 0.5) + rnd.uniform(-0.3, 0.3) * span for k in range(args.kills))
        out_from = t0 + duration / 2 - args.outage_minutes * 30
        out_to = out_from + args.outage_minutes * 60
        rss: list[float] = []
        during_outage: set[tuple[str, str, str]] = set()  # alerts raised while the receiver was down
        kills = 0
        print(f"{'min':>4} {'records in':>10} {'events out':>10} {'alerts on topic':>15} {'webhooks delivered':>18} "
              f"{'RSS MB':>7}  receiver  kills", flush=True)
        next_report = t0 + 60
        next_rss = t0
        try:
            while True:
                now = time.monotonic()
                if kill_at and now >= kill_at[0]:
                    kill_at.pop(0)
                    if worker.pid:
                        worker.kill9()
                        kills += 1
                        time.sleep(rnd.uniform(0.5, 3.0))
                    worker.start()
                if sink.is_up and out_from <= now < out_to:
                    sink.down()
                    during_outage = set(on_topic)
                    print(f"     receiver DOWN at {(now - t0) / 60:.1f} min", flush=True)
                elif not sink.is_up and now >= out_to:
                    during_outage = set(on_topic) - during_outage
                    sink.up()
                    print(f"     receiver UP at {(now - t0) / 60:.1f} min", flush=True)
                if worker.pid and now >= next_rss and now - worker.started > 30:  # a warmed-up life
                    r = rss_mb(worker.pid)
                    if r > 0:
                        rss.append(r)
                    next_rss = now + 5
                if now >= next_report:
                    with tail.lock:
                        ev = len(tail.counts[t_events])
                        al = tail.records[t_alerts]
                    print(f"{(now - t0) / 60:4.0f} {len(producer.acked):>10,} {ev:>10,} {al:>15,} {len(sink.received):>18,} "
                          f"{rss[-1] if rss else 0:7.0f}  {'up' if sink.is_up else 'DOWN':8s}  {kills:5d}", flush=True)
                    next_report += 60
                if now >= t0 + duration and not kill_at:
                    break
                time.sleep(0.5)
            prod.join()
            producer.close()
            if not sink.is_up:
                during_outage = set(on_topic) - during_outage
                sink.up()
            t_end = time.monotonic()
            produced = set(producer.acked)
            print(f"production over after {(t_end - t0) / 60:.1f} min: {len(produced):,} ids; draining events and deliveries …",
                  flush=True)
            drained = delivered = None
            while time.monotonic() < t_end + args.drain_timeout:
                with tail.lock:
                    seen = set(tail.counts[t_events]) | set(tail.counts[t_dead])
                if drained is None and produced <= seen:
                    drained = time.monotonic() - t_end
                if drained is not None and on_topic <= sink.received and time.monotonic() - tail.last > 10:
                    delivered = time.monotonic() - t_end
                    break
                if worker.pid and (r := rss_mb(worker.pid)) > 0:
                    rss.append(r)
                time.sleep(2.0)
            h = healthz(worker.w) or {}
        finally:
            stop.set()
            worker.stop()
            tail.stop()
            sink.down()
    ev, dead, on_raw, lost = losses(tail, produced, t_events, t_dead, raw.values())
    undelivered = sorted(on_topic - sink.received)
    firing = {a for a in on_topic if a[1] == "firing"}
    levels = collections.Counter(a[2] for a in firing)
    rows = [
        ("broker", broker.kind),
        ("rate (3× peak hour?)", f"{rate:.2f} records/s = {rate / peak_rate:.1f} × {peak_rate:.2f}"),
        ("kill -9 of the worker", f"{kills}"),
        ("receiver outage", f"{args.outage_minutes:g} min"),
        ("records in (ids acknowledged)", f"{len(produced):,}"),
        ("  baseline: ids on the raw topics", f"{len(on_raw & produced):,}"),
        ("events out (distinct ids)", f"{len(set(ev) & produced):,} ({sum(ev.values()):,} records)"),
        ("dead-lettered", f"{len(dead & produced):,}"),
        ("LOST events", f"{len(lost):,}"),
        ("time to drain events after production", f"{drained:.0f} s" if drained is not None else "not drained"),
        ("alerts on warning.alerts (records / distinct)", f"{tail.records[t_alerts]:,} / {len(on_topic):,} "
                                                          f"(firing {len(firing)}: " + ", ".join(f"{k} {v}" for k, v in sorted(levels.items())) + ")"),
        ("alerts dead-lettered (warning.alerts.deadletter)", f"{tail.records[settings.topics.alerts_deadletter]:,}"),
        ("webhooks delivered (distinct / POSTs)", f"{len(sink.received):,} / {sink.posts:,}"),
        ("  of them raised while the receiver was down", f"{len(during_outage):,} (delivered {len(during_outage & sink.received):,})"),
        ("UNDELIVERED alerts", f"{len(undelivered):,}"),
        ("time to deliver all after production", f"{delivered:.0f} s" if delivered is not None else "not all delivered"),
        ("worker RSS MB min / max / final", f"{min(rss):.0f} / {max(rss):.0f} / {rss[-1]:.0f}" if rss else "n/a"),
        ("last worker /healthz", f"accepted {h.get('accepted')}, duplicates {h.get('duplicates')}, "
                                 f"dead-lettered {h.get('dead_lettered')}"),
    ]
    from rich.console import Console
    from rich.table import Table

    tab = Table(title=f"soak · {args.minutes:g} min · {broker.kind}")
    tab.add_column("figure")
    tab.add_column("value", justify="right")
    for a, b in rows:
        bad = (a.startswith("LOST") and lost) or (a.startswith("UNDELIVERED") and undelivered)
        tab.add_row(a, b, style="bold red" if bad else None)
    Console(width=120).print(tab)
    if lost:
        print(f"lost ids (first 20): {lost[:20]}")
    if undelivered:
        print(f"undelivered alerts (first 10): {undelivered[:10]}")
    return 1 if lost or undelivered else 0


if __name__ == "__main__":
    sys.exit(main())
