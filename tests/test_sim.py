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


def _pool_regex(template: str) -> re.Pattern:
    return re.compile(re.sub(r"\\\{\w+\\\}", ".{1,6}?", re.escape(template)))


#: the angry wording outside the lexicon, as regexes (slots match 1–6 characters)
POOL_RES = {role: [_pool_regex(t) for r_, t in T.ANGRY_UNLEXICAL if r_ == role] for role in ("sentence", "lead", "tail")}
POOL_ANY = re.compile("|".join(p.pattern for p in POOL_RES["sentence"]))


def is_angry(text: str) -> bool:
    """Angry in the lexicon's stock words or in the simulator's wording outside the lexicon."""
    return any(w in text for w in ANGRY_WORDS) or bool(POOL_ANY.search(text))


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
    if cs["detail"]["shape"] == "fast":
        assert n_in >= 10 and n_in >= 4 * cs["detail"]["baseline"]
    else:  # a slow ramp to 2.5–6× (extra calls floored at 10)
        assert n_in >= 10 and n_in >= 1.5 * cs["detail"]["baseline"]

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
        return sum(is_angry(r["content"]) for r in rs) / max(1, len(rs))

    # the street's normal 10–20 % of angry callers, 70–90 % at the top of the turn
    assert 0.05 < angry_share(outside) < 0.25
    assert angry_share(inside) > angry_share(outside) + 0.12  # (the ramp starts at the normal share)
    peak = ts(lb["peak"])
    near_peak = [r for r in inside if abs(event_ts(r) - peak) <= 8 * 3600]
    assert len(near_peak) >= 8 and angry_share(near_peak) > 0.5, (len(near_peak), angry_share(near_peak))
    assert not any(w in r["content"] for r in inside for w in EXTREME_TERMS)
    assert summary["incidents"]["events_by_source"]["hotline"] > 0  # other kinds add events …
    # … but a sentiment turn adds none: its records are the street's own background
    from warning.sim.generator import SimParams, Simulator

    sim = Simulator(SimParams(start=int(ts("2024-12-02T00:00:00+08:00")), days=3, seed=5, scale=0.3,
                              warmup_days=0))
    assert [i.events for i in sim.incidents if i.kind == "sentiment_turn"] == [[]]


def _turned_records(start: str, days: float, seed: int, scale: float):
    """The first sentiment turn of a run and its rewritten records as (background, turned) pairs: the
    same days generated with and without incidents, matched on time, place and category."""
    from warning.sim.generator import SimParams, Simulator

    kw = dict(start=int(ts(start)), days=days, seed=seed, scale=scale, warmup_days=0)
    sim, base = Simulator(SimParams(**kw)), Simulator(SimParams(**kw, incidents_per_week=0))
    inc = next(i for i in sim.incidents if i.kind == "sentiment_turn")
    code = sim.pl.codes[inc.street]

    def key(r):
        return r["received_at"], r.get("street_code"), r.get("address"), r.get("district"), r["category"]

    def mine(records):  # the turn street's hotline records with an unambiguous key
        rs = [r for r in records if r["source"] == "hotline" and street_of(r) == code]
        n = Counter(key(r) for r in rs)
        return {key(r): r for r in rs if n[key(r)] == 1}

    pairs = []
    for d in sim.dates():
        before, after = mine(base.day(d)[1]), mine(sim.day(d)[1])
        pairs += [(before[k], r) for k, r in after.items() if k in before and before[k]["content"] != r["content"]]
    return inc, pairs


def test_angry_pool_has_no_lexicon_term():
    """The angry wording of sentiment turns (texts.ANGRY_UNLEXICAL) and the turns' shared grievances
    contain no term of the risk lexicon (any category), whatever fills their slots."""
    import random

    from warning.core.text.risk import Lexicon
    from warning.sim.incidents import TURN_THEMES

    roles = Counter(role for role, _ in T.ANGRY_UNLEXICAL)
    assert roles["sentence"] >= 40 and roles["lead"] >= 5 and roles["tail"] >= 5
    assert len({t for _, t in T.ANGRY_UNLEXICAL}) == len(T.ANGRY_UNLEXICAL)
    terms = list(Lexicon.default().terms)
    pl = T.places("110000")
    templates = [t for _, t in T.ANGRY_UNLEXICAL] + [x for _, _, sents in TURN_THEMES for x in sents]
    for k in range(40):
        rnd = random.Random(k)
        for t in templates:
            text = T.fill(t, T.Slots(pl, k, rnd))
            assert not [w for w in terms if w in text], (text, [w for w in terms if w in text])
        # composed remarks too (two sentences joined, punctuated)
        text = T.angry_remark(rnd, T.Slots(pl, k, rnd))
        assert not [w for w in terms if w in text], text


