// 预警收件箱 (inbox): filters → GET /api/alerts; live prepend/update from SSE `alert`.

import {
  $, h, initNav, subscribe, throttle, getJSON, levelBadge, fmtNum, fmtAgo, fmtFull, fmtTime, toDate,
  normDistrict, signalZh, rememberSignal, knownSignals, markOnce, STATUS_ZH,
} from "./common.js";

const PAGE = 50;
const FIELDS = ["district", "level", "signal", "status", "verdict", "range", "since", "until"];
const RANGES = { "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };

const state = { filters: {}, offset: 0, total: 0 };

function readForm() {
  const form = $("#filters");
  const f = {};
  for (const k of FIELDS) {
    const el = form.elements[k];
    if (el && el.value) f[k] = el.value;
  }
  if (f.range !== "custom") { delete f.since; delete f.until; }
  return f;
}

function writeForm(f) {
  const form = $("#filters");
  for (const k of FIELDS) {
    const el = form.elements[k];
    if (!el) continue;
    const v = f[k] || "";
    if (el.tagName === "SELECT" && v && ![...el.options].some((o) => o.value === v)) {
      el.append(h("option", { value: v }, v)); // e.g. a district from a link the list does not have
    }
    el.value = v;
  }
  $("#custom-range").hidden = f.range !== "custom";
}

function fromUrl() {
  const q = new URLSearchParams(location.search);
  const f = {};
  for (const k of FIELDS) if (q.get(k)) f[k] = q.get(k);
  if ((f.since || f.until) && !f.range) f.range = "custom";
  state.offset = Math.max(0, parseInt(q.get("offset") || "0", 10) || 0);
  return f;
}

function toUrl() {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filters)) q.set(k, v);
  if (state.offset) q.set("offset", String(state.offset));
  const s = q.toString();
  history.replaceState(null, "", s ? `/inbox?${s}` : "/inbox");
}

/** [since, until] in epoch seconds (null = open). datetime-local values are the browser's local time. */
function timeBounds(f) {
  if (RANGES[f.range]) return [Date.now() / 1000 - RANGES[f.range], null];
  if (f.range === "custom") {
    const s = f.since ? toDate(f.since) : null;
    const u = f.until ? toDate(f.until) : null;
    return [s ? s.getTime() / 1000 : null, u ? u.getTime() / 1000 : null];
  }
  return [null, null];
}

function apiQuery() {
  const f = state.filters;
  const q = new URLSearchParams();
  for (const k of ["district", "level", "signal", "status", "verdict"]) if (f[k]) q.set(k, f[k]);
  const [since, until] = timeBounds(f);
  if (since !== null) q.set("since", String(Math.floor(since)));
  if (until !== null) q.set("until", String(Math.ceil(until)));
  q.set("limit", String(PAGE));
  q.set("offset", String(state.offset));
  return q;
}

/** Does a (live) row pass the current filters? Mirrors the server's AlertQuery. */
function matches(r) {
  const f = state.filters;
  if (f.district && normDistrict(r.district) !== normDistrict(f.district)) return false;
  if (f.level && r.level !== f.level) return false;
  if (f.signal && r.signal !== f.signal) return false;
  if (f.status === "firing" && r.status !== "firing") return false;
  if (f.status === "resolved" && r.status !== "resolved") return false;
  if (f.status === "open" && (r.status !== "firing" || r.verdict)) return false;
  if (f.verdict === "none" && r.verdict) return false;
  if (f.verdict && f.verdict !== "none" && r.verdict !== f.verdict) return false;
  const [since, until] = timeBounds(f);
  const t = toDate(r.starts_at);
  if (t && since !== null && t.getTime() / 1000 < since) return false;
  if (t && until !== null && t.getTime() / 1000 > until) return false;
  return true;
}

function verdictCell(r) {
  const out = [];
  if (r.verdict === "confirmed") out.push(h("span", { class: "tag tag-ok", title: r.verdict_by ? `由 ${r.verdict_by}` : null }, "确认"));
  else if (r.verdict === "false_alarm") out.push(h("span", { class: "tag tag-bad", title: r.verdict_by ? `由 ${r.verdict_by}` : null }, "误报"));
  else out.push(h("span", { class: "muted" }, "未研判"));
  if (r.handled_at) out.push(h("span", { class: "tag", title: `${r.handled_by || ""} ${fmtFull(r.handled_at)}` }, "已处置"));
  if (r.silenced_until) out.push(h("span", { class: "tag tag-mute", title: `静默至 ${fmtFull(r.silenced_until)}` }, "静默"));
  return out;
}

function rowEl(r) {
  const href = `/alerts/${encodeURIComponent(r.alert_id)}`;
  const tr = h("tr", { dataset: { alertId: r.alert_id, level: r.level || "", status: r.status || "", startsAt: r.starts_at || "" }, class: `row-link lv-row-${r.level} st-${r.status}` },
    h("td", null, levelBadge(r.level)),
    h("td", null, h("span", { class: `status status-${r.status}` }, STATUS_ZH[r.status] || r.status || "—")),
    h("td", { class: "street" }, h("a", { href }, r.street_name || r.street_code || "—")),
    h("td", null, r.district || "—"),
    h("td", { class: "signal" }, signalZh(r)),
    h("td", { class: "num" }, fmtNum(r.score)),
    h("td", { class: "num" }, `${fmtNum(r.observed, 0)} / ${fmtNum(r.expected)}`),
    h("td", { title: fmtFull(r.starts_at) }, fmtTime(r.starts_at)),
    h("td", { title: fmtFull(r.updated_at) }, fmtAgo(r.updated_at)),
    h("td", { class: "verdict" }, verdictCell(r)),
  );
  tr.addEventListener("click", (ev) => {
    if (ev.target.closest("a")) return;
    location.href = href;
  });
  return tr;
}

