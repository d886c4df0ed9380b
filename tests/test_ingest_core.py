import re

import pytest

from warning.config import load_settings
from warning.core.events import EVENT_DECODER, EVENT_ENCODER, Event
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
    # keep(i, event), asked before the text work: a declined record is None, the others as before
    c = Ingestor(IngestSettings(), reg, enricher=build_enricher(settings))
    asked: list[int] = []
    some = c.parse_batch(items, keep=lambda i, ev: asked.append(i) is None and i % 3 != 0)
    assert asked == [i for i, x in enumerate(many) if not isinstance(x, Rejected)]
    assert [None if i in asked and i % 3 == 0 else EVENT_ENCODER.encode(x) if not isinstance(x, Rejected) else x.reason
            for i, x in enumerate(many)] == \
           [EVENT_ENCODER.encode(x) if isinstance(x, Event) else x.reason if isinstance(x, Rejected) else None for x in some]


# ------------------------------------------------------------------------------------------------
# Every record gets the reason that names what is wrong with it (issue 11, defect 7)

def _hotline_with(extra: bytes) -> bytes:
    """A valid hotline record with ``extra`` (raw JSON members) appended before its closing brace."""
    rec = enc(hotline())
    return rec[:-1] + b"," + extra + b"}"


@pytest.mark.parametrize("data", [
    enc(hotline()).replace(b'"id"', b'"i\xffd"', 1),                     # the key of a required field
    enc(hotline()).replace(b'"title"', b'"ti\xfftle"', 1),               # the key of an optional field
    _hotline_with(b'"ext\xffra": "v"'),                                   # the key of an unknown field
    _hotline_with(b'"extra": "v\xff"'),                                   # the value of an unknown field
    _hotline_with(b'"extra": {"a": ["\xe4\xb8"]}'),                       # truncated character, nested
    _hotline_with(b'"extra": {"\xc0\xaf": 1}'),                           # overlong encoding in a nested key
    enc(hotline()).replace(b'"phone"', b'"ph\xffone"', 1),               # a key inside a known object
], ids=["required-key", "optional-key", "extra-key", "extra-value", "nested-value", "nested-key", "subobject-key"])
def test_invalid_utf8_anywhere_is_invalid_utf8(ing, data):
    """Before: a bad key of a required field said ``missing_field``; bad bytes in fields the feed
    does not read (msgspec skips them unchecked) were accepted."""
    out = ing.parse("hotline", data, T0_MS)
    assert isinstance(out, Rejected) and out.reason == "invalid_utf8", out
    at = int(out.detail.removeprefix("invalid UTF-8 at byte "))
    assert data[at:at + 1] in (b"\xff", b"\xe4", b"\xc0"), out.detail  # where the bad bytes start
    src, out = ing.parse_file_line(data[:1] + b'"source": "hotline", ' + data[1:])
    assert out.reason == "invalid_utf8"


def _nested(depth: int, kind: str) -> bytes:
    return (b"[" * depth + b"]" * depth) if kind == "array" else (b'{"a":' * depth + b"1" + b"}" * depth)


@pytest.mark.parametrize("depth,kind", [(65, "array"), (1_000, "array"), (100_000, "array"), (65, "object"), (1_000, "object")])
def test_deep_nesting_is_invalid_json(depth, kind):
    """Before: 1,000 and 100,000 levels raised RecursionError inside msgspec → ``processing_error``
    (and crashed ``parse_file_lines``); now any record nested past MAX_NESTING is ``invalid_json``."""
    ing = Ingestor(IngestSettings(), Registry.load("110000"))  # 100,000 levels of arrays are 200 KB: not too_large
    for data in (_hotline_with(b'"extra": ' + _nested(depth, kind)), _nested(depth, kind)):
        out = ing.parse("hotline", data, T0_MS)
        assert isinstance(out, Rejected) and out.reason == "invalid_json", out
        assert out.detail == "arrays/objects nested deeper than 64 levels"  # MAX_NESTING
    src, out = ing.parse_file_line(b'{"source": "hotline", ' + _hotline_with(b'"extra": ' + _nested(depth, kind))[1:])
    assert (src, out.reason) == ("unknown", "invalid_json")
    assert ing.stats.rejected == {"invalid_json": 3}


def test_nesting_up_to_the_limit_is_fine_and_brackets_in_text_do_not_count(ing):
    from warning.core.ingest import MAX_NESTING

    # the record itself is one level: an extra field may nest MAX_NESTING - 1 more
    ok = ing.parse("hotline", _hotline_with(b'"extra": ' + _nested(MAX_NESTING - 1, "array")), T0_MS)
    assert not isinstance(ok, Rejected), ok
    text = "[" * 300 + "{" * 300 + "家里不热"
    ev = ing.parse("hotline", enc(hotline(content=text)), T0_MS)
    assert not isinstance(ev, Rejected) and ev.text.endswith("家里不热")
    too_deep = ing.parse("hotline", _hotline_with(b'"extra": ' + _nested(MAX_NESTING, "array")), T0_MS)
    assert too_deep.reason == "invalid_json"


