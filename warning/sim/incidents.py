"""Injected incidents: what an early-warning system is meant to catch, with their labels.

Kinds (one label each, DESIGN.md labels format):

``category_surge``  one street, one theme (停水/停电/停暖/欠薪/燃气/电梯/施工扰民/商家跑路/食品安全),
                    in two shapes (``detail.shape``), alternating so that half of a run's surges
                    are of each: **fast** — a 3–10 h triangle at 5–20× the street's usual rate of
                    that category; **slow** — the category's rate ramps up linearly over 12–36 h
                    to 2.5–6× its usual rate, then decays over 6–24 h (``peak`` = top of the
                    ramp). Slow ones are meant to be caught *during* the ramp, hours before the
                    peak; on a small street the extra calls are floored at 10–16 (the effective
                    peak multiplier, ``detail.peak_multiplier``, is then higher). Sudden outages
                    (停水/停电/燃气) are only fast.
``group_petition``  集体访: one 来访 petition with people_count ≥ 5 on a working day, preceded by
                    related online petitions and hotline calls (organising, 拉横幅 talk).
``slow_buildup``    a complaint theme (烂尾楼/退费/物业撤场/长租公寓/欠薪/拆迁) growing over 3–7 days,
                    joined by online petitions; wording hardens towards the end.
``sentiment_turn``  same (flat) volume and category mix, but over about three days (a smooth
                    ramp of 48–96 h) the street's share of angry hotline texts rises from its
                    normal 10–20 % (:func:`warning.sim.profiles.angry_baseline`) to 70–90 %,
                    holds 6–24 h, and eases back over 12–24 h. ``start`` = onset of the rise,
                    ``peak`` = when the share tops out. The angry texts keep their own topic and
                    category (a third of those in the theme's category speak of the street's
                    shared grievance) and speak **outside the risk lexicon**
                    (:data:`warning.sim.texts.ANGRY_UNLEXICAL`: passing the buck, calling again
                    and again, going higher up or to the press, sarcasm, exasperation, distrust)
                    in place of the neutral closing; half of the turned 咨询/建议 become 投诉.
                    Applied as a transform of the street's background records (no record added).
``extreme_threat``  a single call with an extreme term (跳楼/自焚/同归于尽/喝农药); ``min_level``
                    orange; sometimes a relative calls again.
``multi_source``    one conflict (讨薪聚集/业主维权/商户清退/拆迁冲突) seen by hotline + petition +
                    public safety + grid members at one street within hours.

Grid members (网格员上报) take part where they would: 群体性苗头 reports in the street hours to days
before a group visit and late in a build-up, reports from the scene of a multi-source conflict,
and a home visit after an extreme threat (:meth:`Planner.add_grid_reports`). They fall inside
the incident's labelled span, so labels are the same with or without them.

Sizes are relative to the street's own expected rates (so a big street needs a bigger surge to
stand out) with absolute floors; counts are drawn from a :class:`random.Random` seeded from the
run's seed, so the plan is reproducible.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable

import numpy as np

from warning.sim import profiles as P
from warning.sim import texts as T
from warning.core.timeutil import BEIJING

KINDS = ("category_surge", "group_petition", "slow_buildup", "sentiment_turn", "extreme_threat", "multi_source")
HOUR = 3600
DAY = 86400


@dataclass
class Incident:
    id: str
    kind: str
    street: int  # index into the sorted street list
    start: int
    peak: int
    end: int
    theme: str
    min_level: str | None = None
    detail: dict = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)  # partial records with "source" and "_ts"
    # sentiment_turn only: (t0, t1, peak, p_max, category, sentence pool, slots, p0, end of hold)
    turn: tuple | None = None
    slots: dict = field(default_factory=dict, repr=False)  # the names the story uses (community, company …)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.events:
            out[e["source"]] = out.get(e["source"], 0) + 1
        return out


def local_date(ts: float) -> date:
    return datetime.fromtimestamp(ts, BEIJING).date()


class Rates:
    """Expected hourly counts per street (before noise), for sizing incidents."""

    def __init__(self, region_code: str, scale: float) -> None:
        self.prof = P.street_profile(region_code)
        self.region = region_code
        self.scale = scale

    def hourly(self, feed: str, i: int, ts: float) -> float:
        dt = datetime.fromtimestamp(ts, BEIJING)
        d = dt.date()
        hours = P.typical_hours(feed, d)
        return P.expected_daily(feed, d, self.scale) * float(self.prof.share[feed][i]) * float(hours[dt.hour])

    def window(self, feed: str, i: int, t0: float, t1: float) -> float:
        total, t = 0.0, float(t0)
        while t < t1:
            step = min(HOUR - (t % HOUR), t1 - t)
            total += self.hourly(feed, i, t) * step / HOUR
            t += step
        return total

    def hotline_category_share(self, i: int, cat: str, d: date) -> float:
        w = P.hotline_category_weights(d) * self.prof.hotline_tilt[i]
        w = w / w.sum()
        return float(w[P.HOTLINE_CATEGORIES.index(cat)])


# --------------------------------------------------------------------------- themes
# category_surge: (theme, hotline category, keyword, [(type, sentence)], heating-season only?)
# Themes that arrive suddenly (outages) are only ever fast surges (see SLOW_SURGE_EXCLUDED).
SURGE_THEMES = (
    ("停水", "公共服务", "停水", (
        ("投诉", "{community}从{since}开始停水，到现在都没来水，也没有任何通知"),
        ("投诉", "{community}整个小区停水了，物业说不清什么时候能来水"),
        ("求助", "{community}{bld}号楼停水一天了，家里老人做饭都成问题"),
        ("咨询", "{community}停水了，什么时候能恢复供水"),
        ("投诉", "{community}停水，物业说是管道爆裂，到现在还没修好"),
        ("求助", "{community}停水这么久，能不能安排送水车"),
    ), False),
    ("停电", "公共服务", "停电", (
        ("投诉", "{community}突然大面积停电，电梯停了，冰箱里的东西都坏了"),
        ("求助", "{community}{bld}号楼停电好几个小时了，家里有病人要用制氧机"),
        ("咨询", "{community}停电了，没看到停电通知，什么时候来电"),
        ("投诉", "{community}又停电了，这个月已经第三次了"),
    ), False),
    ("停暖", "供暖", "停暖", (
        ("投诉", "{community}暖气突然停了，屋里只有{temp}度"),
        ("求助", "{community}锅炉房出故障停暖了，家里老人孩子冻得受不了"),
        ("投诉", "{community}{bld}号楼暖气片冰凉，供热公司电话打不通"),
        ("咨询", "{community}停暖了，什么时候能恢复供暖"),
    ), True),
    ("欠薪", "劳动和社会保障", "欠薪", (
        ("投诉", "{company}拖欠我们{months}个月工资，几十个工友都没拿到钱"),
        ("求助", "在{company}干活，老板突然联系不上了，工资{money}元没着落"),
        ("投诉", "{company}欠薪，找了项目经理好几次都说没钱"),
        ("求助", "{company}的工人工资被拖欠，快过年了回不了家"),
        ("咨询", "{company}一直拖欠工资，我们应该去哪里讨薪"),
    ), False),
    ("燃气", "公共服务", "燃气", (
        ("求助", "{community}楼道里燃气味很浓，担心有危险"),
        ("投诉", "{community}停气了，燃气公司说是抢修管道，做不了饭"),
        ("咨询", "{community}停气到什么时候，有没有通知"),
    ), False),
    ("电梯", "住房", "电梯停运", (
        ("投诉", "{community}好几部电梯同时停运，高层老人下不了楼"),
        ("求助", "{community}{bld}号楼电梯坏了，家里老人要去医院透析"),
        ("投诉", "{community}电梯停了{dur2}了，物业说没钱修"),
    ), False),
    ("施工扰民", "城乡建设", "夜间施工", (
        ("投诉", "{community}旁边工地连续几晚通宵施工，根本没法睡觉"),
        ("举报", "{community}附近工地夜间违规施工，还有渣土车进出"),
        ("投诉", "{community}边上的工地半夜打桩，孩子明天还要考试"),
    ), False),
    ("商家跑路", "市场管理", "退费", (
        ("投诉", "{shop}突然关门了，会员卡里还有{money}元"),
        ("投诉", "{shop}跑路了，很多会员都联系不上老板"),
        ("求助", "{shop}关门，预交的{money}元怎么要回来"),
        ("咨询", "{shop}关门了，预付卡退费应该找谁"),
    ), False),
    ("食品安全", "市场管理", "食物中毒", (
        ("投诉", "在{community}附近的{restaurant}吃完饭后上吐下泻，好几个人都这样"),
        ("举报", "{restaurant}食材不新鲜，吃完很多人肚子疼"),
        ("求助", "在{restaurant}吃饭后孩子发烧呕吐，去医院说是食物中毒"),
    ), False),
)

SLOW_SURGE_EXCLUDED = frozenset({"停水", "停电", "燃气"})

# group_petition: (theme, hotline category, petition category, group, issue, demand)
GROUP_THEMES = (
    ("欠薪", "劳动和社会保障", "劳动和社会保障", "农民工", "{company}拖欠工程款和工人工资{money}元", "要求尽快发放工资"),
    ("烂尾楼", "住房", "住房", "购房业主", "{community}项目停工烂尾{dur}，一直交不了房", "要求政府介入尽快复工交房"),
    ("征地补偿", "农业农村", "农业农村", "村民", "{village}村征地补偿款迟迟不到位", "要求落实征地补偿"),
    ("教培退费", "教育", "教育", "学员家长", "{training}突然停课，预交的学费无法退还", "要求退还学费"),
    ("理财爆雷", "市场管理", "市场管理", "投资人", "{finance}理财产品到期无法兑付", "要求追回资金"),
    ("物业撤场", "住房", "住房", "业主", "{community}物业撤场后小区无人管理，水电面临停供", "要求尽快解决物业问题"),
)
GROUP_PRE = (
    "{issue}，我们{group}准备明天一起去信访办反映",
    "{issue}，大家商量着要集体上访",
    "{issue}，群里好多人说要去区政府拉横幅",
    "{issue}，找了好多次都没用，我们{group}打算一起去讨说法",
    "想问一下集体去信访办反映{kw}问题需要走什么程序，{issue}",
)
GROUP_POST = (
    "今天我们{group}去了信访办，到现在还没有人出来答复，{issue}",
    "{issue}，今天好多人在信访办门口等着，希望尽快给个说法",
)
GROUP_MAIN = (
    "{people}名{group}到信访接待场所集体上访，反映{issue}，{demand}。现场情绪激动，有人拉横幅。",
    "{name}等{people}名{group}集体来访，反映{issue}，{demand}。",
    "{people}名{group}集体上访，反映{issue}，多次反映未果，{demand}，部分人员情绪激动。",
    "{name}等{people}人集体来访：{issue}，{demand}，表示如得不到解决将继续上访。",
)

# slow_buildup: (theme, hotline category, petition category, kw, early sentences, late sentences)
BUILDUP_THEMES = (
    ("烂尾楼", "住房", "住房", "烂尾楼",
     ("{community}的房子一直没有复工，开发商说资金困难", "{community}项目停工了，交房日期一拖再拖",
      "想问一下{community}项目什么时候能复工"),
     ("{community}项目烂尾，我们交了首付还在还贷款，房子却遥遥无期", "{community}业主都在维权群里，大家准备集体维权",
      "{community}烂尾这么久没人管，业主们商量要去拉横幅")),
    ("退费", "市场管理", "市场管理", "退费",
     ("{shop}最近经常不开门，会员卡还有{money}元", "{shop}说要装修暂停营业，不知道还能不能退费"),
     ("{shop}彻底关门了，几百个会员的钱都退不了", "{shop}老板失联，会员们建了维权群，准备一起去讨说法")),
    ("教培跑路", "教育", "教育", "学费",
     ("{training}好几节课都取消了，老师也走了", "{training}说在调整课程，预交的{money}元学费不知道怎么办"),
     ("{training}彻底跑路了，几百个家长的学费退不了", "{training}卷款跑路，家长们准备集体去区里反映")),
    ("物业撤场", "住房", "住房", "物业撤场",
     ("{community}物业贴通知说要撤场", "{community}垃圾没人清运了，物业说合同到期"),
     ("{community}物业撤场后没人管，电梯停了，垃圾堆成山", "{community}业主们很气愤，准备一起去街道讨说法")),
    ("长租公寓", "住房", "住房", "长租公寓",
     ("{apartment}的房东说没收到租金", "{apartment}一直联系不上，租金已经交了一年"),
     ("{apartment}爆雷，房东要把我们赶出去，租金都交给公司了", "好多{apartment}的租客被房东断水断电，大家准备集体维权")),
    ("欠薪", "劳动和社会保障", "劳动和社会保障", "欠薪",
     ("{company}这个月工资又没按时发", "{company}说资金紧张，工资要延后发"),
     ("{company}已经拖欠工资{months}个月了，几十个工人都没拿到钱", "{company}欠薪，工友们商量着要一起去讨薪")),
    ("拆迁补偿", "城乡建设", "城乡建设", "拆迁补偿",
     ("{village}村拆迁补偿标准一直没有公布", "{village}村拆迁评估结果和大家预期差距很大"),
     ("{village}村拆迁补偿太低，村民们意见很大", "{village}村的村民准备一起去区政府反映拆迁补偿问题")),
)

# sentiment_turn: (theme, hotline category, sentences) — the street's shared grievance, in plain
# words (no term of the risk lexicon: the anger is in the wording around it, ANGRY_UNLEXICAL)
TURN_THEMES = (
    ("物业", "住房", ("{community}物业什么都不管，还天天催着交物业费", "{community}物业把我们当傻子，问题拖着不解决",
                    "{community}物业乱收费，反映了多少次都没用")),
    ("供水", "公共服务", ("{community}三天两头没水，自来水公司每次都说在修", "{community}水质这么差，到底谁来负责")),
    ("施工", "城乡建设", ("{community}旁边的工地天天吵，反映了也没人来看", "{community}附近修路把路都挖烂了，一直没人管")),
    ("停车", "交通管理", ("{community}门口停车收费说涨就涨", "{community}周边天天贴条，根本没地方停车")),
    ("学校", "教育", ("孩子学校随意调整课后服务收费，家长意见很大", "学校划片一改再改，家长根本没法安排")),
)

# multi_source: (theme, hotline cat, petition cat, hotline sentences, petition sentences, ps (type, sentence))
MULTI_THEMES = (
    ("工地讨薪", "劳动和社会保障", "劳动和社会保障",
     ("{site}有几十名工人聚集讨薪，堵住了工地大门", "{site}的工人们拉着横幅讨要工资", "{site}拖欠工资，工人们在门口聚集"),
     ("{company}拖欠{site}农民工工资{money}元，工人多次讨要未果",),
     (("聚集", "{site}有{people}余名工人聚集讨薪"), ("纠纷", "{site}工人与项目方因工钱问题发生冲突"))),
    ("业主维权", "住房", "住房",
     ("{community}的业主在小区门口拉横幅维权，把路都堵了", "{community}好多业主聚集在售楼处讨说法",
      "{community}业主因为房屋质量问题聚集维权"),
     ("{community}房屋质量问题严重，开发商拒不维修，业主多次反映未果",),
     (("聚集", "{community}门口有{people}余名业主聚集"), ("纠纷", "{community}业主与开发商工作人员发生冲突"))),
    ("商户清退", "市场管理", "市场管理",
     ("{market}突然通知商户限期搬离，商户们聚集讨说法", "{market}的商户和管理方吵起来了，很多人围着"),
     ("{market}管理方单方面解除租约，商户损失得不到补偿",),
     (("聚集", "{market}有{people}余名商户聚集"), ("纠纷", "{market}商户与管理方人员发生纠纷"))),
    ("拆迁冲突", "城乡建设", "城乡建设",
     ("{village}村拆迁现场村民和拆迁人员发生冲突", "{village}村有人阻止拆迁，场面很乱"),
     ("{village}村拆迁中房屋被强拆，补偿不到位",),
     (("斗殴", "{village}村拆迁现场发生推搡，有人受伤"), ("聚集", "{village}村有{people}余名村民聚集"))),
)

# extreme_threat: sentences with an extreme term
EXTREME = (
    ("劳动和社会保障", "{company}欠了我{money}元工资，拖了{months}个月，再不给钱我就从楼顶跳下去"),
    ("城乡建设", "拆迁补偿一直不给落实，逼急了我就去区政府门口自焚"),
    ("住房", "物业和开发商欺人太甚，大不了跟他们同归于尽"),
    ("劳动和社会保障", "我已经走投无路了，老板再不给钱我就喝农药死在他们公司门口"),
    ("劳动和社会保障", "老板再不给钱，我就带着汽油去公司，跟他同归于尽"),
    ("住房", "我现在就在{community}楼顶上，今天不给个说法我就跳楼"),
    ("市场管理", "被{finance}骗光了所有积蓄，活着也没意思了，我准备去跳楼"),
    ("农业农村", "{village}村把我家地占了不给钱，再不解决我就在村委会门口点火自焚"),
)
EXTREME_FOLLOW = (
    "我家人刚才打电话说要跳楼，情绪很不稳定，请赶紧帮帮忙",
    "刚才那个说要同归于尽的是我丈夫，他现在联系不上了，我很害怕",
    "我弟弟因为{kw}的事说要自焚，已经找不到人了，请赶快处理",
)


# grid members' reports that go with the incidents (issue type, sentence); grid_text adds the
# opening, the action taken and the sign-off
GRID_GROUP_PRE = (
    "{issue}，部分{group}在微信群里商量近期到信访办集体反映",
    "{issue}，有{group}串联组织，准备到区政府集体讨说法",
    "{group}近日多次在{community}门口聚集议论，{issue}，有人提议一起去上访",
    "{issue}，{group}中有人号召集体上访、拉横幅",
)
GRID_MULTI = {
    "工地讨薪": (("群体性苗头", "{site}门口有工人聚集讨薪，情绪激动"), ("矛盾纠纷", "{site}工人与项目方因工钱问题发生争执")),
    "业主维权": (("群体性苗头", "{community}业主在小区门口聚集，拉横幅维权"), ("矛盾纠纷", "{community}业主与开发商工作人员发生争执")),
    "商户清退": (("群体性苗头", "{market}商户因限期搬离聚集讨说法"), ("矛盾纠纷", "{market}商户与管理方人员发生纠纷")),
    "拆迁冲突": (("群体性苗头", "{village}村村民在拆迁现场聚集，阻止施工"), ("矛盾纠纷", "{village}村村民与拆迁人员发生推搡")),
}
GRID_BUILDUP = {
    "烂尾楼": "{community}项目停工已久，业主建立维权群，群内情绪较大，有人提议集体维权",
    "退费": "{shop}关门后会员多次到门店讨说法，有人组织一起去区里反映",
    "教培跑路": "{training}停课后家长多次到门店讨要学费，部分家长准备集体去区里反映",
    "物业撤场": "{community}物业撤场后垃圾无人清运，业主意见很大，有人组织到街道讨说法",
    "长租公寓": "{apartment}多名租客被房东要求搬离，租客准备集体维权",
    "欠薪": "{company}拖欠工资，工人多次讨要未果，商议一起去讨薪",
    "拆迁补偿": "{village}村村民对拆迁补偿标准意见较大，有人串联准备到区政府反映",
}
GRID_THREAT_VISIT = (
    "接社区通知后上门走访，当事人因{kw}问题情绪激动，曾扬言要{term}，已会同家属和社区民警做好稳控",
    "走访发现当事人近期因{kw}问题多次扬言要{term}，情绪不稳定，已联系家属陪护",
)
_THREAT_TERMS = ("跳楼", "自焚", "同归于尽", "喝农药")
_THREAT_KW = {"劳动和社会保障": "欠薪", "城乡建设": "拆迁补偿", "住房": "住房纠纷", "市场管理": "投资被骗",
              "农业农村": "土地补偿"}


# --------------------------------------------------------------------------- builder
class Planner:
    def __init__(self, region_code: str, scale: float, start: int, end: int, warmup_s: int,
                 per_week: float, rnd: random.Random) -> None:
        self.pl = T.places(region_code)
        self.rates = Rates(region_code, scale)
        self.n_streets = len(self.pl.codes)
        self.start, self.end, self.warmup = start, end, warmup_s
        self.per_week = per_week
        self.rnd = rnd
        self._surge_k: int | None = None  # alternates the surges' shapes

    # -- helpers
    def _ev(self, source: str, ts: float, i: int, **fields) -> dict:
        ev = {"source": source, "_ts": int(ts), "_street": i}
        ev.update(T.place_fields(self.pl, i, source, self.rnd, incident=True))
        ev.update((k, v) for k, v in fields.items() if v is not None)
        return ev

    def _hotline(self, ts: float, i: int, category: str, typ: str, sentence: str, keyword: str | None,
                 slots: dict, mood: int = 0) -> dict:
        title, content, caller = T.hotline_text(self.pl, i, category, typ, self.rnd, mood=mood,
                                                sentence=sentence, keyword=keyword, **slots)
        return self._ev("hotline", ts, i, type=typ, category=category, title=title, content=content, caller=caller)

    def _petition(self, ts: float, i: int, category: str, form: str, people: int, sentence: str,
                  slots: dict, repeat: bool | None = False, whole: bool = False) -> dict:
        content, pet = T.petition_text(self.pl, i, category, form, people, repeat, self.rnd,
                                       sentence=sentence, whole=whole, **slots)
        return self._ev("petition", ts, i, form=form, people_count=people, is_repeat=repeat,
                        category=category, content=content, petitioner=pet)

    def _ps(self, ts: float, i: int, event_type: str, severity: int, sentence: str, slots: dict,
            people: int | None = None) -> dict:
        desc, n = T.ps_text(self.pl, i, event_type, severity, self.rnd, sentence=sentence, **slots)
        return self._ev("public_safety", ts, i, event_type=event_type, severity=severity,
                        people_count=n if people is None else people, description=desc)

    def _grid(self, ts: float, i: int, issue_type: str, urgency: int, sentence: str, slots: dict,
              people: int | None = None) -> dict:
        cat, content, reporter, grid_id, n = T.grid_text(self.pl, i, issue_type, urgency, self.rnd, sentence=sentence,
                                                         people_count=people, **slots)
        return self._ev("grid", ts, i, grid_id=grid_id, issue_type=issue_type, category=cat, people_count=n,
                        urgency=urgency, content=content, reporter=reporter)

    def _slots(self, i: int) -> dict:
        r = self.rnd
        out = {kind: r.choice(T.ORG_A) + r.choice(sufs) for kind, sufs in T.ORG_KINDS.items()}
        return out | {
            "community": r.choice(self.pl.communities[i]),
            "village": r.choice(self.pl.villages[i]),
            "restaurant": r.choice(T.ORG_A) + r.choice(("餐厅", "快餐店", "食堂", "烧烤店")),
            "site": r.choice(self.pl.communities[i]) + r.choice(("二期项目工地", "改造项目工地", "配套工程工地")),
            "market": r.choice(T.ORG_A) + r.choice(("农贸市场", "批发市场", "商城", "建材市场")),
        }

    def _triangular(self, t0: float, tp: float, t1: float) -> float:
        return self.rnd.triangular(t0, t1, tp)

    def _onset(self, duration: float, hour_lo: int = 0, hour_hi: int = 24) -> int:
        lo = self.start + self.warmup
        if lo + duration > self.end:  # short runs: fit what can be fitted
            lo = max(self.start, self.end - duration) if self.end - self.start > duration else self.start
            duration = min(duration, 0.5 * (self.end - lo))
        hi = max(lo + 1, self.end - duration)
        for _ in range(50):
            t = lo + self.rnd.random() * (hi - lo)
            h = datetime.fromtimestamp(t, BEIJING).hour
            if hour_lo <= h < hour_hi:
                return int(t)
        return int(lo + self.rnd.random() * (hi - lo))

    # -- kinds
    def category_surge(self, iid: str, i: int) -> Incident:
        r = self.rnd
        d0 = local_date(self.start + self.warmup)
        heating = P.in_heating_season(d0) or P.in_heating_season(local_date(self.end - 1))
        themes = [t for t in SURGE_THEMES if heating or not t[4]]
        # shapes alternate from a random first one: half of a run's surges are slow
        if self._surge_k is None:
            self._surge_k = r.randrange(2)
        self._surge_k += 1
        if self._surge_k % 2 == 0:
            return self._slow_surge(iid, i, [t for t in themes if t[0] not in SLOW_SURGE_EXCLUDED])
        theme, cat, kw, sents, _ = r.choice(themes)
        dur = r.uniform(3, 10) * HOUR
        t0 = self._onset(dur, 6, 20)
        t1 = int(min(t0 + dur, self.end - 1))
        tp = int(t0 + (t1 - t0) * r.uniform(0.3, 0.6))
        share = self.rates.hotline_category_share(i, cat, local_date(t0))
        base = self.rates.window("hotline", i, t0, t1) * share
        mult = r.uniform(5, 20)
        n = int(min(300, max(r.randint(10, 20), round((mult - 1) * base))))
        slots = self._slots(i)
        inc = Incident(iid, "category_surge", i, t0, tp, t1, theme)
        for _ in range(n):
            typ, s = r.choice(sents)
            sl = dict(slots, bld=str(r.randint(1, 20)), dur2=r.choice(("两天", "三天", "一周")))
            mood = 1 if r.random() < 0.15 else 0
            inc.events.append(self._hotline(self._triangular(t0, tp, t1), i, cat, typ, s, kw, sl, mood))
        inc.detail = {"category": cat, "multiplier": round(mult, 1), "baseline": round(base, 2), "shape": "fast"}
        return inc

    def _slow_surge(self, iid: str, i: int, themes: list) -> Incident:
        """The category's rate ramps linearly from 1× to ``mult``× over ``ramp`` hours, then back
        over ``decay`` hours; extra calls hour by hour (Poisson), shaped by the street's hour-of-day
        profile. Early calls ask, later ones complain."""
        r = self.rnd
        theme, cat, kw, sents, _ = r.choice(themes)
        ramp, decay = r.uniform(12, 36) * HOUR, r.uniform(6, 24) * HOUR
        avail = self.end - self.start - self.warmup
        if ramp + decay > 0.8 * avail > 0:  # short runs: shrink to fit
            f = 0.8 * avail / (ramp + decay)
            ramp, decay = ramp * f, decay * f
        t0 = self._onset(ramp + decay, 6, 22)
        tp = int(min(t0 + ramp, self.end - 1))
        t1 = int(min(tp + decay, self.end - 1))
        mult = r.uniform(2.5, 6)
        share = self.rates.hotline_category_share(i, cat, local_date(t0))
        hours: list[tuple[float, float, float]] = []  # (a, b, expected extra calls)
        t = t0 - t0 % HOUR
        while t < t1:
            a, b = max(t, t0), min(t + HOUR, t1)
            mid = 0.5 * (a + b)
            u = (mid - t0) / max(1.0, tp - t0) if mid <= tp else 1.0 - (mid - tp) / max(1.0, t1 - tp)
            base_h = self.rates.hourly("hotline", i, a) * share * (b - a) / HOUR
            hours.append((a, b, (mult - 1) * max(0.0, u) * base_h))
            t += HOUR
        base = self.rates.window("hotline", i, t0, t1) * share
        expected = sum(x[2] for x in hours)
        floor = r.randint(10, 16)
        k = floor / expected if 0 < expected < floor else 1.0
        slots = self._slots(i)
        inc = Incident(iid, "category_surge", i, t0, tp, t1, theme)
        gen = np.random.default_rng(r.getrandbits(64))
        asks = [x for x in sents if x[0] in ("咨询", "求助")] or list(sents)
        for a, b, lam in hours:
            late = (a - t0) / max(1.0, tp - t0) > 0.5
            for _ in range(int(gen.poisson(k * lam))):
                typ, s = r.choice(sents) if late or r.random() < 0.5 else r.choice(asks)
                sl = dict(slots, bld=str(r.randint(1, 20)), dur2=r.choice(("两天", "三天", "一周")))
                mood = 1 if late and r.random() < 0.12 else 0
                inc.events.append(self._hotline(a + r.random() * (b - a), i, cat, typ, s, kw, sl, mood))
        inc.events = [e for e in inc.events if self.start <= e["_ts"] < self.end]
        inc.detail = {"category": cat, "multiplier": round(mult, 1), "baseline": round(base, 2), "shape": "slow",
                      "ramp_hours": round((tp - t0) / HOUR, 1), "decay_hours": round((t1 - tp) / HOUR, 1),
                      "peak_multiplier": round(1 + (mult - 1) * k, 1)}
        return inc

    def group_petition(self, iid: str, i: int) -> Incident:
        r = self.rnd
        theme, hcat, pcat, group, issue_t, demand = r.choice(GROUP_THEMES)
        # the visit happens on a working day during office hours
        tp = None
        for _ in range(100):
            t = self._onset(12 * HOUR, 9, 11)
            if not P.is_rest_day(local_date(t)):
                tp = t
                break
        if tp is None:
            tp = self._onset(12 * HOUR, 9, 11)
        slots = self._slots(i)
        sl = Slots_(self.pl, i, r, slots)
        issue = T.fill(issue_t, sl)
        people = min(300, 5 + int(math.exp(r.gauss(1.6, 0.9))))
        base = {**slots, "issue": issue, "group": group, "demand": demand, "kw": theme, "people": str(people)}
        inc = Incident(iid, "group_petition", i, tp, tp, tp, theme, slots=base)
        inc.events.append(self._petition(tp, i, pcat, "来访", people, r.choice(GROUP_MAIN), base,
                                         repeat=r.random() < 0.5, whole=True))
        # a second visit the same day now and then
        if r.random() < 0.25:
            n2 = r.randint(5, 12)
            inc.events.append(self._petition(tp + r.randint(1, 4) * HOUR, i, pcat, "来访", n2,
                                             r.choice(GROUP_MAIN), dict(base, people=str(n2)), repeat=True, whole=True))
        for _ in range(r.randint(1, 3)):
            inc.events.append(self._petition(tp - r.uniform(6, 48) * HOUR, i, pcat, "网上", r.choice((1, 1, 2, 3)),
                                             "{issue}，请求领导重视，尽快解决", base, repeat=r.random() < 0.5))
        for _ in range(r.randint(4, 12)):
            t = tp - r.uniform(0.5, 24) * HOUR
            inc.events.append(self._hotline(t, i, hcat, r.choice(("投诉", "投诉", "求助", "咨询")),
                                            r.choice(GROUP_PRE), theme, base, mood=1 if r.random() < 0.4 else 0))
        for _ in range(r.randint(1, 4)):
            t = tp + r.uniform(0.5, 6) * HOUR
            inc.events.append(self._hotline(t, i, hcat, "投诉", r.choice(GROUP_POST), theme, base, mood=1))
        inc.events = [e for e in inc.events if self.start <= e["_ts"] < self.end]
        inc.start = min(e["_ts"] for e in inc.events)
        inc.end = min(self.end - 1, max(max(e["_ts"] for e in inc.events), tp + 2 * HOUR))
        inc.detail = {"people_count": people, "category": pcat}
        return inc

    def slow_buildup(self, iid: str, i: int) -> Incident:
        """Exponential growth from ``first`` to ``last`` calls a day over 3–7 days, shaped by the
        hour-of-day profile; online petitions join in the second half. The peak is the busiest
        hour of the last day."""
        r = self.rnd
        theme, hcat, pcat, kw, early, late = r.choice(BUILDUP_THEMES)
        days = r.randint(3, 7)
        span = self.end - self.start - self.warmup
        days = max(1, min(days, int(span // DAY) - 1)) if span > 2 * DAY else 1
        t0 = self._onset(days * DAY + 12 * HOUR, 7, 12)
        t1 = int(min(t0 + days * DAY, self.end - 1))
        daily = P.expected_daily("hotline", local_date(t0), self.rates.scale) * float(self.rates.prof.share["hotline"][i])
        last = min(150.0, max(15.0, 0.12 * daily)) * r.uniform(0.8, 1.3)
        first = max(1.5, last / r.uniform(8, 15))
        slots = self._slots(i)
        inc = Incident(iid, "slow_buildup", i, t0, t1, t1, theme, slots=slots)
        gen = np.random.default_rng(r.getrandbits(64))
        best = (-1.0, t1)
        t = t0 - t0 % HOUR
        while t < t1:
            a, b = max(t, t0), min(t + HOUR, t1)
            frac = (0.5 * (a + b) - t0) / max(1, t1 - t0)
            hour = datetime.fromtimestamp(a, BEIJING).hour
            lam = first * (last / first) ** frac * float(P.HOTLINE_HOURS_WORK[hour]) * (b - a) / HOUR
            if lam * HOUR / max(1, b - a) >= best[0]:
                best = (lam * HOUR / max(1, b - a), a)
            for _ in range(int(gen.poisson(lam))):
                te = a + r.random() * (b - a)
                is_late = r.random() < frac
                s = r.choice(late if is_late else early)
                typ = r.choice(("投诉", "投诉", "求助")) if is_late else r.choice(("咨询", "投诉", "求助"))
                mood = 1 if is_late and r.random() < 0.5 else 0
                inc.events.append(self._hotline(te, i, hcat, typ, s, kw, slots, mood))
            if frac > 0.4:
                for _ in range(int(gen.poisson(0.08 * lam))):
                    inc.events.append(self._petition(a + r.random() * (b - a), i, pcat, "网上", r.choice((1, 1, 2, 3)),
                                                     r.choice(late), slots, repeat=r.random() < 0.4))
            t += HOUR
        inc.events = [e for e in inc.events if self.start <= e["_ts"] < self.end]
        inc.peak = int(best[1])
        inc.detail = {"days": days, "first_day": round(first, 1), "last_day": round(last, 1), "category": hcat}
        return inc

    def sentiment_turn(self, iid: str, i: int) -> Incident:
        """Over a 48–96 h ramp the street's angry share rises from its normal ``p0`` to ``p_max``;
        it holds 6–24 h and eases back to ``p0`` over 12–24 h. Short runs shrink the phases to fit."""
        r = self.rnd
        theme, cat, sents = r.choice(TURN_THEMES)
        pmax = r.uniform(0.7, 0.9)
        p0 = float(P.angry_baseline(self.rates.region)[i])
        ramp, hold, ease = r.uniform(48, 96) * HOUR, r.uniform(6, 24) * HOUR, r.uniform(12, 24) * HOUR
        avail = self.end - self.start - self.warmup
        if ramp + hold + ease > 0.8 * avail > 0:
            f = 0.8 * avail / (ramp + hold + ease)
            ramp, hold, ease = ramp * f, hold * f, ease * f
        t0 = self._onset(ramp + hold + ease, 6, 14)
        tp = int(min(t0 + ramp, self.end - 1))
        th = int(min(tp + hold, self.end - 1))
        t1 = int(min(th + ease, self.end - 1))
        slots = self._slots(i)
        inc = Incident(iid, "sentiment_turn", i, t0, tp, t1, theme)
        inc.turn = (t0, t1, tp, pmax, cat, sents, slots, p0, th)
        inc.detail = {"p0": round(p0, 3), "p_max": round(pmax, 2), "category": cat,
                      "ramp_hours": round((tp - t0) / HOUR, 1), "hold_hours": round((th - tp) / HOUR, 1),
                      "expected_records": round(self.rates.window("hotline", i, t0, t1), 1)}
        return inc

    def extreme_threat(self, iid: str, i: int) -> Incident:
        r = self.rnd
        cat, sent = r.choice(EXTREME)
        t = self._onset(4 * HOUR, 7, 23)
        slots = self._slots(i)
        inc = Incident(iid, "extreme_threat", i, t, t, min(self.end - 1, t + 2 * HOUR), "极端言论", min_level="orange",
                       slots=dict(slots, kw=cat))
        inc.events.append(self._hotline(t, i, cat, r.choice(("投诉", "求助")), sent, None, slots, mood=1))
        if r.random() < 0.3:
            t2 = t + r.uniform(0.3, 3) * HOUR
            inc.events.append(self._hotline(t2, i, cat, "求助", r.choice(EXTREME_FOLLOW), None,
                                            dict(slots, kw=cat), mood=0))
        inc.events = [e for e in inc.events if self.start <= e["_ts"] < self.end]
        inc.detail = {"category": cat}
        return inc

    def multi_source(self, iid: str, i: int) -> Incident:
        r = self.rnd
        theme, hcat, pcat, hs, ps_, pss = r.choice(MULTI_THEMES)
        dur = r.uniform(4, 12) * HOUR
        t0 = self._onset(dur, 7, 16)
        t1 = int(min(t0 + dur, self.end - 1))
        tp = int(t0 + (t1 - t0) * r.uniform(0.3, 0.6))
        share = self.rates.hotline_category_share(i, hcat, local_date(t0))
        base = self.rates.window("hotline", i, t0, t1) * share
        nh = int(min(120, max(r.randint(8, 14), round(r.uniform(3, 8) * base))))
        slots = self._slots(i)
        inc = Incident(iid, "multi_source", i, t0, tp, t1, theme, slots=slots)
        for _ in range(nh):
            inc.events.append(self._hotline(self._triangular(t0, tp, t1), i, hcat, r.choice(("投诉", "投诉", "求助", "咨询")),
                                            r.choice(hs), theme, slots, mood=1 if r.random() < 0.35 else 0))
        for _ in range(r.randint(2, 4)):
            inc.events.append(self._petition(self._triangular(t0, tp, t1), i, pcat, r.choice(("网上", "电话", "网上")),
                                             r.choice((1, 1, 2, 3)), r.choice(ps_), slots, repeat=r.random() < 0.3))
        for _ in range(r.randint(3, 8)):
            etype, s = r.choice(pss)
            sev = r.choice((2, 2, 3)) if etype != "斗殴" else 3
            people = r.randint(10, 60) if etype == "聚集" else r.randint(2, 8)
            inc.events.append(self._ps(self._triangular(t0, tp, t1), i, etype, sev, s,
                                       dict(slots, people=str(people)), people=people))
        inc.detail = {"category": hcat}
        return inc

    # -- grid members' reports
    def add_grid_reports(self, incidents: list[Incident]) -> None:
        """Add the grid members' reports to the planned incidents, within each incident's labelled
        span (so its label does not change). Give this planner a random stream of its own: the
        incidents' other events then stay exactly what they were without grid reports."""
        for inc in incidents:
            add = getattr(self, f"_grid_{inc.kind}", None)
            if add is None or not inc.events:
                continue
            new = [e for e in add(inc) if inc.start <= e["_ts"] <= inc.end and self.start <= e["_ts"] < self.end]
            inc.events.extend(new)

    @staticmethod
    def _patrol_time(draw: Callable[[], float]) -> float:
        """A time from ``draw()`` in a grid member's working day (07–21 h) if one comes in a few tries."""
        for _ in range(20):
            t = draw()
            if 7 <= datetime.fromtimestamp(t, BEIJING).hour < 21:
                break
        return t

    def _grid_group_petition(self, inc: Incident) -> list[dict]:
        """群体性苗头 in the street from the first sign of the visit until a couple of hours before it."""
        r, i, sl = self.rnd, inc.street, inc.slots
        lo, hi = inc.start, max(inc.start, inc.peak - 2 * HOUR)
        out = []
        for _ in range(r.randint(1, 3)):
            t = self._patrol_time(lambda: r.uniform(lo, hi))
            out.append(self._grid(t, i, "群体性苗头", r.choice((2, 3, 3)), r.choice(GRID_GROUP_PRE), sl,
                                  people=r.randint(5, max(5, int(sl.get("people", "10"))))))
        return out

    def _grid_slow_buildup(self, inc: Incident) -> list[dict]:
        """Late in a build-up: the grid member hears of the organising."""
        r, i = self.rnd, inc.street
        sent = GRID_BUILDUP.get(inc.theme, "{community}居民意见较大，有人组织集体反映")
        t_mid = inc.start + 0.5 * (inc.end - inc.start)
        out = []
        for _ in range(r.randint(1, 3)):
            t = self._patrol_time(lambda: r.uniform(t_mid, inc.end))
            out.append(self._grid(t, i, r.choice(("群体性苗头", "群体性苗头", "矛盾纠纷")), r.choice((2, 2, 3)), sent,
                                  inc.slots))
        return out

    def _grid_multi_source(self, inc: Incident) -> list[dict]:
        """From the scene of the conflict, around its peak."""
        r, i = self.rnd, inc.street
        pool = GRID_MULTI.get(inc.theme, (("群体性苗头", "{community}有群众聚集"),))
        out = []
        for _ in range(r.randint(1, 3)):
            issue, sent = r.choice(pool)
            t = self._patrol_time(lambda: self._triangular(inc.start, inc.peak, inc.end))
            out.append(self._grid(t, i, issue, r.choice((2, 3)), sent, inc.slots))
        return out

    def _grid_extreme_threat(self, inc: Incident) -> list[dict]:
        """Now and then the grid member visits the caller's home soon after the call."""
        r, i = self.rnd, inc.street
        if r.random() >= 0.5:
            return []
        content = inc.events[0].get("content", "")
        term = next((t for t in _THREAT_TERMS if t in content), r.choice(_THREAT_TERMS))
        kw = _THREAT_KW.get(inc.slots.get("kw", ""), "个人诉求")
        return [self._grid(inc.start + r.uniform(0.3, 1.8) * HOUR, i, "重点人员动态", 3, r.choice(GRID_THREAT_VISIT),
                           dict(inc.slots, kw=kw, term=term), people=1)]

    # -- the plan
    def plan(self) -> list[Incident]:
        r = self.rnd
        days = (self.end - self.start) / DAY
        if self.per_week <= 0:
            return []
        n_kind = max(1, round(days / 7 * self.per_week))
        total = n_kind * len(KINDS)
        share = self.rates.prof.share["hotline"]
        w = np.sqrt(share)
        w = w / w.sum()
        # distinct streets where possible (one incident per street keeps labels unambiguous)
        pool: list[int] = []
        gen = np.random.default_rng(r.getrandbits(64))
        while len(pool) < total:
            k = min(self.n_streets, total - len(pool))
            pool.extend(int(x) for x in gen.choice(self.n_streets, size=k, replace=False, p=w))
        out = []
        n = 0
        for kind in KINDS:
            for _ in range(n_kind):
                n += 1
                inc = getattr(self, kind)(f"inc-{n:04d}", pool[n - 1])
                if kind != "sentiment_turn" and not inc.events:
                    continue
                out.append(inc)
        return out


