"""Feed health for the screen, from the workers' own ``/metrics`` (``dashboard.worker_metrics``).

Every few seconds each URL is scraped and parsed with :mod:`prometheus_client.parser`; the
samples of all workers are summed. Per source (feed):

* ``events_per_s`` — rate of ``warning_events_total{outcome="accepted"}`` between two scrapes;
* ``lag`` — ``warning_consumer_lag`` summed over the partitions of the feed's raw topic (records
  behind), when the worker exports it;
* ``deadletters`` — ``warning_deadletter_total`` (records dead-lettered since the worker started).

A failed scrape never raises: it is reported in ``feeds_error`` (the page shows it) and the last
good numbers are kept until the next success.

>>> text = '''# TYPE warning_events_total counter
... warning_events_total{source="hotline",district="朝阳区",outcome="accepted"} 10.0
... warning_events_total{source="hotline",district="海淀区",outcome="accepted"} 5.0
... warning_events_total{source="hotline",district="",outcome="deadletter"} 2.0
... # TYPE warning_deadletter_total counter
... warning_deadletter_total{source="hotline",reason="bad_json"} 2.0
... # TYPE warning_consumer_lag gauge
... warning_consumer_lag{topic="hotline.raw",partition="0"} 3.0
... warning_consumer_lag{topic="hotline.raw",partition="1"} 4.0
... '''
>>> s = parse_sample(text)
>>> s.accepted, s.deadletters, s.lag
({'hotline': 15.0}, {'hotline': 2.0}, {'hotline.raw': 7.0})
>>> prev = Sample(accepted={"hotline": 5.0}, at=0.0)
>>> round(events_per_s(prev, Sample(accepted={"hotline": 15.0}, at=5.0))["hotline"], 3)
2.0
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from warning.dashboard.tasks import stop_task

if TYPE_CHECKING:
    from warning.config import Settings

log = logging.getLogger(__name__)


@dataclass
class Sample:
    """Summed counters of one scrape round (all workers)."""

    accepted: dict[str, float] = field(default_factory=dict)  # source → accepted events (counter)
    deadletters: dict[str, float] = field(default_factory=dict)  # source → dead letters (counter)
    lag: dict[str, float] = field(default_factory=dict)  # topic → records behind
    has_lag: bool = False
    names: dict[str, str] = field(default_factory=dict)  # source → name_zh (warning_feed_info)
    at: float = 0.0

    def add(self, other: "Sample") -> None:
        for mine, theirs in ((self.accepted, other.accepted), (self.deadletters, other.deadletters), (self.lag, other.lag)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0.0) + v
        self.has_lag = self.has_lag or other.has_lag
        self.names.update(other.names)


def parse_sample(text: str) -> Sample:
    """The counters the screen needs from one worker's exposition text."""
    from prometheus_client.parser import text_string_to_metric_families

    s = Sample(at=time.time())
    for fam in text_string_to_metric_families(text):
        for smp in fam.samples:
            name, labels, value = smp.name, smp.labels, float(smp.value)
            if value != value:  # NaN
                continue
            if name == "warning_events_total" and labels.get("outcome") == "accepted":
                src = labels.get("source", "")
                s.accepted[src] = s.accepted.get(src, 0.0) + value
            elif name == "warning_deadletter_total":
                src = labels.get("source", "")
                s.deadletters[src] = s.deadletters.get(src, 0.0) + value
            elif name == "warning_consumer_lag":
                s.has_lag = True
                topic = labels.get("topic", "")
                s.lag[topic] = s.lag.get(topic, 0.0) + value
            elif name == "warning_feed_info" and labels.get("source"):
                s.names[labels["source"]] = labels.get("name_zh", "")
    return s


