"""Volumes and rate profiles of the simulated feeds.

Everything here is a pure function of the calendar (and of the street registry), so the same
date always has the same expected volume. Random draws happen in :mod:`warning.sim.generator`.

Volumes at ``--scale 1`` (annual averages per day; a single day varies with weekday, season and
holidays around these numbers):

=============  =========  ==========================================================================
feed           per day    basis
=============  =========  ==========================================================================
hotline        66,000     Beijing 12345 took ≈24 million requests in 2024 (≈21.4 M in 2023):
                          24e6 / 365 ≈ 65,800 a day.
petition        3,000     Assumption: 信访 (letters, visits, online, phone) reaching Beijing's
                          city/district/street bodies, "a few thousand a day"; online 信访 is
                          the largest form. About 5 % of the hotline volume.
public_safety  15,000     Assumption: recorded 110 警情 / 治安事件 after filtering non-police
                          calls — the middle of the 10–20 k/day range for a city of 21.8 M.
grid            8,000     Assumption: ≈23 grid-member reports (网格员上报) per street a day (343
                          streets). Beijing's grid system found 6.96 M issues in 2020 (≈19,000 a
                          day; 北京市城市管理委员会, 《关于推进"十四五"时期首都网格化城市管理发展的
                          实践与思考》, 2021: 3.9万 grids, 13,792 grid members); most of those are
                          city-management cases (manhole covers, litter) dispatched straight to the
                          owners. We take the social-governance part that reaches this pipeline
                          (disputes, hazards, 群体性苗头, watched persons, plus environment and order
                          reports) as ≈8,000 — the 10–40 per street a day of district practice.
=============  =========  ==========================================================================

Weekday factors average to 1 over a week and monthly factors to ≈1 over a year, so a 30-day
month at scale 1 holds ≈ 30 × 92,000 ≈ 2.75 M records.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

FEEDS = ("hotline", "petition", "public_safety", "grid")
#: The first three feeds draw from the simulator's original random streams (and street-weight
#: columns), in this order, so their output stays what it was; every feed added after them gets
#: streams of its own keyed by its name, so adding a feed never moves the others.
ORIGINAL_FEEDS = ("hotline", "petition", "public_safety")

DAILY_VOLUME = {"hotline": 66_000.0, "petition": 3_000.0, "public_safety": 15_000.0, "grid": 8_000.0}

# --------------------------------------------------------------------------- categories
HOTLINE_TYPES = ("咨询", "求助", "投诉", "举报", "建议")

# Beijing 12345's top categories (2020 list, with 疫情防控 now marginal) plus 供暖, whose share
# follows the heating season (see :func:`heating_share`). Weights are shares of the non-heating
# volume.
HOTLINE_CATEGORIES = (
    "市场管理", "住房", "公共服务", "城乡建设", "交通管理", "劳动和社会保障", "医疗卫生", "教育",
    "社会秩序", "环境保护", "民政", "农业农村", "政务服务", "疫情防控", "供暖",
)
_HOTLINE_MIX = np.array(
    [0.145, 0.125, 0.115, 0.105, 0.09, 0.075, 0.07, 0.06, 0.055, 0.05, 0.035, 0.02, 0.05, 0.005, 0.0]
)
HEATING = HOTLINE_CATEGORIES.index("供暖")
LABOUR = HOTLINE_CATEGORIES.index("劳动和社会保障")
FARM = HOTLINE_CATEGORIES.index("农业农村")
URBAN = HOTLINE_CATEGORIES.index("城乡建设")

# P(type | category): rows follow HOTLINE_CATEGORIES, columns HOTLINE_TYPES.
_TYPE_DEFAULT = (0.34, 0.14, 0.38, 0.08, 0.06)
_TYPE_BY_CATEGORY = {
    "市场管理": (0.25, 0.10, 0.50, 0.12, 0.03),
    "住房": (0.28, 0.17, 0.45, 0.06, 0.04),
    "公共服务": (0.38, 0.24, 0.30, 0.03, 0.05),
    "城乡建设": (0.22, 0.10, 0.45, 0.15, 0.08),
    "交通管理": (0.30, 0.08, 0.38, 0.12, 0.12),
    "劳动和社会保障": (0.45, 0.20, 0.27, 0.06, 0.02),
    "医疗卫生": (0.50, 0.10, 0.28, 0.06, 0.06),
    "教育": (0.50, 0.08, 0.28, 0.06, 0.08),
    "社会秩序": (0.12, 0.15, 0.50, 0.20, 0.03),
    "环境保护": (0.12, 0.06, 0.55, 0.22, 0.05),
    "民政": (0.62, 0.20, 0.10, 0.02, 0.06),
    "农业农村": (0.35, 0.15, 0.30, 0.15, 0.05),
    "政务服务": (0.70, 0.08, 0.14, 0.01, 0.07),
    "疫情防控": (0.80, 0.10, 0.05, 0.02, 0.03),
    "供暖": (0.25, 0.25, 0.46, 0.02, 0.02),
}
HOTLINE_TYPE_CUM = np.cumsum(
    np.array([_TYPE_BY_CATEGORY.get(c, _TYPE_DEFAULT) for c in HOTLINE_CATEGORIES]), axis=1
)
HOTLINE_TYPE_CUM /= HOTLINE_TYPE_CUM[:, -1:]

PETITION_FORMS = ("来信", "来访", "网上", "电话")
PETITION_CATEGORIES = (
    "城乡建设", "劳动和社会保障", "住房", "涉法涉诉", "农业农村", "民政", "政法", "纪检监察",
    "环境保护", "教育", "医疗卫生", "市场管理",
)
_PETITION_MIX = np.array([0.19, 0.15, 0.17, 0.10, 0.07, 0.06, 0.06, 0.05, 0.05, 0.04, 0.03, 0.03])
PETITION_LABOUR = PETITION_CATEGORIES.index("劳动和社会保障")
PETITION_FARM = PETITION_CATEGORIES.index("农业农村")

# 110 / 治安: event types, their share, severity distribution (1..4) and hour profile kind.
PS_TYPES = (
    "纠纷", "交通事故", "盗窃", "噪音扰民", "诈骗", "求助", "可疑情况", "斗殴", "火情", "醉酒滋事",
    "人员走失", "损坏财物",
)
_PS_MIX = np.array([0.24, 0.15, 0.11, 0.10, 0.08, 0.10, 0.05, 0.04, 0.035, 0.03, 0.025, 0.03])
_PS_SEVERITY = {
    "纠纷": (0.70, 0.27, 0.03, 0.0),
    "交通事故": (0.55, 0.35, 0.098, 0.002),
    "盗窃": (0.55, 0.40, 0.05, 0.0),
    "噪音扰民": (0.95, 0.05, 0.0, 0.0),
    "诈骗": (0.30, 0.56, 0.139, 0.001),
    "求助": (0.80, 0.17, 0.03, 0.0),
    "可疑情况": (0.75, 0.23, 0.02, 0.0),
    "斗殴": (0.10, 0.57, 0.326, 0.004),
    "火情": (0.45, 0.37, 0.175, 0.005),
    "醉酒滋事": (0.55, 0.40, 0.05, 0.0),
    "人员走失": (0.40, 0.50, 0.10, 0.0),
    "损坏财物": (0.70, 0.28, 0.02, 0.0),
}
PS_SEVERITY_CUM = np.cumsum(np.array([_PS_SEVERITY[t] for t in PS_TYPES]), axis=1)
PS_SEVERITY_CUM /= PS_SEVERITY_CUM[:, -1:]

# 网格员上报: issue types (DESIGN.md lists the first six; 市容秩序 and 民生诉求 are the other two
# common ones), their share (assumption: environment and hazards dominate a patrol's day; a
# 群体性苗头 is rare) and P(urgency 1..3 | issue type).
GRID_ISSUE_TYPES = ("环境卫生", "安全隐患", "矛盾纠纷", "市容秩序", "违法建设", "民生诉求", "重点人员动态", "群体性苗头")
_GRID_MIX = np.array([0.27, 0.20, 0.14, 0.14, 0.06, 0.12, 0.065, 0.005])
_GRID_URGENCY = {
    "环境卫生": (0.85, 0.14, 0.01), "安全隐患": (0.45, 0.45, 0.10), "矛盾纠纷": (0.50, 0.42, 0.08),
    "市容秩序": (0.85, 0.14, 0.01), "违法建设": (0.55, 0.40, 0.05), "民生诉求": (0.70, 0.28, 0.02),
    "重点人员动态": (0.60, 0.32, 0.08), "群体性苗头": (0.10, 0.55, 0.35),
}
GRID_URGENCY_CUM = np.cumsum(np.array([_GRID_URGENCY[t] for t in GRID_ISSUE_TYPES]), axis=1)
GRID_URGENCY_CUM /= GRID_URGENCY_CUM[:, -1:]

# --------------------------------------------------------------------------- hours of the day
def _norm(a: list[float]) -> np.ndarray:
    x = np.asarray(a, dtype=float)
    return x / x.sum()


# Hour-of-day shapes (index = local hour 0..23), normalised to sum 1.
HOTLINE_HOURS_WORK = _norm([0.25, 0.15, 0.10, 0.08, 0.08, 0.12, 0.30, 0.75, 1.35, 1.85, 1.95, 1.75,
                            1.20, 1.30, 1.65, 1.65, 1.55, 1.35, 1.05, 0.95, 0.85, 0.70, 0.50, 0.35])
HOTLINE_HOURS_REST = _norm([0.35, 0.22, 0.14, 0.10, 0.09, 0.11, 0.22, 0.50, 0.95, 1.40, 1.65, 1.60,
                            1.30, 1.30, 1.45, 1.45, 1.40, 1.25, 1.05, 1.00, 0.95, 0.80, 0.62, 0.45])
# Online petitions: daytime and evening; visits/letters/phone: office hours only.
PET_HOURS_ONLINE = _norm([0.20, 0.10, 0.06, 0.05, 0.05, 0.08, 0.25, 0.60, 1.10, 1.50, 1.60, 1.40,
                          1.10, 1.20, 1.40, 1.40, 1.30, 1.10, 0.95, 1.00, 1.05, 0.95, 0.70, 0.40])
PET_HOURS_OFFICE = _norm([0, 0, 0, 0, 0, 0, 0, 0, 0.6, 1.6, 1.7, 1.3, 0.4, 0.9, 1.5, 1.5, 1.2, 0.3,
                          0, 0, 0, 0, 0, 0])
# Public safety: most types peak in the evening; traffic at rush hours; theft early morning/day.
PS_HOURS_EVENING = _norm([0.90, 0.70, 0.50, 0.35, 0.25, 0.25, 0.35, 0.55, 0.75, 0.85, 0.90, 0.95,
                          1.00, 1.00, 1.00, 1.05, 1.10, 1.20, 1.40, 1.55, 1.60, 1.55, 1.35, 1.10])
PS_HOURS_TRAFFIC = _norm([0.35, 0.25, 0.20, 0.15, 0.15, 0.30, 0.70, 1.60, 1.90, 1.40, 1.00, 1.00,
                          1.05, 1.00, 1.05, 1.15, 1.40, 1.85, 1.90, 1.30, 0.90, 0.70, 0.55, 0.45])
PS_HOURS_NIGHT = _norm([1.70, 1.70, 1.40, 1.00, 0.60, 0.30, 0.25, 0.30, 0.40, 0.45, 0.45, 0.45,
                        0.50, 0.50, 0.50, 0.55, 0.60, 0.75, 1.00, 1.30, 1.60, 1.90, 2.10, 2.00])
PS_HOURS_DAY = _norm([0.30, 0.20, 0.15, 0.12, 0.12, 0.20, 0.45, 0.85, 1.20, 1.40, 1.50, 1.45,
                      1.30, 1.35, 1.45, 1.45, 1.40, 1.30, 1.20, 1.05, 0.90, 0.75, 0.55, 0.40])
_PS_HOUR_KIND = {
    "纠纷": PS_HOURS_EVENING, "交通事故": PS_HOURS_TRAFFIC, "盗窃": PS_HOURS_DAY,
    "噪音扰民": PS_HOURS_NIGHT, "诈骗": PS_HOURS_DAY, "求助": PS_HOURS_EVENING,
    "可疑情况": PS_HOURS_EVENING, "斗殴": PS_HOURS_NIGHT, "火情": PS_HOURS_EVENING,
    "醉酒滋事": PS_HOURS_NIGHT, "人员走失": PS_HOURS_DAY, "损坏财物": PS_HOURS_EVENING,
}
PS_HOURS_BY_TYPE = np.array([_PS_HOUR_KIND[t] for t in PS_TYPES])
# Grid members patrol in office hours (a morning and an afternoon round), a few evening rounds.
GRID_HOURS_WORK = _norm([0.05, 0.03, 0.02, 0.02, 0.03, 0.05, 0.15, 0.60, 1.60, 2.20, 2.20, 1.60,
                         0.60, 1.00, 1.90, 2.00, 1.80, 1.20, 0.50, 0.45, 0.35, 0.20, 0.10, 0.06])
GRID_HOURS_REST = _norm([0.05, 0.03, 0.02, 0.02, 0.03, 0.05, 0.12, 0.45, 1.20, 1.70, 1.80, 1.40,
                         0.70, 1.00, 1.50, 1.60, 1.40, 1.00, 0.60, 0.50, 0.40, 0.25, 0.10, 0.06])

# --------------------------------------------------------------------------- calendar
# Lunar-calendar dates (Spring Festival = 初一, 端午, 中秋), 2015–2035.
SPRING_FESTIVAL = {
    2015: date(2015, 2, 19), 2016: date(2016, 2, 8), 2017: date(2017, 1, 28), 2018: date(2018, 2, 16),
    2019: date(2019, 2, 5), 2020: date(2020, 1, 25), 2021: date(2021, 2, 12), 2022: date(2022, 2, 1),
    2023: date(2023, 1, 22), 2024: date(2024, 2, 10), 2025: date(2025, 1, 29), 2026: date(2026, 2, 17),
    2027: date(2027, 2, 6), 2028: date(2028, 1, 26), 2029: date(2029, 2, 13), 2030: date(2030, 2, 3),
    2031: date(2031, 1, 23), 2032: date(2032, 2, 11), 2033: date(2033, 1, 31), 2034: date(2034, 2, 19),
    2035: date(2035, 2, 8),
}
DRAGON_BOAT = {
    2020: date(2020, 6, 25), 2021: date(2021, 6, 14), 2022: date(2022, 6, 3), 2023: date(2023, 6, 22),
    2024: date(2024, 6, 10), 2025: date(2025, 5, 31), 2026: date(2026, 6, 19), 2027: date(2027, 6, 9),
    2028: date(2028, 5, 28), 2029: date(2029, 6, 16), 2030: date(2030, 6, 5),
}
MID_AUTUMN = {
    2020: date(2020, 10, 1), 2021: date(2021, 9, 21), 2022: date(2022, 9, 10), 2023: date(2023, 9, 29),
    2024: date(2024, 9, 17), 2025: date(2025, 10, 6), 2026: date(2026, 9, 25), 2027: date(2027, 9, 15),
    2028: date(2028, 10, 3), 2029: date(2029, 9, 22), 2030: date(2030, 9, 12),
}


def spring_festival_offset(d: date) -> int | None:
    """Days from the nearest Spring Festival (初一), or None when further than 40 days / unknown."""
    best = None
    for y in (d.year - 1, d.year, d.year + 1):
        sf = SPRING_FESTIVAL.get(y)
        if sf is not None:
            off = (d - sf).days
            if abs(off) <= 40 and (best is None or abs(off) < abs(best)):
                best = off
    return best


def holiday_name(d: date) -> str | None:
    """Public holiday (法定节假日) the day belongs to, approximately (调休 workdays ignored).

    >>> holiday_name(date(2024, 10, 3)), holiday_name(date(2024, 2, 12)), holiday_name(date(2024, 3, 5))
    ('国庆节', '春节', None)
    """
    sf = spring_festival_offset(d)
    if sf is not None and -1 <= sf <= 6:
        return "春节"
    md = (d.month, d.day)
    if md == (1, 1):
        return "元旦"
    if d.month == 4 and 4 <= d.day <= 6:
        return "清明节"
    if d.month == 5 and 1 <= d.day <= 5:
        return "劳动节"
    if d.month == 10 and 1 <= d.day <= 7:
        return "国庆节"
    for table, name in ((DRAGON_BOAT, "端午节"), (MID_AUTUMN, "中秋节")):
        h = table.get(d.year)
        if h is not None and 0 <= (d - h).days <= 2:
            return name
    return None


def is_rest_day(d: date) -> bool:
    return d.weekday() >= 5 or holiday_name(d) is not None


def in_heating_season(d: date) -> bool:
    """Beijing's statutory heating season: 15 November – 15 March."""
    return (d.month, d.day) >= (11, 15) or (d.month, d.day) <= (3, 15)


