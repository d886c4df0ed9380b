// 登录: POST /login as JSON (the form also works without JS: a plain form post, 302 to `next`).

import { $, h, initNav, safeNext, ApiError, postJSON } from "./common.js";

const params = new URLSearchParams(location.search);
const next = safeNext(params.get("next") || "/");

function showError(msg) {
  const el = $("#login-error");
  el.hidden = !msg;
  el.textContent = msg || "";
}

async function main() {
  $("#next").value = next;
  if (params.get("error")) showError("用户名或密码错误");
  const me = await initNav("login");
  if (me && me.user) {
    $("#login-state").replaceChildren(`已登录：${me.display_name || me.user}（${me.role === "operator" ? "操作员" : "只读"}）。`,
      h("a", { href: next }, "返回"));
  }
  const form = $("#login-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError("");
    const btn = $("#login-submit");
    btn.disabled = true;
    try {
      await postJSON("/login", { username: form.elements.username.value, password: form.elements.password.value, next },
        me && me.csrf);
      location.assign(next);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) showError("用户名或密码错误");
      else if (e instanceof ApiError && e.status === 429) showError("尝试次数过多，请稍后再试");
      else showError(`登录失败：${e.message}`);
      form.elements.password.value = "";
      form.elements.password.focus();
    } finally {
      btn.disabled = false;
    }
  });
}

main();
