// 预警详情 (alert detail): GET /api/alerts/{id}; actions POST /api/alerts/{id}/feedback.

import {
  $, h, setText, initNav, getMe, subscribe, throttle, getJSON, postJSON, levelBadge, fmtNum, fmtFull,
  fmtTime, toDate, signalZh, loginHref, markOnce, loadEcharts, LEVEL_ZH, LEVEL_GRADE, LEVEL_COLOR, STATUS_ZH, ACTION_ZH,
} from "./common.js";

const rawId = location.pathname.replace(/^\/alerts\//, "").replace(/\/+$/, "");
let alertId = rawId;
try { alertId = decodeURIComponent(rawId); } catch { /* malformed %-escape: the API answers 404 */ }
const apiUrl = `/api/alerts/${encodeURIComponent(alertId)}`;
const BUTTONS = ["confirmed", "false_alarm", "handled", "silence", "unsilence"];

let chart = null;
let me = null;
let current = null;

function fill(id, node) {
  const el = $(id);
  el.replaceChildren(...(Array.isArray(node) ? node : [node]).filter((x) => x !== null && x !== undefined));
}

function renderHead(a) {
  const lv = $("#d-level");
  lv.className = `lv lv-big lv-${a.level || "none"}`;
  lv.textContent = a.level ? `${LEVEL_ZH[a.level]} ${LEVEL_GRADE[a.level]}` : "—";
  setText("#d-street", a.street_name || a.street_code);
  setText("#d-district", a.district);
  setText("#d-signal", signalZh(a));
  const st = $("#d-status");
  st.className = `status status-${a.status}`;
  st.textContent = STATUS_ZH[a.status] || a.status || "";
  fill("#d-verdict", a.verdict
    ? h("span", { class: a.verdict === "confirmed" ? "tag tag-ok" : "tag tag-bad" },
      `${a.verdict === "confirmed" ? "已确认" : "误报"}${a.verdict_by ? ` · ${a.verdict_by}` : ""}`)
    : h("span", { class: "tag tag-none" }, "未研判"));
  fill("#d-handled", a.handled_at ? h("span", { class: "tag" }, `已处置 · ${a.handled_by || ""} ${fmtTime(a.handled_at)}`) : null);
  fill("#d-silenced", a.silenced_until ? h("span", { class: "tag tag-mute", id: "silenced-until" }, `静默至 ${fmtFull(a.silenced_until)}`) : null);
  setText("#d-summary", a.summary_zh || "");
  setText("#d-starts", fmtFull(a.starts_at));
  setText("#d-ends", a.ends_at ? fmtFull(a.ends_at) : "进行中");
  setText("#d-updated", fmtFull(a.updated_at));
  setText("#d-window", a.window_start ? `${fmtTime(a.window_start)} – ${fmtTime(a.window_end)}` : "—");
  setText("#d-obs", `${fmtNum(a.observed, 0)} / ${fmtNum(a.expected)}`);
  setText("#d-score", fmtNum(a.score, 2));
  fill("#d-max", levelBadge(a.max_level || a.level, true));
  setText("#d-code", a.street_code);
  const box = $("#alert-detail");
  box.dataset.alertId = a.alert_id;
  box.dataset.level = a.level || "";
  box.dataset.status = a.status || "";
  box.dataset.verdict = a.verdict || "";
  box.dataset.silenced = a.silenced_until ? "1" : "";
  document.title = `${LEVEL_ZH[a.level] || ""}预警 · ${a.street_name || a.street_code} · ${signalZh(a)}`;
}

function valueText(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return v !== 0 && Math.abs(v) < 0.001 ? v.toExponential(2) : fmtNum(v, 3);
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.every((x) => typeof x !== "object" || x === null)) return v.map((x) => valueText(x)).join("、");
  return JSON.stringify(v);
}

function renderEvidence(ev) {
  ev = ev || {};
  setText("#evidence-detail", ev.detail_zh || "");
  $("#evidence-detail").hidden = !ev.detail_zh;
  const dl = $("#evidence");
  dl.replaceChildren();
  for (const [k, v] of Object.entries(ev)) {
    if (k === "detail_zh") continue;
    dl.append(h("div", { class: "kv-row", dataset: { key: k } }, h("dt", null, k), h("dd", null, valueText(v))));
  }
}