# 供暖 share of the hotline: piecewise-linear knots in days from the season's start (15 Nov)
# and from its end (15 Mar); constant between the knot ranges.
_HEAT_AUTUMN = ((-45, 0.004), (-8, 0.03), (-1, 0.08), (0, 0.09), (3, 0.13), (16, 0.075))
_HEAT_SPRING = ((-28, 0.075), (0, 0.04), (1, 0.025), (31, 0.004))


def _interp(knots: tuple[tuple[int, float], ...], k: int) -> float:
    if k <= knots[0][0]:
        return knots[0][1]
    for (k0, v0), (k1, v1) in zip(knots, knots[1:]):
        if k <= k1:
            return v0 + (v1 - v0) * (k - k0) / (k1 - k0)
    return knots[-1][1]


def heating_share(d: date) -> float:
    """供暖 share of the hotline volume on day ``d`` (added on top of the other categories).

    From October: questions about when heating starts; 8–14 Nov 试供暖 (trial heating); from
    15 Nov a wave of 暖气不热 complaints peaking a few days in and settling by December; a steady
    winter level; easing through March (questions about 停暖 and refunds); low in summer.

    The rise is kept on purpose: from 0.03 on 7 Nov to 0.13 on 18 Nov the 供暖 share grows every
    day (+10–25 % a day) on every street at once — a city-wide build-up
    that 24–72 h build-up scans must not mistake for a street's incident. (Cold snaps on top of it
    come from the weather days, see :mod:`warning.sim.generator`.)

    >>> [round(heating_share(date(2024, m, d)), 3) for m, d in ((7, 1), (11, 1), (11, 18), (1, 10), (3, 20))]
    [0.004, 0.026, 0.13, 0.075, 0.022]
    """
    k_aut = (d - date(d.year, 11, 15)).days
    if k_aut >= -45:
        return _interp(_HEAT_AUTUMN, k_aut)
    return _interp(_HEAT_SPRING, (d - date(d.year, 3, 15)).days)


