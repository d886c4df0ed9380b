"""Chinese rendering of alerts for people: plain text (sink, logs), WeCom and DingTalk markdown.

Everything an alert carries that came from citizens (``sample_texts``, and defensively
``summary_zh``) is treated as untrusted: PII patterns are masked again here (defence in depth, the
upstream already masks) and characters that would become markup in the robots' markdown (``<``,
``>``, ``[``, ``]``, newlines) are neutralised so a complaint text cannot mention people, inject
links or break the layout.

>>> a = as_alert({"alert_id": "a1", "status": "firing", "level": "orange", "signal": "hotline_category",
...      "street_code": "110105001", "street_name": "建外街道", "district": "朝阳区",
...      "window_start": "2025-01-01T08:00:00+08:00", "window_end": "2025-01-01T09:00:00+08:00",
...      "starts_at": "2025-01-01T08:40:00+08:00", "observed": 42, "expected": 12.5, "score": 0.97,
...      "summary_zh": "热线投诉激增", "evidence": {}, "sample_texts": ["电话13812345678反映噪音"]})
>>> level_title("orange")
'橙色预警（II级）'
>>> print(render_plain(a).splitlines()[0])
【橙色预警（II级）】朝阳区 建外街道 · 同类诉求集中激增
>>> mask_pii("身份证110101199003071234，手机 138-1234-5678")
'身份证[身份证号]，手机 [手机号]'

Level names and signal names come from :mod:`warning.core.signals` (the one level table and
signal catalogue); this module adds only the aliases accepted in configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping, Sequence

import msgspec

from warning.core.events import Alert
from warning.core.signals import LEVEL_ORDER, LEVELS, SIGNALS
from warning.core.timeutil import BEIJING, parse_time

RESOLVED_ZH = "已解除"

# Aliases accepted wherever a level is configured (routes.min_level, mention_min_level): the
# name, 蓝/蓝色, the roman grade (iv) and its number (4 = IV级 = blue).
LEVEL_ALIASES: dict[str, str] = {
    alias: lv.name
    for lv in LEVEL_ORDER
    for alias in (lv.name, lv.short_zh, lv.zh, lv.roman.lower(), str(len(LEVEL_ORDER) + 1 - lv.rank))
}

_ID_RE = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9A-Za-z])")
_ID_LOOSE_RE = re.compile(r"(?<!\d)\d{17}[0-9Xx](?![0-9A-Za-z])")
_MOBILE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)")


def as_alert(alert: Alert | Mapping[str, Any]) -> Alert:
    """The one adapter from a mapping (a webhook body as a receiver got it, a test's dict) to the
    typed :class:`~warning.core.events.Alert`; an ``Alert`` is returned as is. Everything in
    :mod:`warning.notify` works on ``Alert``. ``msgspec.ValidationError`` when the mapping is not
    the contract."""
    if isinstance(alert, Alert):
        return alert
    return msgspec.convert(dict(alert), Alert, strict=False)


def mask_pii(text: str) -> str:
    """Mask 18-digit ID-card numbers and 11-digit mainland mobile numbers (also ``138-1234-5678``,
    ``+86 138 1234 5678``). Defensive: alert texts are already masked upstream."""
    if not text:
        return text
    text = _ID_RE.sub("[身份证号]", text)
    text = _ID_LOOSE_RE.sub("[身份证号]", text)
    return _MOBILE_RE.sub("[手机号]", text)


_MARKUP = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］", "`": "'", "\r": " ", "\n": " ", "\t": " "})


def safe_text(text: Any, max_chars: int | None = None) -> str:
    """Untrusted text → one masked line without markdown/HTML control characters."""
    s = mask_pii(str(text or "").translate(_MARKUP))
    s = re.sub(r" {2,}", " ", s).strip()
    if max_chars is not None and len(s) > max_chars:
        s = s[: max(1, max_chars - 1)] + "…"
    return s


def sanitize_alert(alert: Alert) -> Alert:
    """A copy of ``alert`` with ``sample_texts`` and ``summary_zh`` masked again (defence in depth).
    Equal to ``alert`` when upstream masking worked, which is the normal case."""
    return msgspec.structs.replace(alert, sample_texts=[mask_pii(t) for t in alert.sample_texts],
                                   summary_zh=mask_pii(alert.summary_zh))


def normalize_level(value: Any) -> str:
    """Level name or alias → ``blue|yellow|orange|red``; ``ValueError`` otherwise."""
    key = str(value).strip().lower()
    if key.endswith("级"):
        key = key[:-1]
    lv = LEVEL_ALIASES.get(key)
    if lv is None:
        raise ValueError(f"unknown level {value!r}: expected blue|yellow|orange|red (蓝/黄/橙/红)")
    return lv


def level_title(level: Any) -> str:
    """``'orange'`` → ``'橙色预警（II级）'``."""
    try:
        return LEVELS[normalize_level(level)].title
    except ValueError:
        return f"{safe_text(level, 16)}预警"


def signal_name(signal: str) -> str:
    """Chinese name of a signal from the catalogue (the same words as ``summary_zh``); a name
    the catalogue does not know is shown as it is."""
    s = SIGNALS.get(signal)
    return s.zh if s is not None else (safe_text(signal, 40) or "未知信号")


def _fmt_time(value: Any, with_date: bool = True) -> str:
    if not value:
        return ""
    try:
        dt = parse_time(str(value)).astimezone(BEIJING)
    except (ValueError, TypeError):
        return safe_text(value, 40)
    return dt.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def _window(alert: Alert) -> str:
    ws, we = alert.window_start, alert.window_end
    if not ws and not we:
        return ""
    a = _fmt_time(ws)
    try:
        same_day = parse_time(str(ws)).astimezone(BEIJING).date() == parse_time(str(we)).astimezone(BEIJING).date()
    except (ValueError, TypeError):
        same_day = False
    b = _fmt_time(we, with_date=not same_day)
    return f"{a} 至 {b}"


def _num(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return "—"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if x != x:  # NaN
            return "—"
        if abs(x - round(x)) < 1e-9 and abs(x) < 1e15:
            return str(int(round(x)))
        return f"{x:.2f}" if abs(x) < 100 else f"{x:.1f}"
    return safe_text(x, 20)


def _ratio(observed: Any, expected: Any) -> str:
    try:
        o, e = float(observed), float(expected)
    except (TypeError, ValueError):
        return ""
    if e <= 0 or o != o or e != e:
        return ""
    r = o / e
    return f"（{r:.1f} 倍）" if r >= 1 else f"（{r:.2f} 倍）"


def place(alert: Alert) -> str:
    """``'朝阳区 建外街道'`` (street code when the name is missing)."""
    district = safe_text(alert.district, 20)
    street = safe_text(alert.street_name, 30) or safe_text(alert.street_code, 12)
    return " ".join(x for x in (district, street) if x) or "未知地点"


def is_resolved(alert: Alert) -> bool:
    return alert.status == "resolved"


def alert_links(alert: Alert, link_template: str | None = None) -> list[tuple[str, str]]:
    """(label, url) pairs: the receiver's ``link_template`` (``str.format`` over the alert's
    top-level fields, e.g. ``https://ops/streets/{street_code}?alert={alert_id}``) and any http(s)
    links the alert carries in ``evidence.links`` / ``evidence.url``."""
    out: list[tuple[str, str]] = []
    if link_template:
        try:
            url = link_template.format_map(_FormatDict(alert.to_dict()))
        except (ValueError, IndexError):
            url = ""
        if url:
            out.append(("查看详情", url))
    ev = alert.evidence
    src = ev.get("links")
    if isinstance(src, Mapping):
        for k, v in src.items():
            if isinstance(v, str) and v.startswith(("http://", "https://")):
                out.append((safe_text(k, 20), v))
    elif isinstance(src, list):
        for v in src:
            if isinstance(v, str) and v.startswith(("http://", "https://")):
                out.append(("链接", v))
    if isinstance(ev.get("url"), str) and ev["url"].startswith(("http://", "https://")):
        out.append(("证据", ev["url"]))
    seen: set[str] = set()
    uniq = []
    for label, url in out:
        url = url.translate(_MARKUP).replace(" ", "%20").replace("(", "%28").replace(")", "%29")
        if url not in seen:
            seen.add(url)
            uniq.append((label, url))
    return uniq[:3]


class _FormatDict(dict):
    def __init__(self, alert: Mapping[str, Any]) -> None:
        from urllib.parse import quote

        super().__init__({k: quote(str(v), safe="") for k, v in alert.items() if isinstance(v, (str, int, float))})

    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class Rendered:
    """A message in parts, so a size-limited channel can drop body lines and keep head and tail."""

    title: str
    head: list[str]
    body: list[str]
    tail: list[str]


MAX_SAMPLES = 3
MAX_SAMPLE_CHARS = 120
MAX_SUMMARY_CHARS = 400


def _fields(alert: Alert) -> list[tuple[str, str]]:
    f: list[tuple[str, str]] = []
    f.append(("地点", place(alert) + (f"（{safe_text(alert.street_code, 12)}）" if alert.street_code else "")))
    f.append(("信号", signal_name(alert.signal)))
    f.append(("观测/预期", f"{_num(alert.observed)} / {_num(alert.expected)}{_ratio(alert.observed, alert.expected)}"))
    f.append(("异常评分", _num(alert.score)))
    w = _window(alert)
    if w:
        f.append(("统计窗口", w))
    if alert.starts_at:
        f.append(("开始时间", _fmt_time(alert.starts_at)))
    if is_resolved(alert):
        f.append(("解除时间", _fmt_time(alert.ends_at) or "—"))
    f.append(("预警编号", safe_text(alert.alert_id, 64)))
    return f


def _samples(alert: Alert) -> list[str]:
    out = []
    for t in alert.sample_texts[:MAX_SAMPLES]:
        s = safe_text(t, MAX_SAMPLE_CHARS)
        if s:
            out.append(s)
    return out


def title_of(alert: Alert) -> str:
    """One-line title: ``【橙色预警（II级）】朝阳区 建外街道 · 信号`` (``【已解除】…`` when resolved)."""
    lt = level_title(alert.level)
    if is_resolved(alert):
        return f"【{RESOLVED_ZH}】{lt} {place(alert)} · {signal_name(alert.signal)}"
    return f"【{lt}】{place(alert)} · {signal_name(alert.signal)}"


def render_plain(alert: Alert, link_template: str | None = None) -> str:
    """Plain Chinese text of one alert (sink output, logs)."""
    lines = [title_of(alert)]
    summary = safe_text(alert.summary_zh, MAX_SUMMARY_CHARS)
    if summary:
        lines.append(f"  摘要：{summary}")
    for k, v in _fields(alert):
        lines.append(f"  {k}：{v}")
    samples = _samples(alert)
    if samples:
        lines.append("  样例（已脱敏）：")
        lines.extend(f"    · {s}" for s in samples)
    for label, url in alert_links(alert, link_template):
        lines.append(f"  {label}：{url}")
    return "\n".join(lines)


WECOM_COLOR: dict[str, str] = {"red": "warning", "orange": "warning", "yellow": "comment", "blue": "info"}


def render_markdown(alert: Alert, flavor: Literal["wecom", "dingtalk"], link_template: str | None = None) -> Rendered:
    """One alert as robot markdown parts. WeCom gets ``<font color=…>`` by level; DingTalk (whose
    markdown has no colour) gets the level emoji and bold text."""
    lv = LEVELS[alert.level]
    resolved = is_resolved(alert)
    emoji = "✅" if resolved else lv.emoji
    label = f"{RESOLVED_ZH}：{lv.title}" if resolved else lv.title
    what = f"**{place(alert)} · {signal_name(alert.signal)}**"
    if flavor == "wecom":
        color = "info" if resolved else WECOM_COLOR[lv.name]
        head = [f"## {emoji} <font color=\"{color}\">{label}</font>", what]
    else:
        head = [f"## {emoji} {label}", what]
    body: list[str] = []
    summary = safe_text(alert.summary_zh, MAX_SUMMARY_CHARS)
    if summary:
        body.append(f"> {summary}")
    for k, v in _fields(alert):
        if flavor == "wecom" and k == "预警编号":
            v = f"<font color=\"comment\">{v}</font>"
        body.append(f"- {k}：{v}")
    samples = _samples(alert)
    if samples:
        body.append("- 样例（已脱敏）：")
        body.extend(f"  > {s}" for s in samples)
    tail = [f"[{label_}]({url})" for label_, url in alert_links(alert, link_template)]
    return Rendered(title=title_of(alert), head=head, body=body, tail=tail)


def digest_line(alert: Alert) -> str:
    """Compact line for digests: ``🔴 红色 朝阳区 建外街道 · 信号`` (``✅ 已解除 …`` when resolved)."""
    lv = LEVELS[alert.level]
    if is_resolved(alert):
        return f"✅ {RESOLVED_ZH}（{lv.zh}） {place(alert)} · {signal_name(alert.signal)}"
    return f"{lv.emoji} {lv.zh} {place(alert)} · {signal_name(alert.signal)}"


def sort_for_digest(alerts: Iterable[Alert]) -> list[Alert]:
    """Firing before resolved, higher level first, then input order."""
    indexed = list(enumerate(alerts))
    indexed.sort(key=lambda p: (is_resolved(p[1]), -LEVELS[p[1].level].rank, p[0]))
    return [a for _, a in indexed]


def render_digest(alerts: Sequence[Alert], flavor: Literal["wecom", "dingtalk", "plain"]) -> Rendered:
    """Several alerts folded into one message (rate-limit overflow): ``另有 N 条预警：`` + one line each."""
    n = len(alerts)
    counts: dict[str, int] = {}
    for a in alerts:
        k = "resolved" if is_resolved(a) else a.level
        counts[k] = counts.get(k, 0) + 1
    parts = [f"{lv.zh} {counts[lv.name]}" for lv in reversed(LEVEL_ORDER) if counts.get(lv.name)]
    if counts.get("resolved"):
        parts.append(f"{RESOLVED_ZH} {counts['resolved']}")
    title = f"另有 {n} 条预警"
    if flavor == "wecom":
        head = [f"## 📋 <font color=\"warning\">另有 {n} 条预警</font>", f"**{'，'.join(parts)}**（发送频率受限，合并推送）"]
    elif flavor == "dingtalk":
        head = [f"## 📋 另有 {n} 条预警", f"**{'，'.join(parts)}**（发送频率受限，合并推送）"]
    else:
        head = [f"另有 {n} 条预警：{'，'.join(parts)}（发送频率受限，合并推送）"]
    body = [f"- {digest_line(a)}" for a in sort_for_digest(alerts)]
    return Rendered(title=title, head=head, body=body, tail=[])


def truncate_utf8(text: str, max_bytes: int) -> str:
    """Cut ``text`` to at most ``max_bytes`` UTF-8 bytes, never inside a character.

    >>> truncate_utf8("预警预警", 7)
    '预警'
    """
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    return raw[:max_bytes].decode("utf-8", errors="ignore")


def fit(r: Rendered, max_bytes: int, extra_tail: Sequence[str] = (), sep: str = "\n") -> str:
    """Join head, as many body lines as fit, tail and ``extra_tail`` (mentions) within ``max_bytes``
    UTF-8 bytes. Dropped body lines are announced (``…（另有 N 行未显示）``); whole lines are dropped,
    so markup opened in a line is always closed. A last char-boundary cut guarantees the limit even
    for a pathological head."""

    def size(lines: Sequence[str]) -> int:
        return len(sep.join(lines).encode("utf-8"))

    fixed_tail = list(r.tail) + list(extra_tail)
    lines = list(r.head) + list(r.body) + fixed_tail
    if size(lines) <= max_bytes:
        return sep.join(lines)
    kept: list[str] = []
    for i, line in enumerate(r.body):
        dropped = len(r.body) - (i + 1)
        note = [f"…（另有 {dropped} 行未显示）"] if dropped else []
        if size(list(r.head) + kept + [line] + note + fixed_tail) <= max_bytes:
            kept.append(line)
        else:
            break
    dropped = len(r.body) - len(kept)
    note = [f"…（另有 {dropped} 行未显示）"] if dropped else []
    text = sep.join(list(r.head) + kept + note + fixed_tail)
    if len(text.encode("utf-8")) > max_bytes:
        # Head/tail alone too large: keep the mentions (they are short) and cut the rest.
        suffix = sep.join(list(extra_tail))
        room = max_bytes - len(suffix.encode("utf-8")) - (len(sep.encode()) if suffix else 0)
        text = truncate_utf8(sep.join(list(r.head) + kept + note + list(r.tail)), max(0, room))
        text = (text + sep + suffix) if suffix else text
        text = truncate_utf8(text, max_bytes)
    return text
