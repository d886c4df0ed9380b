"""Entity names in masked texts, and the entity_repeat detector (同一地点或单位被集中反映)."""

from __future__ import annotations

import csv
import pickle
import random
import re
from pathlib import Path

import msgspec
import pytest

from detect_helpers import DAY, HOUR, T0, background, engine, event, firing, run
from warning.core.decide import LEVEL_RANK
from warning.core.detect_config import DetectSettings
from warning.core.feeds import default_feeds
from warning.core.keys import KeyTable
from warning.core.signals import SIGNALS
from warning.core.text import mask_pii
from warning.core.text.entity import entities
from warning.models import registry
from warning.models.entity import EntityRepeat

GOV = Path(__file__).resolve().parents[2] / "shared" / "data" / "gov" / "messages_a.csv"
if not GOV.exists():
    GOV = Path("/work/shared/data/gov/messages_a.csv")

# ---------------------------------------------------------------------------------- extraction
MUST = [
    ("市民来电反映：天恒嘉园3号楼停水三天了。", "天恒嘉园"),
    ("本人系春华镇金鼎村七里组村民，土地补偿款没有发放。", "金鼎村"),
    ("鑫源建筑工程有限公司拖欠我们工资三个月。", "鑫源建筑工程有限公司"),
    ("我住在北京市朝阳区建外街道金隅花园，楼下噪音很大。", "金隅花园"),
    ("在向阳小区附近的博雅英语学校突然停课。", "向阳小区"),
    ("在向阳小区附近的博雅英语学校突然停课。", "博雅英语学校"),
    ("马家峪村附近有7人互殴", "马家峪村"),
    ("远洋国际12号楼电梯坏了", "远洋国际"),
    ("A市A3区中海国际社区三期旁边的空地堆满渣土", "中海国际社区"),
    ("在华泰农贸市场买的肉有问题", "华泰农贸市场"),
    ("在明珠府附近的乐动餐厅吃完饭后上吐下泻", "乐动餐厅"),
    ("天恒嘉园二期项目工地夜间施工", "天恒嘉园"),
]
MUST_NOT = [
    ("我们小区的物业不作为，本小区业主意见很大。", ("我们小区", "本小区", "小区")),
    ("老旧小区改造施工拖了半年还没完工", ("老旧小区",)),
    ("这个工地天天晚上施工，该项目没有夜间施工许可", ("这个工地", "该项目")),
    ("联系人：苑**，电话138****5678，张**家住3号楼*单元***室", ("联系人苑", "苑**")),
    ("物业公司和燃气公司都不管，农村和城中村一样", ("物业公司", "燃气公司", "农村", "城中村")),
    ("村民委员会不公开，村干部侵占集体资产", ("村民委员会",)),
    ("花园路12号门口有人摆摊", ("花园路", "花园")),
    ("去区政府反映，市场监管局也不管", ("区政府", "政府", "市场监管局")),
    ("还我们一个幸福家园", ("幸福家园",)),
]


@pytest.mark.parametrize("text,name", MUST)
def test_extracts_specific_names(text: str, name: str) -> None:
    assert name in entities(text)


@pytest.mark.parametrize("text,names", MUST_NOT)
def test_drops_generic_words(text: str, names: tuple[str, ...]) -> None:
    got = entities(text)
    assert not [n for n in names if n in got], got


def test_each_name_once_and_shorter_form_wins() -> None:
    assert entities("天恒嘉园停水，天恒嘉园项目也停工，天恒嘉园2号楼") == ["天恒嘉园"]


@pytest.mark.skipif(not GOV.exists(), reason="government messages not available")
def test_on_real_government_messages() -> None:
    """Sanity on real texts: many names, none with a masked character, few generic ones."""
    csv.field_size_limit(10**9)
    with GOV.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    names: list[str] = []
    for r in random.Random(7).sample(rows, 600):
        names += entities(mask_pii(re.sub(r"\s+", "", r["留言详情"]))[0])
    assert len(names) > 300
    assert not [n for n in names if "*" in n]
    generic = {"小区", "本小区", "该小区", "我们小区", "老旧小区", "这个工地", "物业公司", "农村", "城中村"}
    assert not generic & set(names)


# ---------------------------------------------------------------------------------- detector
STREET = "110105001"
ESTATES = ("阳光家园", "祥和花园", "育新小区", "碧水嘉园", "锦绣苑", "东方雅居", "松榆北里", "龙湖花园")


def _named_background(days: float, seed: int, share: float = 0.1) -> list:
    """Background of two streets; a share of STREET's hotline texts name one of its estates."""
    rnd = random.Random(seed)
    out = []
    for ev in background(days, seed=seed, streets=(STREET, "110105002")):
        if ev.source == "hotline" and ev.street_code == STREET and rnd.random() < share:
            ev = msgspec.structs.replace(ev, text=f"{rnd.choice(ESTATES)}{ev.category}问题，希望尽快处理")
        out.append(ev)
    return out