@lru_cache(maxsize=None)
def _heating_mean() -> float:
    d0 = date(2023, 1, 1)
    n = (date(2027, 1, 1) - d0).days
    return sum(heating_share(d0 + timedelta(days=i)) for i in range(n)) / n


# Weekday factors (Mon..Sun), each averaging 1 over a week (grid members patrol less at weekends).
_WEEKDAY = {
    "hotline": (1.06, 1.06, 1.06, 1.06, 1.06, 0.87, 0.83),
    "petition": (1.30, 1.30, 1.30, 1.30, 1.30, 0.26, 0.24),
    "public_safety": (0.97, 0.97, 0.97, 0.97, 1.04, 1.07, 1.01),
    "grid": (1.15, 1.15, 1.15, 1.15, 1.10, 0.65, 0.65),
}
# Monthly factors (Jan..Dec), ≈1 on average over a year (summer heat, water, power → hotline up;
# summer litter, barbecues and building work → grid reports up).
_MONTH = {
    "hotline": (0.99, 0.90, 0.95, 0.96, 1.00, 1.05, 1.12, 1.10, 1.00, 0.95, 0.98, 1.00),
    "petition": (1.02, 0.85, 1.05, 1.02, 1.00, 1.00, 1.00, 0.98, 1.02, 0.98, 1.04, 1.04),
    "public_safety": (0.92, 0.86, 0.95, 1.00, 1.04, 1.07, 1.10, 1.10, 1.03, 1.00, 0.97, 0.96),
    "grid": (0.92, 0.85, 0.98, 1.02, 1.05, 1.08, 1.08, 1.06, 1.02, 1.00, 0.98, 0.96),
}
# Spring Festival week, other public holidays, and the backlog week after the Spring Festival.
_SPRING_FESTIVAL = {"hotline": 0.62, "petition": 0.40, "public_safety": 0.85, "grid": 0.45}
_HOLIDAY = {"hotline": 0.92, "petition": 0.70, "public_safety": 1.02, "grid": 0.75}
_BACKLOG = {"hotline": 1.10, "petition": 1.15, "public_safety": 1.0, "grid": 1.10}


