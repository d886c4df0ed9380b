"""Scan keys: what an event counts for, and what each key means.

Every event counts for a few *keys*, each scanned over trailing windows against the street's
expectation: its feed's volume (the feed's ``key``, e.g. ``H`` for the hotline), its theme (the
feed's ``theme_prefix`` + category or kind, e.g. ``C供暖``; feeds with the same prefix share one
theme mix), ``K<risk category>`` for texts with a strong risk term and ``N`` for texts whose
P(negative) is in the partition's upper tail. :class:`KeyTable` turns a key into a
:class:`KeyInfo` (family, which feeds' expected volume it is a share of, which day-dispersion
pool it uses) once, so no code dispatches on letters.

>>> from warning.core.feeds import default_feeds
>>> kt = KeyTable(default_feeds())
>>> kt.info("C供暖").family, kt.info("C供暖").feeds, kt.info("C供暖").name
('theme', ('hotline', 'petition'), '供暖')
>>> kt.info("S").family, kt.info("S").feeds, kt.info("K极端/人身").feeds
('volume', ('public_safety',), ('hotline', 'petition', 'grid'))
"""

from __future__ import annotations

from dataclasses import dataclass, field as _field
from typing import Literal, Mapping

from warning.core.events import Event
from warning.core.feeds import Feed

MAX_CACHED_KEYS = 20_000
RISK = "K"  # K<risk category>: a text with a strong term of that category
TAIL = "N"  # a text in the partition's upper tail of mood (anger score, else P(negative))

Family = Literal["volume", "theme", "risk", "tail"]


@dataclass(frozen=True)
class KeyInfo:
    key: str
    family: Family
    name: str  # theme value or risk category ("" for volume/tail)
    feeds: tuple[str, ...]  # the feeds whose expected volume this key is (a share of)
    prefix: str  # first character: the share pool of theme/risk/tail keys
    pool: str  # day-dispersion pool ("+"-joined feed names)
    feed: str = ""  # volume keys: their feed
    #: a learned share of a feed volume (themes, risk, tail), rather than a volume itself
    #: (derived from ``family``, set once: the scan reads it for every key of every event)
    shared: bool = _field(init=False, repr=False, compare=False)
    #: a share of texts (not of records of a theme pool); derived from ``family``
    per_text: bool = _field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shared", self.family != "volume")
        object.__setattr__(self, "per_text", self.family in ("risk", "tail"))


