// 线上取号: take a ticket on the phone, then follow it live (WebSocket tracker) until it is called or expires.
"use strict";
(() => {
  const { $, call } = Q;
  const KEY = `hallq.remote.${Q.hall}`;
  const STATE = { waiting: "等候中", called: "已叫号", serving: "办理中", finished: "已办结", no_show: "过号", cancelled: "已取消", expired: "已过期" };

  function show(status) {
    if (!status) return;
    $("take").classList.add("hidden");
    $("tracker").classList.remove("hidden");
    $("number").textContent = status.number;
    let line = STATE[status.state] || status.state;
    if (status.state === "waiting") line += ` · 前面 ${status.ahead} 人` + (status.estimated_wait_text ? ` · ${status.estimated_wait_text.zh}` : "");
    if (status.state === "waiting") line += status.arrived ? " · 已签到" : " · 未签到";
    $("state").textContent = line;
    $("where").textContent = status.where ? status.where.zh : "";
    $("cancel").classList.toggle("hidden", status.state !== "waiting");
  }

  function follow(ticket) {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/ticket/${encodeURIComponent(ticket.ticket)}?hall=${Q.hall}`);
    ws.onmessage = (m) => { const msg = JSON.parse(m.data); if (msg.status) show(msg.status); };
    ws.onclose = () => setTimeout(() => follow(ticket), 2000);
  }

  async function take() {
    $("error").textContent = "";
    try {
      const r = await call("POST", "tickets", { category: $("category").value, channel: "phone", phone: $("phone").value }, "");
      const ticket = { ticket: r.ticket, token: r.token };
      localStorage.setItem(KEY, JSON.stringify(ticket));
      show(r.status);
      follow(ticket);
    } catch (e) { $("error").textContent = e.message; }
  }

  async function init() {
    const hall = await call("GET", `/api/v1/halls/${Q.hall}`, undefined, "");
    for (const c of hall.categories) $("category").add(new Option(c.name, c.id));
    $("submit").addEventListener("click", take);
    $("cancel").addEventListener("click", async () => {
      const t = JSON.parse(localStorage.getItem(KEY) || "null");
      if (t) { await call("POST", `tickets/${t.ticket}/cancel`, { token: t.token }, ""); }
    });
    const saved = JSON.parse(localStorage.getItem(KEY) || "null");
    if (saved) {
      try { show(await call("GET", `tickets/${saved.ticket}`, undefined, "")); follow(saved); }
      catch (e) { localStorage.removeItem(KEY); }
    }
  }
  init().catch((e) => { $("error").textContent = e.message; });
})();