def _raw_day_factor(feed: str, d: date) -> float:
    wd = d.weekday()
    f = _WEEKDAY[feed][wd] * _MONTH[feed][d.month - 1]
    hol = holiday_name(d)
    sf = spring_festival_offset(d)
    if hol is not None and wd < 5:
        f *= _WEEKDAY[feed][6] / _WEEKDAY[feed][wd]  # a holiday weekday behaves like a Sunday
    if hol == "春节":
        f *= _SPRING_FESTIVAL[feed]
    elif hol is not None:
        f *= _HOLIDAY[feed]
    elif sf is not None and 7 <= sf <= 14:
        f *= _BACKLOG[feed]  # backlog after the break
    if feed == "hotline":
        # 供暖 calls come on top of the rest (their annual-average share is taken out).
        f *= 1.0 - _heating_mean() + heating_share(d)
    return f


@lru_cache(maxsize=None)
def _normaliser(feed: str) -> float:
    """Mean raw factor over 2023–2026, so that :func:`day_factor` averages 1 over a year."""
    d0 = date(2023, 1, 1)
    n = (date(2027, 1, 1) - d0).days
    return sum(_raw_day_factor(feed, d0 + timedelta(days=i)) for i in range(n)) / n


def day_factor(feed: str, d: date) -> float:
    """Expected volume of ``feed`` on local date ``d`` relative to its annual daily average.

    >>> round(day_factor("hotline", date(2024, 3, 5)), 3), round(day_factor("petition", date(2024, 2, 12)), 3)
    (1.051, 0.087)
    """
    return _raw_day_factor(feed, d) / _normaliser(feed)


