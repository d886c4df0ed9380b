// 大屏 (overview): level counts, district map, street ranking, feeds health, precision.
// Data: GET /api/overview; refreshed on SSE `overview` / `alert` / `feedback` (no page reload).

import {
  $, h, setText, initNav, subscribe, throttle, startClock, getJSON, levelBadge, fmtNum, fmtPct, fmtAgo,
  fmtFull, normDistrict, signalZh, markOnce, loadEcharts, LEVELS, LEVEL_COLOR, LEVEL_ZH, LEVEL_RANK,
} from "./common.js";

const MAP_NAME = "city";
const MAP_URL = "/static/map/city.json";
const NONE_COLOR = "#1b3358";

let chart = null;
let mapReady = false;
/** normalised district name → the map feature's own name */
const featureByNorm = new Map();
let lastOverview = null;

function showError(sel, msg) {
  const el = $(sel);
  if (!el) return;
  el.hidden = !msg;
  el.textContent = msg || "";
}

async function loadMap() {
  const box = $("#city-map");
  let geo;
  let echarts;
  try {
    [echarts, geo] = await Promise.all([
      loadEcharts().catch(() => { throw new Error("图表库未加载 (echarts missing)"); }),
      getJSON(MAP_URL).catch((e) => { throw new Error(`地图数据加载失败：${e.message}`); }),
    ]);
  } catch (e) {
    showError("#map-error", e.message);
    return;
  }
  // echarts decodes both plain GeoJSON and its own compressed form ("UTF8Encoding": true).
  echarts.registerMap(MAP_NAME, geo);
  for (const f of geo.features || []) {
    const name = f.properties && f.properties.name;
    if (name) featureByNorm.set(normDistrict(name), name);
  }
  box.dataset.features = String(featureByNorm.size);
  chart = echarts.init(box, null, { renderer: "canvas" });
  chart.on("click", (p) => {
    if (p && p.name) location.href = `/inbox?district=${encodeURIComponent(p.data && p.data.district ? p.data.district : p.name)}&status=firing`;
  });
  // the grid settles after the first data arrives: follow the box, not only the window
  if (typeof ResizeObserver !== "undefined") new ResizeObserver(() => chart && chart.resize()).observe(box);
  else window.addEventListener("resize", () => chart && chart.resize());
  mapReady = true;
}

function tooltipEl(p) {
  const d = p.data || {};
  const rows = [h("div", { class: "tt-title" }, p.name)];
  if (d.level) {
    rows.push(h("div", null, levelBadge(d.level), ` 最高等级：${LEVEL_ZH[d.level]}`));
  } else {
    rows.push(h("div", null, "无活动预警"));
  }
  rows.push(h("div", null, `活动预警 ${d.active || 0} 条`));
  return h("div", { class: "tt" }, rows);
}

function renderMap(districts) {
  if (!mapReady || !chart) return;
  const data = [];
  const seen = new Set();
  let colored = 0;
  for (const d of districts || []) {
    const feature = featureByNorm.get(normDistrict(d.name));
    if (!feature) continue; // a district the map does not draw (e.g. a custom map without it)
    seen.add(feature);
    const level = LEVEL_RANK[d.level] ? d.level : null;
    if (level) colored += 1;
    data.push({
      name: feature,
      district: d.name,
      value: level ? LEVEL_RANK[level] : 0,
      level,
      active: d.active || 0,
      itemStyle: { areaColor: level ? LEVEL_COLOR[level] : NONE_COLOR },
      emphasis: { itemStyle: { areaColor: level ? LEVEL_COLOR[level] : "#2a4a7a" } },
      label: { color: level === "yellow" ? "#1a1a1a" : "#e8f1ff" },
    });
  }
  for (const feature of featureByNorm.values()) {
    if (!seen.has(feature)) {
      data.push({ name: feature, value: 0, level: null, active: 0, itemStyle: { areaColor: NONE_COLOR },
        emphasis: { itemStyle: { areaColor: "#2a4a7a" } } });
    }
  }
  const box = $("#city-map");
  box.dataset.colored = String(colored);
  box.dataset.levels = JSON.stringify(Object.fromEntries(data.filter((x) => x.level).map((x) => [x.name, x.level])));
  chart.setOption({
    animation: false,
    tooltip: {
      trigger: "item",
      confine: true,
      className: "echarts-tt",
      formatter: tooltipEl,
    },
    series: [{
      type: "map",
      map: MAP_NAME,
      roam: false,
      layoutCenter: ["50%", "52%"],
      layoutSize: "96%",
      selectedMode: false,
      label: { show: true, fontSize: 13, color: "#e8f1ff" },
      labelLayout: { hideOverlap: true },
      itemStyle: { borderColor: "#7fb2ff", borderWidth: 1, areaColor: NONE_COLOR },
      emphasis: { label: { color: "#ffffff" }, itemStyle: { borderColor: "#ffffff", borderWidth: 2 } },
      data,
    }],
  }, { replaceMerge: ["series"] });
  box.dataset.ready = "1";
  markOnce("map");
}

function renderLevels(levels, districts) {
  let total = 0;
  for (const lv of LEVELS) {
    const n = Number((levels || {})[lv] || 0);
    total += n;
    const el = $(`#level-counts [data-level=${lv}]`);
    if (el) el.textContent = String(n);
  }
  setText("#active-total", total);
  setText("#active-districts", (districts || []).filter((d) => d.active > 0 || d.level).length);
}

