"""Chinese rendering of alerts for people: plain text (sink, logs), WeCom and DingTalk markdown.

Everything an alert carries that came from citizens (``sample_texts``, and defensively
``summary_zh``) is treated as untrusted: PII patterns are masked again here (defence in depth, the
upstream already masks) and characters that would become markup in the robots' markdown (``<``,
``>``, ``[``, ``]``, newlines) are neutralised so a complaint text cannot mention people, inject
links or break the layout.

>>> a = {"alert_id": "a1", "status": "firing", "level": "orange", "signal": "count:hotline",
...      "street_code": "110105001", "street_name": "建外街道", "district": "朝阳区",
...      "window_start": "2025-01-01T08:00:00+08:00", "window_end": "2025-01-01T09:00:00+08:00",
...      "starts_at": "2025-01-01T08:40:00+08:00", "observed": 42, "expected": 12.5, "score": 0.97,
...      "summary_zh": "热线投诉激增", "evidence": {}, "sample_texts": ["电话13812345678反映噪音"]}
>>> level_title("orange")
'橙色预警（II级）'
>>> print(render_plain(a).splitlines()[0])
【橙色预警（II级）】朝阳区 建外街道 · 12345热线数量异常
>>> mask_pii("身份证110101199003071234，手机 138-1234-5678")
'身份证[身份证号]，手机 [手机号]'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping, Sequence

from warning.core.timeutil import BEIJING, parse_time

Level = Literal["blue", "yellow", "orange", "red"]
LEVELS: tuple[str, ...] = ("blue", "yellow", "orange", "red")
LEVEL_RANK: dict[str, int] = {lv: i + 1 for i, lv in enumerate(LEVELS)}  # blue 1 … red 4
LEVEL_ZH: dict[str, str] = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
LEVEL_GRADE: dict[str, str] = {"blue": "IV级", "yellow": "III级", "orange": "II级", "red": "I级"}
LEVEL_EMOJI: dict[str, str] = {"blue": "🔵", "yellow": "🟡", "orange": "🟠", "red": "🔴"}
RESOLVED_ZH = "已解除"

# Aliases accepted wherever a level is configured (routes.min_level, mention_min_level).
LEVEL_ALIASES: dict[str, str] = {
    "blue": "blue", "蓝": "blue", "蓝色": "blue", "iv": "blue", "4": "blue",
    "yellow": "yellow", "黄": "yellow", "黄色": "yellow", "iii": "yellow", "3": "yellow",
    "orange": "orange", "橙": "orange", "橙色": "orange", "ii": "orange", "2": "orange",
    "red": "red", "红": "red", "红色": "red", "i": "red", "1": "red",
}

# Display names of signals. Exact names first, then token by token ("count:hotline" →
# "12345热线" + "数量异常"); unknown signals are shown as they are. Detection may add entries.
SIGNAL_NAMES: dict[str, str] = {
    "multi_source": "多源同时异常",
    "extreme_threat": "极端风险言论",
    "group_petition": "集体访",
}
_SIGNAL_TOKENS: dict[str, str] = {
    "hotline": "12345热线",
    "petition": "信访",
    "public_safety": "治安警情",
    "publicsafety": "治安警情",
    "count": "数量异常",
    "volume": "数量异常",
    "surge": "数量激增",
    "sentiment": "负面情绪上升",
    "negative": "负面情绪上升",
    "buildup": "持续累积",
    "cusum": "持续累积",
    "trend": "持续累积",
    "risk_term": "风险词",
    "risk_terms": "风险词",
    "risk": "风险",
    "extreme": "极端风险",
    "threat": "威胁",
    "group": "集体访",
    "multivariate": "多维特征异常",
    "hst": "多维特征异常",
    "rule": "规则",
    "people": "人数",
    "repeat": "重复访",
}

_SOURCES_ZH = {"12345热线", "信访", "治安警情"}

_ID_RE = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9A-Za-z])")
_ID_LOOSE_RE = re.compile(r"(?<!\d)\d{17}[0-9Xx](?![0-9A-Za-z])")
_MOBILE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)")


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


def sanitize_alert(alert: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``alert`` with ``sample_texts`` and ``summary_zh`` masked again (defence in depth).
    Unchanged when upstream masking worked, which is the normal case."""
    out = dict(alert)
    st = out.get("sample_texts")
    if isinstance(st, list):
        out["sample_texts"] = [mask_pii(t) if isinstance(t, str) else t for t in st]
    if isinstance(out.get("summary_zh"), str):
        out["summary_zh"] = mask_pii(out["summary_zh"])
    return out


