"""The labelled simulator (``warning simulate``): contract, determinism, volumes, incidents."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime

import orjson
import pytest
from click.testing import CliRunner

from warning.cli import cli
from warning.core.registry import Registry
from warning.sim import profiles as P
from warning.sim import texts as T
from warning.sim.incidents import KINDS

REG = Registry.load("110000")
HOTLINE_TYPES = {"咨询", "求助", "投诉", "举报", "建议"}
PETITION_FORMS = {"来信", "来访", "网上", "电话"}
TIME_FIELD = {"hotline": "received_at", "petition": "received_at", "public_safety": "occurred_at",
              "grid": "reported_at"}
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")
EXTREME_TERMS = ("跳楼", "自焚", "同归于尽", "喝农药")
ANGRY_WORDS = ("忍无可忍", "太不像话", "气死人", "欺人太甚", "不作为", "寒心", "敷衍", "管不管", "什么态度",
               "没有办法了", "彻底失望", "当回事")


# ----------------------------------------------------------------------------- helpers
def simulate(tmp_path, *args: str) -> tuple[list[dict], list[dict], dict]:
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["simulate", "--out", str(out), "--quiet", *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    events = [orjson.loads(x) for x in (out / "events.jsonl").read_bytes().splitlines()]
    labels = [orjson.loads(x) for x in (out / "labels.jsonl").read_bytes().splitlines()]
    summary = orjson.loads((out / "summary.json").read_bytes())
    return events, labels, summary


def ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def event_ts(r: dict) -> float:
    return ts(r[TIME_FIELD[r["source"]]])


def contract_errors(r: dict) -> list[str]:
    """Validator written from DESIGN.md's input contract (file form: with ``source``)."""
    errs = []

    def opt_str(k):
        if k in r and not isinstance(r[k], str):
            errs.append(f"{k} not str")

    src = r.get("source")
    if src not in TIME_FIELD:
        return [f"bad source {src!r}"]
    if not isinstance(r.get("id"), str) or not r["id"]:
        errs.append("id")
    tf = TIME_FIELD[src]
    if not isinstance(r.get(tf), str) or not TIME_RE.match(r[tf]):
        errs.append(f"{tf} {r.get(tf)!r}")
    for k in ("street_code", "district", "address"):
        opt_str(k)
    if "street_code" in r and r["street_code"] not in REG.streets:
        errs.append(f"unknown street_code {r['street_code']}")
    if not any(k in r for k in ("street_code", "district", "address")):
        errs.append("no place")
    if src == "hotline":
        if r.get("type") not in HOTLINE_TYPES:
            errs.append("type")
        if not isinstance(r.get("category"), str) or not isinstance(r.get("content"), str) or not r["content"]:
            errs.append("category/content")
        opt_str("title")
        if "caller" in r:
            c = r["caller"]
            if not isinstance(c, dict) or any(not isinstance(c.get(k, ""), str) for k in ("name", "phone")):
                errs.append("caller")
    elif src == "petition":
        if r.get("form") not in PETITION_FORMS:
            errs.append("form")
        pc = r.get("people_count")
        if not isinstance(pc, int) or isinstance(pc, bool) or pc < 1:
            errs.append("people_count")
        if "is_repeat" in r and not isinstance(r["is_repeat"], bool):
            errs.append("is_repeat")
        if not isinstance(r.get("category"), str) or not isinstance(r.get("content"), str) or not r["content"]:
            errs.append("category/content")
        if "petitioner" in r:
            p = r["petitioner"]
            if not isinstance(p, dict) or any(not isinstance(p.get(k, ""), str) for k in ("name", "id_number", "phone")):
                errs.append("petitioner")
    elif src == "grid":
        if not isinstance(r.get("issue_type"), str) or not isinstance(r.get("content"), str) or not r["content"]:
            errs.append("issue_type/content")
        for k in ("grid_id", "category"):
            opt_str(k)
        u = r.get("urgency", 1)
        if not isinstance(u, int) or isinstance(u, bool) or not 1 <= u <= 3:
            errs.append("urgency")
        pc = r.get("people_count", 0)
        if not isinstance(pc, int) or isinstance(pc, bool) or pc < 0:
            errs.append("people_count")
        if "reporter" in r:
            p = r["reporter"]
            if not isinstance(p, dict) or any(not isinstance(p.get(k, ""), str) for k in ("name", "phone")):
                errs.append("reporter")
    else:
        if not isinstance(r.get("event_type"), str) or not r["event_type"]:
            errs.append("event_type")
        sev = r.get("severity")
        if not isinstance(sev, int) or isinstance(sev, bool) or not 1 <= sev <= 4:
            errs.append("severity")
        if "people_count" in r:
            pc = r["people_count"]
            if not isinstance(pc, int) or isinstance(pc, bool) or pc < 0:
                errs.append("people_count")
        opt_str("description")
    for k, v in r.items():
        if v is None:
            errs.append(f"{k} is null")
    return errs


