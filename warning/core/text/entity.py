"""Named places and organisations in a (masked) citizen text: 小区, 村, 工地, 公司 …

:func:`entities` finds the specific names a record mentions — a residential estate (天恒嘉园,
金隅花园, 明珠府), a village (马家峪村), a site or project (天恒嘉园二期项目 → 天恒嘉园), a company,
market, restaurant, school or hospital (鑫源建筑工程有限公司, 博雅英语学校) — so that the same
place named across many records of one street can be noticed
(:mod:`warning.models.entity`). It is a handful of regular expressions, no dictionary:

1. a *suffix* (小区, 家园, 花园, 苑, 村, 工地, 项目, 公司, 市场, 餐厅, 学校, 幼儿园, 医院 …, longest
   first; the list is :data:`SUFFIXES`) preceded by up to ``MAX_PREFIX`` name characters (CJK,
   letters, digits; punctuation ends a name); a few suffixes are not one when followed by
   certain characters (村民, 花园路, 市场监管 …) or preceded by others (政府);
2. a name right before a building number (远洋国际3号楼 → 远洋国际);
3. the name's left edge is cut after the last verb, preposition or address part before it
   (市民来电反映, 位于, 住在, 的, 北京市朝阳区, 建外街道, 12号院 …) and single leading function
   characters (在, 到, 向, 对, 和 …) are stripped, except in names that start with them (向阳, 和平);
4. what is left before the suffix (its *brand*) must be specific: at least two characters once
   generic descriptors are taken off its end (建筑工程, 物业管理, 农贸 …), not a generic word
   (本, 该, 我们, 老旧, 附近, 城中 …), no masked character ``*`` (a masked person name) and not
   digits only.

Names are returned once each, in order of first appearance. A name that is the start of a
longer one found in the same text (天恒嘉园 / 天恒嘉园项目) is reported once, as the shorter.
The text is expected to be masked already (:func:`warning.core.text.mask_pii`): a person's name
is then ``张**`` and never passes step 4.

On 60 extractions sampled (seed 7) from the government messages of ``shared/data/gov`` about
nine in ten are specific places or organisations (see ``tests/test_entity.py``).

>>> entities("市民来电反映：天恒嘉园3号楼停水，旁边工地夜间施工。")
['天恒嘉园']
>>> entities("本人系春华镇金鼎村七里组村民，反映鑫源建筑工程有限公司拖欠工资，还有我们小区的物业公司。")
['金鼎村', '鑫源建筑工程有限公司']
>>> entities("在向阳小区附近的博雅英语学校，和老旧小区改造项目")
['向阳小区', '博雅英语学校']
>>> entities("联系人：苑**，家住远洋国际12号楼")
['远洋国际']
"""

from __future__ import annotations

import re

import ahocorasick_rs

#: the longest name kept before its suffix (characters)
MAX_PREFIX = 10


def _leftmost_longest(words: "tuple[str, ...] | list[str]") -> ahocorasick_rs.AhoCorasick:
    """An Aho–Corasick automaton over ``words`` (no duplicates) finding, at the leftmost position
    where one matches, the longest, then going on after it — what ``re.finditer`` finds with an
    alternation of the words sorted longest first."""
    return ahocorasick_rs.AhoCorasick(list(dict.fromkeys(words)), matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
                                      implementation=ahocorasick_rs.Implementation.DFA)

#: suffixes of place and organisation names (matched longest first)
SUFFIXES: tuple[str, ...] = (
    # residential estates
    "小区", "家园", "花园", "嘉园", "佳园", "苑", "公寓", "华府", "府", "北里", "南里", "西里", "东里", "中里",
    "新村", "雅居", "社区", "大院", "公馆", "山庄", "庄园", "别墅", "大厦", "广场", "名邸",
    # villages
    "村",
    # sites and projects
    "工地", "项目",
    # organisations
    "有限责任公司", "股份有限公司", "有限公司", "公司", "集团", "商场", "商城", "购物中心", "超市", "市场",
    "卖场", "家具城", "数码城", "建材城", "餐厅", "饭店", "酒店", "宾馆", "食堂", "快餐店", "烧烤店",
    "学校", "小学", "中学", "幼儿园", "大学", "学院", "医院", "诊所", "卫生院", "保健院", "会所", "中心",
    "馆", "店", "厂",
)
_SUFFIX_SET = frozenset(SUFFIXES)

