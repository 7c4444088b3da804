// Shared helpers of the booking, check-in, remote-ticket, follow-up and report pages.
"use strict";
const Q = (() => {
  const hall = document.body.dataset.hall;
  // times are shown in the hall's own time zone (config `timezone`), whatever the device's setting
  const timeZone = document.body.dataset.timezone || "Asia/Shanghai";
  const params = new URLSearchParams(location.search);
  const base = `/api/v1/halls/${encodeURIComponent(hall)}`;
  const $ = (id) => document.getElementById(id);

  // a kiosk page carries its device token in its address; staff pages use the browser's one staff session
  function token() {
    const staff = HallqSession.get(hall);
    return params.get("token") || (staff ? staff.token : "");
  }

  async function call(method, path, body, auth = token()) {
    const headers = {};
    if (auth) headers.Authorization = `Bearer ${auth}`;
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["Idempotency-Key"] = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path.startsWith("/") ? path : `${base}/${path}`, init);
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (resp.status === 401 && !params.get("token")) HallqSession.clear();  // expired: log in again
    if (!resp.ok) {
      const err = new Error((data && data.error && data.error.message) || `HTTP ${resp.status}`);
      err.status = resp.status;
      err.code = data && data.error && data.error.code;
      throw err;
    }
    return data;
  }

  function clock(epoch) {
    const d = new Date(epoch * 1000);
    return d.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone });
  }

  function cell(value) {
    const td = document.createElement("td");
    td.textContent = value === null || value === undefined ? "—" : String(value);
    return td;
  }

  async function download(path, filename) {
    const resp = await fetch(`${base}/${path}`, { headers: { Authorization: `Bearer ${token()}` } });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    const blob = await resp.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  // A manager (or clerk) logs in once per browser tab; the pages then show their panel.
  function staffLogin(onReady) {
    const panel = $("panel");
    const show = () => { $("login").classList.add("hidden"); panel.classList.remove("hidden"); onReady(); };
    $("login-button").addEventListener("click", async () => {
      $("login-error").textContent = "";
      try {
        const r = await call("POST", "/api/v1/auth/login", { user: $("user").value, password: $("password").value, hall }, "");
        HallqSession.set(hall, r);
        show();
      } catch (e) { $("login-error").textContent = e.message; }
    });
    if (token()) show();
  }

  const role = () => (HallqSession.get(hall) || {}).role;

  return { hall, role, base, params, $, token, call, clock, cell, download, staffLogin };
})();
