"""Dashboard page load with 10,000 alerts in the history (target: page load ≤ 1 s).

    .venv/bin/python bench/dashboard_load.py [--alerts 10000] [--runs 5] [--db URL] [--shots DIR]

Fills a SQLite history (``warning.history.store``) with ``--alerts`` alert episodes — about three
records each (fired, updated/escalated, resolved; ~1 % still firing), ~20 % with a trusted
verdict and some with "handled" — starts the dashboard app (``make_app`` without Kafka and without
worker scraping) on a free port, and loads the overview (大屏) and the inbox (收件箱) in Debian's
headless chromium through Selenium, ``--runs`` times each with the browser cache disabled (every
run fetches echarts.min.js, the map and the API again). Per page it prints the navigation timing
(domContentLoaded, load), first contentful paint, the time until the ranking / inbox rows are
rendered (the pages set the performance mark ``warning:rendered`` once their rows are in the
DOM) and the API requests' durations.

Baseline, measured in the same run with the same server and browser: each page's rendered DOM
(taken from the last run) saved as a static HTML page — same size, same CSS and vendored
scripts, no API calls and no rendering code — served by the same app. The ratio
rendered / baseline load says what our data loading and rendering add to a plain page of the same
weight. Exit status 1 when a page's median time until it is ready (the latest of load, rows rendered
and, on the overview, the map drawn) exceeds ``--target-ms`` (1000).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from warning.core.registry import Registry  # noqa: E402
from warning.core.signals import SIGNALS, LEVEL_NAMES  # noqa: E402
from warning.core.timeutil import iso  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PAGES = {"overview": "/", "inbox": "/inbox"}
WAIT = {"overview": "map", "inbox": True}
SAMPLES = ["小区供暖不热，已多次反映，电话1**********", "楼下商户夜间施工噪音扰民，联系人张**",
           "要求退还预付款，涉及多名业主", "路口积水严重，老人出行困难"]


# ------------------------------------------------------------------------------------------- data


def build_history(url: str, n_alerts: int, now: float, seed: int = 12) -> dict[str, Any]:
    """Write ``n_alerts`` episodes into the history at ``url``; returns counts and seconds taken."""
    from warning.history.store import Consumed, HistoryStore

    rnd = random.Random(seed)
    reg = Registry.load("110000")
    streets = sorted(reg.streets.values(), key=lambda s: s.code)
    signals = sorted(SIGNALS)
    alerts_topic, fb_topic, parts = "warning.alerts", "warning.alerts.feedback", 6
    offsets = {p: 0 for p in range(parts)}
    fb_off = 0
    batch: list[Consumed] = []
    n_records = n_feedback = n_active = 0
    t0 = time.perf_counter()
    store = HistoryStore.open(url)
    try:
        for i in range(n_alerts):
            st = rnd.choice(streets)
            sig = rnd.choice(signals)
            start = now - rnd.uniform(0.0, 90 * 86400.0)
            lv = rnd.choices(LEVEL_NAMES, [6, 3, 1.5, 0.5])[0]
            firing = i % 100 == 0  # ~1 % still active: a busy but plausible screen
            if firing:
                start = now - rnd.uniform(600.0, 12 * 3600.0)
                n_active += 1
            exp = round(rnd.uniform(0.5, 6.0), 2)
            obs = float(int(exp * rnd.uniform(2.5, 6.0)) + 3)
            aid = f"{st.code}:{sig}:{int(start)}:{i}"
            part = int(st.code) % parts
            base = {
                "alert_id": aid, "signal": sig, "street_code": st.code, "street_name": st.name,
                "district": st.district.name, "starts_at": iso(start), "expected": exp,
                "summary_zh": f"{st.district.name}{st.name}{SIGNALS[sig].zh}：近1小时{int(obs)}件，预期约{exp}件",
            }
            w0 = start - start % 3600
            recs = [
                {**base, "status": "firing", "level": lv, "window_start": iso(w0), "window_end": iso(w0 + 3600),
                 "observed": obs, "score": round(rnd.uniform(4.0, 9.0), 2),
                 "evidence": {"detail_zh": f"近1小时{int(obs)}件，为预期的{obs / exp:.1f}倍", "window": "1h",
                              "p_value": 10 ** -rnd.uniform(4, 12), "by_source": {"hotline": int(obs)}},
                 "sample_texts": rnd.sample(SAMPLES, 3)},
            ]
            lv2 = LEVEL_NAMES[min(3, LEVEL_NAMES.index(lv) + (1 if rnd.random() < 0.4 else 0))]
            recs.append({**recs[0], "level": lv2, "window_start": iso(w0 + 3600), "window_end": iso(w0 + 7200),
                         "observed": obs + 4, "score": round(recs[0]["score"] + rnd.uniform(0.0, 4.0), 2)})
            if not firing:
                recs.append({**base, "status": "resolved", "level": lv2, "window_start": iso(w0 + 7200),
                             "window_end": iso(w0 + 10800), "ends_at": iso(w0 + 10800), "observed": 1.0,
                             "score": 0.5, "evidence": {}, "sample_texts": []})
            for r in recs:
                batch.append(Consumed("alert", alerts_topic, part, offsets[part], r))
                offsets[part] += 1
                n_records += 1
            if rnd.random() < 0.2:
                verdict = "confirmed" if rnd.random() < 0.7 else "false_alarm"
                at = start + rnd.uniform(1800.0, 6 * 3600.0)
                for action in [verdict] + (["handled"] if rnd.random() < 0.5 else []):
                    batch.append(Consumed("feedback", fb_topic, 0, fb_off, {
                        "alert_id": aid, "action": action, "by": "值班员", "at": iso(min(at, now)),
                        "street_code": st.code, "signal": sig, "source": "dashboard"}, trusted=True))
                    fb_off += 1
                    n_feedback += 1
            if len(batch) >= 3000:
                store.apply(batch)
                batch = []
        if batch:
            store.apply(batch)
        total, _ = store.query_alerts()
    finally:
        store.close()
    return {"alerts": total, "records": n_records, "feedback": n_feedback, "active": n_active,
            "seconds": time.perf_counter() - t0}


# ----------------------------------------------------------------------------------------- server


class Server:
    """The dashboard app in a background thread (its own event loop), plus baseline pages."""

    def __init__(self, url: str, data_dir: Path) -> None:
        from aiohttp import web

        from warning.config import load_settings
        from warning.dashboard.app import make_app
        from warning.history.store import HistoryStore

        self.baselines: dict[str, str] = {}
        settings = load_settings(None, env={"WARNING_WORKER__DATA_DIR": str(data_dir)})
        self.store = HistoryStore.open(url, create=False)
        self.app = make_app(settings, self.store, kafka=False, health=False)

        async def baseline(request: web.Request) -> web.Response:
            html = self.baselines.get(request.match_info["page"])
            if html is None:
                return web.Response(status=404)
            return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})

        self.app.router.add_get("/bench/baseline/{page}", baseline)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner = web.AppRunner(self.app)

    def _call(self, coro: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> str:
        from aiohttp import web

        self.thread.start()
        self._call(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self._call(site.start())
        port = self.runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        try:
            self._call(self.runner.cleanup())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.store.close()


# ---------------------------------------------------------------------------------------- browser


def make_driver(width: int = 1920, height: int = 1080) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--window-size={width},{height}", "--lang=zh-CN", "--disable-extensions"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    return d


TIMING_JS = """
const n = performance.getEntriesByType('navigation')[0];
if (!n || !n.loadEventEnd) return null;
const want = arguments[0];
const r = performance.getEntriesByName('warning:rendered')[0];
const m = performance.getEntriesByName('warning:map')[0];
if (want && (!r || (want === 'map' && !m))) return null;
const fcp = performance.getEntriesByName('first-contentful-paint')[0];
const api = performance.getEntriesByType('resource').filter(e => e.name.includes('/api/') && !e.name.includes('/api/stream'))
  .map(e => [new URL(e.name).pathname, e.duration]);