# a suffix is not one when followed by … (村民, 花园路, 市场监管局, 公司的 is fine)
_NOT_BEFORE: dict[str, str] = {
    "村": "民委干里支长集两务部书级庄落镇",
    "市场": "监管化价经主部管规份营",
    "中心": "城区街",
    "项目": "部经方负",
    "馆": "长",
    "店": "长主员铺面",
    "厂": "长房家区商",
    "府": "井上邸",
    "学院": "路",
    "医院": "路",
    "社区": "卫",
}
_ROAD_AFTER = "路街道巷桥站"  # 花园路, 公寓站 …: a road or a stop, not the estate
_ESTATES = frozenset({"小区", "家园", "花园", "嘉园", "佳园", "苑", "公寓", "华府", "府", "北里", "南里", "西里",
                      "东里", "中里", "新村", "雅居", "社区", "大院", "公馆", "山庄", "庄园", "别墅", "大厦",
                      "广场", "名邸"})
# a suffix is not one when its name's brand ends with … (政府, 王府, 学府)
_NOT_AFTER: dict[str, tuple[str, ...]] = {
    "府": ("政", "王", "学", "官", "首", "市", "区", "县", "天", "幕", "州", "知"),
    "馆": ("图书", "博物", "体育", "展览", "文化", "美术", "纪念", "科技", "大使", "领事", "殡仪", "档案", "饭", "茶"),
    "中心": ("政务服务", "服务", "活动", "指挥", "调度", "市", "城市", "中", "受理", "呼叫", "客服", "管理", "卫生服务",
             "社区卫生服务", "社区服务", "疾控", "急救", "救助", "检测", "矛盾调解", "综治", "网格"),
}

_ORDINAL_RE = re.compile("第[0-9一二三四五六七八九十]")  # 第三医院: the rest of a longer name
_NAME_CH = r"0-9A-Za-z\u3400-\u4dbf\u4e00-\u9fff"
_SUFFIX_RE = re.compile("|".join(sorted(SUFFIXES, key=len, reverse=True)))
# the same matches as _SUFFIX_RE.finditer: an alternation of words, longest first, finds at the
# leftmost position the longest word — Aho–Corasick's leftmost-longest search, in one pass
_SUFFIX_WORDS = tuple(dict.fromkeys(SUFFIXES))
_SUFFIX_AC = _leftmost_longest(_SUFFIX_WORDS)
# a name right before a building / compound number: 远洋国际3号楼, 晨光雅居9号楼
_BUILDING_NUM = "0-9０-９一二三四五六七八九十"
_BUILDING_RE = re.compile(rf"([{_NAME_CH}]{{2,{MAX_PREFIX}}}?)(?=[{_BUILDING_NUM}]+(?:号楼|栋|幢|号院))")
_BUILDING_MARK = re.compile("号楼|栋|幢|号院")
_BUILDING_NUM_SET = frozenset("0123456789０１２３４５６７８９一二三四五六七八九十")
_NOT_NAME_RE = re.compile(rf"[^{_NAME_CH}]")
# up to and including the last character that is no name character (greedy, then back off)
_LAST_NOT_NAME_RE = re.compile(rf"[\s\S]*[^{_NAME_CH}]")
_ALNUM_RE = re.compile(r"[0-9A-Za-z]+")
_SUFFIX_TUPLE = tuple(_SUFFIX_SET)

