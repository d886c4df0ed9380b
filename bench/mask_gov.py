"""Masking check on the real government messages: names found before masking and surviving after.

Run:  .venv/bin/python bench/mask_gov.py [--limit N] [--sample 200] [--seed 11] [--out FILE] [--cache FILE]

Over ``../shared/data/gov/messages_a.csv`` and ``messages_b.csv`` (留言主题, 留言详情, 答复意见)
it reports

* throughput of :func:`warning.core.text.mask_pii` (texts/s, single process, one pass);
* items masked by kind (the cue-based counts of the masker itself, ``name`` included);
* an *independent* person-name count: jieba's part-of-speech tagger (``jieba.posseg``, tag
  ``nr``, 2–4 characters, starting with a common surname, no ``*``) run on the ORIGINAL texts
  and on the MASKED texts — "found" and "survived" (by length, 3-character names separately, as
  in issue 11);
* phone, ID and landline patterns surviving (:func:`warning.core.text.find_pii_leaks`) and
  licence plates still matching the plate pattern;
* over-masking: how many common place/organisation words and risk-lexicon terms
  (``warning/data/lexicon.yaml``) are present before masking and lost after;
* a random sample (``--sample``, seed ``--seed``) of surviving ``nr`` candidates with 12
  characters of context each side, written to ``--out`` (default
  ``/tmp/mask_gov_survivors.tsv``) for a hand check — this file contains real text, keep it
  out of the repository.

The tagger is slow (about 20,000 characters/s): the whole corpus takes a few minutes.
"""

from __future__ import annotations

import argparse
import collections
import csv
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOV = ROOT.parent / "shared" / "data" / "gov"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # shared test/bench helpers (samples.gov_texts)

from warning.core.text import PII_KINDS, find_pii_leaks, mask_pii  # noqa: E402
from warning.core.text import _names  # noqa: E402

_SURNAMES = frozenset(_names.SINGLE_SURNAMES)
_PLATE = re.compile(r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z]\s?[·•・.\-]?\s?[A-HJ-NP-Z0-9]{5,6}(?![A-Za-z0-9])")
# words that must survive masking (places, organisations, everyday words that start with a surname)
KEEP_WORDS = (
    "朝阳区", "海淀", "海淀区", "丰台", "西城", "东城", "通州", "昌平", "大兴", "顺义", "房山", "门头沟", "石景山",
    "王府井", "天安门", "长安街", "高新区", "开发区", "经开区", "黄花机场", "岳麓区", "芙蓉区", "天心区", "雨花区",
    "开福区", "望城区", "长沙县", "浏阳", "宁乡", "湘江", "橘子洲", "梅溪湖", "洋湖", "高铁站", "高速公路",
    "街道办", "居委会", "村委会", "派出所", "公安局", "人民政府", "住建局", "城管局", "教育局", "卫健委",
    "人民医院", "中医院", "妇幼保健院", "实验小学", "第一中学", "万科", "保利", "恒大", "碧桂园", "中建",
    "高度重视", "高峰期", "方便", "安全", "文明", "和谐", "许可证", "严重", "严格", "常住", "高层", "石油",
    "金融", "江边", "黄金", "龙头", "白天", "明天", "全部", "马路", "钱款", "程序", "任务", "余额", "陈述",
)


def gov_texts() -> list[str]:
    from samples import gov_texts as load

    return load(GOV)


def person_names(text: str) -> list[tuple[int, str]]:
    """(offset, word) of every ``nr`` word of 2–4 characters starting with a surname, no ``*``."""
    import jieba.posseg as pseg

    out: list[tuple[int, str]] = []
    pos = 0
    for w in pseg.cut(text):
        word, flag = w.word, w.flag
        if flag == "nr" and 2 <= len(word) <= 4 and word[0] in _SURNAMES and "*" not in word and not re.search(r"[0-9A-Za-z]", word):
            out.append((pos, word))
        pos += len(word)
    return out


def _cached_names(texts: list[str], cache: str) -> list[list[tuple[int, str]]]:
    """:func:`person_names` of the original texts, cached (they do not change between runs)."""
    import hashlib
    import pickle

    import jieba

    key = hashlib.sha256(("\x00".join(texts) + jieba.__version__).encode("utf-8")).hexdigest()
    path = Path(cache) if cache else None
    if path is not None and path.is_file():
        with open(path, "rb") as f:
            stored = pickle.load(f)
        if stored.get("key") == key:
            return stored["names"]
    names = [person_names(t) for t in texts]
    if path is not None:
        with open(path, "wb") as f:
            pickle.dump({"key": key, "names": names}, f)
    return names