function renderSamples(texts) {
  const ol = $("#samples");
  ol.replaceChildren(...(texts || []).map((t) => h("li", null, String(t))));
  $("#samples-empty").hidden = (texts || []).length > 0;
}

function renderEpisode(history) {
  let prevLevel = null;
  const rows = (history || []).map((r, i) => {
    let what;
    if (r.status === "resolved") what = "解除";
    else if (i === 0 || !prevLevel) what = "触发";
    else if ((r.level && prevLevel) && ["blue", "yellow", "orange", "red"].indexOf(r.level) > ["blue", "yellow", "orange", "red"].indexOf(prevLevel)) what = "升级";
    else what = "更新";
    if (r.status !== "resolved") prevLevel = r.level;
    const key = { 触发: "fired", 升级: "escalated", 更新: "updated", 解除: "resolved" }[what];
    return h("tr", { dataset: { event: key } },
      h("td", null, h("span", { class: `ev ev-${key}` }, what)),
      h("td", null, levelBadge(r.level)),
      h("td", null, r.window_start ? `${fmtTime(r.window_start)} – ${fmtTime(r.window_end)}` : fmtTime(r.ends_at || r.starts_at)),
      h("td", { class: "num" }, fmtNum(r.observed, 0)),
      h("td", { class: "num" }, fmtNum(r.expected)),
      h("td", { class: "num" }, fmtNum(r.score, 2)),
      h("td", null, r.summary_zh || ""),
    );
  });
  $("#episode tbody").replaceChildren(...rows);
}

function renderFeedback(list) {
  const rows = (list || []).map((f) => h("tr", { dataset: { action: f.action } },
    h("td", { title: fmtFull(f.at) }, fmtFull(f.at)),
    h("td", null, f.action_zh || ACTION_ZH[f.action] || f.action,
      f.action === "silence" && f.silence_hours ? ` ${fmtNum(f.silence_hours)} 小时` : ""),
    h("td", null, f.by || "—"),
    h("td", null, f.note || ""),
    h("td", null, f.trusted
      ? h("span", { class: "tag tag-ok", title: "签名已验证 (signature verified)" }, "已验签")
      : h("span", { class: "tag tag-bad", title: "签名无效或缺失：不计入准确率、不影响推送" }, "未验签")),
  ));
  $("#feedback-history tbody").replaceChildren(...rows);
  $("#feedback-empty").hidden = rows.length > 0;
}

function ms(v) {
  const d = toDate(v);
  return d ? d.getTime() : null;
}

function seriesTooltip(params) {
  const items = Array.isArray(params) ? params : [params];
  if (!items.length) return "";
  const t = items[0].value ? items[0].value[0] : null;
  const box = h("div", { class: "tt" }, h("div", { class: "tt-title" }, fmtFull(t / 1000)));
  const by = Object.fromEntries(items.map((p) => [p.seriesId, p.value ? p.value[1] : null]));
  box.append(h("div", null, `实际 observed：${fmtNum(by.observed, 0)}`));
  box.append(h("div", null, `预期 expected：${fmtNum(by.expected)}`));
  const low = by.low;
  const span = by.band;
  if (low !== null && low !== undefined && span !== null && span !== undefined) {
    box.append(h("div", null, `预期区间：${fmtNum(low)} – ${fmtNum(low + span)}`));
  }
  return box;
}