def test_turned_texts_are_angry_outside_the_lexicon():
    """Generate a turn: every rewritten record keeps its category, carries at least one angry
    sentence of the new pool, and no lexicon term is found in (or reaches into) the pool's words."""
    from warning.core.text.risk import Lexicon, RiskMatcher

    lex = Lexicon.default()
    matcher = RiskMatcher(lex)
    inc, pairs = _turned_records("2024-12-02T00:00:00+08:00", 3, 6, 0.3)
    assert len(pairs) >= 100
    for old, new in pairs:
        assert new["category"] == old["category"]
        text = new["content"]
        spans = [m.span() for role in POOL_RES for p in POOL_RES[role] for m in p.finditer(text)]
        assert any(p.search(text) for p in POOL_RES["sentence"]), text
        for a, b in spans:
            res = matcher.match(text[a:b])
            assert not res["hits"] and not res["negated"], (text[a:b], res)
        for term in lex.terms:  # a term made of pool words and their neighbours
            k = text.find(term)
            while k >= 0:
                assert not any(k < b and a < k + len(term) for a, b in spans), (term, text)
                k = text.find(term, k + 1)


def test_sentiment_turn_shape():
    """The angry share ramps up over 48–96 h from the street's normal 10–20 % to 70–90 % at the
    peak, monotonically; no record is added."""
    import numpy as np

    from warning.sim import incidents as I
    from warning.sim.generator import SimParams, Simulator

    sim = Simulator(SimParams(start=int(ts("2024-05-06T00:00:00+08:00")), days=28, seed=1, scale=0.01))
    turns = [i for i in sim.incidents if i.kind == "sentiment_turn"]
    assert len(turns) == 4
    for inc in turns:
        assert inc.events == []
        assert 48 * 3600 <= inc.peak - inc.start <= 96 * 3600
        grid = np.linspace(inc.start, inc.peak, 50)
        share = I.turn_share(inc.turn, grid)
        assert 0.10 <= share[0] <= 0.20 and 0.70 <= share[-1] <= 0.90
        assert np.all(np.diff(share) >= -1e-12)
        after = I.turn_share(inc.turn, np.array([inc.end + 3600.0, inc.start - 3600.0]))
        assert np.allclose(after, share[0])
        assert I.turn_share(inc.turn, np.array([float(inc.peak + 1)]))[0] == pytest.approx(share[-1])


def test_half_the_surges_ramp_slowly():
    """Slow surges ramp over 12–36 h to 2.5–6× and decay over 6–24 h; their calls grow during the
    ramp (catchable hours before the peak). Fast ones stay 3–10 h triangles."""
    from warning.sim.generator import SimParams, Simulator

    sim = Simulator(SimParams(start=int(ts("2024-05-06T00:00:00+08:00")), days=28, seed=1, scale=0.5))
    surges = [i for i in sim.incidents if i.kind == "category_surge"]
    assert Counter(i.detail["shape"] for i in surges) == {"fast": 2, "slow": 2}
    for inc in surges:
        if inc.detail["shape"] == "fast":
            assert 3 * 3600 - 1 <= inc.end - inc.start <= 10 * 3600 + 1
            continue
        ramp, decay = inc.peak - inc.start, inc.end - inc.peak
        assert 12 * 3600 - 1 <= ramp <= 36 * 3600 + 1 and 6 * 3600 - 1 <= decay <= 24 * 3600 + 1
        assert 2.5 <= inc.detail["multiplier"] <= 6 and inc.detail["peak_multiplier"] >= inc.detail["multiplier"]
        t = [e["_ts"] for e in inc.events]
        assert len(t) >= 10 and all(inc.start <= x <= inc.end for x in t)
        third = ramp / 3
        early = sum(1 for x in t if x < inc.start + third)
        late = sum(1 for x in t if inc.peak - third <= x < inc.peak)
        assert late > early and sum(1 for x in t if x < inc.peak) > 0.4 * len(t)


