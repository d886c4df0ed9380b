"""Alert latency: produce a record that triggers a rule alert → generic webhook received.

    .venv/bin/python bench/alert_latency.py [--n 200] [--gap 0.05]

Embedded broker (Tansu), a real ``warning worker`` subprocess, a local aiohttp webhook sink. Each
probe is a hotline call with an extreme threat at a different street (a new alert episode each
time), produced with kafka-python and flushed; latency = sink receipt − produce time. Prints p50,
p90, p99 and max, and, as the same-run baseline, the broker round trip alone (produce → consume
of the same record by a plain kafka-python consumer).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from warning.brokers.tansu import EmbeddedBroker  # noqa: E402
from warning.config import load_settings  # noqa: E402
from warning.core.registry import Registry  # noqa: E402
from warning.core.timeutil import BEIJING  # noqa: E402
from warning.streams.topics import ensure_topics  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def start_sink_thread(received: dict[str, float]) -> tuple[str, callable]:
    from warning.notify.sink import start_sink

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict = {}

    def on_alert(alert: dict) -> None:
        if alert.get("status") == "firing":
            received.setdefault(alert["street_code"], time.time())

    async def main() -> None:
        runner, url = await start_sink("127.0.0.1", 0, on_alert)
        box["url"], box["runner"] = url, runner
        ready.set()

    t = threading.Thread(target=lambda: (loop.run_until_complete(main()), loop.run_forever()), daemon=True)
    t.start()
    ready.wait(10)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)

    return box["url"], stop


def broker_round_trip(bootstrap: str, n: int) -> list[float]:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    from kafka_helpers import create_topics

    create_topics(bootstrap, ["bench.rtt"], partitions=1)
    c = KafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=10)
    tp = TopicPartition("bench.rtt", 0)
    c.assign([tp])
    c.seek(tp, 0)
    c.poll(timeout_ms=200)  # resolve the position before producing
    p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    out = []
    for i in range(n):
        t0 = time.time()
        p.send("bench.rtt", b"%d" % i)
        p.flush()
        got = False
        deadline = t0 + 10
        while not got and time.time() < deadline:
            for recs in c.poll(timeout_ms=200).values():
                got = got or bool(recs)
        if got:
            out.append(time.time() - t0)
    p.close()
    c.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--gap", type=float, default=0.05, help="seconds between probes")
    args = ap.parse_args()
    from kafka import KafkaProducer

    from worker_proc import Worker, isolated_env

    tmp = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    streets = sorted(Registry.load("110000").streets)[: args.n]
    received: dict[str, float] = {}
    sink_url, stop_sink = start_sink_thread(received)
    with EmbeddedBroker(log_path=tmp / "tansu.log") as b:
        rtt = broker_round_trip(b.bootstrap, 50)
        env = isolated_env(tmp, b.url, prefix="lat", WARNING_RECEIVERS=orjson.dumps(
            [{"name": "sink", "kind": "generic", "url": sink_url + "generic", "allow_unsigned": True}]).decode())
        ensure_topics(load_settings(None, env=env))
        with Worker(env, tmp / "worker.log") as w:
            p = KafkaProducer(bootstrap_servers=b.bootstrap, linger_ms=0)
            # warm-up: wait until the worker has joined and processes records
            warm = {"id": "warm", "received_at": datetime.now(BEIJING).isoformat(), "street_code": streets[-1],
                    "type": "咨询", "category": "其他", "content": "咨询"}
            p.send("lat.hotline", orjson.dumps(warm), key=b"warm")
            p.flush()
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    import urllib.request

                    h = orjson.loads(urllib.request.urlopen(w.web + "/healthz", timeout=2).read())
                    if h.get("accepted", 0) >= 1:
                        break
                except Exception:
                    pass
                time.sleep(0.2)
            sent: dict[str, float] = {}
            for i, code in enumerate(streets):
                rec = {"id": f"probe-{i}", "received_at": datetime.now(BEIJING).isoformat(), "street_code": code,
                       "type": "投诉", "category": "劳动和社会保障",
                       "content": "工地拖欠工资半年，再不解决我就去跳楼，和他们同归于尽"}
                sent[code] = time.time()
                p.send("lat.hotline", orjson.dumps(rec), key=code.encode())
                p.flush()
                time.sleep(args.gap)
            deadline = time.time() + 60
            while len(received) < len(sent) and time.time() < deadline:
                time.sleep(0.1)
            p.close()
    stop_sink()
    lat = [received[c] - sent[c] for c in sent if c in received]
    print(f"probes {len(sent)}, alerts received {len(lat)}")
    if lat:
        print(f"produce → webhook latency: p50 {statistics.median(lat) * 1000:.0f} ms, p90 {pct(lat, 0.9) * 1000:.0f} ms, "
              f"p99 {pct(lat, 0.99) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms  (target p99 ≤ 1000 ms)")
    print(f"baseline broker round trip (produce → consume): p50 {statistics.median(rtt) * 1000:.1f} ms, "
          f"p99 {pct(rtt, 0.99) * 1000:.1f} ms; ratio p50 latency / p50 round trip = "
          f"{(statistics.median(lat) / statistics.median(rtt)) if lat else float('nan'):.1f}")


if __name__ == "__main__":
    main()
