"""Ingest throughput on the embedded broker, against a bare Faust agent measured in the same run.

    .venv/bin/python bench/ingest.py [--n 200000] [--partitions 2] [--phases bare,bare-patched,chain2,chain3,ingest,whole] [--repeat 1]

1. starts Tansu, produces N realistic raw records (the simulator's mix of the three feeds) once;
2. baseline: a bare Faust worker whose agents only count the same records (same batching); then
   the same bare worker with the changes ``warning worker`` makes to Faust's consumer
   (``warning.streams.faust_compat.install()``) — the ratio against it says what our own work costs
   on the consumer our worker runs, the one against stock Faust what the worker costs against
   Faust as shipped;
3. what the worker's topic hops alone allow: chains of 2 and 3 bare agents in one worker, each
   handing every record on unchanged to the next one's topic and the last counting — on the
   worker's consumer and Kafka settings (``faust_compat``, 50 ms fetch wait, 1 MiB producer
   batches), producing as the worker does (record batches on Faust's producer, one sender per
   topic; delivery not awaited), timed, like ingest, from the first record the second hop took.
   Ingest has 2 hops per record (the raw topic, then the rekey topic to the record's dedup home,
   which produces to ``warning.events``), the whole worker 3 (detection reads
   ``warning.events``). A chain does strictly less than the worker on the same hops, so, as far
   as this bench can tell, it bounds the worker's rate (not a proof: another producing or
   batching scheme could move it);
4. ours: ``warning worker`` (parse, validate, resolve, mask, risk terms, sentiment, dedup, produce
   to ``warning.events``/``warning.deadletter``), first with the ingest agents only, then the whole
   worker (ingest + detect + deliver), timed from the first record ingest took until detection
   has taken every accepted event;
each timed from its first to its last processed record (group-join time excluded), read from the
worker's own counters. Prints records/s for each and the ratios ours/bare against each baseline
(targets: ingest ≥ 0.8, whole worker ≥ 0.5; the issue's are against stock Faust), and ours/chain
with the same number of hops — what our own work costs on top of the hops.

``--phases`` runs some of the phases only (the ratios need ``bare`` or ``bare-patched``; the stock
agent always runs first, on the same broker); ``--repeat K`` runs the
ingest and whole-worker phases K times each on the same records (a fresh consumer group each time)
and prints every run — their rates and the whole worker's late events vary from run to run.
"""

from __future__ import annotations

import argparse
import json

import orjson
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from warning.brokers.base import free_port  # noqa: E402
from warning.brokers.tansu import EmbeddedBroker  # noqa: E402
from warning.core.feeds import default_feeds  # noqa: E402
from warning.streams.healthz import detected, ingested  # noqa: E402

FEEDS = tuple(default_feeds())  # the simulator writes every built-in feed

