"""Feeds are data: a feed described in configuration alone is validated, parsed and detected."""

from __future__ import annotations

import random

import pytest
import yaml

from detect_helpers import DAY, HOUR, T0, background, event, firing, run
from warning.core.detect_config import AlertSettings, DetectSettings
from warning.core.engine import Engine
from warning.core.events import Event
from warning.core.feeds import default_feeds, load_feeds
from warning.core.ingest import Ingestor, IngestSettings, Rejected
from warning.core.keys import KeyTable
from warning.core.registry import Registry
from warning.core.timeutil import iso

# What a city would put under `feeds:` in its configuration: no code.
NOISE_YAML = """
noise:
  name_zh: 噪声监测
  noun_zh: 噪声监测报警
  short_zh: 噪声
  time_field: measured_at
  fields:
    measured_at: {type: time, required: true}
    source_type: {type: str, required: true, enum: [施工, 餐饮, 娱乐, 交通]}
    decibels: {type: int, required: true, ge: 20, le: 200}
    note: {type: text}
  text_fields: [note]
  kind_field: source_type
  theme: kind
  key: Z
  theme_prefix: Y
  initial_rate: 0.5
  signals: [volume, theme]
"""
STREET = "110105001"


@pytest.fixture(scope="module")
def feeds():
    return {**default_feeds(), **load_feeds(yaml.safe_load(NOISE_YAML))}


def test_a_configured_feed_is_validated_and_parsed(feeds) -> None:
    f = feeds["noise"]
    assert (f.topic, f.volume_signal, f.group, f.group_zh) == ("warning.raw.noise", "noise_volume", "noise", "噪声监测")
    ing = Ingestor(IngestSettings(), Registry.load("110000"), feeds)
    ok = ing.parse("noise", ('{"id": "n1", "measured_at": "2025-03-01T23:10:00+08:00", "street_code": "110105001", '
                            '"source_type": "施工", "decibels": 92, "note": "夜间施工，电话13812345678"}').encode())
    assert isinstance(ok, Event)
    assert (ok.source, ok.kind, ok.street_name, ok.people_count) == ("noise", "施工", "建外街道", 1)
    assert "13812345678" not in ok.text
    bad = [
        ('{"id": "n2", "measured_at": "2025-03-01T23:10:00+08:00", "source_type": "施工", "decibels": 300}', "invalid_value"),
        ('{"id": "n3", "measured_at": "2025-03-01T23:10:00+08:00", "source_type": "火箭", "decibels": 90}', "invalid_value"),
        ('{"id": "n4", "measured_at": "2025-03-01T23:10:00+08:00", "decibels": 90}', "missing_field"),
        ('{"id": "n5", "measured_at": "2025-03-01T23:10:00", "source_type": "施工", "decibels": 90}', "invalid_value"),
        ('{"id": "n6", "measured_at": "2025-03-01T23:10:00+08:00", "source_type": "施工", "decibels": "90"}', "wrong_type"),
    ]
    for raw, reason in bad:
        r = ing.parse("noise", raw.encode())
        assert isinstance(r, Rejected) and r.reason == reason, (raw, r)
    line = ('{"source": "noise", "id": "n7", "measured_at": "2025-03-01T23:10:00+08:00", '
            '"source_type": "餐饮", "decibels": 70}').encode()
    assert ing.parse_file_line(line)[0] == "noise"
    # without the descriptor the same record is an unknown source
    plain = Ingestor(IngestSettings(), Registry.load("110000"))
    assert plain.parse_file_line(line)[1].reason == "unknown_source"


def _noise(ts: float, street: str = STREET, kind: str = "施工") -> Event:
    ev = event(ts, "hotline", street)
    return Event(**{**{f: getattr(ev, f) for f in ev.__struct_fields__}, "source": "noise", "event_id": f"noise:{ev.id}",
                    "kind": kind, "category": kind, "text": "", "sentiment_neg": None})


def test_a_configured_feed_is_detected_with_its_own_signal(feeds) -> None:
    """Two days of a few noise alarms a day per street, then a night burst in one street."""
    rnd = random.Random(5)
    evs = background(3.0, seed=11)
    for st in ("110105001", "110105002", "110108001", "110101001"):
        for d in range(3):
            for _ in range(rnd.randint(2, 4)):
                evs.append(_noise(T0 + d * DAY + rnd.random() * DAY, st, rnd.choice(("施工", "餐饮", "交通"))))
    burst = T0 + 3 * DAY - 3 * HOUR
    evs += [_noise(burst + i * 240) for i in range(15)]
    evs.sort(key=lambda e: (e.ts, e.event_id))
    eng = Engine(DetectSettings(warmup_hours=48), AlertSettings(calibration_cold_margin=0.0), Registry.load("110000"), feeds=feeds)
    out = firing(run(evs, eng), STREET)
    noise = [a for a in out if a["signal"] == "noise_volume"]
    assert noise, [a["signal"] for a in out]
    a = noise[0]
    assert "噪声监测量异常升高" in a["summary_zh"] and "「施工」类噪声监测报警" in a["summary_zh"], a["summary_zh"]
    assert a["evidence"]["key"] == "Y施工" and a["evidence"]["types"] == {"施工": 3}
    assert burst <= _ts(a["starts_at"]) < burst + 15 * 240
    assert max(x["level"] != "blue" for x in noise), "the burst of 15 escalates"
    # no other street alerts on noise
    assert not [x for x in firing(run(evs, Engine(DetectSettings(warmup_hours=48), AlertSettings(calibration_cold_margin=0.0),
                                                   Registry.load("110000"), feeds=feeds)))
                if x["signal"] == "noise_volume" and x["street_code"] != STREET]