# cut the left edge after the last of these (verbs, prepositions, function words): always, even
# when nothing is left (目前我们小区, 投诉社区 → no name)
_CUTS: tuple[str, ...] = (
    "反映", "投诉", "举报", "咨询", "来电", "位于", "地处", "座落在", "坐落在", "坐落于", "住在", "家住", "居住在",
    "居住", "关于", "请问", "询问", "市民", "业主", "居民", "村民", "附近", "旁边", "周边", "门口", "对面", "隔壁",
    "一家", "一个", "这家", "那家", "以及", "或者", "还有", "其中", "比如", "例如", "包括", "街道", "地区", "北京市",
    "名为", "名叫", "如果", "因为", "所以", "虽然", "导致", "造成", "进行", "通过", "作为", "继续", "目前", "另外",
    "然后", "马上", "已经", "可以", "可能", "能够", "应该", "需要", "希望", "要求", "追究", "通知", "安排", "担心",
    "非常", "现在", "之前", "以前", "以后", "之后", "就是", "还是", "而且", "但是", "不是", "没有", "一直", "一下",
    "负责", "承诺", "入学", "就读", "读", "买", "购买", "发现", "觉得", "认为", "属于", "针对", "成立", "启动",
    "牺牲", "侵害", "影响", "整改", "处理", "解决", "监管", "管理", "调查", "查处", "要", "至", "为", "等", "叫",
    "称", "从", "于", "即", "系", "近", "向", "对",
    # verbs and adverbs often right before 小区/学校/医院 … (进入小区, 破坏小区 are not names)
    "进入", "表示", "破坏", "知道", "加快", "开设", "报告", "移到", "腐蚀", "不顾", "严重", "完全", "宣传", "引发",
    "彻查", "建设", "新建", "修建", "改造", "占用", "出入", "进出", "离开", "回到", "到达", "靠近", "紧邻", "毗邻",
    "经过", "路过", "穿过", "围绕", "带着", "上学", "放学", "看病", "就医", "联系", "找到", "告诉", "拨打", "致电",
    "了解", "反馈", "协调", "督促", "责令", "建议", "申请", "办理", "检查", "查看", "检测", "清理", "维修", "修复",
    "设置", "设立", "开办", "建成", "交付", "入住", "搬进", "搬到", "搬迁", "迁入", "迁到", "划入", "纳入", "划到",
    "划归", "隶属", "所属", "分配", "合并", "撤销", "保护", "侵占", "损害", "危害", "污染", "扰民", "不管", "监督",
    "整治", "治理", "执法", "拆除", "封闭", "堵住", "对于", "给予", "提供", "支持", "帮助", "协助", "配合", "关心",
    "关注", "重视", "认定", "宣布", "公布", "公示", "告知", "通报", "处罚", "起诉", "控告", "举办", "组织", "召开",
    "参加", "参与", "收购", "接管", "承包", "承建", "销售", "出售", "出租", "缴纳", "退还", "拖欠", "支付", "涉及",
    "全体", "周围", "整个", "全部", "所有", "多个", "部分", "一所", "一些", "上述", "以上", "以下", "相关", "有关",
    "怀疑", "审批", "得知", "任职", "期间", "情况", "理由", "首批", "挂牌", "下属", "换取", "内置", "交汇处", "路口",
    "孩子", "小孩", "增加", "商户", "时候", "中午", "按照", "前往", "当时", "广大", "任何", "通往", "依赖", "来自",
    "去", "送", "找", "问", "帮", "靠", "欠", "付", "罚", "拆", "堵", "占", "住", "到", "开", "有", "名", "个", "些",
)
_FUNCTION_CH = "的了着过是在就也很把被让给说想请您你我他她们这那哪啥么吗呢吧啊呀没再又但且该需凭什本此其各每整所"
_CUT_RE = re.compile("|".join(sorted(_CUTS, key=len, reverse=True)) + f"|[{_FUNCTION_CH}]")
# _CUT_RE.finditer as one leftmost-longest Aho–Corasick pass (its alternatives are words, longest
# first, then single characters: at a position the longest word matching there wins)
_CUT_AC = _leftmost_longest(_CUTS + tuple(_FUNCTION_CH))
# cut after an administrative part (朝阳区, A3区, 宋庄镇), a road, a number or a date — only when a
# name of at least two characters is left (光华路小区 stays)
_ADMIN_RE = re.compile(rf"[A-Z][0-9]*[市区县]|[{_NAME_CH}]{{2,}}?(?:省|市|区|县|镇|乡|路|街|大街|大道|巷|胡同)"
                       r"|[0-9０-９一二三四五六七八九十〇零两]+[号栋幢层室年月日#＃]?(?:楼|院|单元|组)?")
