"""Word lists for the name masker (Chinese surnames, cue words, stop words).

The surname list covers the ~300 most frequent single-character surnames of mainland China
(together well above 95 % of the population) and the usual compound surnames. Surnames that
are also very common function words or morphemes (于, 向, 和, 高, 方 …) are listed a second
time in ``AMBIGUOUS_SURNAMES``: after a weak cue word they only count when the name is closed
by a delimiter, so "本人于去年…" is not read as the name 于去年.
"""

from __future__ import annotations

SINGLE_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚"
    "邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳"
    "甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解"
    "牟艾尤阳时穆农司卓古吉缪简车项连芦卢麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬"
    "边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储"
    "原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄"
    "平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹"
    "诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
)

COMPOUND_SURNAMES = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "呼延", "万俟", "闻人", "赫连", "澹台",
    "公冶", "宗政", "濮阳", "太叔", "申屠", "钟离", "第五", "拓跋", "完颜", "百里", "东郭", "子车",
)

# Surnames that are also everyday words/morphemes; trusted only when the name is closed by a
# delimiter (or after a strong cue such as 姓名：).
AMBIGUOUS_SURNAMES = frozenset(
    "于向和高方万白常文安齐易成全应时明师商连路车关管单包宁尚符左甘石金江龙史黎毛武莫孔汤温康"
    "施牛华解司古吉简项景党宫费卜冷席卫米宗桂池查麻边谷盛曲苗兰鲁岳申章平云容敬来都普戈伏薄"
    "雍羊阿乌母修那宿鲜印隆诸战危玉银公哈宾戎勾利於呼居干但元束衣信展阴智幸奉富由海花权强豆"
    "盖练支国计索宣相初门原满闻位区楼盘皮燕楚劳乐封官谈巴丰井祖漆庄房游农蒙柴钱任余程丁"
)

# Cue words after which a person's name is expected. After a strong cue any surname counts and
# the name may run straight into the next word ("我叫李建义来自…"); after a weak cue the name must
# be closed by a delimiter, a contact word (电话, 身份证 …), 男/女 or 现年/家住 …
STRONG_CUES = (
    "姓名", "名字", "我叫", "名叫", "联系人", "户名", "开户名", "持卡人", "收件人", "收货人", "寄件人",
    "法人代表", "法定代表人",
)
WEAK_CUES = (
    "本人", "我是", "户主", "业主", "租户", "住户", "申请人", "投诉人", "举报人", "反映人", "来电人",
    "来访人", "当事人", "信访人", "求助人", "报警人", "受害人", "被害人", "嫌疑人", "负责人", "经办人",
    "委托人", "代理人", "监护人", "承租人", "出租人", "房东", "老板", "车主", "死者", "伤者", "患者",
    "病人", "学生", "家长", "工人", "员工", "村民", "居民", "家属", "父亲", "母亲", "爸爸", "妈妈",
    "丈夫", "妻子", "爱人", "老公", "老婆", "儿子", "女儿", "哥哥", "姐姐", "弟弟", "妹妹", "爷爷",
    "奶奶", "外公", "外婆", "同事", "朋友", "邻居", "师傅", "经理", "主任", "书记", "队长", "站长",
    "所长", "局长", "科长", "村长", "组长", "社长", "校长", "老师", "医生", "护士", "律师", "会计",
    "保安", "司机", "网友", "市民", "群众", "同学", "签名", "署名", "妻子", "丈夫",
    # officials and parties named in replies and complaints ("乡长何X中，", "股东为罗X雄")
    "乡长", "镇长", "县长", "区长", "市长", "处长", "院长", "董事长", "总经理", "股东", "法人",
    "实际控制人", "实控人", "控制人", "请求人", "被请求人", "被投诉人", "被举报人", "被申请人", "申诉人",
    "教师", "班主任", "民警",
)
# Role labels of grid-member reports (网格员上报): "（网格员：关敏）", "上报人：高德明（网格员）",
# "网格员石磊（138…）", "重点人员文娟，". After them a name closed by punctuation is taken even when
# its surname is also an everyday word (but not 和/向/于 without a colon: "网格员向物业、"); a verb or
# noun after the label ("网格员上报", "重点人员动态", "上报人员", "网格员到场") is no name.
ROLE_CUES = (
    "网格员", "网格长", "网格管理员", "上报人", "巡查人", "巡查员", "调解员", "重点人员",
)

# Characters that cannot be the first given-name character (function words, units, address and
# contact words): they end the match instead. The second character has a longer list, since
# "刘明和李四", "王五今天…" are more likely than the given names 明和, 五今.
GIVEN1_STOP_CHARS = (
    "的了是在与及或并也都就又还很被把将从对于因所而但则即其此该这那不没未已曾会能要想请让给使由到至"
    "去过说称讲叫姓系们我你您他她它某等年号楼层室栋幢单路街巷区县市省镇村乡组电话手机码证住址男女岁副局"
)
# (元 may start a given name — 王元芳 — but not end one: "万元", "单元")
GIVEN2_STOP_CHARS = GIVEN1_STOP_CHARS + (
    "元和为有向以自家人公中今昨前后上下左右内外间现刚才再只仅共计约近多少每各些个次处月日时反投举表先"
    "老师同阿叔伯爷奶婆姐哥弟妹妈爸儿女子曾经已也来"
)
# Words that, starting right after the surname, mean the "name" is a title or a placeholder.
GIVEN_STOP_WORDS = (
    "先生", "女士", "小姐", "老师", "师傅", "同志", "阿姨", "叔叔", "大爷", "大妈", "大姐", "大哥",
    "某某", "某", "总", "经理", "主任", "书记", "律师", "医生", "警官", "局长", "科长", "所长",
    "联系", "电话", "手机", "身份", "地址", "家住", "现住", "住在", "籍贯", "性别", "年龄", "职业",
    # times ("网格员于当日，", "本人于今日，")
    "当日", "当天", "当晚", "次日", "今日", "今天", "昨日", "昨天", "近日", "近期", "上午", "下午",
    "中午", "晚上", "凌晨",
)

