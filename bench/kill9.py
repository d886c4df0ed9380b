"""Events lost after ``kill -9`` (issue 11, defect 1): kill the worker 10 times while records flow.

    .venv/bin/python bench/kill9.py [--broker apache|tansu] [--batch-size 1|default] [--kills 10]
                                    [--seconds 300] [--rate 120-300] [--keyless-share 0.5] [--resend-share 0.02]

Starts a broker (Apache Kafka 4.x by default, from the jars of ``deploy/kafka/kafka.sh fetch``),
creates the topics, runs ``warning worker`` (ingest + detect + deliver, the tests' short group
timeouts, 2 partitions) and produces simulator records re-timed to now with unique ids at a
steady random rate (redrawn each second in ``--rate``, 120–300 records/s as the issue's probe),
as real producers do: ``--keyless-share`` without a key, the rest keyed by id, and
``--resend-share`` exact re-sends (same id, same bytes, keyless) of earlier records. During the
run the worker is killed with SIGKILL ``--kills`` times at random moments (each once it is
processing), and restarted after a random 0.5–3 s; then production stops and the last worker
drains.

Prints ids produced, distinct ids on ``warning.events``, lost (produced, never on the events or
the dead-letter topic), duplicates on ``warning.events`` (at-least-once re-deliveries after a
crash: reported, not an error), re-sends admitted twice (re-sent ids that reached the events topic
more than once — dedup across partitions; the crash duplicate rate of the other ids is printed
beside it as what chance alone explains), dead-lettered, and the time to drain. Baseline measured
in the same run: the raw topics themselves (every acknowledged id must be on them), and the
production rate against the drain rate. Exit code 1 when an event is lost.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from chaos import (  # noqa: E402
    IdTail, KillableWorker, RecordProducer, env_for, losses, pace, retimed, sim_day, start_broker,
)
from warning.config import load_settings  # noqa: E402
from warning.streams.topics import ensure_topics  # noqa: E402


def parse_rate(s: str) -> tuple[float, float]:
    lo, _, hi = s.partition("-")
    return float(lo), float(hi or lo)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--broker", choices=("apache", "tansu"), default="apache")
    ap.add_argument("--batch-size", default="default", help="producer_max_batch_size of the worker: 1 or 'default'")
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=300.0, help="how long records are produced")
    ap.add_argument("--rate", default="120-300", help="records/s, 'LO-HI' (redrawn each second) or one number")
    ap.add_argument("--keyless-share", type=float, default=0.5)
    ap.add_argument("--resend-share", type=float, default=0.02)
    ap.add_argument("--drain-timeout", type=float, default=600.0, help="longest wait for the last worker to drain")
    ap.add_argument("--drain-idle", type=float, default=120.0, help="stop waiting after this long without a new output record")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    lo, hi = parse_rate(args.rate)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-kill9-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"kill9: broker {args.broker}, batch size {args.batch_size}, {args.kills} kills over {args.seconds:.0f} s, "
          f"{lo:.0f}–{hi:.0f} records/s, keyless {args.keyless_share:.0%}, re-sends {args.resend_share:.0%}; logs {work}",
          flush=True)
    pool = sim_day("2025-03-06", seed=args.seed, from_hour=8)
    with start_broker(args.broker, work) as broker:
        print(f"broker {broker.kind} ready at {broker.bootstrap}", flush=True)
        prefix = f"k9{int(time.time()) % 10**6}"
        extra = {} if args.batch_size == "default" else {"WARNING_KAFKA__PRODUCER_MAX_BATCH_SIZE": str(int(args.batch_size))}
        env = env_for(work, broker.url, prefix, **extra)
        settings = load_settings(None, env=env)
        ensure_topics(settings)
        raw = settings.raw_topics()
        t_events, t_dead = settings.topics.events, settings.topics.deadletter
        tail = IdTail(broker.bootstrap, [t_events, t_dead, *raw.values()])
        tail.start()
        producer = RecordProducer(broker.bootstrap, raw, keyless_share=args.keyless_share,
                                  resend_share=args.resend_share, rnd=random.Random(args.seed + 1))
        worker = KillableWorker(env, work)
        worker.start()
        stop = threading.Event()
        seq = iter(range(10**9))

        def send_one() -> None:
            n = next(seq)
            src, body = retimed(pool[n % len(pool)], new_id=f"{prefix}-{n}")
            producer.send(src, body)

        t0 = time.monotonic()
        t_end = t0 + args.seconds
        prod = threading.Thread(target=pace, args=(lambda: rnd.uniform(lo, hi), send_one, t_end, stop), daemon=True)
        prod.start()
        # one kill per slot of the middle 90 % of the run, at a random moment, once the worker processes
        slot = args.seconds * 0.9 / max(args.kills, 1)
        kills = []
        try:
            for k in range(args.kills):
                at = t0 + args.seconds * 0.05 + k * slot + rnd.uniform(0, slot)
                worker.wait_processing(timeout=180)
                time.sleep(max(0.0, at - time.monotonic()))
                life = time.monotonic() - worker.started
                worker.kill9()
                kills.append((time.monotonic() - t0, life))
                print(f"  kill -9 #{k + 1} at {time.monotonic() - t0:6.1f} s (worker life {life:5.1f} s, "
                      f"produced {producer.sent}, events so far {tail.records[t_events]})", flush=True)
                time.sleep(rnd.uniform(0.5, 3.0))
                worker.start()
            prod.join()
            producer.close()
            t_prod_end = time.monotonic()
            produced = set(producer.acked)
            print(f"production over: {len(produced)} ids acknowledged ({producer.sent} sends, "
                  f"{len(producer.resent)} re-sent ids, {producer.errors} send errors) in {t_prod_end - t0:.0f} s; draining …",
                  flush=True)
            deadline = t_prod_end + args.drain_timeout
            t_drained = None
            while time.monotonic() < deadline:
                with tail.lock:
                    seen = set(tail.counts[t_events]) | set(tail.counts[t_dead])
                if produced <= seen:
                    t_drained = time.monotonic()
                    break
                if time.monotonic() - max(tail.last, t_prod_end) > args.drain_idle:
                    print(f"no new record on the output topics for {args.drain_idle:.0f} s: giving up the drain")
                    break
                if worker.w.proc.poll() is not None:
                    print(f"the last worker exited ({worker.w.proc.returncode}):\n{worker.log_tail()}")
                    break
                time.sleep(0.5)
            time.sleep(3.0)  # late duplicates
        finally:
            stop.set()
            worker.stop()
            tail.stop()
    ev, dead, on_raw, lost = losses(tail, produced, t_events, t_dead, raw.values())
    resent = producer.resent & produced
    dup_ids = {i for i, c in ev.items() if c > 1}
    dup_resent = dup_ids & resent
    dup_other = dup_ids - resent
    p_crash = len(dup_other) / max(1, len(produced - resent))
    drain = (t_drained - t_prod_end) if t_drained else None
    rows = [
        ("broker / worker batch size", f"{broker.kind} / {args.batch_size}"),
        ("kill -9 (worker lives at kill, s)", f"{len(kills)} ({', '.join(f'{x[1]:.0f}' for x in kills)})"),
        ("ids produced (acknowledged)", f"{len(produced)}"),
        ("  baseline: ids on the raw topics", f"{len(on_raw & produced)}"),
        ("distinct ids on warning.events", f"{len(set(ev) & produced)}"),
        ("records on warning.events", f"{sum(ev.values())}"),
        ("LOST (never on events nor dead-letter)", f"{len(lost)}"),
        ("duplicated on events (at-least-once)", f"{len(dup_other)} ids, {sum(ev[i] - 1 for i in dup_other)} extra records"),
        ("re-sent ids (exact, keyless)", f"{len(resent)}"),
        ("re-sends admitted twice", f"{len(dup_resent)} (crash re-deliveries alone would explain ≈{p_crash * len(resent):.1f})"),
        ("dead-lettered", f"{len(dead & produced)}"),
        ("time to drain after production", f"{drain:.1f} s" if drain is not None else f"not drained in {args.drain_timeout:.0f} s"),
        ("production rate (baseline) → events rate", f"{len(produced) / args.seconds:.0f}/s → "
                                                      f"{len(set(ev)) / max(1e-9, (t_drained or time.monotonic()) - t0):.0f}/s"),
    ]
    try:
        from rich.console import Console
        from rich.table import Table

        tab = Table(title=f"kill -9 ×{len(kills)} · {broker.kind} · batch size {args.batch_size}")
        tab.add_column("figure")
        tab.add_column("value", justify="right")
        for r in rows:
            tab.add_row(*r, style="bold red" if r[0].startswith("LOST") and lost else None)
        Console(width=110).print(tab)
    except ImportError:  # pragma: no cover
        for a, b in rows:
            print(f"{a:45s} {b}")
    if lost:
        print(f"lost ids (first 20): {lost[:20]}")
    if len(on_raw & produced) != len(produced):
        print("WARNING: acknowledged ids missing from the raw topics: the broker, not the worker, lost them")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
