"""The composition root (warning/core/pipeline.py): Kafka's partitioner, and "parse then dedup"
counting every record once."""

from __future__ import annotations

import random

import orjson
from aiokafka.partitioner import murmur2 as kafka_murmur2

from warning.config import load_settings
from warning.core.pipeline import Pipeline, murmur2, partition_for

from samples import hotline, petition


def test_murmur2_is_kafkas():
    rnd = random.Random(3)
    for _ in range(3000):
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 24)))
        assert murmur2(data) == kafka_murmur2(data)
    assert all(partition_for(k, 4) == (kafka_murmur2(k.encode()) & 0x7FFFFFFF) % 4 for k in ("110105001", "110101", ""))


def test_admit_counts_each_record_once():
    pipe = Pipeline.from_settings(load_settings(None, env={}))
    line = lambda rec, src: orjson.dumps({**rec, "source": src})  # noqa: E731
    lines = [line(hotline(1), "hotline"), line(hotline(1), "hotline"), line(petition(1), "petition"),
             line(hotline(2, received_at="2025-03-09T00:00:00+08:00"), "hotline"), b"{not json", line({"id": "x"}, "grid")]
    pipe.feed_lines(lines, end=1741017600.0)  # 2025-03-04: the record of 03-09 is out of range
    s = pipe.stats
    assert (s.records, s.accepted, s.duplicates, s.out_of_range, sum(s.dead_lettered.values())) == (6, 2, 1, 1, 2)
    assert pipe.ingestor.feeds == pipe.feeds and set(pipe.dedups) >= {"hotline", "petition"}
