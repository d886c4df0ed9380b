import pytest

from warning.core.registry import Registry


@pytest.fixture(scope="module")
def bj():
    return Registry.load("110000")


def test_beijing_counts(bj):
    assert len(bj.streets) == 343
    assert len(bj.districts) == 16
    assert all(len(c) == 9 and c.startswith("11") for c in bj.streets)


@pytest.mark.parametrize("address,district,street,dist,how", [
    ("北京市朝阳区建外街道光华路1号", None, "建外街道", "朝阳区", "address"),
    ("朝阳区建外街道", None, "建外街道", "朝阳区", "address"),
    ("东城区东华门街道南池子大街", None, "东华门街道", "东城区", "address"),
    (None, "海淀区", None, "海淀区", "district"),
    (None, "海淀", None, "海淀区", "district"),
    ("北京市西城区某小区", None, None, "西城区", "district"),
    ("上海市浦东新区", None, None, None, "none"),
    (None, None, None, None, "none"),
])
def test_resolve_text(bj, address, district, street, dist, how):
    r = bj.resolve(None, address, district)
    assert r.how == how
    assert (r.street.name if r.street else None) == street
    assert (r.district.name if r.district else None) == dist


def test_code_wins(bj):
    r = bj.resolve("110105001", "海淀区中关村", None)
    assert r.street.code == "110105001" and r.how == "street_code"
    assert r.key == "110105001"


def test_ambiguous_name_needs_district(bj):
    dup = [s for s in bj.streets.values() if s.name == "八里庄街道"]
    assert len(dup) == 2
    for s in dup:
        r = bj.resolve(None, f"{s.district.name}八里庄街道1号", None)
        assert r.street == s
    # no district: ambiguous → not guessed
    assert bj.resolve(None, "八里庄街道1号", None).street is None


def test_other_regions():
    sh = Registry.load("310000")
    assert len(sh.streets) > 200 and all(c.startswith("31") for c in sh.streets)
    nj = Registry.load("320100")  # a prefecture-level city
    assert all(c.startswith("3201") for c in nj.streets)
    with pytest.raises(ValueError):
        Registry.load("999999")