def hotline_category_weights(d: date) -> np.ndarray:
    """Category weights for day ``d`` (city-wide; street tilts are applied on top)."""
    w = _HOTLINE_MIX.copy()
    w[HEATING] = heating_share(d) / (1.0 - heating_share(d))
    w[LABOUR] *= wage_arrears_factor(d, 2.2)  # 年前讨薪: wage arrears before the Spring Festival
    return w / w.sum()


def wage_arrears_factor(d: date, top: float) -> float:
    """Multiplier of wage-arrears topics before the Spring Festival: ramps up from 35 days before
    to ``top`` at 15 days before, holds until the eve's eve, back to 1 from the eve.

    >>> [round(wage_arrears_factor(date(2025, 1, 29) - timedelta(days=k), 2.0), 2) for k in (40, 25, 10, 1)]
    [1.0, 1.5, 2.0, 1.0]
    """
    sf = spring_festival_offset(d)
    if sf is None or sf < -35 or sf > -2:
        return 1.0
    if sf < -15:
        return 1.0 + (top - 1.0) * (sf + 35) / 20
    return top


def petition_category_weights(d: date) -> np.ndarray:
    w = _PETITION_MIX.copy()
    w[PETITION_LABOUR] *= wage_arrears_factor(d, 2.5)
    return w / w.sum()


