import re

import pytest

from warning.config import load_settings
from warning.core.events import EVENT_DECODER, EVENT_ENCODER
from warning.core.ingest import Ingestor, IngestSettings, Rejected
from warning.core.registry import Registry

from samples import MAX_AGE_VIOLATION, T0_MS, TIME_VIOLATIONS, VIOLATIONS, enc, hotline, petition, public_safety

PII = re.compile(r"1[3-9]\d{9}|\d{17}[\dXx]|王小明|李强")


@pytest.fixture(scope="module")
def ing():
    return Ingestor(IngestSettings(), Registry.load("110000"))


def test_three_feeds_normalised(ing):
    h = ing.parse("hotline", enc(hotline()), T0_MS)
    p = ing.parse("petition", enc(petition()), T0_MS)
    s = ing.parse("public_safety", enc(public_safety()), T0_MS)
    assert (h.source, h.street_code, h.street_name, h.district, h.kind, h.category) == (
        "hotline", "110105001", "建外街道", "朝阳区", "投诉", "供暖")
    assert h.event_time == "2025-03-01T09:30:00+08:00" and h.ts == T0_MS / 1000
    assert h.event_id == "hotline:h1" and h.key == "110105001"
    assert (p.kind, p.people_count, p.is_repeat, p.district) == ("来访", 6, True, "海淀区")
    assert (s.kind, s.severity, s.people_count, s.street_name, s.resolved_by) == ("斗殴", 3, 4, "中关村街道", "address")
    for ev in (h, p, s):
        assert not PII.search(ev.text), ev.text
        # round trip through the wire format
        assert EVENT_DECODER.decode(EVENT_ENCODER.encode(ev)) == ev
    assert h.pii.get("mobile") == 1 and h.pii.get("name") == 1
    assert p.pii.get("id_number") == 1


def test_extra_fields_ignored_and_optional_missing(ing):
    rec = hotline(extra_field={"a": 1}, future_flag=True)
    for k in ("street_code", "district", "address", "title", "caller"):
        rec.pop(k, None)
    ev = ing.parse("hotline", enc(rec), T0_MS)
    assert not isinstance(ev, Rejected)
    assert ev.street_code == "" and ev.district == "" and ev.key == "unresolved" and ev.resolved_by == "none"


def test_district_level(ing):
    ev = ing.parse("public_safety", enc(public_safety(address=None, district="西城区")), T0_MS)
    assert ev.street_code == "" and ev.district_code == "110102" and ev.key == "110102"


@pytest.mark.parametrize("source,data,reason", VIOLATIONS + TIME_VIOLATIONS)
def test_violations(ing, source, data, reason):
    out = ing.parse(source, data, T0_MS)
    assert isinstance(out, Rejected), out
    assert out.reason == reason, out.detail
    assert out.detail


def test_time_checks_use_record_timestamp_not_wall_clock(ing):
    # Without a record timestamp (files), only the absolute floor applies: old data replays fine.
    ev = ing.parse("petition", enc(petition(received_at="2023-01-01T00:00:00+08:00")), None)
    assert not isinstance(ev, Rejected)
    # By default old events replayed with new record timestamps are fine too.
    assert not isinstance(ing.parse(*MAX_AGE_VIOLATION[:2], T0_MS), Rejected)


def test_max_age_when_configured():
    strict = Ingestor(IngestSettings(max_age_days=400), Registry.load("110000"))
    source, data, reason = MAX_AGE_VIOLATION
    assert strict.parse(source, data, T0_MS).reason == reason


def test_file_lines(ing):
    src, ev = ing.parse_file_line(enc({**hotline(), "source": "hotline"}))
    assert src == "hotline" and not isinstance(ev, Rejected)
    src, ev = ing.parse_file_line(enc({**hotline(), "source": "weibo"}))
    assert ev.reason == "unknown_source"


def test_deterministic(ing):
    a = EVENT_ENCODER.encode(ing.parse("hotline", enc(hotline()), T0_MS))
    b = EVENT_ENCODER.encode(ing.parse("hotline", enc(hotline()), T0_MS))
    assert a == b


def test_batch_path_equals_one_by_one():
    from warning.streams.app import build_enricher

    settings = load_settings(None, env={})
    reg = Registry.load(settings.region.code)
    a = Ingestor(IngestSettings(), reg, enricher=build_enricher(settings))
    b = Ingestor(IngestSettings(), reg, enricher=build_enricher(settings))
    items = [("hotline", enc(hotline(i, content=f"第{i}次投诉，再不解决我就跳楼，电话1381234{i:04d}")), T0_MS) for i in range(20)]
    items += [(s, d, T0_MS) for s, d, _ in VIOLATIONS]
    items += [("petition", enc(petition(i)), T0_MS) for i in range(5)] + [("public_safety", enc(public_safety(1, description="")), T0_MS)]
    one = [a.parse(s, d, t) for s, d, t in items]
    many = b.parse_batch(items)
    assert [EVENT_ENCODER.encode(x) if not isinstance(x, Rejected) else x.reason for x in one] == \
           [EVENT_ENCODER.encode(x) if not isinstance(x, Rejected) else x.reason for x in many]
    assert any(isinstance(x, Rejected) for x in many) and any(not isinstance(x, Rejected) and x.risk and x.risk.hits for x in many)