def _ts(s: str) -> float:
    from warning.core.timeutil import parse_time

    return parse_time(s).timestamp()


def test_feed_keys_must_be_distinct() -> None:
    feeds = default_feeds()
    clash = load_feeds({"x": {**yaml.safe_load(NOISE_YAML)["noise"], "key": "H"}})
    with pytest.raises(ValueError, match="feeds.x.key"):
        KeyTable({**feeds, **clash})


def test_descriptor_errors_name_the_field() -> None:
    spec = yaml.safe_load(NOISE_YAML)["noise"]
    with pytest.raises(ValueError, match="kind_field"):
        load_feeds({"noise": {**spec, "kind_field": "nope"}})
    with pytest.raises(ValueError, match="time_field"):
        load_feeds({"noise": {**spec, "time_field": "source_type"}})


def test_grid_reports_count_as_their_own_feed() -> None:
    """A burst of grid reports (网格员上报) of one issue type alerts as grid_volume."""
    evs = background(3.0, seed=12)
    rnd = random.Random(3)
    for st in ("110105001", "110105002", "110108001", "110101001"):
        for d in range(3):
            for _ in range(rnd.randint(8, 14)):
                evs.append(_grid(T0 + d * DAY + (8 + 10 * rnd.random()) * HOUR, st, rnd.choice(("环境卫生", "安全隐患"))))
    burst = T0 + 3 * DAY - 10 * HOUR
    evs += [_grid(burst + i * 200, STREET, "群体性苗头") for i in range(12)]
    evs.sort(key=lambda e: (e.ts, e.event_id))
    out = firing(run(evs, Engine(DetectSettings(warmup_hours=48), AlertSettings(calibration_cold_margin=0.0), Registry.load("110000"))), STREET)
    grid = [a for a in out if a["signal"] == "grid_volume"]
    assert grid, [a["signal"] for a in out]
    assert "网格员上报" in grid[0]["summary_zh"]


def _grid(ts: float, street: str, issue: str) -> Event:
    ev = event(ts, "hotline", street)
    return Event(**{**{f: getattr(ev, f) for f in ev.__struct_fields__}, "source": "grid", "event_id": f"grid:{ev.id}",
                    "kind": issue, "category": issue, "people_count": 0, "text": "", "sentiment_neg": None,
                    "event_time": iso(ts)})


def test_descriptor_field_types_and_reserved_keys() -> None:
    spec = yaml.safe_load(NOISE_YAML)["noise"]
    with pytest.raises(ValueError, match="people_field: 'source_type' is a field of type str, expected int"):
        load_feeds({"noise": {**spec, "people_field": "source_type"}})
    for k in ("K", "N", "R"):  # reserved for risk, tail and risk-hit counters
        with pytest.raises(ValueError, match="key"):
            load_feeds({"noise": {**spec, "key": k}})
        with pytest.raises(ValueError, match="theme_prefix"):
            load_feeds({"noise": {**spec, "theme_prefix": k}})


def test_feeds_sharing_a_theme_mix_must_agree() -> None:
    spec = yaml.safe_load(NOISE_YAML)["noise"]
    other = load_feeds({"noise2": {**spec, "key": "Q", "theme_signal": "noise_theme"}})
    with pytest.raises(ValueError, match="feeds.noise2.theme_signal"):
        KeyTable({**load_feeds({"noise": spec}), **other})
    quiet = load_feeds({"noise": {**spec, "theme": "none"}})  # no theme: joins no theme mix
    assert "Y" not in KeyTable(quiet).theme_pools


def test_restored_state_follows_a_changed_feed_set() -> None:
    """State saved with three feeds restores into an engine with four (a feed added by config)."""
    three = default_feeds()
    three.pop("grid")
    det = DetectSettings(warmup_hours=12)
    e = Engine(det, AlertSettings(calibration_cold_margin=0.0), Registry.load("110000"), feeds=three)
    run(background(1.0, seed=3), e, flush=False)
    meta, streets = e.snapshot_meta(), e.take_dirty()
    e2 = Engine(det, AlertSettings(calibration_cold_margin=0.0), Registry.load("110000"))
    e2.restore(meta, streets)
    later = background(1.5, seed=4, start=T0 + DAY)
    later += [_grid(T0 + DAY + h * HOUR, STREET, "环境卫生") for h in range(30)]
    later.sort(key=lambda x: (x.ts, x.event_id))
    run(later, e2)
    b = e2.streets[STREET].baseline
    assert sorted(b.models) == ["grid", "hotline", "petition", "public_safety"]
    assert b.models["grid"].expected({"t": T0 + 2.4 * DAY}) > 0