def petition_form_weights(d: date) -> np.ndarray:
    """来信, 来访, 网上, 电话 — visits and letters are received on working days only."""
    if is_rest_day(d):
        return _norm([0.0, 0.0, 0.86, 0.14])
    return _norm([0.15, 0.23, 0.50, 0.12])


def hotline_hours(d: date) -> np.ndarray:
    return HOTLINE_HOURS_REST if is_rest_day(d) else HOTLINE_HOURS_WORK


def grid_hours(d: date) -> np.ndarray:
    return GRID_HOURS_REST if is_rest_day(d) else GRID_HOURS_WORK


#: hour-of-day shape of each feed's records, for sizing incidents against a street's usual rate
_TYPICAL_HOURS = {"hotline": hotline_hours, "petition": lambda d: PET_HOURS_ONLINE,
                  "public_safety": lambda d: PS_HOURS_EVENING, "grid": grid_hours}


def typical_hours(feed: str, d: date) -> np.ndarray:
    """The hour-of-day profile (24 shares summing to 1) of ``feed`` on ``d``."""
    return _TYPICAL_HOURS[feed](d)


def grid_issue_weights(d: date) -> np.ndarray:
    """Issue-type weights of grid reports on ``d``: more hazards in the heating season (gas,
    stoves, fireworks), more wage disputes and 群体性苗头 before the Spring Festival (年前讨薪).

    >>> w = grid_issue_weights(date(2025, 1, 10)); v = grid_issue_weights(date(2025, 5, 10))
    >>> bool(w[GRID_ISSUE_TYPES.index("群体性苗头")] > 1.5 * v[GRID_ISSUE_TYPES.index("群体性苗头")])
    True
    """
    w = _GRID_MIX.copy()
    if in_heating_season(d):
        w[GRID_ISSUE_TYPES.index("安全隐患")] *= 1.3
    arrears = wage_arrears_factor(d, 2.0)
    w[GRID_ISSUE_TYPES.index("矛盾纠纷")] *= 1.0 + 0.3 * (arrears - 1.0)
    w[GRID_ISSUE_TYPES.index("群体性苗头")] *= arrears
    return w / w.sum()