def events_per_s(prev: Sample, cur: Sample) -> dict[str, float]:
    """Per-source accepted events per second between two rounds (a counter reset gives no rate)."""
    dt = cur.at - prev.at
    out: dict[str, float] = {}
    if dt <= 0:
        return out
    for src, v in cur.accepted.items():
        before = prev.accepted.get(src)
        if before is None:
            continue
        if v >= before:
            out[src] = (v - before) / dt
    return out


def _safe_url(url: str) -> str:
    """A URL without credentials, for messages."""
    p = urlsplit(url)
    host = p.hostname or ""
    if p.port:
        host = f"{host}:{p.port}"
    return urlunsplit((p.scheme, host, p.path, "", ""))


class Health:
    """Scrapes ``urls`` every ``interval_s``; :meth:`feeds` gives the screen's rows."""

    def __init__(self, settings: "Settings", urls: list[str] | None = None, interval_s: float = 5.0,
                 timeout_s: float = 3.0) -> None:
        self.urls = list(settings.dashboard.worker_metrics if urls is None else urls)
        self.interval_s, self.timeout_s = interval_s, timeout_s
        self.feeds_config = {name: (f.name_zh, f.topic) for name, f in settings.feeds.items()}
        self.prev: Sample | None = None
        self.cur: Sample | None = None
        self.rates: dict[str, float] = {}
        self.error: str | None = None if self.urls else "未配置 worker 指标地址 dashboard.worker_metrics is empty"
        self.scrapes = 0
        self._task: asyncio.Task[None] | None = None
        self._session: Any = None

    def start(self) -> None:
        if self.urls:
            self._task = asyncio.create_task(self._run(), name="dashboard-health")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        import aiohttp

        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        while True:
            try:
                await self.scrape_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # never let the screen's health panel take the app down
                self.error = f"指标解析失败 cannot read worker metrics: {type(e).__name__}"
                log.debug("health scrape failed", exc_info=True)
            await asyncio.sleep(self.interval_s)

    async def _fetch(self, url: str) -> Sample:
        async with self._session.get(url, headers={"Accept": "text/plain"}) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            text = await r.text()
        return await asyncio.to_thread(parse_sample, text)

    async def scrape_once(self) -> None:
        results = await asyncio.gather(*(self._fetch(u) for u in self.urls), return_exceptions=True)
        total = Sample(at=time.time())
        errors = []
        for url, res in zip(self.urls, results):
            if isinstance(res, BaseException):
                errors.append(f"{_safe_url(url)}: {type(res).__name__} {str(res)[:120]}".rstrip())
            else:
                total.add(res)
        self.scrapes += 1
        if len(errors) == len(self.urls):
            self.error = "无法抓取 worker 指标 cannot scrape worker metrics — " + "; ".join(errors)
            self.prev, self.cur, self.rates = None, None, {}
            return
        self.error = ("部分 worker 指标抓取失败 some worker metrics failed — " + "; ".join(errors)) if errors else None
        self.prev, self.cur = self.cur, total
        self.rates = events_per_s(self.prev, self.cur) if self.prev is not None else {}

    def feeds(self) -> list[dict[str, Any]]:
        """``[{"source", "name_zh", "events_per_s", "lag", "deadletters"}]`` for every configured feed
        (and any other source the workers report)."""
        cur = self.cur
        names = dict((k, v[0]) for k, v in self.feeds_config.items())
        if cur is not None:
            for k, v in cur.names.items():
                names.setdefault(k, v)
            for k in cur.accepted:
                names.setdefault(k, k)
        out = []
        for src, name_zh in names.items():
            topic = self.feeds_config.get(src, ("", ""))[1]
            lag = None
            if cur is not None and cur.has_lag and topic:
                lag = cur.lag.get(topic, 0.0)
            out.append({
                "source": src, "name_zh": name_zh or src,
                "events_per_s": (round(self.rates.get(src, 0.0), 3) if cur is not None and self.prev is not None else None),
                "lag": lag,
                "deadletters": (cur.deadletters.get(src, 0.0) if cur is not None else None),
            })
        return out
