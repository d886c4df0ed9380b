"""Chinese texts for the simulated feeds: complaint wording, grid-member reports, places, and personal data.

Texts are composed from templates × slot fillers × random phrasing (operator-written work orders
and first-person online messages), so a month holds hundreds of thousands of distinct strings.
Some carry personal data on purpose — names after 我叫/联系人, mobile numbers, ID-card numbers with
a valid check digit, exact room numbers — so that the masking downstream has something to mask.

Anger comes in two registers: the risk lexicon's stock words (``ANGRY``/``ESCALATE``, ``mood`` 1–2)
and, in :data:`ANGRY_UNLEXICAL`, the way fed-up callers mostly talk — passing the buck, calling
again and again, going higher up or to the press, sarcasm, exasperation, distrust — with no
lexicon term at all (tested against ``warning/data/lexicon.yaml``, every category). Weather days
speak from :data:`WEATHER`.

All randomness comes from a :class:`random.Random` passed in by the caller (seeded from the run's
seed), so texts are reproducible.
"""

from __future__ import annotations

import random
import re
import zlib
from functools import lru_cache

# --------------------------------------------------------------------------- personal data
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦"
)
GIVEN = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "文", "华", "建国", "建华", "志强", "海燕", "晓东",
    "玉兰", "淑珍", "丹", "萍", "鹏", "辉", "玲", "宇", "浩", "凯", "雪", "琳", "欣怡", "子涵",
    "梓轩", "一鸣", "思远", "佳怡", "宏伟", "国强", "春梅", "秀兰", "凤英", "德明", "振华", "立新",
    "红梅", "金凤", "建军", "永强", "晓燕", "丽华", "海涛", "文静", "俊杰", "雨萱", "浩然", "子豪",
    "淑华", "桂兰", "志刚", "卫东", "红霞", "玉梅", "长江", "保国", "秀珍", "福生", "学军", "亚楠",
)
HONORIFIC = ("先生", "女士", "师傅", "大爷", "阿姨")
MOBILE_PREFIX = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "170", "176", "177", "178", "180", "181",
    "182", "183", "184", "185", "186", "187", "188", "189", "191", "198", "199",
)
# Household-registration area codes: Beijing districts and some common origins of migrants.
ID_AREAS = (
    "110101", "110102", "110105", "110106", "110107", "110108", "110111", "110112", "110113",
    "110114", "110115", "110228", "130102", "130602", "131002", "370102", "410102", "412701",
    "210102", "230102", "510104", "420102", "340102", "150102", "140105", "220102", "360102",
    "430102", "120101", "130902",
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    """GB 11643 check digit of an 18-digit resident ID number.

    >>> id_check_digit("11010519491231002")
    'X'
    """
    s = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[s % 11]


def id_number(rnd: random.Random) -> str:
    """A syntactically valid (but invented) 18-digit ID number: area, birth date, sequence, check."""
    y = 1945 + int(rnd.random() * 60)
    m = 1 + int(rnd.random() * 12)
    d = 1 + int(rnd.random() * 28)
    body = f"{rnd.choice(ID_AREAS)}{y:04d}{m:02d}{d:02d}{int(rnd.random() * 1000):03d}"
    return body + id_check_digit(body)


def mobile(rnd: random.Random) -> str:
    return rnd.choice(MOBILE_PREFIX) + f"{int(rnd.random() * 1e8):08d}"


def mobile_text(rnd: random.Random, number: str) -> str:
    """How a number is written in free text: mostly plain, sometimes spaced or dashed."""
    u = rnd.random()
    if u < 0.8:
        return number
    if u < 0.9:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    return f"{number[:3]}-{number[3:7]}-{number[7:]}"


def person_name(rnd: random.Random) -> str:
    return rnd.choice(SURNAMES) + rnd.choice(GIVEN)


def polite_name(rnd: random.Random) -> str:
    return rnd.choice(SURNAMES) + rnd.choice(HONORIFIC)


# --------------------------------------------------------------------------- places
_COMMUNITY_A = (
    "阳光", "金色", "翠微", "富力", "首开", "金隅", "望园", "幸福", "祥和", "康乐", "育新", "芳园",
    "绿洲", "碧水", "紫金", "东方", "丽景", "锦绣", "春晖", "世纪", "远洋", "龙湖", "中海", "保利",
    "万科", "华润", "融科", "枫林", "桃园", "杏林", "柳荫", "松榆", "槐荫", "银杏", "玉兰", "水岸",
    "晨光", "朝晖", "明珠", "新城", "天通", "清河", "永泰", "安华", "惠新", "兴涛", "双花", "美然",
    "汇景", "嘉禾", "润泽", "恒大", "鸿坤", "首城", "天恒", "泰禾", "观澜", "星河", "瑞海", "御景",
)
_COMMUNITY_B = (
    "家园", "花园", "小区", "嘉园", "苑", "公寓", "佳苑", "名苑", "华府", "北里", "南里", "西里",
    "东里", "新村", "雅居", "城", "国际", "府", "郡", "社区",
)
_ROAD_A = (
    "光华", "建华", "文化", "育才", "振兴", "民主", "兴华", "富强", "和谐", "友谊", "团结", "新华",
    "安康", "宏达", "长青", "青年", "滨河", "学院", "科技", "创业", "园林", "环岛", "工业", "商业",
    "北辰", "南湖", "西环", "东环", "玉泉", "金源", "银河", "翠湖", "荷花", "丁香", "海棠", "石榴",
)
_ROAD_B = ("路", "街", "大街", "西路", "东路", "北路", "南路", "胡同", "中路", "二巷")
_VILLAGE_A = ("东", "西", "南", "北", "前", "后", "大", "小", "上", "下", "新", "老", "张家", "李家",
              "王家", "马家", "刘家", "高家", "石", "杨")
_VILLAGE_B = ("辛庄", "营", "屯", "各庄", "店", "坨", "峪", "沟", "寨", "河", "窑", "堡", "庄子")
_NUM_CN = "零一二三四五六七八九十"


def _place_ok(reg, name: str) -> bool:
    """A generated place name must not contain any street or district name of the region."""
    return reg.find_street(name) is None and reg.find_district(name) is None


class Places:
    """Per-street place vocabulary (communities, roads, villages), stable for a region."""

    def __init__(self, region_code: str) -> None:
        from warning.core.registry import Registry

        reg = Registry.load(region_code)
        self.region_name = reg.region_name
        streets = sorted(reg.streets.values(), key=lambda s: s.code)
        self.codes = [s.code for s in streets]
        self.names = [s.name for s in streets]
        self.district_names = [s.district.name for s in streets]
        self.district_list = sorted({s.district.name for s in streets})
        comms = [a + b for a in _COMMUNITY_A for b in _COMMUNITY_B if _place_ok(reg, a + b)]
        roads = [a + b for a in _ROAD_A for b in _ROAD_B if _place_ok(reg, a + b)]
        villages = [a + b for a in _VILLAGE_A for b in _VILLAGE_B if _place_ok(reg, a + b + "村")]
        self.roads_all = roads
        self.communities: list[tuple[str, ...]] = []
        self.roads: list[tuple[str, ...]] = []
        self.villages: list[tuple[str, ...]] = []
        self.street_forms: list[tuple[str, ...]] = []  # how the street is written in an address
        for s in streets:
            r = random.Random(zlib.crc32(("places:" + s.code).encode()))
            self.communities.append(tuple(r.sample(comms, 8)))
            self.roads.append(tuple(r.sample(roads, 5)))
            self.villages.append(tuple(r.sample(villages, 8)))
            forms = [s.name]
            for suf in ("街道", "地区", "镇", "乡"):
                if s.name.endswith(suf) and len(s.name) - len(suf) >= 2:
                    short = s.name[: -len(suf)]
                    probe = f"{self.region_name}{s.district.name}{short}{roads[0]}8号"
                    res = reg.resolve(None, probe, None)
                    if res.street is not None and res.street.code == s.code:
                        forms.append(short)
                    break
            self.street_forms.append(tuple(forms))
        self.rural = [s.name.endswith(("镇", "乡")) for s in streets]

    # A "loc" is how the place appears inside a sentence (no district/street prefix).
    def loc(self, i: int, rnd: random.Random) -> str:
        u = rnd.random()
        if self.rural[i] and u < 0.35:
            v = rnd.choice(self.villages[i])
            return f"{v}村" if rnd.random() < 0.6 else f"{v}村{rnd.randint(1, 12)}组"
        if u < 0.45:
            return f"{rnd.choice(self.communities[i])}{rnd.randint(1, 30)}号楼"
        if u < 0.7:
            return rnd.choice(self.communities[i])
        if u < 0.85:
            return f"{rnd.choice(self.roads[i])}{rnd.randint(1, 199)}号"
        if u < 0.93:
            return f"{rnd.choice(self.communities[i])}{rnd.choice(('东门', '西门', '南门', '北门', '底商', '地下车库'))}"
        a, b = rnd.sample(self.roads[i], 2)
        return f"{a}与{b}交叉口"

    def home(self, i: int, rnd: random.Random) -> str:
        """An exact home address fragment with room number (personal data)."""
        if self.rural[i] and rnd.random() < 0.4:
            return f"{rnd.choice(self.villages[i])}村{rnd.randint(1, 300)}号"
        return (f"{rnd.choice(self.communities[i])}{rnd.randint(1, 30)}号楼{rnd.randint(1, 6)}单元"
                f"{rnd.randint(1, 28)}{rnd.randint(1, 4):02d}室")

    def address(self, i: int, rnd: random.Random, detail: str | None = None) -> str:
        """A full address naming district and street, e.g. 北京市朝阳区建外街道光华路12号院3号楼2单元501室."""
        forms = self.street_forms[i]
        st = forms[1] if len(forms) > 1 and rnd.random() < 0.2 else forms[0]
        city = self.region_name if rnd.random() < 0.7 else ""
        if detail is None:
            u = rnd.random()
            if u < 0.4:
                detail = self.home(i, rnd)
            elif u < 0.7:
                detail = f"{rnd.choice(self.roads[i])}{rnd.randint(1, 199)}号院{rnd.randint(1, 20)}号楼"
            else:
                detail = self.loc(i, rnd)
        return f"{city}{self.district_names[i]}{st}{detail}"

    def district_only_address(self, i: int, rnd: random.Random) -> str:
        """An address naming only the district (the street cannot be resolved from it)."""
        road = rnd.choice(self.roads_all)
        return f"{self.region_name}{self.district_names[i]}{road}{rnd.randint(1, 199)}号附近"


@lru_cache(maxsize=4)
def places(region_code: str = "110000") -> Places:
    return Places(region_code)


# How the place is given, cumulative over: code only, code+district, code+address,
# address only (names district and street), address+district (no code), district only.
PLACE_FORMS = {
    "hotline": (0.62, 0.08, 0.10, 0.15, 0.02, 0.03),
    "petition": (0.55, 0.10, 0.12, 0.16, 0.03, 0.04),
    "public_safety": (0.80, 0.05, 0.07, 0.06, 0.01, 0.01),
    "grid": (0.86, 0.05, 0.05, 0.03, 0.005, 0.005),  # the grid system knows its street
}


def _cum(v: tuple[float, ...]) -> tuple[float, ...]:
    tot, out = 0.0, []
    for x in v:
        tot += x
        out.append(tot / sum(v))
    return tuple(out)


_PLACE_CUM = {k: _cum(v) for k, v in PLACE_FORMS.items()}
# incident events always name their street (by code or address), never only the district
_PLACE_CUM_INCIDENT = {k: _cum(v[:5]) for k, v in PLACE_FORMS.items()}


def place_fields(pl: Places, i: int, source: str, rnd: random.Random, incident: bool = False) -> dict:
    """The place fields of one record at street ``i``, in one of the mixed forms."""
    cum = (_PLACE_CUM_INCIDENT if incident else _PLACE_CUM)[source]
    u = rnd.random()
    if u < cum[0]:
        return {"street_code": pl.codes[i]}
    if u < cum[1]:
        return {"street_code": pl.codes[i], "district": pl.district_names[i]}
    if u < cum[2]:
        return {"street_code": pl.codes[i], "address": pl.address(i, rnd)}
    if u < cum[3]:
        return {"address": pl.address(i, rnd)}
    dist = pl.district_names[i]
    if u < cum[4]:
        return {"district": dist if rnd.random() < 0.8 else dist[:-1], "address": pl.address(i, rnd)}
    out = {"district": dist if rnd.random() < 0.8 else dist[:-1]}
    if rnd.random() < 0.5:
        out["address"] = pl.district_only_address(i, rnd)
    return out


# --------------------------------------------------------------------------- slot filling
ORG_A = ("鑫源", "华泰", "恒信", "宏达", "中联", "金鼎", "瑞丰", "博雅", "优学", "智慧树", "乐动", "力美",
         "悦享", "启航", "卓越", "众诚", "天成", "新锐", "美好", "易家", "安居", "鼎盛", "海纳", "昊天")
ORG_B = ("健身", "教育培训中心", "建筑工程有限公司", "物业管理有限公司", "美容美发店", "房地产开发有限公司",
         "餐饮有限公司", "装饰工程有限公司", "游泳馆", "英语学校", "家政服务公司", "超市", "商贸有限公司",
         "劳务派遣有限公司", "汽车服务中心", "月子会所", "托育中心", "科技有限公司")
# Organisation names by kind: ORG_A + one of these suffixes.
ORG_KINDS = {
    "org": ORG_B,
    "shop": ("健身", "健身会所", "美容美发店", "游泳馆", "瑜伽馆", "洗车店", "月子会所", "养生馆", "烘焙店", "美甲店"),
    "company": ("建筑工程有限公司", "劳务派遣有限公司", "装饰工程有限公司", "物流有限公司", "科技有限公司",
                "商贸有限公司", "餐饮管理有限公司", "保安服务有限公司", "家政服务公司"),
    "training": ("教育培训中心", "英语学校", "艺术培训学校", "托育中心", "编程培训中心", "舞蹈培训学校"),
    "store": ("电器", "家具城", "数码城", "建材店", "家电卖场"),
    "finance": ("财富管理有限公司", "投资管理有限公司", "资产管理有限公司"),
    "apartment": ("公寓", "青年公寓", "寓"),
    "factory": ("化工厂", "塑料厂", "印染厂", "食品加工厂", "洗涤厂", "汽修厂"),
}
HOSPITALS = ("北京协和医院", "北京朝阳医院", "北京友谊医院", "北京天坛医院", "北京儿童医院", "北京积水潭医院",
             "宣武医院", "北京安贞医院", "北京大学人民医院", "北京大学第三医院", "中日友好医院",
             "社区卫生服务中心", "区中医医院", "区妇幼保健院")
DURATIONS = ("两天", "三天", "一周", "十来天", "半个月", "一个多月", "两个多月", "半年", "大半年", "一年多")
SINCE = ("昨天晚上", "今天早上", "前天", "今天凌晨", "昨天下午", "上周五", "这周一", "三天前")
PARTIES = ("物业", "社区", "居委会", "街道", "开发商", "商家", "房东", "中介", "村委会", "施工方", "老板")


def _money(rnd: random.Random) -> str:
    u = rnd.random()
    if u < 0.4:
        return str(rnd.randint(5, 99) * 100)
    if u < 0.8:
        return str(rnd.randint(1, 60) * 1000)
    return f"{rnd.randint(2, 30)}万"


class Slots:
    """Lazy slot values for one text: each slot is computed once, on first use."""

    __slots__ = ("pl", "i", "rnd", "v")

    def __init__(self, pl: Places, i: int, rnd: random.Random, **fixed: str) -> None:
        self.pl, self.i, self.rnd, self.v = pl, i, rnd, dict(fixed)

    def get(self, name: str) -> str:
        val = self.v.get(name)
        if val is None:
            val = self.make(name)
            self.v[name] = val
        return val

    def make(self, name: str) -> str:
        rnd = self.rnd
        if name == "loc":
            return self.pl.loc(self.i, rnd)
        if name in ORG_KINDS:
            return rnd.choice(ORG_A) + rnd.choice(ORG_KINDS[name])
        if name == "money":
            return _money(rnd)
        if name == "dur":
            return rnd.choice(DURATIONS)
        if name == "since":
            return rnd.choice(SINCE)
        if name == "months":
            return rnd.choice(("两", "三", "四", "五", "六", "七", "八"))
        if name == "hospital":
            return rnd.choice(HOSPITALS)
        if name == "temp":
            return str(rnd.randint(12, 17))
        if name == "n":
            return str(rnd.randint(2, 9))
        if name == "party":
            return rnd.choice(PARTIES)
        if name == "village":
            return rnd.choice(self.pl.villages[self.i])
        if name == "street":
            return self.pl.names[self.i]
        if name == "community":
            return rnd.choice(self.pl.communities[self.i])
        if name == "floor":
            return str(rnd.randint(2, 26))
        if name == "name":
            return person_name(rnd)
        if name == "people":
            return str(rnd.randint(5, 40))
        if name == "times":
            return rnd.choice(("三", "四", "五", "六", "七", "八", "十几", "二十多", "好几十"))
        return name


_SLOT_RE = re.compile(r"\{(\w+)\}")


@lru_cache(maxsize=None)
def _parse(template: str) -> tuple[tuple[str, str | None], ...]:
    parts: list[tuple[str, str | None]] = []
    pos = 0
    for m in _SLOT_RE.finditer(template):
        parts.append((template[pos:m.start()], m.group(1)))
        pos = m.end()
    parts.append((template[pos:], None))
    return tuple(parts)


def fill(template: str, slots: Slots) -> str:
    out = []
    for lit, name in _parse(template):
        out.append(lit)
        if name is not None:
            out.append(slots.get(name))
    return "".join(out)


# --------------------------------------------------------------------------- hotline wording
# Each entry: "keyword|sentence". The keyword feeds the optional title.
# ISSUE: statements of a problem (投诉/求助), ASK: bare questions (咨询), REPORT: 举报 contents,
# SUGGEST: 建议 contents.
ISSUE: dict[str, tuple[str, ...]] = {
    "市场管理": (
        "预付卡退费|在{shop}办了{money}元的会员卡，现在门店突然关门，老板联系不上",
        "过期食品|在{loc}附近的超市买到过期食品，商家拒绝退换",
        "网购退款|网购的商品有质量问题，商家一直拖着不给退款",
        "餐饮卫生|{loc}附近一家饭店卫生条件很差，吃完后全家都拉肚子",
        "办卡不退|{shop}办卡时承诺随时可退，现在却拒绝退卡",
        "缺斤短两|{loc}附近菜市场有商户缺斤短两，称重明显不准",
        "课程退费|{training}的课没上几节就停了，剩下的{money}元不给退",
        "装修纠纷|装修公司收了{money}元定金后迟迟不开工，也不退钱",
        "价格欺诈|{loc}附近的商店明码标价和结账价格不一致",
        "售后服务|买的空调坏了，{store}的售后拖了{dur}都不上门",
    ),
    "住房": (
        "物业服务|{loc}物业服务差，楼道垃圾好几天没人清理",
        "电梯故障|{loc}电梯经常坏，老人上下楼很困难，物业一直拖着不修",
        "押金纠纷|房东不退{money}元押金，理由根本站不住",
        "房屋漏水|{loc}楼顶漏水，家里墙皮都泡掉了，物业互相推诿",
        "延期交房|买的房子已经超过合同约定{dur}，开发商迟迟不交房",
        "群租|{loc}地下室有群租现象，住了很多人，存在安全隐患",
        "物业费|物业擅自上涨物业费，业主都不认可",
        "门禁损坏|{loc}大门门禁坏了{dur}没人修",
        "中介纠纷|租住的房子被中介强行清退，要求赔偿损失",
        "楼上漏水|楼上住户装修把防水做坏了，水一直漏到我家",
        "房产证|买房好几年了房产证一直办不下来",
    ),
    "公共服务": (
        "停水|{loc}从{since}开始停水，到现在还没来水，也没看到任何通知",
        "停电|{loc}这段时间频繁停电，家里电器都受到影响",
        "水质|{loc}的自来水发黄有异味，不敢喝",
        "燃气|{loc}燃气表显示异常，燃气公司一直不上门",
        "路灯|{loc}附近的路灯坏了{dur}，晚上出行很不安全",
        "宽带|{loc}的宽带经常断网，报修后没人处理",
        "水压|{loc}水压太低，高层住户基本用不上水",
        "公厕|{loc}附近的公共厕所关闭了，周边居民很不方便",
        "燃气停气|{loc}从{since}开始停气，做不了饭",
    ),
    "城乡建设": (
        "施工噪音|{loc}附近工地夜间施工，噪音很大，严重影响休息",
        "道路破损|{loc}路面坑洼不平，已经有好几个人摔倒",
        "私搭乱建|{loc}有人私搭乱建，占用公共空间",
        "井盖缺失|{loc}附近井盖缺失，存在安全隐患",
        "施工占道|{loc}施工围挡占了人行道，行人只能走机动车道",
        "渣土撒漏|{loc}附近工地渣土车撒漏，道路尘土飞扬",
        "垃圾清运|{loc}周边垃圾清运不及时，气味难闻",
        "拆迁补偿|拆迁补偿款迟迟不到位，已经等了{dur}",
        "老旧小区改造|{loc}老旧小区改造施工拖了{dur}还没完工",
    ),
    "交通管理": (
        "信号灯|{loc}附近路口红绿灯时间设置不合理，经常堵车",
        "乱停车|{loc}周边车辆乱停乱放，消防通道都被占了",
        "公交间隔|{loc}的公交车半天不来，等了四十多分钟",
        "共享单车|{loc}附近共享单车堆放占道",
        "违停|小区门口经常有车违停，出行不便",
        "出租车绕路|出租车司机绕路多收费",
        "私设地锁|{loc}附近有人违规占用车位设地锁",
    ),
    "劳动和社会保障": (
        "欠薪|在{company}上班，已经被拖欠工资{months}个月，一共{money}元",
        "解除合同|公司单方面解除劳动合同，不给经济补偿",
        "社保|单位一直没有给缴纳社会保险",
        "农民工工资|{company}拖欠农民工工资，工友们多次讨要都没结果",
        "试用期工资|试用期被辞退，工资没有结清",
        "加班费|公司强制加班不给加班费",
        "工伤|在工地受了伤，老板不给报工伤",
    ),
    "医疗卫生": (
        "挂号难|{hospital}挂号难，网上号源总是约满",
        "医生态度|在{hospital}看病时医生态度很差",
        "收费|{hospital}收费不透明，怀疑重复收费",
        "疫苗排队|带孩子在社区打疫苗排队时间太长",
        "缺药|在社区卫生服务中心开不到需要的药",
        "医保报销|在{hospital}看病医保报销有问题，多扣了钱",
    ),
    "教育": (
        "培训退费|{training}突然停课，预交的{money}元学费不退",
        "学校餐食|孩子学校的午餐质量差，家长意见很大",
        "校门交通|学校门口放学时段交通混乱",
        "幼儿园收费|幼儿园乱收费，额外收取兴趣班费用",
        "入学划片|{loc}附近入学划片不合理",
    ),
    "社会秩序": (
        "广场舞扰民|{loc}楼下广场舞音响声音太大，严重扰民",
        "楼道杂物|{loc}有人长期在楼道堆放杂物",
        "遛狗不拴绳|{loc}附近有人遛狗不拴绳，孩子被吓到了",
        "犬吠扰民|邻居家养的大狗夜里一直叫",
        "夜间喧哗|{loc}附近有人喝酒喧哗到凌晨",
        "群租房|{loc}有群租房，人员进出很杂",
        "高空抛物|{loc}经常有人往楼下扔东西",
    ),
    "环境保护": (
        "油烟|{loc}附近餐馆油烟直排，家里全是油烟味",
        "异味|{loc}附近有工厂晚上排放刺鼻气味",
        "污水|{loc}附近河道有污水排放，发出恶臭",
        "焚烧垃圾|{loc}附近有人焚烧垃圾",
        "垃圾分类|{loc}的垃圾桶长期满溢没人清运",
    ),
    "民政": (
        "养老补贴|家里老人申请养老服务补贴一直没有结果",
        "低保|低保审核时间太长，一直没有批下来",
        "养老驿站|{loc}附近养老驿站服务质量差",
    ),
    "农业农村": (
        "土地流转款|{village}村土地流转款一直没有发放",
        "村路|村里的道路年久失修，下雨天没法走",
        "村务公开|村委会账目一直不公开",
        "宅基地|村里宅基地纠纷一直没有解决",
    ),
    "政务服务": (
        "排队|在政务服务中心办事排队时间太长",
        "服务态度|政务服务中心窗口工作人员态度不好",
        "网上办事|网上办事系统经常登录不上",
    ),
    "疫情防控": (
        "发热门诊|{hospital}发热门诊排队时间太长",
    ),
    "供暖": (
        "暖气不热|{loc}暖气不热，室内温度只有{temp}度",
        "未供暖|{loc}到现在还没有供暖，家里老人孩子冻得不行",
        "暖气漏水|{loc}暖气管道漏水，地板都泡了",
        "暖气不热|交了供暖费但家里暖气一直是凉的",
        "报修难|供热公司报修电话一直打不通",
    ),
}
ASK: dict[str, tuple[str, ...]] = {
    "市场管理": ("预付卡退费|预付卡退费应该找哪个部门", "发票|商家不给开发票怎么办",
              "营业执照|个体工商户营业执照怎么办理", "消费纠纷|消费纠纷调解的流程是什么"),
    "住房": ("公租房|公租房的申请条件是什么", "不动产证|不动产证办理进度在哪里查",
           "老旧小区改造|{loc}老旧小区改造什么时候开始", "公积金提取|住房公积金提取需要什么条件",
           "共有产权房|共有产权房摇号结果在哪里查"),
    "公共服务": ("停水|{loc}停水什么时候恢复", "燃气改造|燃气改造的收费标准是什么",
             "电费|阶梯电价怎么计算", "停电通知|小区贴了停电通知，具体停电时间是几点到几点",
             "停水通知|看到{loc}贴了停水通知，什么时候开始停水"),
    "城乡建设": ("道路施工|{loc}附近的道路什么时候完工", "违建|违建拆除的标准是什么",
             "拆迁补偿|拆迁补偿标准在哪里可以查到", "小区改造|{loc}加装电梯的申请流程"),
    "交通管理": ("进京证|外地车进京证怎么办理", "公交线路|公交线路调整的情况",
             "停车场|{loc}附近哪里有停车场", "电动车上牌|电动自行车上牌的流程"),
    "劳动和社会保障": ("养老保险|养老保险补缴政策", "失业金|失业金怎么申领", "劳动仲裁|劳动仲裁的流程",
                "灵活就业|灵活就业人员社保怎么缴纳", "医保转移|医保转移接续怎么办"),
    "医疗卫生": ("医保报销|医保报销比例是多少", "异地就医|异地就医备案的流程",
             "门诊时间|{hospital}的门诊时间", "疫苗预约|HPV疫苗怎么预约"),
    "教育": ("入学登记|小学入学登记时间", "非京籍入学|非京籍子女入学需要什么材料",
           "中考政策|今年的中考政策", "招生范围|{loc}对应的学校招生范围"),
    "社会秩序": ("养犬登记|养犬登记的流程", "居住证|居住证怎么办理", "邻里纠纷|邻里纠纷找哪里调解"),
    "环境保护": ("垃圾分类|垃圾分类的具体要求", "大件垃圾|大件垃圾怎么处理"),
    "民政": ("高龄津贴|高龄津贴怎么申领", "残疾人补贴|残疾人补贴的申请条件",
           "婚姻登记|婚姻登记怎么预约", "养老助餐|社区养老助餐在哪里办"),
    "农业农村": ("宅基地确权|农村宅基地确权的政策", "农业补贴|农业补贴什么时候发"),
    "政务服务": ("身份证补办|身份证补办需要什么材料", "户口迁移|户口迁移的流程",
             "营业执照|营业执照能不能网上办理", "护照|护照办理需要多长时间", "公积金贷款|公积金贷款怎么办理"),
    "疫情防控": ("疫苗接种|新冠疫苗接种点在哪里", "发热门诊|附近发热门诊的位置"),
    "供暖": ("供暖时间|今年什么时候开始供暖", "供暖费|供暖费的缴纳标准", "暖气报停|暖气报停怎么办理",
           "供暖补贴|供暖补贴的申请条件"),
}
REPORT: dict[str, tuple[str, ...]] = {
    "市场管理": ("无照经营|{loc}附近有商户无照经营", "虚假宣传|{shop}虚假宣传，夸大产品功效",
             "三无产品|{loc}附近有商家卖三无产品", "处方药|{loc}的药店不凭处方卖处方药"),
    "住房": ("拆改承重墙|{loc}有人私自拆改承重墙", "地下室住人|{loc}地下室违规住人", "虚假房源|中介发布虚假房源"),
    "公共服务": ("私拉电线|{loc}有人私拉电线给电动车充电", "偷水|{loc}有人偷接自来水管"),
    "城乡建设": ("违建|{loc}有人在楼顶违规加盖房屋", "夜间施工|{loc}附近工地夜间违规施工",
             "偷倒垃圾|渣土车夜里在{loc}附近偷倒建筑垃圾"),
    "交通管理": ("黑车|{loc}附近有黑车揽客", "货车闯限行|有货车在限行时段进入{loc}附近",
             "私设地锁|{loc}附近有人私设地锁收停车费"),
    "劳动和社会保障": ("不签合同|{company}长期不和员工签劳动合同", "克扣工资|{company}克扣工资"),
    "医疗卫生": ("无证诊所|{loc}附近有无证诊所行医", "号贩子|{hospital}有号贩子倒卖专家号",
             "非法医美|{loc}一家美容店非法做医疗美容"),
    "教育": ("违规培训|{training}违规开展学科类培训", "有偿补课|学校老师有偿补课"),
    "社会秩序": ("聚众赌博|{loc}有人聚众赌博", "小广告|{loc}附近有人散发小广告", "高空抛物|{loc}有人高空抛物"),
    "环境保护": ("偷排污水|{factory}偷排污水", "露天烧烤|{loc}附近有人露天烧烤"),
    "农业农村": ("侵占集体资产|{village}村干部侵占集体资产", "违法占地|有人在{village}村基本农田上建房"),
    "供暖": ("私停供暖|{loc}物业私自停止供暖",),
}
SUGGEST: dict[str, tuple[str, ...]] = {
    "市场管理": ("预付卡监管|加强对预付卡商家的监管，设立资金存管", "公平秤|在菜市场设置公平秤"),
    "住房": ("加装电梯|给老旧小区加装电梯", "物业收费|规范物业收费公示"),
    "公共服务": ("停水通知|停水停电提前通知居民", "充电桩|在{loc}增设公共充电桩"),
    "城乡建设": ("公共座椅|在{loc}附近增设公共座椅", "背街小巷|加快推进背街小巷整治"),
    "交通管理": ("过街天桥|在{loc}增设过街天桥", "公交站点|优化{loc}附近公交站点设置",
             "地铁班次|早高峰增加地铁班次"),
    "劳动和社会保障": ("社保办理|简化社保办理流程", "欠薪查处|加大对拖欠工资的查处力度"),
    "医疗卫生": ("夜间门诊|社区医院增加夜间门诊", "老年人通道|医院增设老年人绿色通道"),
    "教育": ("课后服务|学校延长课后服务时间", "护学岗|在学校门口增设护学岗"),
    "社会秩序": ("监控探头|在{loc}增加监控探头", "夜间巡逻|加强夜间巡逻"),
    "环境保护": ("分类指导员|增加垃圾分类指导员", "河道清淤|对{loc}附近河道进行清淤"),
    "民政": ("助餐点|增加社区养老助餐点",),
    "政务服务": ("延时服务|政务服务中心周末也能办事",),
    "供暖": ("提前供暖|根据天气情况提前供暖",),
}

# Benign texts with risk-like words (negations, notices, TV noise): detectors must not fire on
# a keyword alone. (category, type, text)
BENIGN_RISKY = (
    ("住房", "投诉", "物业拖了{dur}不修电梯，我也不会去跳楼闹事，就是想让有关部门管一管"),
    ("公共服务", "咨询", "{loc}贴了停电通知，说明天检修停电，想确认一下几点恢复"),
    ("社会秩序", "投诉", "楼上邻居天天半夜看打打杀杀的电视剧，喊什么同归于尽，声音太大影响休息"),
    ("公共服务", "咨询", "{loc}贴了停水通知，想问一下停水期间有没有送水车"),
    ("住房", "建议", "{loc}楼顶天台门没有锁，担心孩子上去玩出危险，建议物业锁好，别出了跳楼之类的意外"),
    ("社会秩序", "咨询", "网上看到有人说{street}有人要集体上访，想核实一下是不是谣言"),
    ("医疗卫生", "咨询", "孩子最近压力大，说过不想活了的气话，想咨询附近有没有心理咨询热线"),
    ("交通管理", "投诉", "{loc}附近有人开车横冲直撞，我又不是要跟他同归于尽，就是希望交警管一管"),
    ("公共服务", "咨询", "收到供电公司计划停电通知，想问停电会不会影响电梯"),
    ("劳动和社会保障", "咨询", "听说年底有欠薪的可以找劳动监察，我们公司暂时没欠薪，想提前了解一下流程"),
)

OP_PREFIX = {
    "投诉": ("市民来电反映", "来电人反映", "市民来电投诉", "诉求人反映", "市民通过网络反映", "市民反映"),
    "求助": ("市民来电求助", "来电人反映", "市民来电反映", "诉求人求助"),
    "咨询": ("市民来电咨询", "来电人咨询", "市民咨询", "市民通过网络咨询"),
    "举报": ("市民来电举报", "来电人举报", "市民实名举报", "市民匿名举报"),
    "建议": ("市民来电建议", "市民建议", "市民通过网络建议"),
}
OP_DEMAND = {
    "投诉": ("诉求", "来电人诉求", "市民诉求"),
    "求助": ("诉求", "来电人诉求"),
    "咨询": ("诉求",),
    "举报": ("诉求", "来电人诉求"),
    "建议": ("诉求",),
}
REQUEST = {
    "投诉": ("尽快处理", "请相关部门核实处理", "给个说法", "尽快解决", "督促相关单位整改", "加强监管"),
    "求助": ("协调解决", "帮忙联系相关部门", "尽快派人处理", "尽快帮忙解决"),
    "咨询": ("请相关部门答复", "请告知具体政策", "请回复", "请告知办理渠道"),
    "举报": ("请相关部门查处", "依法处理", "尽快核实查处"),
    "建议": ("请相关部门研究采纳", "请考虑", "希望采纳"),
}
FP_REQUEST = {
    "投诉": ("希望有关部门尽快处理。", "请尽快解决。", "要求给个说法。", "希望能管一管。", "请核实处理，谢谢。", ""),
    "求助": ("请帮忙协调解决，谢谢。", "麻烦帮忙联系一下相关部门。", "希望能尽快派人来看看。", "拜托了。"),
    "咨询": ("谢谢。", "", "麻烦告知一下。", "请回复，谢谢。"),
    "举报": ("请相关部门查处。", "希望依法处理。", "请尽快核实。"),
    "建议": ("希望采纳。", "谢谢。", ""),
}
DETAIL = (
    "，已经{dur}了", "，找了{party}好几次都没用", "，之前反映过，一直没有下文", "，影响很大",
    "，家里有老人孩子，很不方便", "，问题一直没有解决", "，{party}一直推诿", "", "", "", "",
)
INCIDENT_DETAIL = ("", "", "", "", "，情况很紧急", "，很多人都在反映", "，希望尽快处理", "，现在还没有人管")
MILD = ("，真的很无奈", "，希望政府重视", "，实在没办法了", "，大家意见都很大")
ANGRY = (
    "，太不像话了！", "，简直气死人！", "，这是什么态度！", "，你们到底管不管？", "，真是忍无可忍！",
    "，老百姓的事就没人当回事吗？", "，每次打电话都是敷衍！", "，欺人太甚！", "，太让人寒心了！",
    "，已经被逼得没有办法了！", "，你们这是不作为！", "，我们已经彻底失望了！",
)
ESCALATE = (
    "再不解决我们就去区政府讨说法！", "再拖下去我们就找媒体曝光！", "我们会一直投诉到底！",
    "不行就去法院告他们！", "大家已经商量好，再没结果就一起去市里反映！", "必须给我们一个交代！",
    "如果还是没人管，我们就天天打电话！", "要求追究相关人员责任！",
)
GREET = ("", "", "", "您好，", "你好，", "12345您好，", "领导好，", "领导您好，")

# --------------------------------------------------------------------------- anger outside the lexicon
#: Angry complaint wording that contains **no term of the risk lexicon** (``warning/data/lexicon.yaml``,
#: every category; ``tests/test_sim.py`` checks it). Real callers who are fed up rarely use the
#: lexicon's stock words (忍无可忍, 不作为, 踢皮球 …): they blame departments for passing the buck, count
#: how often they have called, threaten to go higher up or to the press, turn sarcastic, sound tired,
#: say they no longer believe a word. Sentiment turns (:mod:`warning.sim.incidents`) and the normal
#: share of annoyed callers in the background both speak this way, so a detector has to notice a
#: *change in the share* of such texts, not their mere presence.
#:
#: One tuple of ``(role, template)``: ``sentence`` — a complete angry remark (≥ 40); ``lead`` — an
#: opening that goes before the caller's topic; ``tail`` — a closing that replaces the polite
#: request at the end. Slots: {times} (how many calls), {dur}, {party} (see :class:`Slots`).
ANGRY_UNLEXICAL: tuple[tuple[str, str], ...] = (
    # nobody takes responsibility / departments pass the buck
    ("sentence", "问了一圈，每个部门都说不归自己管，那到底归谁管"),
    ("sentence", "这个部门让我找那个部门，那个部门又让我回来找这个部门，转来转去没个头"),
    ("sentence", "皮球踢来踢去，就是没有一个人站出来说这事我来办"),
    ("sentence", "{party}说是街道的事，街道说是{party}的事，各说各的，谁都不接"),
    ("sentence", "工单转给属地，属地说没收到，问题就在中间卡着"),
    ("sentence", "每次都是推来推去，最后吃亏的还是我们老百姓"),
    ("sentence", "出了问题一个比一个躲得快，收钱的时候一个比一个积极"),
    ("sentence", "甩锅倒是挺快，办事一点不见快"),
    ("sentence", "我就想知道这件事到底有没有人负责"),
    # calling again and again with no result
    ("sentence", "这已经是我第{times}次打进来了，每次都说会转给相关单位，然后就没有然后了"),
    ("sentence", "同样的问题反映了不下{times}回，回访电话倒是很勤快，问题一点没动"),
    ("sentence", "每次打进来都要从头讲一遍，我都讲了{times}遍了"),
    ("sentence", "说好三个工作日内答复，这都过去{dur}了，连个动静都没有"),
    ("sentence", "工单一关了之，问题原封不动还在那儿"),
    ("sentence", "回访时我明确说了没解决，结果还是按已办结处理"),
    ("sentence", "打了{dur}的电话，换来的就是一句已记录"),
    ("sentence", "上次来的人看了一眼拍了张照就走了，后来再也没人露面"),
    ("sentence", "别再跟我说正在协调了，都协调了{dur}了"),
    ("sentence", "反映问题反映到我自己都烦了，可问题还是老样子"),
    # going to higher authorities or the press
    ("sentence", "再没有结果，我就直接写信给市长"),
    ("sentence", "这事我会整理好材料，一级一级往上反映，总有人能管"),
    ("sentence", "下一步我就去区里当面反映，看看是不是也这么办事"),
    ("sentence", "实在不行我就给报社和电视台打电话，让大家都来看看"),
    ("sentence", "我已经把这些年打电话的记录都存好了，准备往上面递"),
    ("sentence", "我会把整个经过发到网上，让大家评评这个理"),
    ("sentence", "你们解决不了，我就找能解决的人，市里总有人管"),
    ("sentence", "我已经写好了材料，这周就寄到市里"),
    # sarcasm
    ("sentence", "真是佩服，这么点小事能拖到现在"),
    ("sentence", "这办事效率，真让人大开眼界"),
    ("sentence", "服务热线快成了记录热线，只管记，不管办"),
    ("sentence", "谢谢你们，让我学会了什么叫耐心"),
    ("sentence", "办事效率比蜗牛还慢，真是长见识了"),
    ("sentence", "你们的回复我都能背下来了，一个字都不带改的"),
    ("sentence", "说得比唱得还好听，就是一件实事都不干"),
    # exasperation, being fed up
    ("sentence", "我真的是受够了"),
    ("sentence", "说了多少遍了，还要我说几遍"),
    ("sentence", "心累，不想再多说了，你们自己看着办吧"),
    ("sentence", "这么简单的一件事，怎么就这么难"),
    ("sentence", "一把年纪了还要为这点事天天操心，烦透了"),
    ("sentence", "我们的耐心是有限的，不能一直这么拖下去"),
    ("sentence", "每天回家看见这个样子就一肚子火"),
    ("sentence", "请你们换位想想，要是自己家碰上这种事能等这么久吗"),
    # distrust
    ("sentence", "你们说的话我现在一个字都不信了"),
    ("sentence", "每次都说马上处理，结果呢"),
    ("sentence", "所谓的答复全是套话，一点实际内容都没有"),
    ("sentence", "谁知道这回是不是又在糊弄人"),
    ("sentence", "当初拍着胸脯保证的，现在连人影都找不着"),
    ("sentence", "是不是觉得我们好打发，拖一拖就过去了"),
    ("sentence", "我算是看明白了，根本指望不上"),
    ("sentence", "你们就是在等我们自己放弃"),
    # leads: before the caller's topic
    ("lead", "又是我，还是上次那件事，"),
    ("lead", "说实话我都不想再打这个电话了，"),
    ("lead", "这是第{times}次打来了，"),
    ("lead", "我再说最后一遍，"),
    ("lead", "不好意思我语气不好，但是实在没法好好说了，"),
    ("lead", "我也不想这样，可是"),
    ("lead", "还是那个老问题，"),
    # tails: instead of the polite closing request
    ("tail", "你们看着办吧。"),
    ("tail", "我倒要看看还要拖多久。"),
    ("tail", "这回别再让我白等了。"),
    ("tail", "我会一直盯着这件事。"),
    ("tail", "再没动静我就往上反映。"),
    ("tail", "请给句准话，别再拖了。"),
    ("tail", "我的耐心快用完了。"),
    ("tail", "别再拿套话打发我。"),
)
ANGRY_SENTENCES = tuple(t for role, t in ANGRY_UNLEXICAL if role == "sentence")
ANGRY_LEADS = tuple(t for role, t in ANGRY_UNLEXICAL if role == "lead")
ANGRY_TAILS = tuple(t for role, t in ANGRY_UNLEXICAL if role == "tail")
#: How the operator's work order reports the caller's words (third person, then the quote).
ANGRY_OP_INTRO = ("来电人表示：", "来电人称：", "市民表示：", "来电人原话：")


def _kw_sentence(entry: str) -> tuple[str, str]:
    kw, _, sent = entry.partition("|")
    return kw, sent


def _title(rnd: random.Random, kw: str, typ: str, loc: str | None) -> str:
    u = rnd.random()
    if u < 0.3:
        return f"关于{kw}的{'问题' if typ in ('投诉', '求助') else typ}"
    if u < 0.55:
        return f"反映{kw}问题"
    if u < 0.75 and loc:
        return f"{loc}{kw}"
    if u < 0.9:
        return kw
    return f"{typ}：{kw}"


def _angry_end(sentence: str, rnd: random.Random) -> str:
    if sentence.endswith(("吗", "呢", "谁管", "归谁管")):
        return sentence + "？"
    return sentence + rnd.choice(("！", "。", "！", "……"))


def angry_remark(rnd: random.Random, slots: Slots) -> str:
    """One or two angry remarks from :data:`ANGRY_UNLEXICAL` (no lexicon term), punctuated."""
    first = fill(rnd.choice(ANGRY_SENTENCES), slots)
    if rnd.random() < 0.4:
        second = fill(rnd.choice(ANGRY_SENTENCES), slots)
        if second != first:
            return _angry_end(first, rnd) + _angry_end(second, rnd)
    return _angry_end(first, rnd)


def hotline_text(
    pl: Places, i: int, category: str, typ: str, rnd: random.Random, /, mood: int = 0,
    sentence: str | None = None, keyword: str | None = None, angry: bool = False, **fixed: str,
) -> tuple[str | None, str, dict | None]:
    """(title, content, caller) of one hotline record at street index ``i``.

    ``mood`` 0 = ordinary, 1 = annoyed, 2 = furious with threats of escalation (no extreme terms;
    both use the lexicon's stock words). ``angry``: fed up in words *outside* the risk lexicon
    (:data:`ANGRY_UNLEXICAL`) — the topic stays the caller's own, the anger replaces the neutral
    detail and closing (``mood`` is then ignored). ``sentence`` overrides the topic sentence (incidents).
    """
    slots = Slots(pl, i, rnd, **fixed)
    fixed_sentence = sentence is not None
    if sentence is None:
        if typ == "咨询":
            pool = ASK.get(category) or ASK["政务服务"]
        elif typ == "建议":
            pool = SUGGEST.get(category) or SUGGEST["城乡建设"]
        elif typ == "举报":
            pool = REPORT.get(category) or ISSUE[category]
        else:
            pool = ISSUE[category]
        keyword, sentence = _kw_sentence(rnd.choice(pool))
    body = fill(sentence, slots)
    loc = slots.v.get("loc")
    name = phone = None
    full = False
    if rnd.random() < 0.72:
        phone = mobile(rnd)
        if rnd.random() < 0.6:
            full = rnd.random() < 0.7
            name = person_name(rnd) if full else polite_name(rnd)
    if angry:
        mood = 0
        remark = angry_remark(rnd, slots)
    if angry or typ not in ("投诉", "求助"):
        detail = ""
    elif fixed_sentence:
        detail = rnd.choice(INCIDENT_DETAIL)  # an unfolding event: no "已经半年了"
    else:
        detail = fill(rnd.choice(DETAIL), slots)
    if mood >= 2:
        emo = rnd.choice(ANGRY) + rnd.choice(ESCALATE) if rnd.random() < 0.75 else rnd.choice(ANGRY)
        if rnd.random() < 0.5:
            emo = rnd.choice(ANGRY)[:-1] + rnd.choice(ANGRY) + (rnd.choice(ESCALATE) if rnd.random() < 0.6 else "")
    elif mood == 1:
        emo = rnd.choice(ANGRY)
    elif angry:
        emo = ""
    else:
        emo = rnd.choice(MILD) if typ == "投诉" and rnd.random() < 0.12 else ""
    if rnd.random() < 0.55:
        # Operator-written work order (工单).
        if angry:  # the operator quotes the caller
            text = f"{rnd.choice(OP_PREFIX[typ])}：{body}。{rnd.choice(ANGRY_OP_INTRO)}{remark}"
        elif typ == "咨询":
            text = f"{rnd.choice(OP_PREFIX[typ])}：{body}。"
        elif typ == "建议":
            text = f"{rnd.choice(OP_PREFIX[typ])}：{body}。"
        else:
            text = f"{rnd.choice(OP_PREFIX[typ])}：{body}{detail}{emo.rstrip('！？。') + '。' if emo else '。'}"
        if mood >= 2 and emo and rnd.random() < 0.5:
            text += "来电人情绪激动。"
        text += f"{rnd.choice(OP_DEMAND[typ])}：{rnd.choice(REQUEST[typ])}。"
        if phone and rnd.random() < 0.2:
            text += f"联系人：{name or polite_name(rnd)}，联系电话：{mobile_text(rnd, phone)}。"
    else:
        intro = ""
        u = rnd.random()
        if u < 0.12 and name:
            intro = f"我叫{name}，" if full else f"我是{name}，"
        elif u < 0.2:
            intro = f"我住在{pl.home(i, rnd)}，"
        elif u < 0.26:
            intro = f"我是{pl.names[i]}的居民，"
        elif u < 0.3 and name and full:
            intro = f"本人{name}，住{pl.home(i, rnd)}，"
        if angry and rnd.random() < 0.3:
            intro += fill(rnd.choice(ANGRY_LEADS), slots)
        if typ == "咨询":
            lead = rnd.choice(("想咨询一下，", "请问", "问一下，", "我想了解一下，", "想问问"))
            core = f"{lead}{body}？"
        elif typ == "建议":
            core = rnd.choice(("我建议", "提个建议，", "建议")) + body + "。"
        elif typ == "举报":
            core = rnd.choice(("我要举报，", "实名举报：", "举报：", "")) + body + "。"
        else:
            lead = "我要投诉，" if typ == "投诉" and rnd.random() < 0.25 else ""
            tail = emo if emo else "。"
            core = f"{lead}{body}{detail}{tail}"
        contact = ""
        if phone and rnd.random() < 0.18:
            contact = rnd.choice((f"我的电话是{mobile_text(rnd, phone)}。", f"联系电话：{mobile_text(rnd, phone)}。",
                                  f"联系人：{name or polite_name(rnd)}，电话{mobile_text(rnd, phone)}。",
                                  f"有问题可以打我电话{mobile_text(rnd, phone)}。"))
        if angry:
            if core.endswith("。"):
                core = core[:-1] + rnd.choice(("。", "！"))
            closing = remark + (rnd.choice(ANGRY_TAILS) if rnd.random() < 0.45 else "")
        else:
            closing = rnd.choice(FP_REQUEST[typ])
        text = f"{rnd.choice(GREET)}{intro}{core}{closing}{contact}"
    title = _title(rnd, keyword, typ, loc) if keyword and rnd.random() < 0.6 else None
    caller = None
    if phone or name:
        caller = {}
        if name and rnd.random() < 0.85:
            caller["name"] = name
        if phone:
            caller["phone"] = phone
    return title, text, caller


def benign_risky_text(pl: Places, i: int, rnd: random.Random) -> tuple[str, str, str]:
    """(category, type, content) of a background record that contains a risk-like word."""
    cat, typ, tpl = rnd.choice(BENIGN_RISKY)
    return cat, typ, fill(tpl, Slots(pl, i, rnd))


# --------------------------------------------------------------------------- weather days
#: City-wide weather days (:mod:`warning.sim.generator`): which weather, the hotline categories it
#: adds calls to (with their relative weight) and what the callers say ("type|keyword|sentence").
#: Weather calls name real hazards, so some carry 民生急难 terms (停电, 积水严重 …) on every street
#: at once — exactly the false-alert trap a detector must survive.
WEATHER: dict[str, dict[str, tuple[str, ...]]] = {
    "暴雪": {
        "交通管理": (
            "投诉|道路结冰|下了一夜雪，{loc}附近路面全结冰了，好几辆车打滑蹭在一起",
            "咨询|公交|下大雪{loc}附近的公交车一直不来，想问问是不是停运了",
            "投诉|路口积雪|{loc}路口积雪没人清，车道线和斑马线都看不见了",
            "求助|车辆打滑|雪太大，车在{loc}附近的坡上打滑上不去，请帮忙联系处理",
        ),
        "城乡建设": (
            "投诉|积雪未清|{loc}门前人行道的积雪没人清扫，老人出门都不敢走",
            "求助|树枝压断|大雪把{loc}的树枝压断了，横在路上挡住了路",
            "投诉|除雪|{loc}这条路到现在没人除雪，路面全是冰",
            "投诉|融雪剂|{loc}附近融雪剂撒得太多，绿化带都被烧坏了",
        ),
        "供暖": (
            "投诉|暖气不热|下雪降温了，{community}暖气还是温的，屋里只有{temp}度",
            "求助|管道冻裂|{community}楼道里的暖气管道冻裂了，水流了一地",
            "投诉|室温不达标|这两天雪大风大，{community}家里室温一直上不来",
        ),
        "公共服务": (
            "求助|水管冻住|{community}水管冻住了，家里一滴水都没有",
            "求助|停电|下雪后{community}停电了，家里取暖的电器都用不了",
            "咨询|水表冻裂|{community}室外水表冻裂了，应该找谁来换",
        ),
        "住房": (
            "投诉|物业扫雪|{community}物业不扫雪，单元门口滑得没法走",
            "投诉|屋顶渗水|{community}楼顶的积雪化了往家里渗水",
            "求助|雨棚压塌|{community}车棚顶上积雪太厚，已经压弯了，下面还停着车",
        ),
    },
    "暴雨": {
        "城乡建设": (
            "求助|路面积水|{loc}附近积水快到膝盖了，行人根本过不去",
            "求助|树木倒伏|暴雨把{loc}的一棵大树刮倒了，压在路边的车上",
            "投诉|井盖冒水|{loc}的井盖被水顶起来了，路上全是水",
            "投诉|排水不畅|{loc}每次下大雨都积水，排水口一直是堵的",
        ),
        "交通管理": (
            "求助|车辆熄火|{loc}附近下穿桥积水，有车熄火停在里面",
            "投诉|信号灯|下大雨{loc}路口信号灯不亮了，车辆乱成一团",
            "咨询|道路封闭|{loc}附近是不是因为积水封路了，想问问怎么绕行",
        ),
        "公共服务": (
            "求助|停电|下大雨后{community}停电了，到现在还没来电",
            "投诉|电线|{loc}有电线被风雨刮断了垂在路边，很危险",
            "求助|泵房进水|{loc}泵房进水了，高层没有水",
        ),
        "住房": (
            "求助|地下室进水|{community}地下室进水了，住户的东西都泡了",
            "投诉|房屋漏雨|暴雨后{community}家里屋顶漏雨，墙上全是水",
            "求助|车库进水|{community}地下车库进水，好多车都泡着",
        ),
    },
    "大风": {
        "城乡建设": (
            "求助|树木倒伏|大风把{loc}的树刮倒了，挡住了路",
            "投诉|围挡倒塌|{loc}附近工地的围挡被风吹倒了，压到了人行道",
            "求助|广告牌|{loc}一块广告牌被风吹得摇摇晃晃，随时可能掉下来",
            "投诉|扬尘|大风天{loc}附近工地的土没有盖，刮得到处都是",
        ),
        "公共服务": (
            "求助|停电|刮大风后{community}停电了，一直没来电",
            "投诉|电线刮断|{loc}有电线被大风刮断了，耷拉在路边",
        ),
        "住房": (
            "求助|外墙脱落|{community}外墙保温层被大风刮掉了一大块，砸在楼下",
            "投诉|彩钢板|{community}楼顶的彩钢板被风掀起来了，物业不管",
            "求助|窗户|大风把{community}家里的窗户玻璃吹碎了",
        ),
        "交通管理": (
            "投诉|树枝挡路|{loc}附近被风刮断的树枝挡在路上，车过不去",
            "投诉|共享单车|大风把{loc}附近的共享单车吹得倒了一地，占了车道",
        ),
    },
}
#: The weather's relative weight among its categories (share of the extra calls, before each
#: street's own category mix is applied).
WEATHER_CATEGORY_WEIGHT = {
    "暴雪": {"交通管理": 1.0, "城乡建设": 1.0, "供暖": 0.8, "公共服务": 0.7, "住房": 0.6},
    "暴雨": {"城乡建设": 1.0, "交通管理": 0.9, "公共服务": 0.8, "住房": 0.9},
    "大风": {"城乡建设": 1.0, "公共服务": 0.7, "住房": 0.7, "交通管理": 0.5},
}


def weather_text(pl: Places, i: int, kind: str, category: str, rnd: random.Random) -> tuple[str, str | None, str, dict | None]:
    """(type, title, content, caller) of one weather call at street ``i``."""
    typ, kw, sent = rnd.choice(WEATHER[kind][category]).split("|", 2)
    title, content, caller = hotline_text(pl, i, category, typ, rnd, sentence=sent, keyword=kw)
    return typ, title, content, caller


# --------------------------------------------------------------------------- petitions
PETITION_ISSUE: dict[str, tuple[str, ...]] = {
    "城乡建设": ("{loc}房屋征收补偿标准过低，与周边项目相差很大", "拆迁安置房迟迟不能回迁，已经等了{dur}",
             "{loc}违法建设长期得不到查处", "拆迁过程中房屋被强拆，财物损失没有赔偿"),
    "劳动和社会保障": ("{company}拖欠工资{money}元，多次讨要未果", "工伤认定结论不公，要求重新认定",
                "单位未依法缴纳社会保险，退休待遇受影响", "企业改制时职工安置费没有落实"),
    "住房": ("购买的{loc}商品房逾期{dur}未交房", "{loc}房屋质量问题严重，开发商拒不维修",
           "已购公房产权证一直无法办理", "{loc}物业与业主矛盾激化，物业强行收费", "小区公共维修资金被挪用"),
    "涉法涉诉": ("法院判决生效后{dur}仍未执行到位", "对法院判决结果不服，认为认定事实不清",
             "案件立案后迟迟没有进展"),
    "农业农村": ("{village}村土地被征用后补偿款没有发放到户", "村集体收益分配不公开",
             "承包地被村委会收回另行发包", "{village}村宅基地审批不公"),
    "民政": ("低保资格被取消，认为不合理", "优抚待遇没有落实", "残疾人补贴被停发"),
    "政法": ("对派出所处理邻里纠纷的结果不满", "报案后{dur}没有立案", "被诈骗{money}元后追赃进展缓慢"),
    "纪检监察": ("反映{village}村干部优亲厚友、违规发放补贴", "反映社区工作人员吃拿卡要",
             "反映有关部门工作人员不作为"),
    "环境保护": ("{loc}附近企业长期排污，多次反映没有整改", "{loc}垃圾站臭味严重影响居民生活"),
    "教育": ("子女入学被拒，要求按政策解决", "{training}卷款跑路，学费{money}元无法退回"),
    "医疗卫生": ("在{hospital}治疗后出现严重后果，认为是医疗事故", "医疗纠纷鉴定结论不公"),
    "市场管理": ("{finance}以投资理财为名吸收资金后无法兑付", "预付卡消费{money}元后商家跑路"),
}
PETITION_HISTORY = ("多次向街道反映无果", "已向区里反映过两次", "先后找过社区、街道，至今没有答复",
                    "找过有关部门，一直推诿", "", "", "")
PETITION_DEMAND = ("请求上级部门督促解决", "要求依法落实补偿", "希望领导重视", "请求给予公正处理",
                   "要求有关部门尽快答复", "请求依法查处", "要求按政策解决")


def petition_text(
    pl: Places, i: int, category: str, form: str, people: int, repeat: bool | None, rnd: random.Random, /,
    sentence: str | None = None, whole: bool = False, **fixed: str,
) -> tuple[str, dict | None]:
    """(content, petitioner) of one petition. ``whole``: ``sentence`` is the complete content."""
    slots = Slots(pl, i, rnd, **fixed)
    if sentence is None:
        sentence = rnd.choice(PETITION_ISSUE.get(category) or PETITION_ISSUE["城乡建设"])
    name = slots.get("name")
    body = fill(sentence, slots)
    idn = id_number(rnd) if rnd.random() < 0.6 else None
    phone = mobile(rnd) if rnd.random() < 0.7 else None
    hist = fill(rnd.choice(PETITION_HISTORY), slots)
    if repeat:
        hist = rnd.choice((f"这是第{rnd.choice('二三四五')}次反映", "此前已反映过，问题仍未解决", "重复反映")) + (
            "，" + hist if hist else "")
    demand = rnd.choice(PETITION_DEMAND)
    if whole:
        hist = ""
    who = ""
    if people > 1:
        who = rnd.choice((f"{name}等{people}人", f"{name}与{people - 1}名邻居", f"{people}名群众"))
    u = rnd.random()
    if whole:
        text = body
    elif form == "网上" and u < 0.7:
        intro = f"本人{name}，" if people == 1 else f"我们{people}户居民联名反映，"
        if rnd.random() < 0.4:
            intro += f"家住{pl.home(i, rnd)}，"
        if idn and rnd.random() < 0.3:
            intro += f"身份证号{idn}，"
        text = f"{intro}{body}{'，' + hist if hist else ''}，{demand}。"
        if phone and rnd.random() < 0.3:
            text += f"联系电话{mobile_text(rnd, phone)}。"
    else:
        lead = {"来信": "来信反映", "来访": "来访反映", "网上": "网上反映", "电话": "来电反映"}[form]
        if who:
            person = who
        elif idn and rnd.random() < 0.3:
            person = f"{name}（身份证号：{idn}）"
        else:
            person = f"信访人{name}"
        text = f"{person}{lead}：{body}{'，' + hist if hist else ''}。{demand}。"
    pet: dict = {"name": name}
    if idn:
        pet["id_number"] = idn
    if phone:
        pet["phone"] = phone
    if rnd.random() < 0.08:
        return text, None
    return text, pet


# --------------------------------------------------------------------------- public safety
PS_TEXT: dict[str, tuple[str, ...]] = {
    "纠纷": ("报警人称与{other}因{reason}发生纠纷，要求民警到场处理", "{loc}两名男子因{reason}发生口角",
           "报警人称在{loc}与{other}发生争执，对方情绪激动", "{loc}有人因{reason}争吵，需要民警调解"),
    "交通事故": ("{road}两车追尾{inj}", "{road}一辆电动车与轿车剐蹭{inj}", "{road}发生交通事故{inj}",
             "{loc}附近一辆出租车与行人发生碰撞{inj}"),
    "盗窃": ("报警人称停放在{loc}的电动自行车被盗", "报警人称家中被盗，丢失现金{money}元",
           "报警人称在{loc}附近手机被偷", "{loc}地下车库有车辆被撬"),
    "噪音扰民": ("报警人称{loc}楼上持续发出噪音", "{loc}有人深夜大声喧哗", "{loc}附近商户音响声音过大"),
    "诈骗": ("报警人称接到冒充客服的电话，被骗{money}元", "报警人称网上刷单被骗{money}元",
           "报警人称被冒充公检法人员诈骗{money}元", "报警人称投资理财被骗{money}元"),
    "求助": ("报警人称钥匙锁在屋内，请求帮助", "{loc}有老人摔倒需要帮助", "报警人称孩子被困电梯",
           "{loc}有人醉倒在路边"),
    "可疑情况": ("{loc}附近有可疑人员徘徊", "报警人称{loc}有人撬门", "{loc}有陌生人挨家挨户敲门推销"),
    "斗殴": ("{loc}附近有{n}人互殴", "{loc}一饭馆内有人酒后打架", "报警人称在{loc}被人殴打"),
    "火情": ("{loc}一居民楼{floor}层冒烟", "{loc}附近有电动车起火", "{loc}垃圾桶着火", "{loc}一商铺起火"),
    "醉酒滋事": ("{loc}有人醉酒闹事", "{loc}一男子酒后砸东西", "{loc}有醉酒人员拦车"),
    "人员走失": ("报警人称家中老人走失", "报警人称孩子在{loc}附近走失"),
    "损坏财物": ("报警人称车辆在{loc}被人划伤", "{loc}有人故意损坏公共设施", "报警人称家门被人泼漆"),
    "聚集": ("{loc}有{people}余人聚集", "{loc}有群众聚集讨要说法"),
}
PS_OTHER = ("邻居", "房东", "商户", "物业人员", "出租车司机", "快递员", "顾客", "同事", "对方车主")
PS_REASON = ("停车问题", "噪音问题", "租房押金", "琐事", "消费纠纷", "漏水问题", "装修问题", "工钱问题")
PS_INJURY = {1: ("，无人员受伤", "，无人伤", "，双方协商处理"), 2: ("，一人轻微受伤", "，有人受轻伤"),
             3: ("，有人员受伤，已通知120", "，一人受伤送医"), 4: ("，多人受伤，已通知120和119",)}
# P(people_count) by event type: (min, max) of a uniform draw
PS_PEOPLE = {"纠纷": (2, 3), "交通事故": (1, 3), "盗窃": (1, 1), "噪音扰民": (0, 1), "诈骗": (1, 1),
             "求助": (1, 1), "可疑情况": (0, 1), "斗殴": (2, 8), "火情": (0, 3), "醉酒滋事": (1, 2),
             "人员走失": (1, 1), "损坏财物": (0, 1), "聚集": (10, 60)}


def ps_text(pl: Places, i: int, event_type: str, severity: int, rnd: random.Random, /,
            sentence: str | None = None, **fixed: str) -> tuple[str | None, int]:
    """(description, people_count) of one public-safety event."""
    lo, hi = PS_PEOPLE.get(event_type, (0, 2))
    people = rnd.randint(lo, hi) + (severity - 1 if event_type in ("斗殴", "纠纷") and severity > 2 else 0)
    if rnd.random() < 0.08 and sentence is None:
        return None, people
    slots = Slots(pl, i, rnd, **fixed)
    slots.v.setdefault("people", str(max(people, 5)))
    slots.v.setdefault("n", str(max(people, 2)))
    if sentence is None:
        sentence = rnd.choice(PS_TEXT.get(event_type) or PS_TEXT["纠纷"])
    slots.v.setdefault("other", rnd.choice(PS_OTHER))
    slots.v.setdefault("reason", rnd.choice(PS_REASON))
    slots.v.setdefault("inj", rnd.choice(PS_INJURY[severity]))
    if "{road}" in sentence:
        if rnd.random() < 0.6:
            slots.v["road"] = rnd.choice(pl.roads[i])
        else:
            a, b = rnd.sample(pl.roads[i], 2)
            slots.v["road"] = f"{a}与{b}路口"
    text = fill(sentence, slots)
    if rnd.random() < 0.22:
        text = f"报警人{person_name(rnd)}（{mobile(rnd)}）称：" + text.removeprefix("报警人称")
    elif rnd.random() < 0.3:
        text = rnd.choice(("接报：", "接群众报警：", "110指令：")) + text
    return text, people


# --------------------------------------------------------------------------- grid-member reports
# 网格员上报: typed by the grid member on the 网格通 app after a patrol or a home visit — terse and
# official: what was seen, where, what was done on the spot, what is asked of whom.
# Each entry: "category|sentence" (category is the report's optional sub-type).
GRID_ISSUE: dict[str, tuple[str, ...]] = {
    "环境卫生": (
        "垃圾堆放|{loc}垃圾桶周边堆放大量生活垃圾，已{n}天未清运，异味较大",
        "垃圾满溢|{loc}分类垃圾桶满溢，周边散落垃圾",
        "乱堆物料|{loc}楼道及单元门口堆放废旧家具、纸箱等杂物",
        "污水外溢|{loc}雨水井堵塞，污水外溢至路面",
        "绿化破坏|{loc}公共绿地被个别居民开垦种菜，绿化带破损",
        "渣土未苫盖|{loc}路边积存渣土约{n}立方米，未苫盖",
        "犬只粪便|{loc}遛狗不清理粪便现象较多，居民意见较大",
    ),
    "安全隐患": (
        "电动车入户|{loc}有居民将电动自行车推入楼道充电，存在火灾隐患",
        "飞线充电|{loc}有住户从窗户私拉电线给电动车充电",
        "消防通道|{loc}消防通道被私家车长期占用",
        "燃气隐患|{loc}一餐饮商户燃气软管老化，未安装燃气报警器",
        "井盖破损|{loc}附近井盖破损下沉，夜间行人存在安全隐患",
        "广告牌松动|{road}一临街商铺广告牌松动，大风天有坠落风险",
        "危旧房屋|{village}村一处老旧房屋墙体开裂，仍有人居住",
        "群租|{loc}地下室疑似群租，住有十余人，通道狭窄",
        "违规存放|{loc}一小卖部违规存放液化气罐{n}个",
    ),
    "矛盾纠纷": (
        "邻里纠纷|{loc}两户居民因楼上漏水问题发生争执",
        "邻里纠纷|{loc}居民因楼道堆物问题与邻居发生口角",
        "物业纠纷|{community}部分业主与物业因停车费上涨产生矛盾",
        "租赁纠纷|{loc}租户与房东因退还押金问题发生纠纷",
        "家庭纠纷|{loc}一户居民家庭矛盾，夫妻双方争吵激烈",
        "劳资纠纷|{company}{n}名员工反映被拖欠工资，与负责人发生争执",
        "装修纠纷|{loc}业主装修噪音扰民，与楼下邻居多次发生争吵",
        "停车纠纷|{loc}居民因车位问题发生争执，互不相让",
    ),
    "市容秩序": (
        "占道经营|{road}有流动商贩占道经营，影响行人通行",
        "小广告|{loc}墙面和电线杆上张贴大量小广告",
        "共享单车|{loc}共享单车堆放，占用盲道",
        "露天烧烤|{loc}商户夜间露天烧烤，油烟较大",
        "乱停车|{loc}机动车乱停乱放，堵塞小区出入口",
        "店外经营|{road}沿街{n}家商户店外摆摊经营",
    ),
    "违法建设": (
        "私搭乱建|{loc}有住户在楼顶私自搭建彩钢房",
        "违规加层|{village}村一户村民正在违规加盖第三层",
        "擅改结构|{loc}底商装修擅自拆改承重墙",
        "圈占绿地|{loc}一楼住户圈占公共绿地搭建小院",
    ),
    "民生诉求": (
        "独居老人|走访{loc}独居老人，老人腿脚不便，需协调助餐服务",
        "设施报修|{loc}单元门禁损坏，居民出入不便",
        "困难家庭|{loc}一户困难家庭申请临时救助，已协助准备材料",
        "路灯损坏|{road}路灯损坏{n}盏，夜间照明不足",
        "无障碍设施|{loc}无障碍坡道破损，轮椅无法通行",
    ),
    "重点人员动态": (
        "例行走访|对{loc}一名重点关注人员进行例行走访，当事人情绪稳定，生活正常",
        "社区矫正|辖区社区矫正对象近期按时报到，未发现异常",
        "精神障碍患者|走访{loc}一名严重精神障碍患者，监护人反映其近期按时服药，状态平稳",
        "情绪异常|{loc}一名居民近期因家庭琐事情绪低落，已联系社区心理服务站跟进",
        "长期信访人员|辖区一名长期信访人员近期在家，情绪平稳，表示等待答复",
    ),
    "群体性苗头": (
        "业主维权|{community}部分业主在微信群中讨论物业费上涨问题，有人提议周末到物业办公室集中反映",
        "商户聚集|{market}部分商户对租金调整不满，近日多次私下商议",
        "讨薪苗头|{site}有工人反映工程款结算延迟，担心拿不到工资，情绪有所波动",
        "联名反映|{community}部分居民对小区改造方案有意见，准备联名向街道反映",
    ),
}
GRID_OPEN: dict[str, tuple[str, ...]] = {
    "重点人员动态": ("", "", "网格走访：", "【重点人员】"),
    "群体性苗头": ("走访中了解到，", "据居民反映，", "网格员摸排发现，", "【群体性苗头】"),
    "民生诉求": ("", "入户走访发现，", "接居民求助，", "【民生诉求】"),
}
GRID_OPEN_DEFAULT = ("巡查发现：", "网格巡查中发现，", "日常巡查发现，", "接居民反映，经现场核实，", "", "【{issue}】")
GRID_ACTION: dict[str, tuple[str, ...]] = {
    "环境卫生": ("已通知物业清理", "已联系环卫部门清运", "已拍照上报，等待处置"),
    "安全隐患": ("已现场劝导，要求立即整改", "已告知物业限期整改", "已设置警示标志，建议相关部门尽快处置",
             "已报街道安全科"),
    "矛盾纠纷": ("网格员到场初步调解，双方情绪基本稳定", "已联系社区人民调解员介入", "调解未果，建议街道司法所跟进",
             "双方已达成初步意见，将持续跟进"),
    "市容秩序": ("已现场劝离", "已通知城管执法队", "已拍照上报"),
    "违法建设": ("已告知其停止施工", "已上报街道城管执法队", "已拍照取证并上报"),
    "民生诉求": ("已协调社区跟进", "已反馈至社区服务站", "已联系相关部门"),
    "重点人员动态": ("将继续保持关注", "已向社区民警通报", "纳入日常走访"),
    "群体性苗头": ("已向社区和街道综治中心报告，建议提前做好沟通化解", "已做好解释疏导，将持续关注动态",
              "建议相关部门提前介入，防止矛盾激化"),
}
GRID_URGENT: dict[str, tuple[str, ...]] = {
    "重点人员动态": ("请社区民警重点关注。", "建议列为重点稳控对象。"),
    "群体性苗头": ("请街道综治中心重点关注。", "建议尽快研判，提前化解。"),
}
GRID_URGENT_DEFAULT = ("情况较急，请尽快派单处置。", "建议优先处置。", "请相关部门尽快到场。")
# people_count by issue type: (min, max) of a uniform draw; other types give none
GRID_PEOPLE = {"矛盾纠纷": (2, 6), "群体性苗头": (5, 40)}


@lru_cache(maxsize=None)
def grid_roster(street_code: str) -> tuple[tuple[str, str, str], ...]:
    """The street's grids and their members: ``(grid_id, name, mobile)``, stable per street (a grid
    member reports from the same grid every day). ``grid_id`` is the street code + 3 digits.

    >>> r = grid_roster("110105001"); r == grid_roster("110105001"), 8 <= len(r) <= 36, r[0][0]
    (True, True, '110105001001')
    """
    r = random.Random(zlib.crc32(("grid:" + street_code).encode()))
    return tuple((f"{street_code}{k:03d}", person_name(r), mobile(r)) for k in range(1, r.randint(8, 36) + 1))


def grid_text(
    pl: Places, i: int, issue_type: str, urgency: int | None, rnd: random.Random, /,
    sentence: str | None = None, category: str | None = None, people_count: int | None = None, **fixed: str,
) -> tuple[str | None, str, dict | None, str, int | None]:
    """(category, content, reporter, grid_id, people_count) of one grid-member report at street ``i``.

    ``sentence`` overrides the observation (incidents; then ``category`` is the sub-type).
    """
    people = people_count
    slots = Slots(pl, i, rnd, **fixed)
    if sentence is None:
        category, sentence = _kw_sentence(rnd.choice(GRID_ISSUE[issue_type]))
    if "{road}" in sentence and "road" not in slots.v:
        slots.v["road"] = rnd.choice(pl.roads[i])
    if "{site}" in sentence and "site" not in slots.v:
        slots.v["site"] = rnd.choice(pl.communities[i]) + rnd.choice(("改造项目工地", "配套工程工地"))
    if "{market}" in sentence and "market" not in slots.v:
        slots.v["market"] = rnd.choice(ORG_A) + rnd.choice(("农贸市场", "批发市场", "商城"))
    if people is None and issue_type in GRID_PEOPLE:
        people = rnd.randint(*GRID_PEOPLE[issue_type])
    body = fill(sentence, slots)
    grid_id, member, phone = rnd.choice(grid_roster(pl.codes[i]))
    opening = rnd.choice(GRID_OPEN.get(issue_type, GRID_OPEN_DEFAULT)).replace("{issue}", issue_type)
    party = ""
    if issue_type == "矛盾纠纷" and rnd.random() < 0.25:
        party = f"当事人{person_name(rnd)}，{rnd.choice(('情绪激动', '要求对方赔偿', '态度强硬'))}。"
    elif issue_type == "民生诉求" and rnd.random() < 0.2:
        party = f"联系人：{person_name(rnd)}，电话{mobile_text(rnd, mobile(rnd))}。"
    count = ""
    if people and issue_type in GRID_PEOPLE and rnd.random() < 0.5:
        count = rnd.choice((f"，涉及{people}人", f"，约{people}人"))
    text = f"{opening}{body}{count}。{party}{rnd.choice(GRID_ACTION[issue_type])}。"
    if urgency == 3:
        text += rnd.choice(GRID_URGENT.get(issue_type, GRID_URGENT_DEFAULT))
    u = rnd.random()
    if u < 0.12:
        text += f"上报人：网格员{member}，联系电话{mobile_text(rnd, phone)}。"
    elif u < 0.2:
        text += f"网格员：{member}，电话{mobile_text(rnd, phone)}。"
    reporter = None
    if rnd.random() < 0.92:
        reporter = {"name": member, "phone": phone} if rnd.random() < 0.85 else {"name": member}
    return category, text, reporter, grid_id, people