def lexicon_terms() -> list[str]:
    import yaml

    data = yaml.safe_load((ROOT / "warning" / "data" / "lexicon.yaml").read_text(encoding="utf-8"))
    terms: list[str] = []

    def walk(x: object) -> None:
        if isinstance(x, str):
            if 2 <= len(x) <= 8 and re.fullmatch(r"[\u4e00-\u9fff]+", x):
                terms.append(x)
        elif isinstance(x, dict):
            for k, v in x.items():  # terms are the keys of a category's ``terms``
                walk(k)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(data)
    return sorted(set(terms))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="only the first N texts (0: all)")
    ap.add_argument("--sample", type=int, default=200)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", default="/tmp/mask_gov_survivors.tsv")
    ap.add_argument("--cache", default="/tmp/mask_gov_nr_before.pkl",
                    help="cache of the tagger's names in the original texts ('' : none)")
    args = ap.parse_args()
    if not (GOV / "messages_a.csv").is_file():
        print(f"skipped: {GOV} not present")
        return
    texts = gov_texts()
    if args.limit:
        texts = texts[: args.limit]
    chars = sum(map(len, texts))

    mask_pii("我叫张三，看诊的何X高医生说，电话13812345678")  # load word lists and the tagger
    t0 = time.perf_counter()
    out = [mask_pii(t) for t in texts]  # one cold pass: every text new to the tagger's cache
    el = time.perf_counter() - t0
    masked = [m for m, _ in out]
    totals = dict.fromkeys(PII_KINDS, 0)
    for _, c in out:
        for k, v in c.items():
            totals[k] += v
    print(f"texts={len(texts)} chars={chars} mask_texts_per_s={len(texts) / el:.0f} mask_chars_per_s={chars / el:.0f}")
    print("masked by kind (cue/rule counts): " + " ".join(f"{k}={v}" for k, v in totals.items()))

    leaks = collections.Counter(k for m in masked for k, _ in find_pii_leaks(m))
    plates_before = sum(len(_PLATE.findall(t)) for t in texts)
    plates_after = sum(len(_PLATE.findall(m)) for m in masked)
    print(f"survived: mobile={leaks['mobile']} id_number={leaks['id_number']} landline={leaks['landline']} "
          f"plates={plates_after} (of {plates_before} before)")

    import jieba

    jieba.setLogLevel(60)
    t0 = time.perf_counter()
    before = _cached_names(texts, args.cache)
    after = [person_names(m) for m in masked]
    el = time.perf_counter() - t0
    nb = collections.Counter(len(w) for ws in before for _, w in ws)
    na = collections.Counter(len(w) for ws in after for _, w in ws)
    print(f"jieba posseg nr (independent, {el:.0f}s): found before={sum(nb.values())} survived after={sum(na.values())}")
    for n in (2, 3, 4):
        print(f"  {n}-char: before={nb[n]} after={na[n]}")
    freq = jieba.dt.FREQ
    ob = sum(1 for ws in before for _, w in ws if not freq.get(w))
    oa = sum(1 for ws in after for _, w in ws if not freq.get(w))
    print(f"  not a dictionary word (names the tagger's HMM found): before={ob} after={oa}")

    # over-masking: words present before and lost after
    terms = lexicon_terms()
    lost_keep = collections.Counter()
    lost_terms = collections.Counter()
    present_keep = present_terms = 0
    for t, m in zip(texts, masked):
        if "*" not in m:
            for w in KEEP_WORDS:
                present_keep += t.count(w)
            continue
        for w in KEEP_WORDS:
            c = t.count(w)
            if c:
                present_keep += c
                if m.count(w) < c:
                    lost_keep[w] += c - m.count(w)
        for w in terms:
            c = t.count(w)
            if c and m.count(w) < c:
                lost_terms[w] += c - m.count(w)
    for t in texts:
        for w in terms:
            present_terms += t.count(w)
    print(f"over-masking: common place/org/everyday words present={present_keep} eaten={sum(lost_keep.values())} "
          f"{dict(lost_keep.most_common(10))}")
    print(f"over-masking: lexicon terms ({len(terms)}) present={present_terms} eaten={sum(lost_terms.values())} "
          f"{dict(lost_terms.most_common(10))}")

    # sample of survivors for a hand check
    pool = [(i, off, w) for i, ws in enumerate(after) for off, w in ws]
    rng = random.Random(args.seed)
    sample = rng.sample(pool, min(args.sample, len(pool)))
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("n\tword\tcontext\n")
        for n, (i, off, w) in enumerate(sample, 1):
            m = masked[i]
            ctx = m[max(0, off - 12) : off] + "[" + w + "]" + m[off + len(w) : off + len(w) + 12]
            f.write(f"{n}\t{w}\t{ctx.replace(chr(9), ' ').replace(chr(10), ' ')}\n")
    print(f"sample of {len(sample)} surviving nr candidates (of {len(pool)}) written to {args.out}")


if __name__ == "__main__":
    main()