return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, fcp: fcp ? fcp.startTime : null,
        rendered: r ? r.startTime : null, map: m ? m.startTime : null, bytes: n.decodedBodySize, api: api,
        rows: document.querySelectorAll('#ranking tbody tr[data-alert-id], #inbox tbody tr[data-alert-id]').length};
"""


def measure(driver: Any, url: str, want_rendered: bool | str, timeout: float = 20.0) -> dict[str, Any]:
    """Navigation timing of one load of ``url``; ``want_rendered``: also wait for the page's
    ``warning:rendered`` mark (``"map"``: and ``warning:map``)."""
    driver.get("about:blank")
    driver.get(url)
    deadline = time.monotonic() + timeout
    while True:
        t = driver.execute_script(TIMING_JS, want_rendered)
        if t is not None:
            return t
        if time.monotonic() > deadline:
            state = driver.execute_script(
                "return [performance.getEntriesByType('mark').map(m => m.name), "
                "(document.querySelector('.error:not([hidden])') || {}).textContent || '']")
            raise TimeoutError(f"{url}: not loaded/rendered in {timeout}s (marks, error: {state})")
        time.sleep(0.02)


def snapshot(driver: Any) -> str:
    """The page as rendered, without its module scripts (it stays a static page of the same size)."""
    html = driver.execute_script("return '<!doctype html>\\n' + document.documentElement.outerHTML")
    return re.sub(r'<script type="module"[^>]*></script>', "", html)


def med(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.median(vals) if vals else None


def fmt(x: float | None) -> str:
    return "    —" if x is None else f"{x:7.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--db", default="", help="history URL (default: a fresh SQLite file in a temp dir)")
    ap.add_argument("--target-ms", type=float, default=1000.0)
    ap.add_argument("--shots", default="", help="save a screenshot of each page here")
    args = ap.parse_args(argv)
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        print(f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="dashboard-load-"))
    url = args.db or f"sqlite:///{tmp / 'history.sqlite3'}"
    now = time.time()
    print(f"filling {url} with {args.alerts} alerts …", flush=True)
    built = build_history(url, args.alerts, now)
    print(f"  {built['alerts']} alerts, {built['records']} alert records, {built['feedback']} feedback records, "
          f"{built['active']} firing — {built['seconds']:.1f} s")

    server = Server(url, tmp)
    base = server.start()
    driver = make_driver()
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    uncached: list[float] = []
    try:
        for page, path in PAGES.items():
            measure(driver, base + path, WAIT[page])  # warm the server (first queries, imports), not counted
            ours = [measure(driver, base + path, WAIT[page]) for _ in range(args.runs)]
            if args.shots:
                Path(args.shots).mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(Path(args.shots) / f"load_{page}.png"))
            server.baselines[page] = snapshot(driver)
            measure(driver, f"{base}/bench/baseline/{page}", False)
            baseline = [measure(driver, f"{base}/bench/baseline/{page}", False) for _ in range(args.runs)]
            results[page] = {"ours": ours, "baseline": baseline}
        # the server caches the overview for 1 s: also time its computation uncached
        from warning.dashboard.app import STATE

        dash = server.app[STATE]
        for _ in range(args.runs):
            t = time.perf_counter()
            dash.overview_data()
            uncached.append((time.perf_counter() - t) * 1000)
    finally:
        driver.quit()
        server.stop()

    print(f"\n{args.runs} runs per page, browser cache disabled, ms since navigation start")
    worst = 0.0
    for page, res in results.items():
        ours, bl = res["ours"], res["baseline"]
        print(f"\n{page} ({PAGES[page]}): {ours[-1]['rows']} rows, HTML {ours[0]['bytes']} B; "
              f"baseline static page {bl[0]['bytes']} B")
        print("                     DCL     load      FCP     rows      map")
        for i, (o, b) in enumerate(zip(ours, bl)):
            print(f"  run {i + 1} page      {fmt(o['dcl'])}  {fmt(o['load'])}  {fmt(o['fcp'])}  {fmt(o['rendered'])}  "
                  f"{fmt(o['map'])}")
            print(f"  run {i + 1} baseline  {fmt(b['dcl'])}  {fmt(b['load'])}  {fmt(b['fcp'])}")
        m = {k: med([o[k] for o in ours]) for k in ("dcl", "load", "fcp", "rendered", "map")}
        mb = {k: med([b[k] for b in bl]) for k in ("dcl", "load", "fcp")}
        ready = max(m["rendered"] or 0.0, m["load"] or 0.0, m["map"] or 0.0)
        worst = max(worst, ready)
        api: dict[str, list[float]] = {}
        for o in ours:
            for name, dur in o["api"]:
                api.setdefault(name, []).append(dur)
        print(f"  median page      {fmt(m['dcl'])}  {fmt(m['load'])}  {fmt(m['fcp'])}  {fmt(m['rendered'])}  "
              f"{fmt(m['map'])}")
        print(f"  median baseline  {fmt(mb['dcl'])}  {fmt(mb['load'])}  {fmt(mb['fcp'])}")
        if mb["load"]:
            print(f"  page ready {ready:.0f} ms (max of load, rows, map); ratio to baseline load: "
                  f"{ready / mb['load']:.2f} (rows alone: {(m['rendered'] or 0) / mb['load']:.2f})")
        for name, durs in sorted(api.items()):
            print(f"  API {name}: median {statistics.median(durs):.0f} ms over {len(durs)} requests")
    print(f"\n/api/overview computed without the server's 1 s cache: median {statistics.median(uncached):.0f} ms "
          f"(max {max(uncached):.0f} ms) over {len(uncached)} runs")
    ok = worst <= args.target_ms
    print(f"\nslowest page ready (median of max(load, rows, map)): {worst:.0f} ms — target ≤ {args.target_ms:.0f} ms: "
          f"{'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
