/* hallq — the kiosk (取号机): zone → category (materials, told once) → priority group → ticket.
 *
 * Tickets are taken with the kiosk's device token from the URL (?token=) and one
 * Idempotency-Key per confirmation screen, so a double tap or a retried request gives one
 * ticket. Refusals (hall closed, today's tickets gone…) show the server's own message.
 */
(function () {
  "use strict";
  var RESULT_SECONDS = 40;
  var hall, page, token, queues = {}, chosen = { zone: null, category: null, group: null }, key = null, busy = false;
  var resultTimer = null;

  function $(id) { return document.getElementById(id); }

  function show(step) {
    ["zone", "category", "confirm", "result"].forEach(function (s) { $("step-" + s).hidden = s !== step; });
    window.scrollTo(0, 0);
  }

  var FEW_LEFT = 10;  // from this many tickets left today, the button says how many

  function isFull(cat) { var q = queues[cat.id]; return !!q && q.tickets_left === 0; }

  function waitText(cat) {
    var q = queues[cat.id];
    if (!q) return "";
    if (q.tickets_left === 0) return '<span class="wait full">' + I18n.both("今日号源已满", "No tickets left today") + "</span>";
    var left = q.tickets_left != null && q.tickets_left <= FEW_LEFT
      ? " · " + I18n.both("今日余" + q.tickets_left + "号", q.tickets_left + " left today") : "";
    var est = I18n.wait(q);
    return '<span class="wait">' + I18n.both("等候" + q.waiting + "人", q.waiting + " waiting") + " · " + est + left + "</span>";
  }

  function renderZones() {
    $("zones").innerHTML = hall.zones.map(function (z) {
      return '<button class="choice" data-zone="' + z.id + '">' + I18n.both(z.name, z.name_en) + "</button>";
    }).join("");
  }

  function renderCategories() {
    $("categories").innerHTML = hall.categories.filter(function (c) { return c.zone === chosen.zone; }).map(function (c) {
      var full = isFull(c);
      return '<button class="choice' + (full ? " full" : "") + '" data-category="' + c.id + '"><span class="prefix">' + c.prefix + "</span>" +
        '<span class="name">' + I18n.both(c.name, c.name_en) + "</span>" + waitText(c) + "</button>";
    }).join("");
  }

  function category(id) { return hall.categories.filter(function (c) { return c.id === id; })[0]; }

  function renderConfirm() {
    var c = category(chosen.category);
    $("confirm-title").innerHTML = '<span class="prefix">' + c.prefix + "</span> " + I18n.both(c.name, c.name_en);
    $("materials").innerHTML = c.materials.length ? c.materials.map(function (m) { return "<li>" + I18n.escape(m) + "</li>"; }).join("")
      : "<li>" + I18n.both("无需材料", "No documents needed") + "</li>";
    var groups = [{ id: "", name: "不需要", name_en: "None" }].concat(hall.priority_groups);
    $("groups").innerHTML = groups.map(function (g) {
      var on = (chosen.group || "") === g.id;
      return '<button class="choice' + (on ? " selected" : "") + '" aria-pressed="' + on + '" data-group="' + g.id + '">' +
        I18n.both(g.name, g.name_en) + "</button>";
    }).join("");
  }

  function showError(result) {
    var e = HallqFeed.errorText(result);
    $("kiosk-error-text").innerHTML = I18n.both(e.zh, e.en);
    $("kiosk-error-text").setAttribute("data-code", e.code || "");
    $("kiosk-error").hidden = false;
    if (e.code === "hall_closed") $("closed-banner").hidden = false;
  }

  function take() {
    if (busy) return;  // the same tap twice: one request (and the same key on a retry)
    busy = true;
    $("take").disabled = true;
    var body = { category: chosen.category, channel: "kiosk" };
    if (chosen.group) body.priority_group = chosen.group;
    HallqFeed.api("POST", "/api/v1/halls/" + encodeURIComponent(page.hall) + "/tickets", body, { token: token, key: key })
      .then(function (result) {
        busy = false;
        $("take").disabled = false;
        if (!result.ok) { showError(result); return; }
        showResult(result.body);
      });
  }

  function showResult(t) {
    var c = category(t.category), st = t.status || {};
    var ahead = st.ahead != null ? st.ahead : t.ahead;
    var w = st.estimated_wait_minutes == null ? null : st.estimated_wait_text;
    var zh = "您已领取" + t.number + "号，前方等待" + ahead + "人，" + (w ? w.zh : "当前暂无开放窗口，请留意叫号");
    var en = "You have number " + t.number + ". " + ahead + " ahead of you; " +
      (w ? "estimated wait " + w.en : "no window is open yet, please listen for your call");
    $("result-number").textContent = t.number;
    $("result-category").innerHTML = I18n.both(c.name, c.name_en);
    $("result-text").innerHTML = I18n.both(zh, en);
    $("result-text").setAttribute("data-ticket", t.ticket);
    var qr = "/qr/" + encodeURIComponent(t.ticket) + ".svg?hall=" + encodeURIComponent(page.hall);
    $("result-qr").src = qr;
    $("pt-qr").src = qr;
    $("pt-number").textContent = t.number;
    $("pt-category").textContent = c.name;
    $("pt-text").textContent = "前方等待" + ahead + "人" + (w ? "，" + w.zh : "");
    $("pt-time").textContent = new Date().toLocaleString("zh-CN", { hour12: false });
    show("result");
    if (document.body.classList.contains("elderly")) hallqVoice.say(zh);
    if (page.autoprint) setTimeout(function () { window.print(); }, 300);
    clearTimeout(resultTimer);
    resultTimer = setTimeout(restart, RESULT_SECONDS * 1000);
  }

  function restart() {
    clearTimeout(resultTimer);
    chosen = { zone: null, category: null, group: null };
    setElderly(false);
    show("zone");
  }

  function setElderly(on) {
    document.body.classList.toggle("elderly", on);
    document.documentElement.classList.toggle("elderly", on);
    $("elderly").setAttribute("aria-pressed", String(on));
  }

  function onQueues(rows) {
    rows.forEach(function (q) { queues[q.category || q.id] = q; });
    if (!$("step-category").hidden) renderCategories();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = HallqFeed.pageData();
    hall = data.info;
    page = data.page;
    token = new URLSearchParams(location.search).get("token") || "";
    renderZones();
    document.addEventListener("click", function (ev) {
      var el = ev.target.closest("button");
      if (!el) return;
      if (el.dataset.zone) { chosen.zone = el.dataset.zone; renderCategories(); show("category"); }
      else if (el.dataset.category && isFull(category(el.dataset.category))) {
        var c = category(el.dataset.category);  // the server would refuse: say so at once, in its words
        showError({ body: { error: { code: "daily_cap_reached",
          message: c.name + "今日号源已满（" + c.daily_cap + "个），请改日办理或网上办理 (" + (c.name_en || c.name) +
            ": no tickets left today)" } } });
      } else if (el.dataset.category) {
        chosen.category = el.dataset.category; chosen.group = null; key = HallqFeed.newKey(); renderConfirm(); show("confirm");
      } else if (el.dataset.group !== undefined) { chosen.group = el.dataset.group || null; renderConfirm(); }
      else if (el.dataset.back) show(el.dataset.back);
    });
    $("take").addEventListener("click", take);
    $("print").addEventListener("click", function () { window.print(); });
    $("done").addEventListener("click", restart);
    $("kiosk-error-ok").addEventListener("click", function () { $("kiosk-error").hidden = true; show("zone"); });
    $("elderly").addEventListener("click", function () { setElderly(!document.body.classList.contains("elderly")); });
    document.addEventListener("hallq:lang", function () { renderZones(); if (chosen.zone) renderCategories(); if (chosen.category) renderConfirm(); });
    HallqFeed.connect("/ws/hall?hall=" + encodeURIComponent(page.hall), {
      snapshot: function (msg) { $("closed-banner").hidden = msg.snapshot.open; onQueues(msg.snapshot.categories); },
      event: function (msg) { onQueues(msg.queues || []); }
    });
  });
})();
