"""Pickling, versioning and state size of the River-protocol models (SeasonalCount, UnivariateSurprise)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from warning.models import IncompatibleStateError, SeasonalCount, UnivariateSurprise, state_size

T0 = 1735488000
LIMIT = 64 * 1024


def _xs(kind: str, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        c = int(rng.poisson(5.0))
        if kind == "counts":
            yield {"count": c, "t": T0 + 3600 * i}
        else:
            yield {"value": float(rng.normal(0, 1)), "t": T0 + 300 * i}


CASES = [
    (SeasonalCount, "counts"),
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
    }
    for x in _xs("counts", 24 * 7 * 12):
        for model in street.values():
            model.learn_one(x)
    size = len(pickle.dumps(street, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"street state: {size} bytes")
    assert size < LIMIT