BARE_APP = r'''
import os, faust
# the topics a chain hands records on to (chains only; main creates them)
chain = [t for t in os.environ.get("BENCH_CHAIN", "").split(",") if t]
hops = len(chain) + 1
n = int(os.environ["BENCH_PARTITIONS"])
conf = {}
if os.environ.get("BENCH_PATCHED"):
    from warning.streams import faust_compat
    faust_compat.install()
if chain:
    # a chain runs on the Kafka settings of the benched worker: its env is this process's
    from warning.config import load_settings
    from warning.streams.app import faust_settings
    settings = load_settings(None)
    conf = {k: v for k, v in faust_settings(settings).items()
            if k in ("producer_max_batch_size", "producer_linger", "producer_max_request_size", "consumer_max_fetch_size")}
app = faust.App(os.environ["BENCH_APP_ID"], broker=os.environ["BENCH_BROKER"], store="memory://",
                web_port=int(os.environ["BENCH_WEB_PORT"]), web_host="127.0.0.1", web_bind="127.0.0.1",
                broker_session_timeout=2, broker_heartbeat_interval=0.3, broker_rebalance_timeout=2,
                topic_partitions=n, datadir=os.environ["BENCH_DATA"], **conf)
if chain:
    app.warning_fetch_max_wait_ms = settings.kafka.fetch_max_wait_ms
count = {f"hop{i}": 0 for i in range(1, hops + 1)}  # records each hop took
last = f"hop{hops}"

def forwarder(hop, sender):
    # hands every record on, unchanged and keyed as it came, to the next hop's topic: one aiokafka
    # record batch per partition on Faust's own producer (warning's BatchSender, one per topic as the
    # worker's rekey sender), delivery not awaited — the least a hop can cost
    async def agent(stream):
        async for batch in stream.take_events(1000, within=0.05):
            count[hop] += len(batch)
            for ev in batch:
                m = ev.message
                sender.add(m.key, m.value, int(m.timestamp * 1000) if m.timestamp else None)
            await sender.send(sender.take())
    return agent

def counter(hop):
    async def agent(stream):
        async for batch in stream.take_events(1000, within=0.05):
            count[hop] += len(batch)
    return agent

from warning.streams.batching import BatchSender
senders = [BatchSender(app, name, n) for name in chain]
for src in os.environ["BENCH_FEEDS"].split(","):
    topic = app.topic(f"{os.environ['BENCH_PREFIX']}.{src}", value_serializer="raw", key_serializer="raw", partitions=n)
    agent = forwarder("hop1", senders[0]) if chain else counter("hop1")
    app.agent(topic, name=f"bench.hop1.{src}")(agent)
for i, name in enumerate(chain):
    hop = f"hop{i + 2}"
    topic = app.topic(name, value_serializer="raw", key_serializer="raw", partitions=n)
    agent = forwarder(hop, senders[i + 1]) if i + 1 < len(chain) else counter(hop)
    app.agent(topic, name=f"bench.{hop}")(agent)

@app.page("/count")
async def page(web, request):
    return web.json({**count, "n": count[last]})

if __name__ == "__main__":
    faust.Worker(app, loglevel="warn", quiet=True).execute_from_commandline()
'''


def make_records(n: int, seed: int = 7) -> list[tuple[str, bytes, bytes]]:
    """N raw records in the simulator's realistic mix of the feeds (Beijing volume)."""
    import orjson

    from warning.core.timeutil import parse_time
    from warning.sim.generator import SimParams, Simulator

    start = int(parse_time("2025-03-03T00:00:00+08:00").timestamp())
    sim = Simulator(SimParams(start=start, days=4, seed=seed, scale=1.0))
    out: list[tuple[str, bytes, bytes]] = []
    for _stats, records, _ in sim.iter_days():
        for rec in records:
            src = rec.pop("source")
            out.append((src, orjson.dumps(rec), (rec.get("street_code") or rec["id"]).encode()))
            if len(out) >= n:
                return out
    return out


def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    if not names:
        return
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    admin.close()


def produce_all(bootstrap: str, prefix: str, records: list[tuple[str, bytes, bytes]], partitions: int) -> float:
    from kafka import KafkaProducer

    create_topics(bootstrap, [f"{prefix}.{s}" for s in FEEDS], partitions)
    p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=256 * 1024, acks=1)
    t0 = time.perf_counter()
    for src, value, key in records:
        p.send(f"{prefix}.{src}", value=value, key=key)
    p.flush(120)
    p.close()
    return time.perf_counter() - t0


def poll_count(get, n: int, timeout: float) -> tuple[float, float, int]:
    """Poll ``get`` — (records started, records done) — until n are done; return (t_first, t_last,
    final). The clock starts at the first record started: the whole worker's at the first record
    ingest took, not at the first one detection took, which can come seconds later."""
    t_first = t_last = None
    deadline = time.monotonic() + timeout
    c = 0
    while time.monotonic() < deadline:
        try:
            started, c = get()
        except Exception:
            started, c = 0, 0
        now = time.perf_counter()
        if started > 0 and t_first is None:
            t_first = now
        if c >= n:
            t_last = now
            break
        time.sleep(0.05)
    if t_first is None or t_last is None:
        raise RuntimeError(f"timed out at {c}/{n}")
    return t_first, t_last, c