async function renderSeries(s, a, history) {
  const box = $("#series-chart");
  s = s || {};
  setText("#band-caption", s.band_zh || "");
  let echarts;
  try {
    echarts = await loadEcharts();
  } catch {
    box.textContent = "图表库未加载 (echarts missing)";
    return;
  }
  const hours = (s.hours || []).map(ms);
  const at = (arr, i) => (arr && arr[i] !== undefined && arr[i] !== null ? Number(arr[i]) : null);
  const obs = [];
  const exp = [];
  const low = [];
  const band = [];
  hours.forEach((t, i) => {
    obs.push([t, at(s.observed, i)]);
    exp.push([t, at(s.expected, i)]);
    const lo = at(s.low, i);
    const hi = at(s.high, i);
    const ok = lo !== null && hi !== null;
    low.push([t, ok ? lo : null]);
    band.push([t, ok ? Math.max(0, hi - lo) : null]);
  });
  // the alert's window(s): from the first record's window_start to the last one's window_end (or ends_at)
  const starts = (history || []).map((r) => ms(r.window_start)).filter((x) => x !== null);
  const ends = (history || []).map((r) => ms(r.window_end || r.ends_at)).filter((x) => x !== null);
  let w0 = starts.length ? Math.min(...starts) : ms(a.window_start || a.starts_at);
  let w1 = ends.length ? Math.max(...ends) : ms(a.window_end || a.ends_at || a.updated_at);
  if (w0 !== null && (w1 === null || w1 <= w0)) w1 = w0 + 3600 * 1000;
  const color = LEVEL_COLOR[a.level] || "#e8383d";
  // open on the two days around the alert window (the slider shows all 7 days)
  const first = hours.length ? hours[0] : null;
  const last = hours.length ? hours[hours.length - 1] : null;
  let zoom = {};
  const firstRender = !chart;
  if (firstRender && first !== null && w0 !== null) { // later renders keep the user's zoom
    const HOUR = 3600 * 1000;
    const endV = Math.min(last, Math.max(w1 + 12 * HOUR, first + 48 * HOUR));
    const startV = Math.max(first, Math.min(w0 - 36 * HOUR, endV - 48 * HOUR));
    zoom = { startValue: startV, endValue: endV };
  }
  if (firstRender) {
    chart = echarts.init(box, null, { renderer: "canvas" });
    if (typeof ResizeObserver !== "undefined") new ResizeObserver(() => chart.resize()).observe(box);
    else window.addEventListener("resize", () => chart.resize());
  }
  chart.setOption({
    animation: false,
    grid: { left: 56, right: 24, top: 36, bottom: 56 },
    legend: { top: 4, textStyle: { color: "#c9d6ea" }, data: ["实际", "预期", "预期区间"] },
    tooltip: { trigger: "axis", confine: true, className: "echarts-tt", formatter: seriesTooltip },
    xAxis: {
      type: "time",
      axisLabel: { color: "#9fb3d1", formatter: (v) => fmtTime(v / 1000), hideOverlap: true },
      axisLine: { lineStyle: { color: "#4a5d7e" } },
      splitLine: { show: false },
    },
    yAxis: {
      type: "value",
      name: "件/小时",
      nameTextStyle: { color: "#9fb3d1" },
      axisLabel: { color: "#9fb3d1" },
      splitLine: { lineStyle: { color: "#24344f" } },
      min: 0,
    },
    dataZoom: [{ type: "inside", ...zoom },
      { type: "slider", height: 18, bottom: 8, borderColor: "#24344f", textStyle: { color: "#9fb3d1" }, ...zoom }],
    series: [
      { id: "low", name: "预期区间", type: "line", data: low, stack: "band", symbol: "none",
        lineStyle: { opacity: 0 }, areaStyle: { opacity: 0 }, tooltip: { show: false }, connectNulls: false, z: 1 },
      { id: "band", name: "预期区间", type: "line", data: band, stack: "band", symbol: "none",
        lineStyle: { opacity: 0 }, areaStyle: { color: "rgba(94,160,255,0.28)" }, itemStyle: { color: "rgba(94,160,255,0.5)" }, connectNulls: false, z: 2 },
      { id: "expected", name: "预期", type: "line", data: exp, symbol: "none",
        lineStyle: { type: "dashed", width: 1.5, color: "#7fb2ff" }, itemStyle: { color: "#7fb2ff" }, z: 3 },
      { id: "observed", name: "实际", type: "line", data: obs, symbol: "circle", symbolSize: 3, showSymbol: false,
        lineStyle: { width: 2, color: "#ffd166" }, itemStyle: { color: "#ffd166" }, z: 4,
        markArea: w0 !== null ? {
          silent: true,
          itemStyle: { color: color, opacity: 0.22, borderColor: color, borderWidth: 1 },
          label: { color: "#ffffff", position: "insideTop" },
          data: [[{ name: "预警窗口", xAxis: w0 }, { xAxis: w1 }]],
        } : undefined },
    ],
  }, firstRender);
  box.dataset.ready = "1";
  box.dataset.points = String(hours.length);
}