def street_of(r: dict) -> str | None:
    if "street_code" in r:
        return r["street_code"]
    res = REG.resolve(None, r.get("address"), r.get("district"))
    return res.street.code if res.street else None


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def day_scale1(tmp_path_factory):
    """One ordinary weekday (Tue 2024-03-05) at scale 1 — ~90 k records, a few seconds."""
    return simulate(tmp_path_factory.mktemp("sim1"), "--start", "2024-03-05", "--days", "1", "--seed", "11")


@pytest.fixture(scope="module")
def three_days(tmp_path_factory):
    """Three days in the heating season at scale 0.3, incidents from the first hour."""
    return simulate(tmp_path_factory.mktemp("sim3"), "--start", "2024-12-02", "--days", "3", "--seed", "5",
                    "--scale", "0.3", "--warmup-days", "0")


# ----------------------------------------------------------------------------- tests
def test_every_record_follows_the_contract(day_scale1):
    events, _, _ = day_scale1
    bad = [(r, e) for r in events if (e := contract_errors(r))]
    assert not bad, bad[:3]
    ids = Counter((r["source"], r["id"]) for r in events)
    assert max(ids.values()) == 1


def test_records_validate_with_core_schema(day_scale1):
    msgspec = pytest.importorskip("msgspec")
    from warning.core.feeds import default_feeds

    feeds = default_feeds()
    for r in day_scale1[0]:
        body = {k: v for k, v in r.items() if k != "source"}
        msgspec.json.decode(orjson.dumps(body), type=feeds[r["source"]].record_type)


def test_sorted_by_event_time(day_scale1):
    events, _, _ = day_scale1
    times = [event_ts(r) for r in events]
    assert times == sorted(times)
    assert min(times) >= ts("2024-03-05T00:00:00+08:00") and max(times) < ts("2024-03-06T00:00:00+08:00")


def test_volume_at_scale_1(day_scale1):
    events, _, summary = day_scale1
    counts = Counter(r["source"] for r in events)
    d = date(2024, 3, 5)
    for feed in P.FEEDS:
        expected = P.expected_daily(feed, d, 1.0)
        assert abs(counts[feed] - expected) <= 0.2 * expected, (feed, counts[feed], expected)
        assert summary["by_source"][feed] == counts[feed]
    # an ordinary weekday is within ±20 % of the documented daily averages (petitions: weekday peak)
    assert abs(counts["hotline"] - 66_000) <= 0.2 * 66_000
    assert abs(counts["public_safety"] - 15_000) <= 0.2 * 15_000
    assert 3_000 <= counts["petition"] <= 3_000 * 1.5


def test_daily_factors_average_to_one():
    for feed in P.FEEDS:
        assert abs(P.annual_mean_factor(feed, 2024) - 1.0) < 0.03
        assert abs(P.annual_mean_factor(feed, 2025) - 1.0) < 0.03


def test_all_streets_appear_and_weights_are_heavy_tailed(day_scale1):
    events, _, _ = day_scale1
    per_street = Counter(street_of(r) for r in events)
    per_street.pop(None, None)
    assert set(per_street) == set(REG.streets)
    vals = sorted(per_street.values())
    assert vals[int(0.95 * len(vals))] >= 10 * vals[int(0.05 * len(vals))]


def test_place_forms_are_mixed_and_resolvable(day_scale1):
    events, _, _ = day_scale1
    forms = Counter()
    for r in events:
        if "street_code" in r:
            forms["code"] += 1
            if "address" in r:  # an address given with the code names the same street
                res = REG.resolve(None, r["address"], r.get("district"))
                assert res.street is not None and res.street.code == r["street_code"], r
        elif "address" in r and REG.resolve(None, r["address"], r.get("district")).how == "address":
            forms["address"] += 1
        else:
            assert REG.resolve(None, r.get("address"), r.get("district")).how == "district", r
            forms["district"] += 1
    n = sum(forms.values())
    assert forms["code"] / n > 0.6
    assert 0.08 < forms["address"] / n < 0.3
    assert 0.005 < forms["district"] / n < 0.06


