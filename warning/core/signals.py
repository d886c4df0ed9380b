"""The one signal catalogue and the one level table.

Every name an alert can carry in ``signal`` has one :class:`Signal` entry here: its group (the
feed it speaks for, for the multi-source rule), its Chinese name (used by ``summary_zh``, the
robots' titles, metrics help and dashboards alike), the windows it is tested over and its
default thresholds (``-log10 p`` per level). Levels have one table: rank, Chinese name, grade,
emoji. Decide, render, metrics and dashboards read these and nothing else.

A feed declared in configuration gets its volume and theme signals from :func:`feed_signals`
(entries made from the feed's descriptor), so a new feed adds no code here.

>>> SIGNALS["hotline_category"].zh
'同类诉求集中激增'
>>> signal_zh("hotline_category") == SIGNALS["hotline_category"].zh
True
>>> LEVELS["orange"].title
'橙色预警（II级）'
>>> [lv.name for lv in LEVEL_ORDER]
['blue', 'yellow', 'orange', 'red']
>>> level_rank("red"), level_rank("none")
(4, 0)
"""

from __future__ import annotations

from typing import Literal

import msgspec

LevelName = Literal["blue", "yellow", "orange", "red"]


class Level(msgspec.Struct, frozen=True):
    """One alert level: 蓝/黄/橙/红 = IV..I."""

    name: str
    rank: int
    zh: str  # 蓝色
    short_zh: str  # 蓝
    grade: str  # IV级
    roman: str  # IV
    emoji: str

    @property
    def title(self) -> str:
        return f"{self.zh}预警（{self.grade}）"


LEVEL_ORDER: tuple[Level, ...] = (
    Level("blue", 1, "蓝色", "蓝", "IV级", "IV", "🔵"),
    Level("yellow", 2, "黄色", "黄", "III级", "III", "🟡"),
    Level("orange", 3, "橙色", "橙", "II级", "II", "🟠"),
    Level("red", 4, "红色", "红", "I级", "I", "🔴"),
)
LEVELS: dict[str, Level] = {lv.name: lv for lv in LEVEL_ORDER}
LEVEL_NAMES: tuple[str, ...] = tuple(lv.name for lv in LEVEL_ORDER)
#: rank of a level name; "none" (no active alert) is 0
LEVEL_RANK: dict[str, int] = {"none": 0, **{lv.name: lv.rank for lv in LEVEL_ORDER}}


def level_rank(name: str) -> int:
    """1 (blue) … 4 (red); 0 for ``"none"`` or an unknown name."""
    return LEVEL_RANK.get(name, 0)


def bump(level: str) -> str:
    """One level up (red stays red).

    >>> bump("yellow"), bump("red")
    ('orange', 'red')
    """
    i = LEVEL_NAMES.index(level)
    return LEVEL_NAMES[min(i + 1, len(LEVEL_NAMES) - 1)]


class Thresholds(msgspec.Struct, frozen=True):
    """Default ``-log10 p`` needed for each level (configuration may override per signal)."""

    blue: float = 4.0
    yellow: float = 5.0
    orange: float = 8.0
    red: float = 12.0

    def level(self, s: float) -> str | None:
        return threshold_level(self, s)


def threshold_level(t: "Thresholds | object", s: float) -> str | None:
    """The highest level whose threshold (``t.blue`` … ``t.red``) evidence ``s`` reaches, or None.

    >>> threshold_level(Thresholds(), 8.5), threshold_level(Thresholds(), 3.0)
    ('orange', None)
    """
    if s >= t.red:  # type: ignore[attr-defined]
        return "red"
    if s >= t.orange:  # type: ignore[attr-defined]
        return "orange"
    if s >= t.yellow:  # type: ignore[attr-defined]
        return "yellow"
    if s >= t.blue:  # type: ignore[attr-defined]
        return "blue"
    return None


#: long windows are tested far fewer times a day than hourly ones (a scan statistic's false-alarm
#: rate grows with span / window), so a lower bar gives them about the same false-alarm rate
LONG_WINDOW_THRESHOLDS = Thresholds(blue=3.5, yellow=4.0, orange=7.0, red=11.0)


class Signal(msgspec.Struct, frozen=True):
    """One entry of the catalogue.

    ``group`` is the feed the signal speaks for in the multi-source rule ("" = the event's own
    feed); ``hourly``: its episode counts a quiet window at every hour without a detection;
    ``window`` says in words which windows are tested (for people); ``thresholds`` are the
    defaults (``None``: the common ``detect.thresholds``)."""

    name: str
    zh: str
    group: str = ""
    window: str = "1–72 小时"
    hourly: bool = True
    thresholds: Thresholds | None = None
    kind: Literal["count", "mood", "rule", "combined"] = "count"


_CATALOGUE: tuple[Signal, ...] = (
    Signal("hotline_volume", "12345热线诉求量异常升高", group="hotline", window="1–6 小时"),
    Signal("hotline_category", "同类诉求集中激增", group="hotline", window="1–6 小时"),
    Signal("petition_volume", "信访量异常升高", group="petition", window="1–6 小时"),
    Signal("public_safety", "治安警情异常升高", group="public_safety", window="1–72 小时"),
    Signal("grid_volume", "网格员上报量异常升高", group="grid", window="1–6 小时"),
    Signal("sentiment", "负面情绪明显上升", group="hotline", kind="mood"),
    Signal("risk_terms", "高风险言论", group="hotline", window="1 小时（规则）", kind="rule"),
    Signal("group_petition", "集体访", group="petition", window="单条记录（规则）", kind="rule"),
    Signal("slow_buildup", "诉求持续累积", group="hotline", window="24–72 小时", thresholds=LONG_WINDOW_THRESHOLDS),
    Signal("risk_buildup", "风险言论持续累积", group="hotline", window="24–72 小时", thresholds=LONG_WINDOW_THRESHOLDS),
    Signal("entity_repeat", "同一地点或单位被集中反映", group="hotline", window="24–72 小时"),
)
SIGNALS: dict[str, Signal] = {s.name: s for s in _CATALOGUE}


def add_signal(sig: Signal) -> Signal:
    """Add an entry (a configured feed's volume signal); an existing name keeps its entry."""
    return SIGNALS.setdefault(sig.name, sig)


def feed_signals(name: str, name_zh: str, group: str, volume_signal: str, theme_signal: str) -> None:
    """Catalogue entries for a configured feed's volume and theme signals (kept if present).

    >>> feed_signals("noise", "噪声监测", "noise", "noise_volume", "noise_volume")
    >>> signal_zh("noise_volume"), signal_group("noise_volume")
    ('噪声监测量异常升高', 'noise')
    """
    add_signal(Signal(volume_signal, f"{name_zh}量异常升高", group=group, window="1–6 小时"))
    add_signal(Signal(theme_signal, f"{name_zh}同类事项集中激增", group=group, window="1–6 小时"))


def signal_zh(name: str) -> str:
    """Chinese name of a signal (the name itself when it is not in the catalogue)."""
    s = SIGNALS.get(name)
    return s.zh if s is not None else name


def signal_group(name: str, default: str = "hotline") -> str:
    s = SIGNALS.get(name)
    return s.group if s is not None and s.group else default


def hourly_signals() -> frozenset[str]:
    """Signals whose episodes count quiet hours (all but the combined ones)."""
    return frozenset(s.name for s in SIGNALS.values() if s.hourly)