# a name is not preceded by an indefinite article (还我们一个幸福家园)
_INDEFINITE_RE = re.compile("(?:一个|一座|一所|一家|这个|那个|这些|那些|个|些)$")
_AND_RE = re.compile("[和与及或、]")
_LEAD = "在到向对和与及从去给把被于住即就都也还又将让由跟说为我你他她其该此这那各"
_PROTECTED = ("向阳", "和平", "和谐", "和美", "和义", "和睦", "和园", "于家", "都市", "将台", "由于", "其乐")

#: generic descriptors taken off the end of a brand before the specificity check
_DESCRIPTORS: tuple[str, ...] = (
    "建筑工程", "建筑", "工程", "装饰", "装修", "劳务派遣", "劳务", "派遣", "物流", "科技", "商贸", "贸易", "餐饮管理",
    "餐饮", "管理", "保安服务", "保安", "家政服务", "家政", "服务", "财富", "投资", "资产", "物业", "房地产开发",
    "房地产", "开发", "置业", "地产", "教育培训", "教育", "培训", "艺术", "英语", "编程", "舞蹈", "托育", "汽车",
    "信息", "技术", "网络", "文化", "传媒", "实业", "发展", "建设", "电器", "家具", "数码", "建材", "家电", "化工",
    "塑料", "印染", "食品加工", "食品", "加工", "洗涤", "汽修", "美容美发", "美容", "美发", "健身", "游泳", "瑜伽",
    "洗车", "月子", "养生", "烘焙", "美甲", "青年", "农贸", "批发", "综合", "便民", "生鲜", "蔬菜", "菜", "供热",
    "热力", "燃气", "自来水", "供水", "电力", "供电", "快递", "保险", "中介", "出租车", "运输", "公交", "通信",
    "移动", "联通", "电信", "人民", "中医", "妇幼", "卫生服务", "卫生", "政务服务", "便利", "连锁", "有限责任",
    "有限", "股份", "责任", "集团", "国际", "改造", "拆迁", "安置", "棚改", "征收", "重点", "民生", "惠民", "扶贫",
    "试点", "招商", "在建", "施工", "附属", "实验", "职业", "技术", "私人", "民营", "国有", "外资", "小型", "大型",
    "新建", "建设中", "二期", "三期", "一期", "配套", "专科", "儿童", "口腔", "宠物", "早教",
)
_DESC_RE = re.compile("(?:" + "|".join(sorted(_DESCRIPTORS, key=len, reverse=True)) + ")$")
_DESC_SET = frozenset(_DESCRIPTORS)
_DESC_LENS = sorted({len(d) for d in _DESCRIPTORS}, reverse=True)


def _desc_start(core: str) -> int:
    """``_DESC_RE.search(core).start()``, or -1 without a match, for a text without line breaks:
    the leftmost start of a descriptor that ends the text, i.e. the longest such descriptor."""
    n = len(core)
    for k in _DESC_LENS:
        if k <= n and core[n - k :] in _DESC_SET:
            return n - k
    return -1