def normalize_level(value: Any) -> str:
    """Level name or alias → ``blue|yellow|orange|red``; ``ValueError`` otherwise."""
    key = str(value).strip().lower()
    if key.endswith("级"):
        key = key[:-1]
    lv = LEVEL_ALIASES.get(key)
    if lv is None:
        raise ValueError(f"unknown level {value!r}: expected blue|yellow|orange|red (蓝/黄/橙/红)")
    return lv


def level_rank(level: Any) -> int:
    """1 (blue) … 4 (red); 0 for an unknown level."""
    try:
        return LEVEL_RANK[normalize_level(level)]
    except ValueError:
        return 0


def level_title(level: Any) -> str:
    """``'orange'`` → ``'橙色预警（II级）'``."""
    try:
        lv = normalize_level(level)
    except ValueError:
        return f"{safe_text(level, 16)}预警"
    return f"{LEVEL_ZH[lv]}预警（{LEVEL_GRADE[lv]}）"


def signal_name(alert_or_signal: Mapping[str, Any] | str) -> str:
    """Chinese display name of a signal (``signal_zh`` in the alert wins when present)."""
    if isinstance(alert_or_signal, Mapping):
        zh = alert_or_signal.get("signal_zh")
        if isinstance(zh, str) and zh.strip():
            return safe_text(zh, 40)
        sig = str(alert_or_signal.get("signal") or "")
    else:
        sig = str(alert_or_signal or "")
    if sig in SIGNAL_NAMES:
        return SIGNAL_NAMES[sig]
    tokens = [t for t in re.split(r"[:./\-\s]+", sig) if t]
    parts: list[str] = []
    for tok in tokens:
        name = _SIGNAL_TOKENS.get(tok.lower())
        if name is None:
            # second chance: underscores inside a token ("hotline_count")
            sub = [_SIGNAL_TOKENS.get(x) for x in tok.lower().split("_")]
            name = "".join(s for s in sub if s) if any(sub) else None
        if name and name not in parts:
            parts.append(name)
    # Source first ("12345热线数量异常"), then what is abnormal.
    parts.sort(key=lambda p: p not in _SOURCES_ZH)
    return "".join(parts) if parts else (safe_text(sig, 40) or "未知信号")


def _fmt_time(value: Any, with_date: bool = True) -> str:
    if not value:
        return ""
    try:
        dt = parse_time(str(value)).astimezone(BEIJING)
    except (ValueError, TypeError):
        return safe_text(value, 40)
    return dt.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def _window(alert: Mapping[str, Any]) -> str:
    ws, we = alert.get("window_start"), alert.get("window_end")
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


def place(alert: Mapping[str, Any]) -> str:
    """``'朝阳区 建外街道'`` (street code when the name is missing)."""
    district = safe_text(alert.get("district"), 20)
    street = safe_text(alert.get("street_name"), 30) or safe_text(alert.get("street_code"), 12)
    return " ".join(x for x in (district, street) if x) or "未知地点"


def is_resolved(alert: Mapping[str, Any]) -> bool:
    return str(alert.get("status", "firing")).lower() == "resolved"


def alert_links(alert: Mapping[str, Any], link_template: str | None = None) -> list[tuple[str, str]]:
    """(label, url) pairs: the receiver's ``link_template`` (``str.format`` over the alert's
    top-level fields, e.g. ``https://ops/streets/{street_code}?alert={alert_id}``) and any http(s)
    links the alert carries in ``links`` / ``evidence.links`` / ``evidence.url``."""
    out: list[tuple[str, str]] = []
    if link_template:
        try:
            url = link_template.format_map(_FormatDict(alert))
        except (ValueError, IndexError):
            url = ""
        if url:
            out.append(("查看详情", url))
    for src in (alert.get("links"), (alert.get("evidence") or {}).get("links") if isinstance(alert.get("evidence"), Mapping) else None):
        if isinstance(src, Mapping):
            for k, v in src.items():
                if isinstance(v, str) and v.startswith(("http://", "https://")):
                    out.append((safe_text(k, 20), v))
        elif isinstance(src, list):
            for v in src:
                if isinstance(v, str) and v.startswith(("http://", "https://")):
                    out.append(("链接", v))
    ev = alert.get("evidence")
    if isinstance(ev, Mapping) and isinstance(ev.get("url"), str) and ev["url"].startswith(("http://", "https://")):
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


