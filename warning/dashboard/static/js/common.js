// Shared helpers of the ops-centre pages (plain ES module, no build step).
//
// Rules every page follows: all data reaches the DOM through textContent / attributes set by
// `h()` (never innerHTML with data); no inline scripts or styles (CSP default-src 'self');
// fetches are same-origin with credentials; state-changing requests carry X-CSRF-Token.

export const LEVELS = ["blue", "yellow", "orange", "red"];
export const LEVEL_ZH = { blue: "蓝色", yellow: "黄色", orange: "橙色", red: "红色" };
export const LEVEL_SHORT = { blue: "蓝", yellow: "黄", orange: "橙", red: "红" };
export const LEVEL_GRADE = { blue: "IV级", yellow: "III级", orange: "II级", red: "I级" };
// The same hues as app.css (--lv-*), for the charts (canvas cannot read CSS classes).
export const LEVEL_COLOR = { blue: "#2f7fe6", yellow: "#f2c500", orange: "#ff8a1f", red: "#e8383d" };
export const LEVEL_RANK = { blue: 1, yellow: 2, orange: 3, red: 4 };
export const STATUS_ZH = { firing: "预警中", resolved: "已解除" };
export const VERDICT_ZH = { confirmed: "确认", false_alarm: "误报" };
export const ACTION_ZH = { confirmed: "确认", false_alarm: "误报", handled: "已处置", silence: "静默", unsilence: "解除静默" };

const TZ = "Asia/Shanghai";

/**
 * Build an element: h("td", {class: "x", dataset: {alertId: "a"}}, "text", child, ...).
 * Strings become text nodes, so data is always escaped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k === "text") el.textContent = String(v);
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (v === true) el.setAttribute(k, "");
      else el.setAttribute(k, String(v));
    }
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function $(sel, root = document) {
  return root.querySelector(sel);
}

export function setText(sel, value) {
  const el = typeof sel === "string" ? $(sel) : sel;
  if (el) el.textContent = value === null || value === undefined ? "—" : String(value);
}

/** Epoch seconds or ISO string → Date (null when missing/invalid). */
export function toDate(v) {
  if (v === null || v === undefined || v === "") return null;
  const d = typeof v === "number" ? new Date(v * 1000) : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

const fmtCache = new Map();
function fmt(opts) {
  const key = JSON.stringify(opts);
  if (!fmtCache.has(key)) fmtCache.set(key, new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, hour12: false, ...opts }));
  return fmtCache.get(key);
}

function parts(d, opts) {
  const out = {};
  for (const p of fmt(opts).formatToParts(d)) out[p.type] = p.value;
  return out;
}