#: brands that are not names (本小区, 该村, 老旧小区, 城中村, 我们公司 …)
GENERIC: frozenset[str] = frozenset((
    "本", "该", "此", "这", "那", "这个", "那个", "这家", "那家", "一家", "一个", "某", "某某", "我们", "我", "我家",
    "咱们", "你们", "他们", "他", "她", "其", "其他", "其它", "别的", "各", "各个", "每个", "整个", "全", "所在", "同一",
    "附近", "周边", "旁边", "周围", "对面", "隔壁", "老旧", "老", "新", "大", "小", "多个", "一些", "部分", "所有",
    "商品房", "回迁", "回迁房", "安置房", "保障房", "公租房", "廉租房", "经适房", "住宅", "城中", "农", "乡", "新农",
    "行政", "自然", "邻", "外", "本地", "当地", "民办", "公办", "私立", "公立", "黑", "无证", "违规", "违法", "正规",
    "非法", "美好", "共建美好", "建设美好", "本村", "全村", "各村", "开放式", "封闭式", "无物业", "老破小", "高档",
    "普通", "新建", "周围的", "楼下", "楼上", "门口", "街边", "路边", "网上", "线上", "线下", "对口", "划片", "片区",
    "学区", "重点", "名", "好", "上", "下", "有的", "我的", "幼儿", "中小", "大中小", "托管", "辅导", "补习", "课外",
    "国家", "政府", "社会", "公共", "城市", "农村", "乡村", "市", "区", "县", "镇", "街", "省", "中国", "北京",
    "全国", "全市", "全区", "各大", "一些大", "物业", "开发商", "施工", "建筑", "工程", "房地产", "装修", "保洁",
    "银行", "电力", "燃气", "供暖", "热力", "水务", "快递", "外卖", "网约车", "出租车", "共享单车", "停车",
    "停车场", "人民", "中心", "中医", "妇幼", "附属", "社区", "小区", "工地", "项目", "公司", "市场", "学校",
    "医院", "村里", "宿舍", "机关", "眼科", "羽毛球", "麻将", "台球", "棋牌", "网吧", "司法鉴定", "美丽", "区属",
    "市属", "省属", "直属", "二手", "交易", "露天", "分", "总", "子", "老旧", "体检", "鉴定", "警备", "家属", "职工", "单位", "私人", "个人", "家", "家里", "住", "位", "周末", "晚上", "白天", "每天", "今天",
    "大型", "小型", "民营", "国有", "这种", "那种", "什么", "哪个", "哪些", "多家", "两家", "几家", "一所", "这所",
    "那所", "多所", "所有的", "等", "及", "和", "与", "加装电梯", "电梯", "物业管理", "垃圾", "环境", "卫生",
))


def _cut_left(name: str) -> str:
    """Cut ``name`` after the last verb/preposition/address part, strip leading function characters."""
    last = 0
    for _, start, end in _CUT_AC.find_matches_as_indexes(name):  # _CUT_RE.finditer
        if not name.startswith(_PROTECTED, start):
            last = max(last, end)
    for m in _AND_RE.finditer(name):
        if not name.startswith(_PROTECTED, m.start()):
            last = max(last, m.end())
    name = name[last:]
    last = 0
    for m in _ADMIN_RE.finditer(name):
        if m.end() <= len(name) - 2:
            last = max(last, m.end())
    name = name[last:]
    while len(name) > 2 and name[0] in _LEAD and not name.startswith(_PROTECTED):
        name = name[1:]
    return name


def _brand_ok(brand: str, suffix: str) -> bool:
    """Is ``brand`` (the name before its suffix) specific?"""
    if not brand or "*" in brand or brand.isdigit() or brand in GENERIC:
        return False
    for bad in _NOT_AFTER.get(suffix, ()):
        if brand.endswith(bad):
            return False
    core = brand
    if "\n" in core:  # ($ also matches before a final line break: the patterns themselves)
        while True:
            m = _DESC_RE.search(core)
            if m is None or m.start() == 0:
                break
            core = core[: m.start()]
        only_desc = _DESC_RE.fullmatch(core) is not None
    else:
        while True:
            start = _desc_start(core)
            if start <= 0:
                break
            core = core[:start]
        only_desc = core in _DESC_SET  # _DESC_RE.fullmatch: the whole text is one descriptor
    if only_desc and core not in ("国际", "人民"):
        return False  # descriptors only: 建筑工程公司, 物业管理有限公司
    if len(core) < 2 or core in GENERIC or _ALNUM_RE.fullmatch(core) or _ORDINAL_RE.match(core):
        return False
    return not core.isdigit()