# Tokens that look like surname+given name before "电话" but are ordinary words.
NON_NAMES = frozenset(
    (
        "公司", "单位", "家里", "家中", "办公", "值班", "服务", "物业", "学校", "政府", "社区", "街道",
        "师德", "师风", "师德师",
        "银行", "医院", "门卫", "前台", "客服", "老板", "老师", "师傅", "经理", "主任", "书记", "领导",
        "部门", "对方", "本人", "个人", "私人", "固定", "移动", "联通", "电信", "投诉", "举报", "咨询",
        "报警", "求助", "拨打", "留下", "留有", "告知", "预留", "公开", "公布", "官方", "热线", "专线",
        "办事", "管理", "工作", "业务", "相关", "有关", "其他", "其它", "多个", "各种", "任何", "所有",
        "商家", "店家", "卖家", "买家", "司机", "乘客", "车主", "房东", "中介", "开发", "施工", "项目",
        "华为", "苹果", "小米", "联想", "国家", "全国", "市民", "居民", "村民", "村委", "居委", "业委",
        "连续", "多次", "再次", "曾经", "一直", "经常", "通过", "使用", "这个", "那个", "此", "于是",
        "江南", "江北", "平安", "安全", "和平", "常见", "文明", "高速", "方便", "万达", "白天", "明天",
        "明确", "时间", "应急", "成都", "全部", "全市", "石油", "金融", "龙湖", "武汉", "黎明", "康复",
        "施工方", "华润", "解决", "司法", "古城", "吉祥", "项目部", "景区", "党委", "宫殿", "费用",
        "冷库", "席位", "卫生", "卫健", "米厂", "宗教", "桂花", "查询", "边防", "盛世", "曲线", "苗圃",
        "兰州", "鲁能", "岳麓", "申请", "章程", "云南", "容易", "敬老", "来电", "都市", "普通", "保利",
        "宁夏", "尚未", "左边", "甘肃", "包括", "关于", "管理处", "单元", "车辆", "路政", "师范", "商场",
        "连锁", "明珠", "时代", "成功", "易燃", "齐全", "安置", "文化", "常住", "温泉", "康乐", "牛奶",
        "华侨", "戴德", "莫名", "孔雀", "汤臣", "万科", "方圆", "高新", "向阳", "于是乎", "余额",
        # common words that jieba tags as person names
        "许可", "谢谢", "顾问", "文明", "高峰", "黎明", "江山", "明星", "金牌", "白领", "万家",
        # grid-work words after a role label ("重点人员包保，", "网格员任务重，")
        "包保", "包联", "包片", "包案", "包户", "包村", "安抚", "封控", "常态化", "任务重", "盖章", "师生",
        "阿姨", "楼长", "楼门长", "楼道长", "楼栋长", "安保",
    )
)


# ---------------------------------------------------------------------------------------------
# Common words that start like a name ("利益", "安全", "花钱"): a candidate name that is one of
# these is an ordinary word. Derived from jieba's dictionary (jieba 0.42.1, MIT licence): the
# 2–3 character entries that start with a listed surname and are not tagged as person names
# (nr*). Shipped as warning/data/common_words.txt.gz; rebuilt by `warning sentiment seed`.

COMMON_WORDS_RESOURCE = "common_words.txt.gz"


def derive_common_words() -> list[str]:
    """The common-word list, derived from jieba's ``dict.txt`` (needs jieba installed)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("jieba is not installed; it ships the dictionary the word list is derived from")
    path = Path(list(spec.submodule_search_locations)[0]) / "dict.txt"
    singles = set(SINGLE_SURNAMES)
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        word, tag = parts[0], parts[2]
        if 2 <= len(word) <= 3 and not tag.startswith("nr") and (word[0] in singles or word[:2] in COMPOUND_SURNAMES):
            out.add(word)
    return sorted(out)


_COMMON: frozenset[str] | None = None


def common_words() -> frozenset[str]:
    """The shipped list (loaded once), or the derivation from jieba when the file is missing."""
    global _COMMON
    if _COMMON is None:
        import gzip
        import importlib.resources

        ref = importlib.resources.files("warning") / "data" / COMMON_WORDS_RESOURCE
        try:
            words = gzip.decompress(ref.read_bytes()).decode("utf-8").split("\n")
        except FileNotFoundError:
            words = derive_common_words()
        _COMMON = frozenset(w for w in words if w)
    return _COMMON


def write_common_words(path) -> int:
    """Write the derived list gzip-compressed (deterministic bytes); returns the word count."""
    import gzip

    words = derive_common_words()
    data = gzip.compress("\n".join(words).encode("utf-8"), compresslevel=9, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
    return len(words)