class Slots_(T.Slots):
    """Slots with a pre-filled dict (helper for composing incident sentences)."""

    def __init__(self, pl: T.Places, i: int, rnd: random.Random, fixed: dict) -> None:
        super().__init__(pl, i, rnd, **fixed)


def label(inc: Incident, pl: T.Places) -> dict:
    """The DESIGN.md label of an incident (extra keys are informative only)."""
    from warning.core.timeutil import iso

    out = {"street_code": pl.codes[inc.street], "start": iso(inc.start), "end": iso(inc.end),
           "peak": iso(inc.peak), "kind": inc.kind}
    if inc.min_level:
        out["min_level"] = inc.min_level
    out["id"] = inc.id
    out["street_name"] = pl.names[inc.street]
    out["district"] = pl.district_names[inc.street]
    out["theme"] = inc.theme
    detail = getattr(inc, "detail", None)
    if detail:
        out["detail"] = detail
    return out


def turned_text(pl: T.Places, i: int, rnd: random.Random, turn: tuple, category: str,
                typ: str) -> tuple[str, str, str | None, str, dict | None]:
    """Rewrite of one background hotline record during a sentiment turn: (category, type, title,
    content, caller).

    The category never changes (the category mix and volume stay as they were) and the topic is
    the record's own kind of topic; a third of the records in the theme's category speak of the
    street's shared grievance. The anger is in words outside the risk lexicon
    (:data:`warning.sim.texts.ANGRY_UNLEXICAL`); half of the 咨询/建议 become 投诉.
    """
    cat, sents, slots = turn[4], turn[5], turn[6]
    if typ in ("咨询", "建议") and rnd.random() < 0.5:
        typ = "投诉"
    if category == cat and rnd.random() < 1 / 3:
        title, content, caller = T.hotline_text(pl, i, cat, "投诉", rnd, sentence=rnd.choice(sents), keyword=None,
                                                angry=True, **slots)
        return cat, "投诉", title, content, caller
    title, content, caller = T.hotline_text(pl, i, category, typ, rnd, angry=True)
    return category, typ, title, content, caller


