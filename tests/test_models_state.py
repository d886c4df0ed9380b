"""Pickling, versioning and state size of every detector."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from warning.models import (
    BetaBinomialShift,
    Cusum,
    IncompatibleStateError,
    SeasonalCount,
    UnivariateSurprise,
    WindowHST,
    state_size,
)

T0 = 1735488000
LIMIT = 64 * 1024


def _xs(kind: str, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        c = int(rng.poisson(5.0))
        if kind == "counts":
            yield {"count": c, "t": T0 + 3600 * i}
        elif kind == "sentiment":
            yield {"negative": int(rng.binomial(c, 0.2)), "total": c}
        elif kind == "cusum":
            yield {"value": float(rng.normal(100, 10))}
        elif kind == "hst":
            yield {f"f{j}": float(rng.poisson(3.0)) for j in range(12)}
        else:
            yield {"value": float(rng.normal(0, 1)), "t": T0 + 300 * i}


CASES = [
    (SeasonalCount, "counts"),
    (BetaBinomialShift, "sentiment"),
    (Cusum, "cusum"),
    (WindowHST, "hst"),
    (UnivariateSurprise, "default"),
]


@pytest.mark.parametrize("cls,kind", CASES)
def test_pickle_roundtrip_continues_identically(cls, kind):
    xs = list(_xs(kind, 1200))
    a = cls()
    for x in xs[:800]:
        a.learn_one(x)
    b = pickle.loads(pickle.dumps(a))
    for x in xs[800:]:
        assert a.score_one(x) == b.score_one(x)
        a.learn_one(x)
        b.learn_one(x)


@pytest.mark.parametrize("cls,kind", CASES)
def test_incompatible_version_is_refused(cls, kind, monkeypatch):
    m = cls()
    for x in _xs(kind, 50):
        m.learn_one(x)
    blob = pickle.dumps(m)
    monkeypatch.setattr(cls, "VERSION", cls.VERSION + 1)
    with pytest.raises(IncompatibleStateError, match=f"{cls.__name__} state written by model version"):
        pickle.loads(blob)


@pytest.mark.parametrize("cls,kind", CASES)
def test_state_size_bounded(cls, kind):
    m = cls()
    for x in _xs(kind, 3000):
        m.learn_one(x)
    assert m.state_size() == state_size(m) < LIMIT


def test_street_bundle_under_64k():
    street = {
        "hotline": SeasonalCount(),
        "petition": SeasonalCount(),
        "public_safety": SeasonalCount(),
        "sentiment": BetaBinomialShift(),
        "cusum": Cusum(count_floor=True),
        "hst": WindowHST(),
    }
    for i, x in enumerate(_xs("counts", 24 * 7 * 12)):
        for k in ("hotline", "petition", "public_safety"):
            street[k].learn_one(x)
        street["sentiment"].learn_one({"negative": x["count"] // 4, "total": x["count"]})
        if i % 24 == 0:
            street["cusum"].learn_one({"value": float(x["count"] * 24)})
    for x in _xs("hst", 24 * 7 * 12):
        street["hst"].learn_one(x)
    size = len(pickle.dumps(street, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"street state: {size} bytes")
    assert size < LIMIT