function renderRanking(rows) {
  const tbody = $("#ranking tbody");
  const frag = document.createDocumentFragment();
  for (const r of rows || []) {
    const href = `/alerts/${encodeURIComponent(r.alert_id)}`;
    const tags = [];
    if (r.verdict === "confirmed") tags.push(h("span", { class: "tag tag-ok" }, "已确认"));
    if (r.verdict === "false_alarm") tags.push(h("span", { class: "tag tag-bad" }, "误报"));
    if (r.handled_at) tags.push(h("span", { class: "tag" }, "已处置"));
    if (r.silenced_until) tags.push(h("span", { class: "tag tag-mute", title: `静默至 ${fmtFull(r.silenced_until)}` }, "静默"));
    const tr = h("tr", { dataset: { alertId: r.alert_id, level: r.level || "" }, class: `row-link lv-row-${r.level}` },
      h("td", null, levelBadge(r.level)),
      h("td", { class: "street" }, h("a", { href }, r.street_name || r.street_code || "—"), tags),
      h("td", null, r.district || "—"),
      h("td", { class: "signal", title: signalZh(r) }, signalZh(r)),
      h("td", { class: "num" }, fmtNum(r.score)),
      h("td", { title: fmtFull(r.starts_at) }, fmtAgo(r.starts_at)),
    );
    tr.addEventListener("click", (ev) => {
      if (ev.target.closest("a")) return;
      location.href = href;
    });
    frag.append(tr);
  }
  tbody.replaceChildren(frag);
  $("#ranking-empty").hidden = (rows || []).length > 0;
}

function renderFeeds(feeds, error) {
  const tbody = $("#feeds tbody");
  tbody.replaceChildren(...(feeds || []).map((f) => {
    const dead = Number(f.deadletters || 0);
    return h("tr", { dataset: { source: f.source, rate: f.events_per_s === null || f.events_per_s === undefined ? "" : String(f.events_per_s) } },
      h("td", null, f.name_zh || f.source, h("small", { class: "muted" }, ` ${f.source}`)),
      h("td", { class: "num" }, fmtNum(f.events_per_s, 2)),
      h("td", { class: f.lag > 1000 ? "num warn" : "num" }, fmtNum(f.lag, 0)),
      h("td", { class: dead > 0 ? "num warn" : "num" }, fmtNum(f.deadletters, 0)),
    );
  }));
  showError("#feeds-error", error ? `worker 指标 (metrics)：${error}` : "");
}

function precRow(r) {
  const c = Number(r.confirmed || 0);
  const f = Number(r.false_alarm || 0);
  const p = r.precision === null || r.precision === undefined ? (c + f > 0 ? c / (c + f) : null) : Number(r.precision);
  return { c, f, p };
}

function renderPrecision(prec) {
  const box = $("#precision");
  const overall = (prec && prec.overall) || {};
  const o = precRow(overall);
  const big = $("#precision-overall");
  big.textContent = fmtPct(o.p);
  big.dataset.precision = o.p === null ? "" : String(o.p);
  setText("#precision-overall-sub", `确认 ${o.c} · 误报 ${o.f}`);
  const tbody = box.querySelector("tbody");
  tbody.replaceChildren(...((prec && prec.by_signal) || []).map((r) => {
    const { c, f, p } = precRow(r);
    const bar = h("span", { class: "bar" }, h("span", { class: p === null ? "bar-fill nil" : `bar-fill q${Math.round((p || 0) * 10)}` }));
    return h("tr", { dataset: { signal: r.signal, precision: p === null ? "" : String(p), confirmed: String(c), falseAlarm: String(f) } },
      h("td", null, signalZh(r)),
      h("td", { class: "num" }, String(c)),
      h("td", { class: "num" }, String(f)),
      h("td", { class: "num pct" }, fmtPct(p), bar),
    );
  }));
}

async function refresh() {
  let ov;
  try {
    ov = await getJSON("/api/overview");
  } catch (e) {
    showError("#page-error", `数据刷新失败：${e.message}（稍后自动重试）`);
    return;
  }
  showError("#page-error", "");
  lastOverview = ov;
  if (ov.city && ov.city.name) {
    setText("#city-name", ov.city.name);
    document.title = `${ov.city.name} · 城市运行大屏`;
  }
  renderLevels(ov.levels, ov.districts);
  renderRanking(ov.ranking);
  renderFeeds(ov.feeds, ov.feeds_error);
  renderPrecision(ov.precision);
  renderMap(ov.districts);
  const upd = $("#updated");
  upd.textContent = fmtFull(ov.generated_at || new Date().toISOString()).slice(11) || "—";
  upd.setAttribute("datetime", ov.generated_at || "");
  upd.title = fmtFull(ov.generated_at);
  document.body.dataset.loaded = "1";
  markOnce("rendered");
}

async function main() {
  startClock();
  initNav("overview");
  const schedule = throttle(refresh, 1000);
  subscribe({ overview: schedule, alert: schedule, feedback: schedule });
  // numbers and the ranking first; then parse the chart library (preloaded meanwhile) and draw the map
  const first = refresh();
  await Promise.race([first, new Promise((r) => { setTimeout(r, 800); })]);
  await loadMap();
  await first;
  if (lastOverview) renderMap(lastOverview.districts);
  // feeds health (scraped by the server every few seconds; no stream event), ages ("3小时前"),
  // and a safety net when the stream is down
  setInterval(schedule, 10000);
}

main();