def ps_type_weights(d: date) -> np.ndarray:
    w = _PS_MIX.copy()
    sf = spring_festival_offset(d)
    if sf is not None and -1 <= sf <= 0:
        w[PS_TYPES.index("火情")] *= 2.5  # fireworks on New Year's Eve
    if d.month in (6, 7, 8):
        w[PS_TYPES.index("噪音扰民")] *= 1.4
        w[PS_TYPES.index("醉酒滋事")] *= 1.4
    return w / w.sum()


# --------------------------------------------------------------------------- streets
# Resident population by district (2020 census, 10k people) drives the street weights.
DISTRICT_POPULATION = {
    "东城区": 70.9, "西城区": 110.6, "朝阳区": 345.2, "丰台区": 201.9, "石景山区": 56.8,
    "海淀区": 313.3, "门头沟区": 39.3, "房山区": 131.3, "通州区": 184.0, "顺义区": 132.4,
    "昌平区": 226.9, "大兴区": 199.4, "怀柔区": 44.1, "平谷区": 45.7, "密云区": 52.8, "延庆区": 34.6,
}
_CORE = {"东城区", "西城区"}
# Street weight tilt per feed: towns get fewer hotline calls and grid reports (bigger grids) and
# more land/farm petitions; the old core gets more 110 events per head.
_SHARE_TILT = {"hotline": ("rural", 0.75), "petition": ("rural", 1.3), "public_safety": ("core", 1.25),
               "grid": ("rural", 0.8)}


@dataclass(frozen=True)
class StreetProfile:
    """Stable per-street attributes: the same for every seed (a street's size is a fact)."""

    codes: tuple[str, ...]
    rural: np.ndarray  # bool: 镇/乡 (towns and townships)
    share: dict[str, np.ndarray]  # feed → share of the feed's volume (sums to 1)
    hotline_tilt: np.ndarray  # (streets, categories) multiplicative category tilt
    petition_tilt: np.ndarray  # (streets, petition categories)


def _stable_normal(key: str, n: int) -> np.ndarray:
    return np.random.Generator(np.random.PCG64(zlib.crc32(key.encode("utf-8")))).standard_normal(n)