def test_mix_of_categories_types_forms_and_severities(day_scale1):
    events, _, _ = day_scale1
    hot = [r for r in events if r["source"] == "hotline"]
    pet = [r for r in events if r["source"] == "petition"]
    ps = [r for r in events if r["source"] == "public_safety"]
    cats = Counter(r["category"] for r in hot)
    top = [c for c, _ in cats.most_common(6)]
    assert {"市场管理", "住房", "公共服务", "城乡建设"} <= set(top)
    assert cats["供暖"] > 0  # 5 March: still heating season
    assert set(Counter(r["type"] for r in hot)) == HOTLINE_TYPES
    assert set(Counter(r["form"] for r in pet)) == PETITION_FORMS
    pc = Counter(r["people_count"] for r in pet)
    assert pc[1] / len(pet) > 0.85 and pc[2] > 0
    assert any(r.get("is_repeat") for r in pet) and any("is_repeat" not in r for r in pet)
    sev = Counter(r["severity"] for r in ps)
    assert set(sev) == {1, 2, 3, 4} and sev[1] > sev[2] > sev[3] > sev[4]
    assert len({r["event_type"] for r in ps}) >= 10


def test_texts_varied_and_carry_pii(day_scale1):
    events, _, _ = day_scale1
    hot = [r["content"] for r in events if r["source"] == "hotline"]
    assert len(set(hot)) > 0.6 * len(hot)
    joined = "\n".join(hot[:20000])
    assert re.search(r"我叫[\u4e00-\u9fa5]{2,3}", joined)
    assert re.search(r"联系人：", joined)
    assert re.search(r"1[3-9]\d{9}", joined)
    assert re.search(r"\d+号楼\d单元\d+室", joined)
    ids = [m for r in events if r["source"] == "petition" for m in re.findall(r"\d{17}[\dX]", r["content"])]
    assert ids and all(T.id_check_digit(x[:17]) == x[17] for x in ids)
    # benign risk-like words exist in the background (negations, notices, TV noise)
    incident_streets = {lb["street_code"] for lb in day_scale1[1]}
    background = [r["content"] for r in events if r["source"] == "hotline" and street_of(r) not in incident_streets]
    risky = [c for c in background if re.search("跳楼|同归于尽|集体上访|不想活", c)]
    assert 3 <= len(risky) <= 100
    assert sum("停电通知" in c for c in background) >= 10


HONORIFIC = re.compile(r"(先生|女士|大爷|阿姨|师傅|大妈|老师|大姐|大哥|奶奶|爷爷|小姐)$")


def test_masking_removes_the_simulated_names(day_scale1):
    """The simulator knows whose name each text carries: after masking, (almost) none survives.
    Surname + honorific (秦女士) is not treated as personal data."""
    from warning.core.text import mask_pii

    events, _, _ = day_scale1
    named = leaked = 0
    for r in events:
        person = r.get("caller") or r.get("petitioner") or r.get("reporter")
        name = person.get("name") if isinstance(person, dict) else None
        text = r.get("content") or ""
        if not name or name not in text or HONORIFIC.search(name):
            continue
        named += 1
        leaked += name in mask_pii(text)[0]
    print(f"\nnamed texts={named} names left after masking={leaked}")
    assert named > 1000
    assert leaked / named < 0.005


def test_background_has_no_group_visits(day_scale1):
    events, labels, _ = day_scale1
    big = [r for r in events if r["source"] == "petition" and r["people_count"] >= 5]
    gp = {lb["street_code"] for lb in labels if lb["kind"] == "group_petition"}
    assert big and all(street_of(r) in gp for r in big)