def _entity_alerts(alerts: list, min_level: str = "yellow") -> list:
    return [a for a in firing(alerts, STREET, min_level) if a["signal"] == "entity_repeat"]


def test_burst_of_one_estate_alerts() -> None:
    evs = _named_background(21.0, seed=3)
    t1 = T0 + 21 * DAY + 9 * HOUR
    evs += [event(t1 + i * 2 * HOUR, "hotline", STREET, text=f"金鼎家园业主反映物业撤场，垃圾没人清运{i}")
            for i in range(6)]  # 6 calls in 10 hours
    evs += background(1.0, seed=99, streets=(STREET, "110105002"), start=T0 + 21 * DAY)
    evs.sort(key=lambda e: (e.ts, e.event_id))
    hits = _entity_alerts(run(evs))
    assert hits, "no entity_repeat alert"
    a = hits[0]
    assert LEVEL_RANK[a["level"]] >= LEVEL_RANK["yellow"]
    ev = a["evidence"]
    assert ev["entity"] == "金鼎家园" and ev["records"] >= 3 and ev["window_hours"] in (24, 72)
    assert ev["sources"] == ["hotline"] and ev["expected"] < 1.0
    assert "同一地点或单位被集中反映" in a["summary_zh"] and "提及「金鼎家园」" in a["summary_zh"]


def test_names_at_their_usual_rate_do_not_alert() -> None:
    assert not _entity_alerts(run(_named_background(28.0, seed=5, share=0.15)), "blue")


def test_state_is_bounded() -> None:
    d = EntityRepeat(DetectSettings(), KeyTable(default_feeds()))
    st = d.new_state()
    rnd = random.Random(1)
    t = T0
    for i in range(5000):
        t += rnd.expovariate(1 / 300.0)
        names = [f"{rnd.choice('金银铜铁锡')}{i % 997}号{rnd.choice(('家园', '花园', '村'))}"]
        if i % 3 == 0:
            names.append("天恒嘉园")  # one name stays frequent
        d.learn(st, t, rnd.choice(("hotline", "petition", "grid")), names)
    assert len(st.table) <= d.params.max_entities and "天恒嘉园" in st.table
    assert len(pickle.dumps(st)) <= 8 * 1024
    st2 = pickle.loads(pickle.dumps(st))
    assert st2.window_count("天恒嘉园", t, 72) == st.window_count("天恒嘉园", t, 72) > 0


def test_registered_with_its_signal() -> None:
    assert list(registry.DETECTORS).index("entity") == list(registry.DETECTORS).index("multi_source") - 1
    assert SIGNALS["entity_repeat"].zh == "同一地点或单位被集中反映"
    assert registry.check(DetectSettings(detector_params={"entity": {"min_records": 4}})) == []
    assert registry.check(DetectSettings(detector_params={"entity": {"min_recs": 4}}))[0][1] == "unknown key (typo?)"
    _ = engine()  # builds with the detector selected


def test_a_text_naming_more_places_than_the_table_holds_does_not_fail() -> None:
    d = EntityRepeat(DetectSettings(detector_params={"entity": {"max_entities": 4}}), KeyTable(default_feeds()))
    st = d.new_state()
    names = [f"{c}家园" for c in "甲乙丙丁戊己庚辛壬癸"]
    for i in range(3):
        kept = d.learn(st, T0 + i * HOUR, "hotline", names)
        assert len(kept) == 2 and len(st.table) <= 4


def test_a_person_masked_elsewhere_in_the_text_is_never_an_entity() -> None:
    for raw in ("我是张伟，张伟超市卖过期食品，电话13812345678", "我叫王小明，王小明饭店欠我工资"):
        masked = mask_pii(raw)[0]
        assert not [n for n in entities(masked) if "伟" in n or "小明" in n], (masked, entities(masked))


def test_names_found_at_ingest_are_used_as_they_are() -> None:
    """Ingest puts the masked text's place names on the event; the detector takes them (no text
    work at detection) and finds them itself only on events written without them."""
    from warning.core.events import example_event

    text = "金鼎家园业主反映物业撤场"
    assert EntityRepeat.names_of(example_event(text=text)) == entities(text) == ["金鼎家园"]
    assert EntityRepeat.names_of(example_event(text=text, entities=["远洋国际"])) == ["远洋国际"]
    assert EntityRepeat.names_of(example_event(text=text, entities=[])) == []
    assert EntityRepeat.names_of(example_event(text="")) == []