def _fields(alert: Mapping[str, Any]) -> list[tuple[str, str]]:
    f: list[tuple[str, str]] = []
    f.append(("地点", place(alert) + (f"（{safe_text(alert.get('street_code'), 12)}）" if alert.get("street_code") else "")))
    f.append(("信号", signal_name(alert)))
    if "observed" in alert or "expected" in alert:
        f.append(("观测/预期", f"{_num(alert.get('observed'))} / {_num(alert.get('expected'))}{_ratio(alert.get('observed'), alert.get('expected'))}"))
    if "score" in alert:
        f.append(("异常评分", _num(alert.get("score"))))
    w = _window(alert)
    if w:
        f.append(("统计窗口", w))
    if alert.get("starts_at"):
        f.append(("开始时间", _fmt_time(alert.get("starts_at"))))
    if is_resolved(alert):
        f.append(("解除时间", _fmt_time(alert.get("ends_at")) or "—"))
    f.append(("预警编号", safe_text(alert.get("alert_id"), 64)))
    return f


def _samples(alert: Mapping[str, Any]) -> list[str]:
    st = alert.get("sample_texts")
    if not isinstance(st, list):
        return []
    out = []
    for t in st[:MAX_SAMPLES]:
        s = safe_text(t, MAX_SAMPLE_CHARS)
        if s:
            out.append(s)
    return out


def title_of(alert: Mapping[str, Any]) -> str:
    """One-line title: ``【橙色预警（II级）】朝阳区 建外街道 · 信号`` (``【已解除】…`` when resolved)."""
    lt = level_title(alert.get("level"))
    if is_resolved(alert):
        return f"【{RESOLVED_ZH}】{lt} {place(alert)} · {signal_name(alert)}"
    return f"【{lt}】{place(alert)} · {signal_name(alert)}"


def render_plain(alert: Mapping[str, Any], link_template: str | None = None) -> str:
    """Plain Chinese text of one alert (sink output, logs)."""
    lines = [title_of(alert)]
    summary = safe_text(alert.get("summary_zh"), MAX_SUMMARY_CHARS)
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


def render_markdown(alert: Mapping[str, Any], flavor: Literal["wecom", "dingtalk"], link_template: str | None = None) -> Rendered:
    """One alert as robot markdown parts. WeCom gets ``<font color=…>`` by level; DingTalk (whose
    markdown has no colour) gets the level emoji and bold text."""
    lv = alert.get("level")
    try:
        lvn = normalize_level(lv)
    except ValueError:
        lvn = "blue"
    resolved = is_resolved(alert)
    emoji = "✅" if resolved else LEVEL_EMOJI[lvn]
    lt = level_title(lv)
    label = f"{RESOLVED_ZH}：{lt}" if resolved else lt
    if flavor == "wecom":
        color = "info" if resolved else WECOM_COLOR[lvn]
        head = [f"## {emoji} <font color=\"{color}\">{label}</font>", f"**{place(alert)} · {signal_name(alert)}**"]
    else:
        head = [f"## {emoji} {label}", f"**{place(alert)} · {signal_name(alert)}**"]
    body: list[str] = []
    summary = safe_text(alert.get("summary_zh"), MAX_SUMMARY_CHARS)
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


def digest_line(alert: Mapping[str, Any]) -> str:
    """Compact line for digests: ``🔴 红色 朝阳区 建外街道 · 信号`` (``✅ 已解除 …`` when resolved)."""
    try:
        lvn = normalize_level(alert.get("level"))
    except ValueError:
        lvn = "blue"
    if is_resolved(alert):
        return f"✅ {RESOLVED_ZH}（{LEVEL_ZH[lvn]}） {place(alert)} · {signal_name(alert)}"
    return f"{LEVEL_EMOJI[lvn]} {LEVEL_ZH[lvn]} {place(alert)} · {signal_name(alert)}"


def sort_for_digest(alerts: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Firing before resolved, higher level first, then input order."""
    indexed = list(enumerate(alerts))
    indexed.sort(key=lambda p: (is_resolved(p[1]), -level_rank(p[1].get("level")), p[0]))
    return [a for _, a in indexed]


def render_digest(alerts: Sequence[Mapping[str, Any]], flavor: Literal["wecom", "dingtalk", "plain"]) -> Rendered:
    """Several alerts folded into one message (rate-limit overflow): ``另有 N 条预警：`` + one line each."""
    n = len(alerts)
    counts: dict[str, int] = {}
    for a in alerts:
        try:
            k = "resolved" if is_resolved(a) else normalize_level(a.get("level"))
        except ValueError:
            k = "blue"
        counts[k] = counts.get(k, 0) + 1
    parts = [f"{LEVEL_ZH[lv]} {counts[lv]}" for lv in reversed(LEVELS) if counts.get(lv)]
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