def test_weather_day_is_city_wide_and_unlabelled():
    """One weather day in a run of ≥ 7 days (暴雪 in the heating season): every street's weather
    categories get extra calls for 12–24 h; no label; ``weather=False`` and short runs have none."""
    from warning.sim import profiles as P_
    from warning.sim.generator import SimParams, Simulator

    kw = dict(start=int(ts("2025-12-01T00:00:00+08:00")), days=10, seed=4, scale=0.2)
    sim = Simulator(SimParams(**kw))
    assert len(sim.weather) == 1
    w = sim.weather[0]
    assert w.kind == "暴雪" == P_.weather_kind(w.date)
    assert 12 * 3600 <= w.end - w.start <= 24 * 3600 and 1.5 <= w.multiplier <= 3
    assert w.start >= kw["start"] + SimParams(**kw).warmup_s
    assert all(lb["kind"] in KINDS for lb in sim.labels())
    plain = Simulator(SimParams(**kw, weather=False))
    assert plain.weather == [] and Simulator(SimParams(**dict(kw, days=3))).weather == []
    _, with_w, _ = sim.day(w.date)
    _, without, _ = plain.day(w.date)
    cats = T.WEATHER_CATEGORY_WEIGHT[w.kind]
    assert len(with_w) - len(without) == w.extra_by_date[w.date.isoformat()] > 0

    def in_window(rs):
        return [r for r in rs if r["source"] == "hotline" and w.start <= ts(r["received_at"]) < w.end]

    a, b = Counter(r["category"] for r in in_window(with_w)), Counter(r["category"] for r in in_window(without))
    for c, weight in cats.items():
        if weight == 1.0:
            assert a[c] >= 1.4 * b[c], (c, a[c], b[c])
    for c in ("医疗卫生", "教育", "民政"):
        assert a[c] == b[c]
    before = Counter(street_of(r) for r in in_window(without) if r["category"] in cats)
    after = Counter(street_of(r) for r in in_window(with_w) if r["category"] in cats)
    rose = sum(1 for s in REG.streets if after[s] > before[s])
    assert rose >= 0.85 * len(REG.streets), rose
    words = ("雪", "结冰", "冻")
    assert sum(any(x in r["content"] for x in words) for r in in_window(with_w)) >= 0.5 * (len(with_w) - len(without))
    assert w.info()["labelled"] is False and w.info()["extra_records"] > 0


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
    # the steady rise into the heating season (a city-wide build-up trap for 24–72 h scans):
    # 供暖 grows every day from 1 to 18 November, ≈4× from the 7th to the 18th
    rise = [P.heating_share(date(2025, 11, d)) for d in range(1, 19)]
    assert all(b > a for a, b in zip(rise, rise[1:]))
    assert rise[-1] > 4 * rise[6]
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
    are byte for byte what they were before it existed. The digests were first computed with the
    code before the grid feed (commit 1388fc7). They were re-pinned (regenerated with the new code,
    same command) when the simulator itself changed on purpose — sentiment turns over ~3 days in
    words outside the lexicon, a normal 10–20 % share of such angry callers in the background
    (one more draw from the day's shared stream), slow category surges, ids of a run starting
    mid-day carrying that second (only the ids changed; checked field by field) — so they now pin that
    output: ``warning simulate --start 2024-07-01T06:00:00+08:00 --days 1.5 --seed 3 --scale 0.05
    --bad-fraction 0.01 --out o``, then sha256 of o/events.jsonl without its grid lines and of
    o/labels.jsonl. (1.5 days: no weather day.)"""
    import hashlib

    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["simulate", "--out", str(out), "-q", "--start", "2024-07-01T06:00:00+08:00",
                                   "--days", "1.5", "--seed", "3", "--scale", "0.05", "--bad-fraction", "0.01"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    lines = (out / "events.jsonl").read_bytes().splitlines(keepends=True)
    others = b"".join(x for x in lines if b'"source":"grid"' not in x)
    assert len(others) < sum(map(len, lines))  # there are grid records …
    assert hashlib.sha256(others).hexdigest() == "c48a6b9367e52895a0e6607af0bced3af354406cab60cca02e4f10ea920037f9"
    assert hashlib.sha256((out / "labels.jsonl").read_bytes()).hexdigest() == \
        "8de96c69722ac324b60d7e4bd20370808e653e76e035f2377ccc49f1cbc750a0"


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


def test_a_run_starting_mid_day_does_not_reuse_the_ids_of_an_earlier_run(tmp_path):
    """`warning demo` replays history up to now, then starts a live run at now, same seed: had the
    live run numbered today's records from 1 again, ingest would drop them all as duplicates."""
    ids = []
    for i, start in enumerate(("2025-03-01T00:00:00+08:00", "2025-03-01T10:30:00+08:00")):
        out = tmp_path / f"o{i}"
        res = CliRunner().invoke(cli, ["simulate", "--out", str(out), "-q", "--start", start, "--days", "0.4",
                                       "--seed", "1", "--scale", "0.02", "--incidents-per-week", "0"],
                                 catch_exceptions=False)
        assert res.exit_code == 0, res.output
        ids.append({orjson.loads(x)["id"] for x in (out / "events.jsonl").read_text().splitlines()})
    assert ids[0] and ids[1]
    assert not ids[0] & ids[1]