class KeyTable:
    """Key → :class:`KeyInfo` for a set of feeds (cached)."""

    def __init__(self, feeds: Mapping[str, Feed]) -> None:
        self.feeds = dict(feeds)
        self.volume_key = {name: f.key for name, f in self.feeds.items()}
        seen: dict[str, str] = {}
        for name, f in self.feeds.items():
            if f.key in seen:
                raise ValueError(f"feeds.{name}.key: {f.key!r} is already the key of feed {seen[f.key]!r}")
            seen[f.key] = name
        self.by_volume_key = seen
        self.theme_pools: dict[str, tuple[str, ...]] = {}
        for name, f in self.feeds.items():
            if f.theme_prefix and f.has("theme") and f.theme != "none":
                if f.theme_prefix in seen:
                    raise ValueError(f"feeds.{name}.theme_prefix: {f.theme_prefix!r} is a feed's volume key")
                pool = self.theme_pools.get(f.theme_prefix, ())
                if pool:  # feeds sharing a theme mix must agree on what its keys mean
                    first = self.feeds[pool[0]]
                    for attr in ("theme", "theme_signal"):
                        if getattr(f, attr) != getattr(first, attr):
                            raise ValueError(f"feeds.{name}.{attr}: {getattr(f, attr)!r} differs from feed {pool[0]!r} "
                                             f"({getattr(first, attr)!r}), which shares theme_prefix {f.theme_prefix!r}")
                    if f.has("buildup") != first.has("buildup"):
                        raise ValueError(f"feeds.{name}.signals: 'buildup' must match feed {pool[0]!r}, which shares "
                                         f"theme_prefix {f.theme_prefix!r}")
                self.theme_pools[f.theme_prefix] = (*pool, name)
        self.text_feeds = tuple(n for n, f in self.feeds.items() if f.has("text"))
        self.share_prefixes = (*self.theme_pools, RISK, TAIL)
        self._cache: dict[str, KeyInfo] = {}
        pools: dict[str, tuple[str, ...]] = {f: (f,) for f in self.feeds}
        for feeds in self.theme_pools.values():
            pools["+".join(feeds)] = feeds
        if self.text_feeds:
            pools["+".join(self.text_feeds)] = self.text_feeds
        #: the day-dispersion pools (see :meth:`pools`), computed once
        self.pool_items: tuple[tuple[str, tuple[str, ...]], ...] = tuple(pools.items())
        # per feed, what :meth:`event_keys` needs: (volume key, theme prefix, theme field, has text)
        self._spec: dict[str, tuple[str, str, str, bool]] = {}
        for name, f in self.feeds.items():
            theme_on = f.has("theme") and bool(f.theme_prefix) and f.theme_prefix in self.theme_pools
            field = f.theme if theme_on and f.theme in ("kind", "category") else ""
            self._spec[name] = (f.key, f.theme_prefix if field else "", field, f.has("text"))

    @property
    def cached_info(self) -> dict[str, KeyInfo]:
        """The keys already made (read-only; :meth:`info` makes and caches the others)."""
        return self._cache

    def info(self, key: str) -> KeyInfo:
        ki = self._cache.get(key)
        if ki is None:
            if len(self._cache) >= MAX_CACHED_KEYS:  # themes are free text: stay bounded
                self._cache.clear()
            ki = self._cache[key] = self._make(key)
        return ki

    def _make(self, key: str) -> KeyInfo:
        p, name = key[0], key[1:]
        if p in self.by_volume_key and not name:
            f = self.by_volume_key[p]
            return KeyInfo(key, "volume", "", (f,), p, f, feed=f)
        if p in self.theme_pools:
            feeds = self.theme_pools[p]
            return KeyInfo(key, "theme", name, feeds, p, "+".join(feeds))
        if p == RISK or p == TAIL:
            return KeyInfo(key, "risk" if p == RISK else "tail", name, self.text_feeds, p, "+".join(self.text_feeds))
        raise KeyError(f"unknown scan key {key!r}")

    def pools(self) -> list[tuple[str, tuple[str, ...]]]:
        """All day-dispersion pools: one per feed, one per shared theme mix, one for texts."""
        return list(self.pool_items)

    def theme_key(self, ev: Event) -> str:
        """The theme key of an event (``""`` when its feed has no theme or the value is empty)."""
        spec = self._spec.get(ev.source)
        if spec is None or not spec[2]:
            return ""
        v = ev.kind if spec[2] == "kind" else ev.category
        return spec[1] + v if v else ""

    def event_keys(self, ev: Event, risk_min_weight: float = 0.8, tail: float | None = None) -> tuple[str, ...]:
        """All keys an event counts for: its feed's volume, its theme, ``K<category>`` for each risk
        category with a (non-negated) term of at least ``risk_min_weight`` in a text of a feed with
        text signals, and ``N`` when the text's P(negative) is in the partition's upper tail."""
        spec = self._spec.get(ev.source)
        if spec is None:
            return ()
        vk, prefix, field, text = spec
        v = (ev.kind if field == "kind" else ev.category) if field else ""
        if not text:
            return (vk, prefix + v) if v else (vk,)
        keys = [vk, prefix + v] if v else [vk]
        risk = ev.risk
        if risk is not None and risk.hits:
            strong = sorted({x.get("category", "") for x in risk.terms if x.get("weight", 0.0) >= risk_min_weight} - {""})
            keys.extend(RISK + c for c in strong if risk.hits.get(c))
        if tail is not None and ev.anger is not None and ev.anger >= tail:
            keys.append(TAIL)
        return tuple(keys)

    def mood_of(self, ev: Event) -> float | None:
        """The event's mood if its feed's texts count for mood, else None: its anger score
        (:mod:`warning.core.text.mood`). Events without one (enriched by an older worker) have
        none: P(negative) is another scale and would mix into the street's mood baseline."""
        spec = self._spec.get(ev.source)
        return ev.anger if spec is not None and spec[3] else None