@lru_cache(maxsize=8)
def street_profile(region_code: str = "110000") -> StreetProfile:
    """Heavy-tailed street weights: log-normal (σ≈0.75) times the district's population per
    street, so the 95th-percentile street gets ≈25× the calls of the 5th (the biggest ≈100× the
    smallest); correlated across feeds; towns get
    fewer hotline calls and grid reports and more land/farm petitions; the old core gets more 110
    events per head (:data:`_SHARE_TILT`).
    """
    from warning.core.registry import Registry

    reg = Registry.load(region_code)
    streets = sorted(reg.streets.values(), key=lambda s: s.code)
    codes = tuple(s.code for s in streets)
    n = len(codes)
    per_district: dict[str, int] = {}
    for s in streets:
        per_district[s.district.code] = per_district.get(s.district.code, 0) + 1
    pop = np.array([DISTRICT_POPULATION.get(s.district.name, 100.0) / per_district[s.district.code]
                    for s in streets])
    rural = np.array([s.name.endswith(("镇", "乡")) for s in streets])
    core = np.array([s.district.name in _CORE for s in streets])
    z = np.array([_stable_normal("street:" + c, 4) for c in codes])  # (n, 4)
    common = z[:, 0]
    share = {}
    for feed in FEEDS:
        if feed in ORIGINAL_FEEDS:
            own = z[:, 1 + ORIGINAL_FEEDS.index(feed)]
        else:
            own = np.array([_stable_normal(f"street:{feed}:{c}", 1)[0] for c in codes])
        logw = 0.75 * (0.85 * common + 0.53 * own) + np.log(pop)
        where, factor = _SHARE_TILT[feed]
        logw += np.where(rural if where == "rural" else core, np.log(factor), 0.0)
        w = np.exp(logw)
        share[feed] = w / w.sum()
    tilt_h = np.exp(0.25 * np.array([_stable_normal("hcat:" + c, len(HOTLINE_CATEGORIES)) for c in codes]))
    tilt_h[:, FARM] *= np.where(rural, 5.0, 0.25)
    tilt_h[:, URBAN] *= np.where(rural, 1.2, 1.0)
    tilt_p = np.exp(0.25 * np.array([_stable_normal("pcat:" + c, len(PETITION_CATEGORIES)) for c in codes]))
    tilt_p[:, PETITION_FARM] *= np.where(rural, 4.0, 0.2)
    return StreetProfile(codes, rural, share, tilt_h, tilt_p)


def expected_daily(feed: str, d: date, scale: float = 1.0) -> float:
    """Expected city-wide volume of ``feed`` on ``d`` at ``scale`` (before random noise).

    >>> round(expected_daily("hotline", date(2024, 3, 5)))
    69342
    """
    return DAILY_VOLUME[feed] * scale * day_factor(feed, d)


def annual_mean_factor(feed: str, year: int = 2024) -> float:
    """Mean of :func:`day_factor` over a calendar year (≈1 by construction; used by tests)."""
    d0 = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - d0).days
    return sum(day_factor(feed, d0 + timedelta(days=i)) for i in range(days)) / days


# --------------------------------------------------------------------------- tone of the hotline
#: Share of a street's hotline records whose caller is plainly angry, normally: 10–20 % (a stable
#: per-street value, see :func:`angry_baseline`). Assumption, not a measured figure: 12345 work
#: orders often record 来电人情绪激动 / repeated calls, and a sizeable minority of complaints are
#: angry in tone. About ``LEXICAL_ANGRY`` of all records are angry in the risk lexicon's own stock
#: words (``mood`` 1 of 5 % of complaints); the rest speak as fed-up callers really do
#: (:data:`warning.sim.texts.ANGRY_UNLEXICAL`, no lexicon term). A sentiment turn raises the share
#: to 70–90 % (:mod:`warning.sim.incidents`).
ANGRY_BASELINE = (0.10, 0.20)
LEXICAL_ANGRY = 0.02


@lru_cache(maxsize=8)
def angry_baseline(region_code: str = "110000") -> np.ndarray:
    """Normal share of angry hotline records per street (sorted street codes), in
    :data:`ANGRY_BASELINE`; stable per street code (independent of the seed).

    >>> a = angry_baseline(); bool(a.min() >= 0.10 and a.max() <= 0.20 and a.std() > 0.02)
    True
    """
    lo, hi = ANGRY_BASELINE
    codes = street_profile(region_code).codes
    u = np.array([zlib.crc32(("angry:" + c).encode()) / 2**32 for c in codes])
    return lo + (hi - lo) * u


# --------------------------------------------------------------------------- weather
def weather_kind(d: date) -> str:
    """The severe weather a city-wide weather day brings on ``d``: 暴雪 (snow) in the heating season,
    暴雨 (rainstorm) from June to September, else 大风 (gale, spring dust and autumn wind).

    >>> weather_kind(date(2025, 12, 20)), weather_kind(date(2025, 7, 20)), weather_kind(date(2025, 4, 20))
    ('暴雪', '暴雨', '大风')
    """
    if in_heating_season(d):
        return "暴雪"
    if 6 <= d.month <= 9:
        return "暴雨"
    return "大风"
