"""Text enrichment benchmark: speed on short and long texts, masking on real data, sentiment accuracy.

Run:  .venv/bin/python bench/text.py [--quick] [--batch 1000] [--repeat 3]

* speed: full enrichment (mask + risk terms + sentiment + anger, ``TextEnricher.enrich_many`` in batches)
  of JSON records, single process, texts/s — and, as the same-run baseline, plain ``orjson.loads``
  of the same records (the ratio is what to compare across machines).
  - short: 20,000 hotline-like texts (≤ 100 characters, generated with a fixed seed: complaints
    with names, phones, addresses, risk terms);
  - long: the real government messages ``../shared/data/gov/messages_a.csv`` (column 留言详情).
  For each, also the rate of the anger step alone (``AngerScorer.score_many`` on masked texts
  with their P(negative)), and on the long texts the quantiles of anger.
* masking: items masked by kind on all ``../shared/data/gov/*.csv`` texts, and a scan of the output
  for surviving phone/ID patterns.
* accuracy: ``warning sentiment eval`` on ``../shared/data/sentiment/waimai_10k.csv`` — shuffle with
  seed 42, 3,000 held out, online learning on the rest starting from the shipped seed.

* ingest (``--ingest FILE``, raw records as JSONL, e.g. a ``warning sim`` events file):
  ``Ingestor.parse_file_lines`` — parse, validate, place, mask and enrich, as the backtest does,
  in chunks of 2,000 lines, one process, with the enricher of ``warning.streams.app.build_enricher``
  for the default configuration — records/s (CPU time of this process, and wall time), against
  an ``orjson.loads``-only pass of the same lines in the same run, and the same chunks again
  (warm: jieba's per-window tags cached) to show what the first pass costs;
  ``--ingest-limit N`` reads only the first N lines.
* start-up (``--startup``): ``build_enricher`` in fresh processes — the first one with an empty
  cache directory (``WARNING_CACHE_DIR``: the anger head is trained and cached), then one that
  finds the cached head — and the first ``mask_pii`` with a name candidate (loads jieba).

Parts whose data is missing are skipped with a note.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

from warning.core.text import PII_KINDS, TextEnricher, find_pii_leaks, mask_pii  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈姚卢姜崔钟谭陆汪范金廖贾夏韦"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国志红文斌辉鹏宇浩"
PLACES = ["朝阳区望京街道", "海淀区学院路街道", "丰台区卢沟桥街道", "西城区金融街街道", "通州区永顺镇", "昌平区回龙观街道", "大兴区亦庄镇"]
ISSUES = [
    "小区停水三天了没人管", "楼上装修噪音扰民", "物业乱收停车费", "工地拖欠工资半年", "电梯困人半小时",
    "暖气不热孩子冻病了", "路灯坏了晚上很黑", "餐馆油烟太大", "开发商烂尾交不了房", "燃气泄漏有味道",
    "再不给钱就去政府门口拉横幅", "工友们说要集体上访", "他说不想活了要跳楼", "快递丢件商家不赔",
    "培训机构跑路了要退费", "邻居家狗半夜叫", "共享单车堆满人行道", "社区医院排队太久",
]
TAILS = ["，请尽快处理", "，希望政府管一管", "！", "，谢谢", "，已经反映多次了", ""]


def hotline_texts(n: int, seed: int = 0) -> list[str]:
    """Short hotline-like complaints (≤ 100 chars) with the personal data real calls carry."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        phone = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        addr = f"{rng.choice(PLACES)}{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元{rng.randint(1, 24)}0{rng.randint(1, 4)}室"
        parts = [
            rng.choice([f"我叫{name}，", f"来电人{name}，", "市民来电：", "", ""]),
            rng.choice([f"住{addr}，", f"{rng.choice(PLACES)}居民，", ""]),
            rng.choice(ISSUES),
            rng.choice(TAILS),
            rng.choice([f"，电话{phone}", f"，联系方式{phone[:3]} {phone[3:7]} {phone[7:]}", "", ""]),
        ]
        out.append("".join(parts)[:100])
    return out


def gov_texts(name: str, cols: tuple[str, ...]) -> list[str]:
    with open(SHARED / "gov" / name, encoding="utf-8", newline="") as f:
        return [row[c] or "" for row in csv.DictReader(f) for c in cols]


def best_rate(fn, n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def bench_speed(label: str, texts: list[str], enricher: TextEnricher, batch: int, repeat: int) -> None:
    records = [orjson.dumps({"id": f"r{i}", "content": t}) for i, t in enumerate(texts)]
    parse_rate = best_rate(lambda: [orjson.loads(r) for r in records], len(records), repeat)

    def enrich_all() -> None:
        for i in range(0, len(records), batch):
            docs = [orjson.loads(r) for r in records[i : i + batch]]
            enricher.enrich_many([d["content"] for d in docs])

    enricher.enrich_many(texts[:batch])  # warm up (lazy imports, caches)
    rate = best_rate(enrich_all, len(records), repeat)
    avg = sum(map(len, texts)) / len(texts)
    print(
        f"{label:<6} n={len(texts):>6} avg_chars={avg:6.1f}  enrich={rate:>9,.0f} texts/s  "
        f"orjson.loads={parse_rate:>11,.0f} texts/s  ratio(enrich/orjson)={rate / parse_rate:.4f} "
        f"(orjson {parse_rate / rate:,.0f}x faster)"
    )
    masked = [mask_pii(t)[0] for t in texts]
    probs = enricher.model.predict_many(masked)
    anger_rate = best_rate(lambda: enricher.mood.score_many(masked, probs), len(masked), repeat)
    anger = enricher.mood.score_many(masked, probs)
    q = np.quantile(anger, [0.1, 0.5, 0.9, 0.99])
    print(f"{label:<6} anger scoring alone={anger_rate:>9,.0f} texts/s  "
          f"anger quantiles 10/50/90/99%={' '.join(f'{x:.3f}' for x in q)}")


def bench_masking() -> None:
    texts = gov_texts("messages_a.csv", ("留言主题", "留言详情")) + gov_texts("messages_b.csv", ("留言主题", "留言详情", "答复意见"))
    totals = dict.fromkeys(PII_KINDS, 0)
    before = after = 0
    t0 = time.perf_counter()
    for text in texts:
        masked, counts = mask_pii(text)
        for k, v in counts.items():
            totals[k] += v
        before += bool(find_pii_leaks(text))
        after += bool(find_pii_leaks(masked))
    dt = time.perf_counter() - t0
    print(f"masking gov/*.csv: texts={len(texts)} masked={ {k: v for k, v in totals.items() if v} } "
          f"texts_with_phone_or_id_before={before} after={after} ({len(texts) / dt:,.0f} texts/s incl. scans)")


def bench_accuracy() -> None:
    from warning.commands.sentiment import evaluate

    path = SHARED / "sentiment" / "waimai_10k.csv"
    with open(path, encoding="utf-8") as f:
        n = sum(1 for _ in csv.DictReader(f))
    m = evaluate(str(path), train_fraction=(n - 3000) / n, seed=42)
    print(
        f"waimai_10k (seed 42, 3000 held out, online from the shipped seed): accuracy={m['accuracy']:.4f} "
        f"macro_f1={m['macro_f1']:.4f} balanced_accuracy={m['balanced_accuracy']:.4f} n_train={m['n_train']} "
        f"n_test={m['n_test']} scoring={m['texts_per_s']:,.0f} texts/s learning={m['train_texts_per_s']:,.0f} texts/s"
    )


def bench_ingest(path: str, limit: int, chunk: int = 2000) -> None:
    """Records/s of ``Ingestor.parse_file_lines`` over a raw JSONL file (see the module doc)."""
    from warning.config import Settings
    from warning.core.pipeline import Pipeline
    from warning.streams.app import build_enricher

    with open(path, "rb") as f:
        lines = f.read().splitlines()
    if limit:
        lines = lines[:limit]
    settings = Settings()
    t0 = time.perf_counter()
    enricher = build_enricher(settings)
    ingestor = Pipeline.from_settings(settings, enricher=enricher).ingestor
    built = time.perf_counter() - t0
    chunks = [lines[i : i + chunk] for i in range(0, len(lines), chunk)]
    cpu0 = time.process_time()
    for c in chunks:
        [orjson.loads(line) for line in c]
    base_cpu = time.process_time() - cpu0

    def one_pass() -> tuple[float, float, int]:
        accepted = 0
        cpu, wall = time.process_time(), time.perf_counter()
        for c in chunks:
            accepted += sum(1 for _, ev in ingestor.parse_file_lines(c) if getattr(ev, "event_id", None))
        return time.process_time() - cpu, time.perf_counter() - wall, accepted

    cold_cpu, cold_wall, accepted = one_pass()  # first pass: every text new, jieba loads on first use
    warm_cpu, warm_wall, _ = one_pass()
    n = len(lines)
    print(f"ingest {path}: {n:,} records ({accepted:,} events), enricher built in {built:.2f}s")
    print(f"ingest parse_file_lines first pass: {n / cold_cpu:>9,.0f} records/s CPU ({n / cold_wall:,.0f}/s wall)  "
          f"orjson.loads only: {n / base_cpu:,.0f} records/s CPU  ratio(ingest/orjson)={base_cpu / cold_cpu:.4f}")
    print(f"ingest parse_file_lines same chunks again: {n / warm_cpu:>9,.0f} records/s CPU ({n / warm_wall:,.0f}/s wall)")


_STARTUP = """
import sys, time
sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
from warning.config import Settings
from warning.streams.app import build_enricher
t1 = time.perf_counter()
e = build_enricher(Settings())
t2 = time.perf_counter()
e.enrich("看诊的何X高医生说没事，联系人王芳13812345678")
t3 = time.perf_counter()
print(f"{t1 - t0:.2f} {t2 - t1:.2f} {t3 - t2:.2f}")
"""


def bench_startup() -> None:
    """``build_enricher`` in fresh processes: empty cache directory, then a warm one."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        env = dict(__import__("os").environ, WARNING_CACHE_DIR=cache)
        for label in ("empty cache (head trained)", "cached head"):
            out = subprocess.run([sys.executable, "-c", _STARTUP, str(ROOT)], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()
            print(f"start-up, {label}: imports {out[0]}s, build_enricher {out[1]}s, "
                  f"first enrich (loads jieba) {out[2]}s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer texts and repeats")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ingest", metavar="FILE", help="raw records (JSONL) for the ingest benchmark")
    ap.add_argument("--ingest-limit", type=int, default=0, help="only the first N lines of --ingest")
    ap.add_argument("--startup", action="store_true", help="measure build_enricher start-up in fresh processes")
    ap.add_argument("--only", choices=("ingest", "startup"), help="run only this part")
    args = ap.parse_args()
    if args.startup or args.only == "startup":
        bench_startup()
    if args.ingest:
        bench_ingest(args.ingest, args.ingest_limit)
    if args.only:
        return
    repeat = 1 if args.quick else args.repeat
    t0 = time.perf_counter()
    enricher = TextEnricher.from_config({})
    print(f"enricher ready in {time.perf_counter() - t0:.2f}s (seed: {enricher.model.n_features:,} n-grams, "
          f"lexicon: {len(enricher.matcher.lexicon.terms)} terms)")
    bench_speed("short", hotline_texts(5_000 if args.quick else 20_000), enricher, args.batch, repeat)
    if (SHARED / "gov" / "messages_a.csv").is_file():
        long_texts = gov_texts("messages_a.csv", ("留言详情",))
        bench_speed("long", long_texts[:1000] if args.quick else long_texts, enricher, args.batch, repeat)
        bench_masking()
    else:
        print("skipped long texts and masking: ../shared/data/gov/ not found")
    if (SHARED / "sentiment" / "waimai_10k.csv").is_file():
        bench_accuracy()
    else:
        print("skipped accuracy: ../shared/data/sentiment/waimai_10k.csv not found")


if __name__ == "__main__":
    main()