def turn_share(turn: tuple, ts: np.ndarray) -> np.ndarray:
    """The street's share of angry hotline records at times ``ts`` during a turn: ``p0`` at the
    onset, rising along a smoothstep to ``p_max`` at the peak, held until ``t_hold``, then back
    linearly to ``p0`` at the end; ``p0`` outside the turn."""
    t0, t1, tp, pmax = turn[:4]
    p0, th = turn[7], turn[8]
    ts = ts.astype(float)
    u = np.clip((ts - t0) / max(1.0, tp - t0), 0.0, 1.0)
    up = u * u * (3.0 - 2.0 * u)
    down = 1.0 - np.clip((ts - th) / max(1.0, t1 - th), 0.0, 1.0)
    level = np.where(ts <= tp, up, np.where(ts <= th, 1.0, down))
    p = p0 + (pmax - p0) * level
    return np.where((ts >= t0) & (ts <= t1), p, p0)


def turn_probability(turn: tuple, ts: np.ndarray) -> np.ndarray:
    """Probability that a record at ``ts`` that is not angry already gets turned, so that the angry
    share is :func:`turn_share` (the background's own angry records count towards it)."""
    p0 = turn[7]
    return np.clip((turn_share(turn, ts) - p0) / (1.0 - p0), 0.0, 1.0)