def _building_matches(text: str) -> list[re.Match[str]]:
    """``list(_BUILDING_RE.finditer(text))``, trying the pattern only where it can start: its
    name (2 to ``MAX_PREFIX`` characters) ends where a run of numerals before 号楼/栋/幢/号院
    begins, at any of the run's characters."""
    ends: set[int] = set()
    for m in _BUILDING_MARK.finditer(text):
        j = m.start() - 1
        while j >= 0 and text[j] in _BUILDING_NUM_SET:
            ends.add(j)
            j -= 1
    if not ends:
        return []
    starts = sorted({e - k for e in ends for k in range(2, MAX_PREFIX + 1) if e >= k})
    out: list[re.Match[str]] = []
    pos = 0
    for s in starts:
        if s >= pos:
            m = _BUILDING_RE.match(text, s)
            if m is not None:
                out.append(m)
                pos = m.end()
    return out


def _candidates(text: str) -> list[tuple[int, str]]:
    """(position, name) of every specific name in ``text``."""
    out: list[tuple[int, str]] = []
    prev_end = 0
    for i, start, end in _SUFFIX_AC.find_matches_as_indexes(text):  # _SUFFIX_RE.finditer
        suf = _SUFFIX_WORDS[i]
        nxt = text[end: end + 1]
        lo = max(prev_end, start - MAX_PREFIX)
        anchored = lo == prev_end  # the window starts at the text's start or after another suffix
        prev_end = end  # a suffix ends a word, whether or not it ends a name
        if nxt == "*" or (nxt and nxt in _NOT_BEFORE.get(suf, "")):
            continue
        if suf in _ESTATES and nxt and nxt in _ROAD_AFTER:
            continue
        window = text[lo: start]
        bad = _LAST_NOT_NAME_RE.match(window)  # the last _NOT_NAME_RE match ends where this one does
        if bad is not None:
            window, anchored = window[bad.end():], True
        brand = _cut_left(window)
        if len(brand) == len(window) and not anchored:
            continue  # runs back beyond the longest name without a word boundary: a phrase
        if not _brand_ok(brand, suf) or _INDEFINITE_RE.search(text, 0, start - len(brand)):
            continue
        out.append((start - len(brand), brand + suf))
    for m in _building_matches(text):
        # the longest name-character run ending at the number, cut like the suffixed names
        s = m.start(1)
        while s > 0 and s > m.end(1) - MAX_PREFIX - 2 and _NOT_NAME_RE.match(text[s - 1]) is None:
            s -= 1
        name = _cut_left(text[s: m.end(1)])
        if len(name) < 3 or name[-1] in "路街道巷区号院楼栋层组村" or name.endswith(("胡同", "大街")):
            continue
        if name.endswith(_SUFFIX_TUPLE):
            continue  # a suffixed name: found above
        if not _brand_ok(name, ""):
            continue
        out.append((m.end(1) - len(name), name))
    return out


_MASKED_NAME = re.compile(r"([\u4e00-\u9fff])\*+")


def entities(text: str) -> list[str]:
    """Distinct specific place/organisation names of a masked text, in order of appearance.

    >>> entities("在马家峪村附近有7人互殴；农村和城中村、本小区、该工地不算")
    ['马家峪村']
    >>> entities("")
    []

    A name masked elsewhere in the text (``张*``) may appear unmasked inside a shop's name; a
    candidate that begins with a masked surname is dropped (privacy before recall):

    >>> entities("我是张*，张伟超市卖过期食品"), entities("王**反映王府井百货门口占道")
    ([], [])
    """
    if not text:
        return []
    found = sorted(_candidates(text))
    masked_surnames = set(_MASKED_NAME.findall(text)) if "*" in text else set()
    out: list[str] = []
    for _, name in found:
        if name in out or name[0] in masked_surnames:
            continue
        # 天恒嘉园 and 天恒嘉园二期项目 in one text: one place
        if any(name.startswith(o) for o in out):
            continue
        shorter = [o for o in out if o.startswith(name)]
        if shorter:
            out = [o for o in out if o not in shorter]
        out.append(name)
    return out
