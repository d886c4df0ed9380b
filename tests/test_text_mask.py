"""Personal-data masking: examples, validators, property tests, and the real government messages."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warning.core.text import PII_KINDS, find_pii_leaks, mask_pii
from warning.core.text.mask import id_checksum_ok, luhn_ok
from warning.core.text.normalize import normalize

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GOV = SHARED / "gov"


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


# ------------------------------------------------------------------------------------ examples


@pytest.mark.parametrize(
    "text, expected, kinds",
    [
        ("我叫张小明，电话13812345678", "我叫张**，电话138****5678", {"name": 1, "mobile": 1}),
        ("我叫张三，电话138 1234 5678", "我叫张*，电话138****5678", {"name": 1, "mobile": 1}),
        ("手机：138-1234-5678，+86 139 8765 4321", "手机：138****5678，139****4321", {"mobile": 2}),
        ("TEL13812345678", "TEL138****5678", {"mobile": 1}),
        ("座机010-62345678转801", "座机010-****5678转801", {"landline": 1}),
        ("电话（0731）88888888", "电话0731-****8888", {"landline": 1}),
        ("联系电话：3322792", "联系电话：***2792", {"landline": 1}),
        ("身份证110101199003074514", "身份证110*************14", {"id_number": 1}),
        ("身份证号11010519491231002X。", "身份证号110*************2X。", {"id_number": 1}),
        ("证件号 430322560101123", "证件号 430**********23", {"id_number": 1}),
        ("当事人赵婷，身份证２３１００５１９８４０******", "当事人赵*，身份证231******40******", {"name": 1, "id_number": 1}),
        ("银行卡6222 0212 3456 7894", "银行卡6222********7894", {"bank_card": 1}),
        ("邮箱 zhang.san@example.com.cn", "邮箱 z***@example.com.cn", {"email": 1}),
        ("车牌京A·D12345逆行", "车牌京A·******逆行", {"plate": 1}),
        ("粤B12345学", "粤B*****学", {"plate": 1}),
        ("住3号楼2单元501室", "住3号楼*单元***室", {"house_number": 1}),
        ("G2栋320，一家影楼", "G2栋***，一家影楼", {"house_number": 1}),
        ("家住3-2-501", "家住3-*-***", {"house_number": 1}),
        ("在1203房间", "在****房间", {"house_number": 1}),
        ("姓名：何艳银，于2019年", "姓名：何**，于2019年", {"name": 1}),
        ("投诉人：刘严联系电话：13812345678", "投诉人：刘*联系电话：138****5678", {"name": 1, "mobile": 1}),
        ("村民王初阳、李四、张三丰，要求赔偿", "村民王**、李*、张**，要求赔偿", {"name": 3}),
        ("我叫王为民，今年65岁", "我叫王**，今年65岁", {"name": 1}),
        ("陈洪道电话13812345678", "陈**电话138****5678", {"name": 1, "mobile": 1}),
    ],
)
def test_examples(text, expected, kinds):
    masked, counts = mask_pii(text)
    assert masked == expected
    assert nonzero(counts) == kinds
    assert set(counts) == set(PII_KINDS)


@pytest.mark.parametrize(
    "text",
    [
        "2019年4月25日拨打12345反映，欠薪20000元",
        "2019-04-25 下午3点",
        "本人系春华镇金鼎村七里组村民",
        "本人于2018年购买",
        "本人于去年，",
        "户主系劳动人民",
        "业主张贴告示",
        "直接损害了业主利益。",
        "群众满意。",
        "邻居安全，",
        "联系人王先生",
        "4栋3单元楼顶上漏水",
        "6栋2单元一楼",
        "A栋78户，B栋60户",
        "小区5栋外墙安装1000千伏安变压器",
        "联系电话：0000-00000000",
        "公司电话",
        "留言编号A000102948",
        "物业费每平米2.5元，共计1200.50元",
    ],
)
def test_not_personal_data(text):
    masked, counts = mask_pii(text)
    assert masked == text, masked
    assert not nonzero(counts)


# grid-member reports (网格员上报): role labels before a name, including ambiguous surnames
# (石/高/关/文/于 are also everyday words) closed by （…）, ， or 。
@pytest.mark.parametrize(
    "text, expected, kinds",
    [
        ("（网格员：关敏）", "（网格员：关*）", {"name": 1}),
        ("上报人：高德明（网格员）", "上报人：高**（网格员）", {"name": 1}),
        ("网格员石磊（13812345678）", "网格员石*（138****5678）", {"name": 1, "mobile": 1}),
        ("重点人员文娟，情绪稳定", "重点人员文*，情绪稳定", {"name": 1}),
        ("重点人员：王小明，", "重点人员：王**，", {"name": 1}),
        ("重点人员关伟，", "重点人员关*，", {"name": 1}),
        ("网格长：石建国，", "网格长：石**，", {"name": 1}),
        ("（网格长：石峰）", "（网格长：石*）", {"name": 1}),
        ("网格长文杰（13812345678）", "网格长文*（138****5678）", {"name": 1, "mobile": 1}),
        ("调解员高翔，", "调解员高*，", {"name": 1}),
        ("调解员：关伟。", "调解员：关*。", {"name": 1}),
        ("巡查人：石勇，", "巡查人：石*，", {"name": 1}),
        ("巡查人高德明，", "巡查人高**，", {"name": 1}),
        ("网格管理员：文军，", "网格管理员：文*，", {"name": 1}),
        ("上报人：网格员关红，联系电话13812345678。", "上报人：网格员关*，联系电话138****5678。", {"name": 1, "mobile": 1}),
        ("网格员：于红梅，", "网格员：于**，", {"name": 1}),
        ("网格员刘洋13812345678", "网格员刘*138****5678", {"name": 1, "mobile": 1}),
        ("网格员关敏反映，", "网格员关*反映，", {"name": 1}),
        ("网格员高德明、石磊、关敏，", "网格员高**、石*、关*，", {"name": 3}),
        ("走访人：高德明（网格员）", "走访人：高**（网格员）", {"name": 1}),
    ],
)
def test_grid_report_names(text, expected, kinds):
    masked, counts = mask_pii(text)
    assert masked == expected
    assert nonzero(counts) == kinds
    assert mask_pii(masked) == (masked, dict.fromkeys(PII_KINDS, 0))


@pytest.mark.parametrize(
    "text",
    [
        "网格员上报",
        "网格员巡查发现，",
        "网格员摸排发现，",
        "重点人员动态",
        "【重点人员动态】",
        "上报人员",
        "上报人姓名",
        "巡查人员",
        "网格员到场",
        "网格员到场初步调解，双方情绪基本稳定",
        "已联系社区人民调解员介入",
        "调解员多次调解，",
        "网格长巡查",
        "网格员关注，",
        "网格员高度重视，",
        "网格员文明劝导，",
        "重点人员管控，",
        "重点人员包保，",
        "网格员任务重，",
        "网格员和民警、物业到场",
        "网格员向物业、社区反映",
        "网格员于现场，",
        "网格员于当日，",
        "本人于当日，",
        "上报人：居民，",
        "网格员阿姨，",
        "网格员温馨提示：",
    ],
)
def test_grid_report_words_stay(text):
    masked, counts = mask_pii(text)
    assert masked == text, masked
    assert not nonzero(counts)


def test_validators():
    assert id_checksum_ok("110101199003074514")
    assert id_checksum_ok("11010519491231002X")
    assert not id_checksum_ok("110101199003074515")
    assert luhn_ok("6222021234567894")
    assert not luhn_ok("6222021234567895")


def test_find_pii_leaks():
    assert find_pii_leaks("打138 1234 5678或者0731-88888888，身份证110101199003074514") == [
        ("mobile", "138 1234 5678"),
        ("id_number", "110101199003074514"),
        ("landline", "0731-88888888"),
    ]
    assert find_pii_leaks("订单号 2138123456789") == []


# ------------------------------------------------------------------------------------ properties

CJK = st.text(alphabet=st.sampled_from(list("的一是在不了有人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理世车")), max_size=8)
SEP = st.sampled_from(["", " ", "-"])
PUNCT = st.sampled_from(["", "，", "。", " ", "：", "（", "）", "、", "\n"])


@st.composite
def mobiles(draw):
    digits = "1" + draw(st.sampled_from("3456789")) + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=9, max_size=9)))
    if len(set(digits)) < 3:
        digits = digits[:-2] + "27"
    s1, s2 = draw(SEP), draw(SEP)
    return digits, digits[:3] + s1 + digits[3:7] + s2 + digits[7:]


def _id_checksum(body17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, weights)) % 11]


@st.composite
def ids(draw):
    region = str(draw(st.integers(110000, 659999)))
    year = draw(st.integers(1930, 2020))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28))
    seq = draw(st.integers(0, 999))
    body = f"{region}{year:04d}{month:02d}{day:02d}{seq:03d}"
    return body + _id_checksum(body)


@st.composite
def cards(draw):
    length = draw(st.integers(16, 19))
    body = "62" + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=length - 3, max_size=length - 3)))
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


@given(CJK, mobiles(), CJK)
@settings(max_examples=150, deadline=None)
def test_mobile_always_masked(before, mobile, after):
    digits, written = mobile
    text = before + "电话" + written + "，" + after
    masked, counts = mask_pii(text)
    assert counts["mobile"] == 1
    # names are masked in place (same length), so everything around the number stays aligned
    assert masked == masked[: len(before)] + "电话" + digits[:3] + "****" + digits[-4:] + "，" + masked[-len(after) or len(masked) :][: len(after)]
    assert masked.endswith("，" + after) or counts["name"]
    assert find_pii_leaks(masked) == []


@given(CJK, ids(), CJK)
@settings(max_examples=150, deadline=None)
def test_id_always_masked(before, id_number, after):
    masked, counts = mask_pii(before + id_number + "。" + after)
    assert counts["id_number"] == 1
    assert id_number not in masked
    expected = before + id_number[:3] + "*" * 13 + id_number[-2:] + "。" + after
    # the random characters around may read as a person's name: masked in place, same length
    assert len(masked) == len(expected) and all(a == b or a == "*" for a, b in zip(masked, expected)), masked
    assert find_pii_leaks(masked) == []


@given(cards())
@settings(max_examples=150, deadline=None)
def test_bank_card_always_masked(card):
    masked, counts = mask_pii("转账到" + card + "，")
    assert counts["bank_card"] + counts["id_number"] == 1
    assert card not in masked and "*" in masked


FRAGMENTS = st.one_of(
    CJK,
    PUNCT,
    mobiles().map(lambda m: m[1]),
    ids(),
    cards(),
    st.sampled_from(["我叫", "姓名：", "联系人", "本人", "电话", "身份证", "3号楼2单元501室", "京A12345", "a@b.cn", "010-62345678", "X", "x", "2019-04-25"]),
    st.text(alphabet="0123456789 -", max_size=12),
)


@given(st.lists(FRAGMENTS, max_size=12).map("".join))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_no_leaks_and_idempotent(text):
    masked, counts = mask_pii(text)
    assert find_pii_leaks(masked) == []
    again, counts2 = mask_pii(masked)
    assert again == masked
    assert not nonzero(counts2)
    if not nonzero(counts):
        assert masked == text


@pytest.mark.parametrize("text, expected", [
    # the safety net's mask joined the digits before it into a new mobile (13000001-130)
    ("13000001-1300000000-0", "130****1130****0000"),
    # what the safety net left before its mask was a token of its own: an old (15-digit) ID
    ("1-00000000101000-1300000000-0", "100**********00-130****0000"),
])
def test_no_leaks_and_idempotent_examples(text, expected):
    """Ambiguous digit runs found by the property test below."""
    masked, _ = mask_pii(text)
    assert masked == expected
    assert find_pii_leaks(masked) == []
    assert mask_pii(masked) == (masked, dict.fromkeys(PII_KINDS, 0))


@given(st.text(alphabet=st.characters(blacklist_categories=("Nd", "Cs")), max_size=80))
@settings(max_examples=200, deadline=None)
def test_text_without_digits_or_cues_is_unchanged(text):
    """Unchanged up to normalisation (invisible characters dropped, full-width letters in ASCII)
    when no cue of any rule is present (cue words, titles 同志/医生…, 男/女, form labels 人：,
    organisation words before a name, a redacted X, 扣扣/QQ/微信)."""
    masked, counts = mask_pii(text)
    cues = "叫名人主户话机长任记师员民生属亲父母夫妻子女哥姐弟妹居友事板东客同志授官计席警男者方学校院园所局府办会区业行店团XxQq扣企信"
    if "@" not in text and not any(c in normalize(text) for c in cues):
        assert masked == normalize(text)


# ------------------------------------------------------------------------------------ real data


def _gov_texts() -> list[str]:
    from samples import gov_texts

    return gov_texts(GOV)


@pytest.mark.skipif(not (GOV / "messages_a.csv").is_file(), reason="shared gov data not present")
def test_gov_messages_no_phone_or_id_survives():
    texts = _gov_texts()
    totals = dict.fromkeys(PII_KINDS, 0)
    leaks = []
    raw_leaks = 0
    for text in texts:
        raw_leaks += bool(find_pii_leaks(text))
        masked, counts = mask_pii(text)
        for k, v in counts.items():
            totals[k] += v
        found = find_pii_leaks(masked)
        if found:
            leaks.append((found, masked[:120]))
        # also: no unmasked 11-digit mobile-like run at all
        assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", masked)
    print(f"\ngov texts={len(texts)} with phone/ID patterns before={raw_leaks} masked={nonzero(totals)}")
    assert leaks == []
    assert raw_leaks > 0  # the data does contain numbers to mask
    assert totals["landline"] > 100 and totals["name"] > 100 and totals["house_number"] > 100


@pytest.mark.parametrize("text, expected", [
    ("我是张伟，张伟超市卖过期食品", "我是张*，张*超市卖过期食品"),
    ("联系人：王芳 电话：0731-88888888，王芳说物业不管", "联系人：王* 电话：0731-****8888，王*说物业不管"),
    ("我叫王小明，王小明饭店欠我工资，王小明本人也找过", "我叫王**，王**饭店欠我工资，王**本人也找过"),
])
def test_a_name_found_once_is_masked_wherever_it_stands(text, expected):
    """Measured on the gov messages: 116 of 17,100 texts change, nearly all later mentions of a
    masked name (one false positive in 14 sampled: a town named like a masked person)."""
    assert mask_pii(text)[0] == expected