function setButtons() {
  // actions_enabled: false when the dashboard has no signing key (the POST would answer 503)
  const canSign = !me || me.actions_enabled !== false;
  const operator = !!(me && me.user && me.role === "operator") && canSign;
  for (const a of BUTTONS) $(`#btn-${a}`).disabled = !operator;
  $("#silence-hours").disabled = !operator;
  $("#action-note").disabled = !operator;
  const hint = $("#action-hint");
  hint.replaceChildren();
  if (!me || !me.user) hint.append("登录操作员账号后可研判与处置：", h("a", { href: loginHref() }, "登录"));
  else if (me.role !== "operator") hint.append(`当前账号 ${me.display_name || me.user} 为只读角色，不能操作 (viewer)`);
  else if (!canSign) hint.append("未配置反馈签名密钥，暂不能提交操作（请管理员配置 alerts_feedback.sources）");
  $("#actions").dataset.enabled = operator ? "1" : "";
}

function result(kind, ...parts) {
  const el = $("#action-result");
  el.className = `result ${kind}`;
  el.dataset.kind = kind;
  el.replaceChildren(...parts);
}

async function act(action) {
  const body = { action };
  const note = $("#action-note").value.trim();
  if (note) body.note = note;
  if (action === "silence") body.silence_hours = Number($("#silence-hours").value);
  for (const a of BUTTONS) $(`#btn-${a}`).disabled = true;
  result("pending", `正在提交：${ACTION_ZH[action]}…`);
  const el = $("#action-result");
  try {
    const res = await postJSON(`${apiUrl}/feedback`, body, me && me.csrf);
    const rec = (res && res.record) || {};
    el.dataset.status = "200";
    result("ok", `已记录：${ACTION_ZH[action]}`,
      action === "silence" ? ` ${body.silence_hours} 小时` : "",
      rec.by ? `（${rec.by}，${fmtFull(rec.at)}）` : "");
    $("#action-note").value = "";
    await load();
  } catch (e) {
    el.dataset.status = String(e.status || 0);
    if (e.status === 401) {
      result("err", "未登录或登录已过期，请先 ", h("a", { href: loginHref(), id: "login-link" }, "登录"));
      me = await getMe(true);
    } else if (e.status === 403) {
      result("err", `无权操作：${e.message}（需要操作员 operator 角色，或页面已过期请刷新）`);
    } else if (e.status === 503) {
      result("err", `暂不能写入反馈：${e.message}（未配置签名密钥或 Kafka 不可用）`);
    } else if (e.status === 404) {
      result("err", "预警不存在");
    } else {
      result("err", `提交失败：${e.message}`);
    }
  } finally {
    setButtons();
  }
}

async function load() {
  let d;
  try {
    d = await getJSON(apiUrl);
  } catch (e) {
    const err = $("#detail-error");
    err.hidden = false;
    err.textContent = e.status === 404 ? `预警不存在：${alertId}` : `加载失败：${e.message}`;
    if (e.status === 404) setText("#d-street", "—");
    return;
  }
  $("#detail-error").hidden = true;
  current = d;
  const a = d.alert || {};
  renderHead(a);
  renderEvidence(a.evidence);
  renderSamples(a.sample_texts);
  renderEpisode(d.history);
  renderFeedback(d.feedback);
  document.body.dataset.loaded = "1";
  markOnce("rendered");
  await renderSeries(d.series, a, d.history);
}

async function main() {
  loadEcharts().catch(() => {}); // start parsing the chart library while the API answers
  for (const a of BUTTONS) $(`#btn-${a}`).addEventListener("click", () => act(a));
  const reload = throttle(load, 800);
  subscribe({
    resume: reload,
    alert: (r) => { if (r && r.alert_id === alertId) reload(); },
    feedback: (f) => { if (!f || f.alert_id === alertId || !current) reload(); else if (f.action === "silence" || f.action === "unsilence") reload(); },
  });
  me = await initNav("inbox");
  setButtons();
  await load();
}

main();