@pytest.mark.parametrize("size", [1_500_000, 3_000_000])
def test_oversize_records_are_too_large(size):
    """Before: 1.5 MB and 3 MB values (in a field the feed ignores) were ingested."""
    ing = Ingestor(IngestSettings(), Registry.load("110000"))
    data = _hotline_with(b'"attachment": "' + b"A" * size + b'"')
    out = ing.parse("hotline", data, T0_MS)
    assert isinstance(out, Rejected) and out.reason == "too_large", out
    assert out.detail == f"record has {len(data)} bytes (max {256 * 1024}: ingest.max_record_bytes)"
    # checked before anything is parsed: not JSON, not UTF-8, too deep — still too_large
    for junk in (b"\xff" * size, b"[" * size):
        assert ing.parse("hotline", junk, T0_MS).reason == "too_large"
    assert ing.parse_file_line(b'{"source": "hotline", ' + data[1:])[1].reason == "too_large"


def test_size_limit_is_a_setting_and_a_full_length_text_fits():
    settings = IngestSettings()
    ing = Ingestor(settings, Registry.load("110000"))
    # a text of max_text_chars Chinese characters is text_too_long only when longer, never too_large
    at_limit = enc(hotline(content="不" * settings.max_text_chars, title=None))
    assert not isinstance(ing.parse("hotline", at_limit, T0_MS), Rejected)
    over = ing.parse("hotline", enc(hotline(content="不" * (settings.max_text_chars + 1), title=None)), T0_MS)
    assert over.reason == "text_too_long"
    small = Ingestor(IngestSettings(max_record_bytes=70_000), Registry.load("110000"))
    assert small.parse("hotline", enc(hotline(content="不" * 20_000, title="不" * 5_000)), T0_MS).reason == "too_large"
    with pytest.raises(ValueError, match="max_record_bytes"):
        IngestSettings(max_record_bytes=50_000)  # cannot hold a text of max_text_chars


def test_kafka_requests_carry_a_record_of_the_size_limit():
    from warning.config import ConfigError

    s = load_settings(None, env={})
    assert s.kafka.max_request_size >= s.ingest.max_record_bytes + 64 * 1024
    with pytest.raises(ConfigError, match="kafka.max_request_size"):
        load_settings(None, env={"WARNING_INGEST__MAX_RECORD_BYTES": str(2 * 1024 * 1024)})
    s = load_settings(None, env={"WARNING_INGEST__MAX_RECORD_BYTES": str(2 * 1024 * 1024),
                                 "WARNING_KAFKA__MAX_REQUEST_SIZE": str(3 * 1024 * 1024)})
    assert s.ingest.max_record_bytes == 2 * 1024 * 1024


@pytest.mark.timed
def test_nesting_check_is_linear_on_hostile_input():
    """An unterminated string full of escaped quotes after deep brackets once made the nesting
    check quadratic (a 120 KB record blocked the worker for a minute): it must stay fast."""
    import time

    from warning.core.ingest import nesting_exceeds

    hostile = b"[" * 65 + b'"' + b'\\"' * 100_000  # 200 KB, under max_record_bytes
    inside = b'{"t": "' + b"[" * 70 + b'\\"' * 100_000 + b'"}'  # brackets only inside a string
    t0 = time.perf_counter()
    assert nesting_exceeds(hostile) and not nesting_exceeds(inside)
    assert time.perf_counter() - t0 < 1.0


def test_place_names_are_found_in_the_masked_text_on_both_paths():
    """Ingest puts the place names of the *masked* text on the event (the stream's record path and
    the file path alike): a person's name in a shop name never becomes a place name."""
    from warning.core.pipeline import Pipeline
    from warning.core.text.entity import entities

    text = "我是张伟，张伟超市卖过期食品，金鼎家园的业主也反映过"
    assert "张伟超市" in entities(text)  # what the raw text would give
    rec = hotline(content=text)
    ev = Ingestor(IngestSettings(), Registry.load("110000")).parse("hotline", enc(rec), T0_MS)
    settings = load_settings(None, env={})
    (fev,) = Pipeline.from_settings(settings).enrich_lines([enc({**rec, "source": "hotline"})])
    for e in (ev, fev):
        assert "张伟" not in e.text
        assert e.entities == entities(e.text) == ["金鼎家园"]
    assert Ingestor(IngestSettings(), Registry.load("110000")).parse("hotline", enc(hotline(content="", title="")),
                                                                     T0_MS).entities == []