function renderMeta() {
  $("#inbox-total").textContent = `共 ${state.total} 条`;
  const pages = Math.max(1, Math.ceil(state.total / PAGE));
  const page = Math.floor(state.offset / PAGE) + 1;
  $("#page-no").textContent = `第 ${page} / ${pages} 页`;
  $("#prev-page").disabled = state.offset <= 0;
  $("#next-page").disabled = state.offset + PAGE >= state.total;
  $("#inbox-empty").hidden = $("#inbox tbody").children.length > 0;
}

function addSignalOption(code, zh) {
  const sel = $("#f-signal");
  if (!code || [...sel.options].some((o) => o.value === code)) return;
  sel.append(h("option", { value: code }, zh || code));
}

async function load() {
  const err = $("#inbox-error");
  let res;
  try {
    res = await getJSON(`/api/alerts?${apiQuery()}`);
  } catch (e) {
    err.hidden = false;
    err.textContent = `查询失败：${e.message}`;
    return;
  }
  err.hidden = true;
  state.total = Number(res.total || 0);
  const items = res.items || [];
  for (const r of items) addSignalOption(r.signal, signalZh(r));
  $("#inbox tbody").replaceChildren(...items.map(rowEl));
  renderMeta();
  document.body.dataset.loaded = "1";
  markOnce("rendered");
}

function onAlert(r) {
  if (!r || !r.alert_id) return;
  addSignalOption(r.signal, signalZh(r));
  const tbody = $("#inbox tbody");
  const old = [...tbody.children].find((tr) => tr.dataset.alertId === r.alert_id);
  const ok = matches(r);
  if (old) {
    const tr = rowEl(r);
    if (!ok) tr.classList.add("stale"); // no longer fits the filters: keep it in view, greyed
    tr.classList.add("flash");
    old.replaceWith(tr);
  } else if (ok && state.offset === 0) {
    const place = placeOf(r, tbody);
    if (!place) return; // older than the whole (full) first page: a later page's, and already counted
    const tr = rowEl(r);
    tr.classList.add("flash", "new");
    tbody.insertBefore(tr, place.before);
    state.total += 1;
    while (tbody.children.length > PAGE) tbody.lastElementChild.remove();
    renderMeta();
  }
  // else (a later page is shown): the next reload places and counts it
}

/**
 * Where a matching row that is not on the first page goes (the list is newest first by starts_at):
 * {before: row | null (= at the end)}; null when it is older than a full page (it belongs to a
 * later page: an older alert's update, counted already). Within the page's range it is one the
 * page did not have — new, or newly matching the filters — so it is also counted.
 */
function placeOf(r, tbody) {
  const rows = [...tbody.querySelectorAll("tr[data-alert-id]")];
  const t = toDate(r.starts_at);
  if (!t) return { before: rows[0] || null };
  for (const tr of rows) {
    const ti = toDate(tr.dataset.startsAt);
    if (!ti || t.getTime() >= ti.getTime()) return { before: tr };
  }
  return rows.length < PAGE ? { before: null } : null;
}

async function fillOptions() {
  // districts: the map's features (static, cached); signals: the precision table + rows seen
  try {
    const geo = await getJSON("/static/map/city.json");
    const sel = $("#f-district");
    for (const f of geo.features || []) {
      const name = f.properties && f.properties.name;
      if (name && ![...sel.options].some((o) => o.value === name)) sel.append(h("option", { value: name }, name));
    }
  } catch { /* the filter still works with districts from links */ }
  try {
    const p = await getJSON("/api/precision");
    for (const r of p.by_signal || []) {
      rememberSignal(r.signal, r.signal_zh);
      addSignalOption(r.signal, r.signal_zh);
    }
  } catch { /* optional */ }
  for (const [code, zh] of knownSignals()) addSignalOption(code, zh);
  writeForm(state.filters); // re-select values whose options just arrived
}

function main() {
  initNav("inbox");
  state.filters = fromUrl();
  writeForm(state.filters);
  const form = $("#filters");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.filters = readForm();
    state.offset = 0;
    toUrl();
    load();
  });
  form.addEventListener("change", (ev) => {
    if (ev.target.name === "range") $("#custom-range").hidden = ev.target.value !== "custom";
    if (ev.target.name === "since" || ev.target.name === "until") return; // wait for 查询
    if (ev.target.name === "range" && ev.target.value === "custom") return;
    form.requestSubmit();
  });
  form.addEventListener("reset", () => {
    setTimeout(() => {
      $("#custom-range").hidden = true;
      form.requestSubmit();
    }, 0);
  });
  $("#prev-page").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); toUrl(); load(); });
  $("#next-page").addEventListener("click", () => { state.offset += PAGE; toUrl(); load(); });
  const reload = throttle(load, 1500);
  subscribe({ alert: onAlert, feedback: reload, resume: reload });
  load();
  fillOptions();
  setInterval(reload, 60000); // ages and a safety net when the stream is down
}

main();
