"""Both real brokers: records go in and come back exactly; stopping leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import pytest

from kafka_helpers import Record, consume_all, create_topics, fresh_broker, produce, unique_topic
from warning.brokers import EmbeddedBroker, free_port, probe_kafka
from warning.brokers.base import BrokerProcess, group_alive, pdeathsig_supported, wait_port_free

pytestmark = pytest.mark.integration

N = 1000


def _payloads() -> tuple[list[bytes | None], list[bytes | None], list[list[tuple[str, bytes]]]]:
    values: list[bytes | None] = []
    keys: list[bytes | None] = []
    headers: list[list[tuple[str, bytes]]] = []
    for i in range(N):
        street = f"1101010{i % 20:02d}"
        if i % 97 == 0:
            values.append(b"")  # empty value
        elif i % 83 == 0:
            values.append(None)  # tombstone
        elif i % 89 == 0:
            values.append(bytes(range(256)))  # binary, not UTF-8
        else:
            values.append(
                f'{{"id":"h{i}","street_code":"{street}","content":"噪音扰民 第{i}条"}}'.encode()
            )
        keys.append(None if i % 50 == 0 else street.encode())
        if i % 10 == 0:
            headers.append([])
        else:
            headers.append([("source", b"hotline"), ("seq", str(i).encode()), ("empty", b"")])
    return values, keys, headers


def test_roundtrip_1000_records(broker: BrokerProcess) -> None:
    topic = unique_topic("brokers.roundtrip")
    create_topics(broker.bootstrap, [topic], partitions=4)
    values, keys, headers = _payloads()
    meta = produce(broker.bootstrap, topic, values, keys, headers=headers)
    assert len(meta) == N
    assert len(set(meta)) == N  # distinct (partition, offset) per record

    got = consume_all(broker.bootstrap, topic, expected=N, timeout=60)
    assert len(got) == N

    # Exactly what was produced, at the (partition, offset) the broker acknowledged.
    sent = {pm: (k, v, h) for pm, k, v, h in zip(meta, keys, values, headers)}
    back = {(r.partition, r.offset): (r.key, r.value, r.headers) for r in got}
    assert back == sent

    # Keyed records: one partition per key, produce order kept within it.
    by_key: dict[bytes, list[Record]] = defaultdict(list)
    for r in got:
        if r.key is not None:
            by_key[r.key].append(r)
    for key, recs in by_key.items():
        assert len({r.partition for r in recs}) == 1, key
        seqs = [int(dict(r.headers)["seq"]) for r in recs if r.headers]
        assert seqs == sorted(seqs), key
    assert len({r.partition for r in got}) == 4

    # Nothing beyond the 1,000 records.
    again = consume_all(broker.bootstrap, topic, timeout=30, idle=1.0)
    assert len(again) == N


def test_auto_created_topic(broker: BrokerProcess) -> None:
    topic = unique_topic("brokers.auto")
    produce(broker.bootstrap, topic, [{"n": i} for i in range(10)], [b"k"] * 10)
    got = consume_all(broker.bootstrap, topic, expected=10, timeout=30)
    assert [r.json()["n"] for r in got] == list(range(10))


def test_probe_reports_the_broker(broker: BrokerProcess) -> None:
    res = probe_kafka("127.0.0.1", int(broker.bootstrap.rsplit(":", 1)[1]))
    assert res.brokers == 1
    assert res.cluster_id == broker.cluster_id
    assert broker.url == f"kafka://{broker.bootstrap}"


@pytest.mark.parametrize(
    "kind", ["tansu", pytest.param("apache", marks=[pytest.mark.apache, pytest.mark.slow])]
)
def test_stop_leaves_no_process(kind: str, tmp_path: Path) -> None:
    b = fresh_broker(kind, tmp_path)
    with b:
        pid = b.pid
        assert pid is not None and group_alive(pid)
        produce(b.bootstrap, "stop.check", [b"x"])
        state = getattr(b, "state_dir", None)
    assert not b.running
    assert not group_alive(pid)
    assert wait_port_free("127.0.0.1", b.port, timeout=5)
    if state is not None:
        assert not Path(state).exists()  # temporary state directory removed
    b.stop()  # idempotent


def test_stop_after_failed_start_cleans_up(tmp_path: Path) -> None:
    with pytest.raises(Exception):
        with EmbeddedBroker(log_path=tmp_path / "t.log") as b:
            pid = b.pid
            raise RuntimeError("boom")
    assert pid is not None and not group_alive(pid)


_CHILD = textwrap.dedent(
    """
    import sys, time
    from warning.brokers import EmbeddedBroker
    b = EmbeddedBroker(log_path=sys.argv[1]).start()
    print(b.pid, flush=True)
    time.sleep(120)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_parent_death_kills_broker(sig: signal.Signals, tmp_path: Path) -> None:
    """A test run killed by CI (SIGTERM) or the OOM killer (SIGKILL) leaves no broker behind."""
    if sig == signal.SIGKILL and not pdeathsig_supported():
        pytest.skip("no setpriv --pdeathsig here: a SIGKILLed parent leaves its broker running")
    parent = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path / "tansu.log")], stdout=subprocess.PIPE, text=True
    )
    pid = 0
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert group_alive(pid)
        parent.send_signal(sig)
        assert parent.wait(timeout=10) == -sig
        deadline = time.monotonic() + 10
        while group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not group_alive(pid)
    finally:
        parent.kill()
        parent.wait()
        if pid and group_alive(pid):  # do not leak the broker when the test fails
            os.killpg(pid, signal.SIGKILL)


def test_explicit_port_in_use_fails_clearly(tansu: EmbeddedBroker) -> None:
    with pytest.raises(Exception, match="in use"):
        EmbeddedBroker(port=tansu.port, startup_timeout=10).start()


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_warning_broker_command_prints_bootstrap_and_stops():
    """`warning broker --port 0` runs Tansu in the foreground, prints its address, stops on SIGTERM."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from kafka import KafkaAdminClient

    proc = subprocess.Popen([sys.executable, "-m", "warning", "broker", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("bootstrap: 127.0.0.1:"), line
        bootstrap = line.split(": ", 1)[1]
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.list_topics()
        admin.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    time.sleep(0.5)
    out = subprocess.run(["pgrep", "-f", f"tansu broker --listener-url tcp://{bootstrap}"], capture_output=True, text=True)
    assert out.stdout.strip() == ""