/** "03-01 09:00" in Beijing time. */
export function fmtTime(v) {
  const d = toDate(v);
  if (!d) return "—";
  const p = parts(d, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  return `${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** "2025-03-01 09:00:05" in Beijing time. */
export function fmtFull(v) {
  const d = toDate(v);
  if (!d) return "—";
  const p = parts(d, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

/** "09:00:05" (the wall clock). */
export function fmtClock(d) {
  const p = parts(d, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return `${p.hour}:${p.minute}:${p.second}`;
}

export function fmtDate(d) {
  const p = parts(d, { year: "numeric", month: "2-digit", day: "2-digit", weekday: "short" });
  return `${p.year}年${p.month}月${p.day}日 ${p.weekday}`;
}

/** "3小时前" style age (falls back to the time for old ones). */
export function fmtAgo(v, now = Date.now()) {
  const d = toDate(v);
  if (!d) return "—";
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < 0) return fmtTime(d);
  if (s < 60) return "刚刚";
  if (s < 3600) return `${Math.floor(s / 60)}分钟前`;
  if (s < 86400) return `${Math.floor(s / 3600)}小时前`;
  if (s < 7 * 86400) return `${Math.floor(s / 86400)}天前`;
  return fmtTime(d);
}

export function fmtNum(v, digits = 1) {
  if (v === null || v === undefined || v === "" || Number.isNaN(Number(v))) return "—";
  const n = Number(v);
  return Number.isInteger(n) ? String(n) : n.toFixed(digits);
}

export function fmtPct(v) {
  if (v === null || v === undefined || Number.isNaN(Number(v))) return "—";
  return `${(Number(v) * 100).toFixed(0)}%`;
}

/** A coloured level badge: <span class="lv lv-red">红</span>. */
export function levelBadge(level, long = false) {
  if (!level || !LEVEL_ZH[level]) return h("span", { class: "lv lv-none" }, "—");
  return h("span", { class: `lv lv-${level}`, title: `${LEVEL_ZH[level]}预警（${LEVEL_GRADE[level]}）` },
    long ? `${LEVEL_ZH[level]} ${LEVEL_GRADE[level]}` : LEVEL_SHORT[level]);
}

/** Error of a failed API call (status 0 = network). */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function parseBody(resp) {
  const ct = resp.headers.get("content-type") || "";
  if (ct.includes("json")) {
    try { return await resp.json(); } catch { return null; }
  }
  try { return await resp.text(); } catch { return null; }
}

export async function getJSON(url) {
  let resp;
  try {
    resp = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, `网络错误 (network): ${e.message}`);
  }
  const body = await parseBody(resp);
  if (!resp.ok) {
    const msg = body && typeof body === "object" && body.error ? body.error : `HTTP ${resp.status}`;
    throw new ApiError(resp.status, msg, body);
  }
  return body;
}

export async function postJSON(url, data, csrf) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (csrf) headers["X-CSRF-Token"] = csrf;
  let resp;
  try {
    resp = await fetch(url, { method: "POST", credentials: "same-origin", headers, body: JSON.stringify(data) });
  } catch (e) {
    throw new ApiError(0, `网络错误 (network): ${e.message}`);
  }
  const body = await parseBody(resp);
  if (!resp.ok) {
    const msg = body && typeof body === "object" && body.error ? body.error : `HTTP ${resp.status}`;
    throw new ApiError(resp.status, msg, body);
  }
  return body;
}

let mePromise = null;
/** GET /api/me once per page: {user, role, display_name, csrf}. Anonymous on failure. */
export function getMe(refresh = false) {
  if (!mePromise || refresh) {
    mePromise = getJSON("/api/me").catch(() => ({ user: null, role: null, display_name: null, csrf: null }));
  }
  return mePromise;
}

/**
 * A same-origin path for ?next= (anything else → "/"). Whitespace and backslashes are refused
 * anywhere: URL parsers drop tabs/newlines and read "\\" as "/", so "/\t/evil" would become "//evil".
 */
export function safeNext(v) {
  if (typeof v !== "string" || !v.startsWith("/") || v.startsWith("//") || /[\s\\\x00-\x1f\x7f]/.test(v) || v.length > 500) return "/";
  // what the browser would make of it must stay on this origin
  try {
    const u = new URL(v, location.origin);
    if (u.origin !== location.origin) return "/";
    return u.pathname + u.search + u.hash;
  } catch (e) {
    return "/";
  }
}

export function loginHref(next = location.pathname + location.search) {
  return `/login?next=${encodeURIComponent(safeNext(next))}`;
}

/**
 * Fill the shared nav (<nav id="nav"> in every page): 大屏 / 收件箱 / 登录·用户名 / 退出.
 * Returns the /api/me answer.
 */
export async function initNav(active) {
  const nav = $("#nav");
  const me = await getMe();
  if (!nav) return me;
  nav.replaceChildren();
  const link = (href, text, key) => h("a", { href, class: key === active ? "nav-link active" : "nav-link" }, text);
  nav.append(link("/", "大屏", "overview"), link("/inbox", "收件箱", "inbox"));
  const who = h("span", { id: "whoami", class: "whoami" });
  if (me && me.user) {
    who.dataset.user = me.user;
    who.dataset.role = me.role || "";
    who.append(h("span", { class: "who-name" }, me.display_name || me.user),
      h("span", { class: `role role-${me.role}` }, me.role === "operator" ? "操作员" : "只读"));
    nav.append(who);
    if (me.via !== "proxy") { // signed in by the reverse proxy (SSO): signing out is the proxy's business
      const out = h("button", { type: "button", id: "logout", class: "nav-link linkish" }, "退出");
      out.addEventListener("click", async () => {
        try { await postJSON("/logout", {}, me.csrf); } catch { /* already out */ }
        location.href = "/";
      });
      nav.append(out);
    }
  } else {
    who.dataset.user = "";
    who.append(h("a", { href: loginHref(), class: "nav-link" }, "登录"));
    nav.append(who);
  }
  return me;
}

/**
 * Subscribe to /api/stream (server-sent events). handlers: {alert(data), feedback(data), overview()}.
 * Shows the connection state in #live (if present).
 *
 * The stream is closed on `pagehide` and opened again on `pageshow`: a page kept in the browser's
 * back/forward cache would otherwise hold its connection open, and a browser allows only six
 * connections per host (HTTP/1.1) — a few back-and-forths would stall every further request.
 * After a return from that cache `handlers.overview` (if any) is called to catch up.
 */
export function subscribe(handlers) {
  const live = $("#live");
  const state = (cls, text) => {
    if (!live) return;
    live.className = `live ${cls}`;
    live.textContent = text;
  };
  if (typeof EventSource === "undefined") {
    state("off", "无实时推送");
    return null;
  }
  let es = null;
  const open = () => {
    es = new EventSource("/api/stream");
    state("connecting", "连接中");
    es.addEventListener("open", () => state("on", "实时"));
    es.addEventListener("error", () => {
      const closed = es.readyState === EventSource.CLOSED;
      state(closed ? "off" : "connecting", closed ? "已断开" : "重连中");
    });
    for (const name of ["alert", "feedback", "overview"]) {
      if (!handlers[name]) continue;
      es.addEventListener(name, (ev) => {
        let data = null;
        if (ev.data) {
          try { data = JSON.parse(ev.data); } catch { data = null; }
        }
        try { handlers[name](data); } catch (e) { console.error(e); }
      });
    }
  };
  open();
  window.addEventListener("pagehide", () => {
    if (es) es.close();
    es = null;
  });
  window.addEventListener("pageshow", (ev) => {
    if (!ev.persisted || es) return;
    open();
    const catchUp = handlers.resume || handlers.overview;
    if (catchUp) catchUp(null);
  });
  return { close: () => { if (es) es.close(); es = null; } };
}

/**
 * Coalesce calls: run fn at most once per `ms`, always eventually after the last call.
 */
export function throttle(fn, ms) {
  let timer = null;
  let last = 0;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    if (running) { again = true; return; }
    running = true;
    last = Date.now();
    try { await fn(); } catch (e) { console.error(e); }
    running = false;
    if (again) { again = false; schedule(); }
  };
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(run, Math.max(0, last + ms - Date.now()));
  };
  return schedule;
}

/** Start the header clock (#clock, #date). */
export function startClock() {
  const tick = () => {
    const now = new Date();
    setText("#clock", fmtClock(now));
    const d = $("#date");
    if (d) d.textContent = fmtDate(now);
  };
  tick();
  setInterval(tick, 1000);
}

/** Names as the map and the alerts spell them may differ ("朝阳" vs "朝阳区"): compare on this. */
export function normDistrict(name) {
  if (!name) return "";
  let s = String(name).trim().replace(/\s+/g, "");
  for (const suf of ["自治县", "新区", "区", "县", "市", "旗"]) {
    if (s.endsWith(suf) && s.length - suf.length >= 2) { s = s.slice(0, -suf.length); break; }
  }
  return s;
}

/** Signal name in Chinese: the row's signal_zh, else a name learnt from earlier rows, else the code. */
const signalNames = new Map();
export function rememberSignal(code, zh) {
  if (code && zh) signalNames.set(code, zh);
}
export function signalZh(row) {
  if (!row) return "—";
  if (row.signal_zh) { rememberSignal(row.signal, row.signal_zh); return row.signal_zh; }
  return signalNames.get(row.signal) || row.signal || "—";
}
export function knownSignals() {
  return [...signalNames.entries()];
}

/** A performance mark the first time something is on screen (read by bench/dashboard_load.py). */
const marked = new Set();
export function markOnce(name) {
  if (marked.has(name)) return;
  marked.add(name);
  try { performance.mark(`warning:${name}`); } catch { /* old browsers */ }
}

const scripts = new Map();
/** Load a classic script (same origin) once; resolves when it has run. */
export function loadScript(src) {
  if (!scripts.has(src)) {
    scripts.set(src, new Promise((resolve, reject) => {
      const el = document.createElement("script");
      el.src = src;
      el.async = true;
      el.addEventListener("load", () => resolve());
      el.addEventListener("error", () => reject(new Error(`${src} 加载失败`)));
      document.head.append(el);
    }));
  }
  return scripts.get(src);
}

/**
 * The vendored ECharts, loaded after the page's own script has started its API calls, so tables
 * and numbers do not wait for 1 MB of chart library to be parsed (the pages preload it).
 */
export function loadEcharts() {
  return loadScript("/static/vendor/echarts/echarts.min.js").then(() => window.echarts);
}