def http_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--phases", default="bare,bare-patched,chain2,chain3,ingest,whole",
                    help="comma list of bare, bare-patched, chain2, chain3, ingest, whole")
    ap.add_argument("--repeat", type=int, default=1, help="runs of the ingest and whole-worker phases")
    args = ap.parse_args()
    phases = set(args.phases.split(","))
    if not phases or phases - {"bare", "bare-patched", "chain2", "chain3", "ingest", "whole"}:
        ap.error(f"--phases: bare, bare-patched, chain2, chain3, ingest and/or whole, not {args.phases!r}")
    n = args.n
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    print(f"generating {n} records …", flush=True)
    records = make_records(n)
    n = len(records)
    with EmbeddedBroker(log_path=tmp / "tansu.log") as b:
        prefix = "bench"
        dt = produce_all(b.bootstrap, prefix, records, args.partitions)
        print(f"produced {n} records in {dt:.1f}s ({n / dt:,.0f}/s)", flush=True)

        # the benched worker's env (also the Kafka settings of the chains)
        from worker_proc import Worker, isolated_env

        wenv = isolated_env(tmp, b.url, prefix=prefix)
        wenv["WARNING_KAFKA__PARTITIONS"] = str(args.partitions)
        wenv["WARNING_KAFKA__PRODUCER_MAX_BATCH_SIZE"] = str(1024 * 1024)

        # --- baseline: bare Faust agent counting the same records
        (tmp / "bare.py").write_text(BARE_APP)
        port = free_port()
        env = {**os.environ, "BENCH_BROKER": b.url, "BENCH_PARTITIONS": str(args.partitions),
               "BENCH_WEB_PORT": str(port), "BENCH_PREFIX": prefix, "BENCH_DATA": str(tmp / "bare-data"),
               "BENCH_FEEDS": ",".join(FEEDS)}
        bares: dict[str, float] = {}
        chains: dict[int, float] = {}
        for phase, patched, hops in (("bare", False, 1), ("bare-patched", True, 1), ("chain2", True, 2), ("chain3", True, 3)):
            if phase not in phases:
                continue
            penv = {**env, "BENCH_PATCHED": "1"} if patched else dict(env)
            penv["BENCH_APP_ID"], penv["BENCH_DATA"] = f"bench-{phase}", str(tmp / f"{phase}-data")
            if hops > 1:
                chain = [f"{prefix}.{phase}.hop{i}" for i in range(2, hops + 1)]
                create_topics(b.bootstrap, chain, args.partitions)
                penv = {**wenv, **penv, "BENCH_CHAIN": ",".join(chain)}
            with open(tmp / f"{phase}.log", "wb") as log:
                proc = subprocess.Popen([sys.executable, str(tmp / "bare.py")], env=penv, stdout=log,
                                        stderr=subprocess.STDOUT, cwd=tmp)
                try:
                    def counted() -> tuple[int, int]:
                        c = http_json(f"http://127.0.0.1:{port}/count")
                        return c["hop2" if hops > 1 else "hop1"], c["n"]

                    # a chain's clock starts at the first record of its second hop, as ingest's and
                    # the whole worker's do (at the first record accepted, in the rekey agent)
                    t1, t2, _ = poll_count(counted, n, args.timeout)
                finally:
                    proc.terminate()
                    proc.wait(30)
            if hops > 1:
                chains[hops] = n / (t2 - t1)
                vs = f" = {chains[hops] / bares['bare']:.2f}× bare" if "bare" in bares else ""
                print(f"bare Faust chain of {hops} agents (each hands every record on to the next one's topic, the "
                      f"last counts; the worker's consumer and Kafka settings): {chains[hops]:,.0f} records/s{vs}", flush=True)
                continue
            bares[phase] = n / (t2 - t1)
            what = "with warning's consumer changes" if patched else "stock"
            print(f"bare Faust agent (count only, {what}): {bares[phase]:,.0f} records/s", flush=True)

        # --- ours: the real ingest worker
        results: dict[str, list[tuple[float, dict]]] = {}
        runs = [(name, stages, k) for name, stages in (("ingest", ["ingest"]), ("whole", ["ingest", "detect", "deliver"]))
                if name in phases for k in range(args.repeat)]
        for name, stages, k in runs:
            wenv["WARNING_WORKER__AGENTS"] = orjson.dumps(stages).decode()
            wenv["WARNING_WORKER__APP_ID"] = f"bench-{name}-{k}"
            # its own events/alerts/... topics (the raw ones are shared): a whole worker run after an
            # ingest run would otherwise detect the events that run produced before its own ingest began
            for t in ("events", "deadletter", "alerts", "alerts_deadletter", "feedback", "alerts_feedback"):
                wenv[f"WARNING_TOPICS__{t.upper()}"] = f"{prefix}.{name}{k}.{t}"
            w = Worker(wenv, tmp / f"worker-{name}-{k}.log").start()
            try:
                def seen() -> tuple[int, int]:
                    h = http_json(w.web + "/healthz")
                    if "engines" not in h:  # ingest only: records parsed, masked, enriched and produced
                        return ingested(h), ingested(h)
                    # whole worker: from the first record ingested until detection has taken every
                    # accepted event
                    return ingested(h), detected(h) + h["dead_lettered"] + h["duplicates"]

                t1, t2, _ = poll_count(seen, n, args.timeout)
                h = http_json(w.web + "/healthz")
            finally:
                w.stop()
            rate = n / (t2 - t1)
            results.setdefault(name, []).append((rate, h))
            if name == "ingest":
                print(f"warning ingest agent:         {rate:,.0f} records/s "
                      f"(parse, validate, place, mask, risk terms, sentiment, dedup, produce; accepted {h['accepted']}, "
                      f"dead-lettered {h['dead_lettered']}, duplicates {h['duplicates']})", flush=True)
                continue
            late = h.get("late_events", 0)
            print(f"whole worker (ingest + detect + deliver in one process, timed from the first record ingested until "
                  f"detection has taken every accepted event): {rate:,.0f} records/s (late {late:,}, alerts {h.get('alerts_emitted', 0)})", flush=True)
            if late > n // 100:
                # The records wait in the topics as a backlog: the worker reads the feeds' partitions at
                # their own pace, the rare feeds run hours ahead in event time, the reorder buffer
                # (windows.max_buffered) overflows and moves the watermark past the busy feed's records.
                print(f"  note: {late / n:.0%} of the events came late — a backlog read unevenly across feeds; "
                      "late events skip the scan, so this rate is for less detection work than a live stream's")
        label = {"ingest": ("ingest", 0.8), "whole": ("whole worker", 0.5)}
        if results and not bares:
            print("no ratios: they need the bare or bare-patched phase in the same run")
        for phase, bare in bares.items():
            ratios = [f"{label[name][0]}/{phase} = {statistics.median(r for r, _ in rs) / bare:.2f}"
                      f"  (target ≥ {label[name][1]})" for name, rs in results.items()]
            if ratios:
                print("ratio " + "; ".join(ratios) + (f"  (median of {args.repeat} runs)" if args.repeat > 1 else ""))
        # The worker's topic hops per record: ingest reads the raw topic and hands the record on to the
        # rekey topic, whose agent produces to warning.events (2 hops); detection reads warning.events (3).
        # A chain of as many bare agents doing nothing bounds, as far as this bench can tell, what the
        # worker reaches on those hops.
        hop_of = {"ingest": 2, "whole": 3}
        for name, rs in results.items():
            k = hop_of[name]
            if k in chains:
                line = f"{label[name][0]}/chain{k} = {statistics.median(r for r, _ in rs) / chains[k]:.2f}"
                if "bare" in bares:
                    line += (f"  (its {k} topic hops doing nothing reach {chains[k] / bares['bare']:.2f}× bare, "
                             f"against the target of {label[name][1]})")
                print(line)


if __name__ == "__main__":
    main()