def test_deterministic(tmp_path):
    args = ("--start", "2024-07-01T06:00:00+08:00", "--days", "1.5", "--seed", "3", "--scale", "0.05",
            "--bad-fraction", "0.01")
    runner = CliRunner()
    outs = []
    for k in range(2):
        out = tmp_path / f"o{k}"
        res = runner.invoke(cli, ["simulate", "--out", str(out), "-q", *args], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        outs.append(out)
    for name in ("events.jsonl", "labels.jsonl", "summary.json"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    res = runner.invoke(cli, ["simulate", "--out", str(tmp_path / "o2"), "-q", *args[:-4], "--seed", "4",
                              "--scale", "0.05"], catch_exceptions=False)
    assert res.exit_code == 0
    assert (tmp_path / "o2" / "events.jsonl").read_bytes() != (outs[0] / "events.jsonl").read_bytes()


def test_labels_shape(three_days):
    events, labels, summary = three_days
    assert Counter(lb["kind"] for lb in labels) == {k: 1 for k in KINDS}
    assert summary["incidents"]["by_kind"] == {k: 1 for k in KINDS}
    lo, hi = ts("2024-12-02T00:00:00+08:00"), ts("2024-12-05T00:00:00+08:00")
    for lb in labels:
        assert {"street_code", "start", "end", "peak", "kind"} <= set(lb)
        assert lb["street_code"] in REG.streets
        for k in ("start", "end", "peak"):
            assert TIME_RE.match(lb[k]), lb
        assert lo <= ts(lb["start"]) <= ts(lb["peak"]) <= ts(lb["end"]) < hi, lb
        assert lb.get("min_level") == ("orange" if lb["kind"] == "extreme_threat" else None)
    assert len({lb["street_code"] for lb in labels}) == len(labels)


def test_incident_count_scales_with_days():
    from warning.sim.generator import SimParams, Simulator

    t0 = int(ts("2024-05-06T00:00:00+08:00"))
    sim = Simulator(SimParams(start=t0, days=28, seed=1, scale=0.01))
    assert Counter(i.kind for i in sim.incidents) == {k: 4 for k in KINDS}
    assert all(i.start >= t0 + 7 * 86400 or i.kind == "group_petition" for i in sim.incidents)  # warm-up
    sim0 = Simulator(SimParams(start=t0, days=2, seed=1, scale=0.01, incidents_per_week=0))
    assert sim0.incidents == []


def _window(events, lb, pad=0.0):
    s, e = ts(lb["start"]) - pad, ts(lb["end"]) + pad
    out = []
    for r in events:
        t = event_ts(r)
        if s <= t <= e and street_of(r) == lb["street_code"]:
            out.append(r)
    return out


def test_incidents_carry_their_signal(three_days):
    events, labels, _ = three_days
    by_kind = {lb["kind"]: lb for lb in labels}

    ex = _window(events, by_kind["extreme_threat"])
    assert any(r["source"] == "hotline" and any(w in r["content"] for w in EXTREME_TERMS) for r in ex)

    gp = _window(events, by_kind["group_petition"])
    assert any(r["source"] == "petition" and r["people_count"] >= 5 and r["form"] == "来访" for r in gp)
    assert any(r["source"] == "hotline" and re.search("集体上访|拉横幅|讨说法|信访办", r["content"]) for r in gp)

    # grid members saw the group forming before the visit (lead time)
    visit = ts(by_kind["group_petition"]["peak"])
    assert any(r["source"] == "grid" and r["issue_type"] == "群体性苗头" and event_ts(r) < visit for r in gp)

    ms = _window(events, by_kind["multi_source"])
    assert {r["source"] for r in ms} == {"hotline", "petition", "public_safety", "grid"}
    assert any(r["source"] == "public_safety" and r["severity"] >= 2 and r.get("people_count", 0) >= 2 for r in ms)

    cs = by_kind["category_surge"]
    cat = cs["detail"]["category"]
    n_in = sum(1 for r in _window(events, cs) if r["source"] == "hotline" and r["category"] == cat)
    assert n_in >= 10 and n_in >= 4 * cs["detail"]["baseline"]

    sb = by_kind["slow_buildup"]
    sb_cat = sb["detail"]["category"]
    s0, s1 = ts(sb["start"]), ts(sb["end"])
    assert s1 - 86400 <= ts(sb["peak"]) <= s1
    # first vs last 24 h of the build-up (same hours of the day), background included
    hot = [ts(r["received_at"]) for r in _window(events, sb) if r["source"] == "hotline" and r["category"] == sb_cat]
    first = sum(1 for t in hot if t < s0 + 86400)
    last = sum(1 for t in hot if t >= s1 - 86400)
    assert last > first
    # the injected calls alone grow several-fold
    from warning.sim.generator import SimParams, Simulator

    sim = Simulator(SimParams(start=int(ts("2024-12-02T00:00:00+08:00")), days=3, seed=5, scale=0.3, warmup_days=0))
    inc = next(i for i in sim.incidents if i.kind == "slow_buildup")
    own = [e["_ts"] for e in inc.events if e["source"] == "hotline"]
    assert sum(1 for t in own if t >= inc.end - 86400) > 3 * sum(1 for t in own if t < inc.start + 86400)


def test_sentiment_turn_keeps_volume_but_turns_angry(three_days):
    events, labels, summary = three_days
    lb = next(lb for lb in labels if lb["kind"] == "sentiment_turn")
    inside = [r for r in _window(events, lb) if r["source"] == "hotline"]
    street = lb["street_code"]
    outside = [r for r in events if r["source"] == "hotline" and street_of(r) == street and r not in inside]

    def angry_share(rs):
        return sum(any(w in r["content"] for w in ANGRY_WORDS) for r in rs) / max(1, len(rs))

    assert angry_share(inside) > 0.35 > 0.1 > angry_share(outside)
    assert not any(w in r["content"] for r in inside for w in EXTREME_TERMS)
    assert summary["incidents"]["events_by_source"]["hotline"] > 0  # other kinds add events …
    # … but a sentiment turn adds none: its records are the street's own background
    from warning.sim.generator import SimParams, Simulator

    sim = Simulator(SimParams(start=int(ts("2024-12-02T00:00:00+08:00")), days=3, seed=5, scale=0.3,
                              warmup_days=0))
    assert [i.events for i in sim.incidents if i.kind == "sentiment_turn"] == [[]]


def test_bad_fraction(tmp_path):
    events, _, summary = simulate(tmp_path, "--start", "2024-06-03", "--days", "0.5", "--scale", "0.05",
                                  "--bad-fraction", "0.05", "--seed", "2")
    bad = [r for r in events if contract_errors(r)]
    assert summary["bad_records"] == len(bad) > 0
    assert 0.02 < len(bad) / len(events) < 0.09


def test_bad_records_are_dead_lettered_by_ingest(tmp_path):
    ingest = pytest.importorskip("warning.core.ingest")
    pytest.importorskip("warning.core.text")  # ingest masks text with it
    from warning.config import load_settings

    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["simulate", "--out", str(out), "-q", "--start", "2024-06-03", "--days", "0.25",
                                   "--scale", "0.05", "--bad-fraction", "0.05", "--seed", "9"])
    assert res.exit_code == 0, res.output
    from warning.core.registry import Registry

    ing = ingest.Ingestor(ingest.IngestSettings(), Registry.load("110000"))
    summary = orjson.loads((out / "summary.json").read_bytes())
    rejected = 0
    for line in (out / "events.jsonl").read_bytes().splitlines():
        _src, ev = ing.parse_file_line(line)
        rejected += isinstance(ev, ingest.Rejected)
    assert rejected == summary["bad_records"] > 0


def test_heating_season_and_spring_festival_profiles():
    assert P.heating_share(date(2024, 11, 20)) > 10 * P.heating_share(date(2024, 7, 1))
    sf = date(2025, 1, 29)
    assert P.day_factor("hotline", sf) < 0.7 * P.day_factor("hotline", date(2025, 3, 4))
    assert P.day_factor("petition", date(2025, 1, 31)) < 0.2
    before = P.hotline_category_weights(date(2025, 1, 10))[P.LABOUR]
    assert before > 1.5 * P.hotline_category_weights(date(2025, 4, 15))[P.LABOUR]
    assert P.holiday_name(date(2025, 10, 3)) == "国庆节"


def test_id_numbers_are_valid():
    import random

    rnd = random.Random(1)
    for _ in range(200):
        x = T.id_number(rnd)
        assert len(x) == 18 and T.id_check_digit(x[:17]) == x[17]
        datetime.strptime(x[6:14], "%Y%m%d")


def test_cli_needs_a_sink():
    res = CliRunner().invoke(cli, ["simulate", "--start", "2024-01-01"])
    assert res.exit_code != 0 and "--out" in res.output


def test_background_is_the_same_without_incidents(tmp_path):
    """Incidents add events (and a sentiment turn rewrites some) but never move the background, so a
    run with ``--incidents-per-week 0`` is the clean baseline of the same seed."""
    args = ("--start", "2024-09-10", "--days", "1", "--seed", "8", "--scale", "0.05", "--warmup-days", "0")
    with_inc, labels, _ = simulate(tmp_path / "a", *args)
    without, no_labels, _ = simulate(tmp_path / "b", *args, "--incidents-per-week", "0")
    assert no_labels == [] and len(labels) == len(KINDS)

    def key(r):
        return orjson.dumps({k: v for k, v in r.items() if k != "id"}, option=orjson.OPT_SORT_KEYS)

    a = {key(r): r for r in with_inc}
    b = {key(r): r for r in without}
    only_a = [a[k] for k in a.keys() - b.keys()]
    only_b = [b[k] for k in b.keys() - a.keys()]
    assert len(only_a) >= len(only_b)
    turn = next(lb for lb in labels if lb["kind"] == "sentiment_turn")

    def in_label(r, lb):
        t = event_ts(r)
        return street_of(r) == lb["street_code"] and ts(lb["start"]) - 72 * 3600 <= t <= ts(lb["end"])

    assert all(in_label(r, turn) and r["source"] == "hotline" for r in only_b)
    assert all(any(in_label(r, lb) for lb in labels) for r in only_a)


# ----------------------------------------------------------------------------- grid reports (网格员上报)
def test_existing_feeds_unchanged_by_the_grid_feed(tmp_path):
    """The grid feed draws from random streams of its own: the other feeds' records (and the labels)
    are byte for byte what they were before it existed. Expected digests were computed with the code
    before the grid feed (commit 1388fc7, a clean worktree at /tmp/base):
    ``warning simulate --start 2024-07-01T06:00:00+08:00 --days 1.5 --seed 3 --scale 0.05
    --bad-fraction 0.01 --out o`` then ``sha256sum o/events.jsonl o/labels.jsonl``."""
    import hashlib

    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["simulate", "--out", str(out), "-q", "--start", "2024-07-01T06:00:00+08:00",
                                   "--days", "1.5", "--seed", "3", "--scale", "0.05", "--bad-fraction", "0.01"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    lines = (out / "events.jsonl").read_bytes().splitlines(keepends=True)
    others = b"".join(x for x in lines if b'"source":"grid"' not in x)
    assert len(others) < sum(map(len, lines))  # there are grid records …
    assert hashlib.sha256(others).hexdigest() == "a36aadc3c1fb85d9ae5d28e5db2e144d8f115f47817bc7869e1785a8ee0a3015"
    assert hashlib.sha256((out / "labels.jsonl").read_bytes()).hexdigest() == \
        "bfcef068f3809e2082661ba7482eaa1748ac05810039b808ee0a1d9721bdec76"


def test_grid_volume_issue_types_and_fields(day_scale1):
    events, _, _ = day_scale1
    grid = [r for r in events if r["source"] == "grid"]
    per_street = len(grid) / len(REG.streets)
    assert 10 <= per_street <= 40, per_street  # documented assumption: ≈23 per street a day (weekday: more)
    types = Counter(r["issue_type"] for r in grid)
    assert set(types) == set(P.GRID_ISSUE_TYPES)
    assert types["环境卫生"] > types["矛盾纠纷"] > types["群体性苗头"] > 0
    assert types["群体性苗头"] / len(grid) < 0.02  # a rare, meaningful report
    urg = Counter(r.get("urgency") for r in grid)
    assert set(urg) == {1, 2, 3, None} and urg[1] > urg[2] > urg[3]
    assert all(r["grid_id"].startswith(r["street_code"]) for r in grid if "street_code" in r)
    assert all(r["id"].startswith("WG") for r in grid)
    hours = Counter(int(r["reported_at"][11:13]) for r in grid)
    assert sum(hours[h] for h in range(8, 18)) > 0.8 * len(grid)  # patrols in office hours
    assert len({r["content"] for r in grid}) > 0.5 * len(grid)
    assert any("people_count" in r for r in grid) and any("reporter" in r for r in grid)
    hot = {r["content"] for r in events if r["source"] == "hotline"}
    assert not hot & {r["content"] for r in grid}  # grid wording is its own


def test_grid_reporters_are_masked_by_ingest(day_scale1):
    """Grid members sign some reports (上报人：网格员…，联系电话…) and name parties to a dispute; the
    ingest masks them: no reporter's name or phone survives in the events' text."""
    from warning.core.feeds import default_feeds
    from warning.core.ingest import Event, Ingestor, IngestSettings

    ing = Ingestor(IngestSettings(), REG, default_feeds())
    grid = [r for r in day_scale1[0] if r["source"] == "grid"]
    lines = [orjson.dumps(r) for r in grid]
    named = leaked = phones = 0
    for r, (src, ev) in zip(grid, ing.parse_file_lines(lines)):
        assert src == "grid" and isinstance(ev, Event), ev
        assert ev.source == "grid" and ev.kind == r["issue_type"]
        rep = r.get("reporter") or {}
        if rep.get("name") and rep["name"] in r["content"]:
            named += 1
            leaked += rep["name"] in ev.text
        if rep.get("phone"):
            phones += rep["phone"] in ev.text
    assert named > 100
    assert leaked / named < 0.005 and phones == 0, (named, leaked, phones)
