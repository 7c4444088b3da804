/* hallq — the clerk's console: log in to a window, then call, recall, no-show, start, finish,
 * transfer, pause and resume — with the keyboard (C R N S F T P) or the buttons.
 * The window's live state comes from /ws/console/N; every action goes through the JSON API.
 */
(function () {
  "use strict";
  var hall, page, session = null, win = null, queues = {}, feed = null;
  var STORE = "hallq.console.";

  function $(id) { return document.getElementById(id); }
  function base() { return "/api/v1/halls/" + encodeURIComponent(page.hall) + "/windows/" + session.window; }
  function cat(id) { return hall.categories.filter(function (c) { return c.id === id; })[0] || { name: id, name_en: id, prefix: "" }; }

  function message(text, kind) {
    var el = $("desk-message");
    el.hidden = false;
    el.className = "message " + (kind || "info");
    el.innerHTML = text;
  }

  function log(zh, en) {
    var li = document.createElement("li");
    li.innerHTML = '<span class="muted">' + new Date().toTimeString().slice(0, 8) + "</span> " + I18n.both(zh, en);
    $("log").insertBefore(li, $("log").firstChild);
    while ($("log").children.length > 30) $("log").removeChild($("log").lastChild);
  }

  function render() {
    if (!win) return;
    var cur = win.current;
    $("desk-window").innerHTML = I18n.both(win.number + "号窗口", "Window " + win.number);
    var statusText = { open: ["服务中", "Open"], paused: ["暂停服务" + (win.pause_reason ? "（" + win.pause_reason + "）" : ""), "Paused"], closed: ["未开启", "Closed"] }[win.status];
    $("desk-status").innerHTML = I18n.both(statusText[0], statusText[1]);
    $("desk-status").className = "state-" + win.status;
    $("current-number").textContent = cur ? cur.number : "—";
    $("current-category").innerHTML = cur ? I18n.both(cat(cur.category).name, cat(cur.category).name_en) : "";
    var st = cur ? { called: ["已呼叫，等候到窗", "Called, waiting for the citizen"], serving: ["办理中", "Serving"] }[cur.state] : null;
    $("current-state").innerHTML = st ? I18n.both(st[0], st[1]) : I18n.both("当前无票号", "No ticket at the window");
    $("current-state").setAttribute("data-state", cur ? cur.state : "none");
    $("reason").textContent = cur && cur.reason ? cur.reason : "—";
    var has = function (s) { return !!cur && cur.state === s; };
    var enable = {
      call: win.status === "open" && !cur, recall: has("called"), noshow: has("called"), start: has("called"),
      finish: has("serving"), transfer: !!cur, pause: win.status === "open" && !cur, resume: win.status === "paused"
    };
    Object.keys(enable).forEach(function (a) { document.querySelector('[data-action="' + a + '"]').disabled = !enable[a]; });
    document.querySelector('[data-action="pause"]').hidden = win.status === "paused";
    document.querySelector('[data-action="resume"]').hidden = win.status !== "paused";
    $("queues").querySelector("tbody").innerHTML = (win.categories || []).map(function (id) {
      var q = queues[id] || { waiting: 0, estimated_wait_minutes: null }, c = cat(id);
      return '<tr data-category="' + id + '"><td>' + c.prefix + " " + I18n.both(c.name, c.name_en) + '</td><td class="num waiting">' +
        q.waiting + '</td><td class="num">' + (q.estimated_wait_minutes == null ? "—" : I18n.wait(q)) + "</td></tr>";
    }).join("");
  }

  function onEvent(msg) {
    (msg.queues || []).forEach(function (q) { queues[q.category] = q; });
    var ev = msg.event, d = ev.data, mine = d.window === session.window;
    if (ev.type === "ticket.called" && mine) {
      win.current = { ticket: d.ticket, number: d.number, category: d.category, state: "called", reason: d.reason };
      log("呼叫 " + d.number + "：" + d.reason, "Called " + d.number + ": " + d.reason);
    } else if (ev.type === "ticket.recalled" && mine) {
      if (!win.current || win.current.ticket !== d.ticket) win.current = { ticket: d.ticket, number: d.number, category: (win.current || {}).category, state: "called" };
      log("重呼 " + d.number, "Recalled " + d.number);
    } else if (ev.type === "ticket.started" && mine && win.current) { win.current.state = "serving"; log("开始办理 " + d.number, "Started " + d.number); }
    else if ((ev.type === "ticket.finished" || ev.type === "ticket.no_show" || ev.type === "ticket.transferred") && mine) {
      win.current = null;
      var what = { "ticket.finished": ["办结", "Finished"], "ticket.no_show": ["过号", "No-show"], "ticket.transferred": ["转办", "Transferred"] }[ev.type];
      log(what[0] + " " + d.number + (d.case_number ? "（" + d.case_number + "）" : ""), what[1] + " " + d.number);
    } else if (ev.type === "window.paused" && mine) {
      win.status = "paused"; win.pause_reason = d.reason_zh;
      log("暂停：" + d.reason_zh + (d.note ? "（" + d.note + "）" : ""), "Paused: " + d.reason_en + (d.note ? " (" + d.note + ")" : ""));
    }
    else if (ev.type === "window.resumed" && mine) { win.status = "open"; win.pause_reason = null; log("恢复服务", "Resumed"); }
    else if (ev.type === "window.closed" && mine) { win.status = "closed"; win.current = null; }
    else if (ev.type === "window.opened" && mine) { win.status = "open"; win.categories = d.categories; }
    else if (ev.type === "clerk.moved") {
      if (d.from_window === session.window) { win.status = "closed"; win.current = null; }
      if (d.to_window === session.window) { win.status = "open"; win.categories = d.categories; }
    }
    render();
  }

  function act(action, body) {
    var path = { call: "/call-next", recall: "/recall", noshow: "/no-show", start: "/start", finish: "/finish",
      transfer: "/transfer", pause: "/pause", resume: "/resume", close: "/close" }[action];
    return HallqFeed.api("POST", base() + path, body || {}, { token: session.token, key: HallqFeed.newKey() }).then(function (r) {
      if (r.ok) { $("desk-message").hidden = true; return r; }
      message(HallqFeed.errorHtml(r), "error");
      if (r.status === 401) { sessionStorage.removeItem(STORE + page.hall); location.reload(); }
      return r;
    });
  }

  function dialog(id) {
    ["finish-dialog", "transfer-dialog", "pause-dialog"].forEach(function (d) { $(d).hidden = d !== id; });
    if (id) { var f = $(id).querySelector("input, select"); if (f) f.focus(); }
  }
  function dialogOpen() { return !$("finish-dialog").hidden || !$("transfer-dialog").hidden || !$("pause-dialog").hidden; }

  function run(action) {
    var btn = document.querySelector('[data-action="' + action + '"]');
    if (!btn || btn.disabled || btn.hidden) return;
    if (action === "finish") { $("finish-number").textContent = win.current.number; $("case-number").value = ""; dialog("finish-dialog"); }
    else if (action === "transfer") { $("to-category").value = win.current.category; dialog("transfer-dialog"); }
    else if (action === "pause") dialog("pause-dialog");
    else act(action);
  }

  function start(s) {
    session = s;
    $("login").hidden = true;
    $("desk").hidden = false;
    $("logout").hidden = false;
    $("who").textContent = s.name + " · " + s.window + "号窗口";
    if (feed) feed.close();
    feed = HallqFeed.connect("/ws/console/" + s.window + "?hall=" + encodeURIComponent(page.hall) + "&token=" + encodeURIComponent(s.token), {
      snapshot: function (msg) {
        win = msg.window;
        (msg.queues || []).forEach(function (q) { queues[q.category] = q; });
        render();
      },
      event: onEvent,
      refused: function () { message(I18n.both("无权使用该窗口，请重新登录", "Not allowed at this window; log in again"), "error"); }
    });
  }

  function login(ev) {
    ev.preventDefault();
    var user = $("user").value.trim(), number = parseInt($("window").value, 10);
    HallqFeed.api("POST", "/api/v1/auth/login", { user: user, password: $("password").value, hall: page.hall }).then(function (r) {
      if (!r.ok) return r;
      var token = r.body.token;
      return HallqFeed.api("POST", "/api/v1/halls/" + encodeURIComponent(page.hall) + "/windows/" + number + "/open", {}, { token: token })
        .then(function (o) {
          if (!o.ok && !(o.body && o.body.error && o.body.error.code === "already_open")) return o;
          var clerk = hall_clerk_name(user);
          var s = { token: token, user: user, name: clerk, window: number };
          sessionStorage.setItem(STORE + page.hall, JSON.stringify(s));
          start(s);
          return o;
        });
    }).then(function (r) {
      if (r && !r.ok && !(r.body && r.body.error && r.body.error.code === "already_open")) {
        $("login-error").hidden = false;
        $("login-error").innerHTML = HallqFeed.errorHtml(r);
      }
    });
  }

  function hall_clerk_name(user) {
    var c = (page.clerks || []).filter(function (c) { return c.id === user; })[0];
    return c ? c.name : user;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = HallqFeed.pageData();
    hall = data.info;
    page = data.page;
    var q = new URLSearchParams(location.search);
    if (q.get("window")) $("window").value = q.get("window");
    $("user").addEventListener("change", function () {
      var c = (page.clerks || []).filter(function (c) { return c.id === $("user").value.trim(); })[0];
      if (c && c.home_window && !$("window").value) $("window").value = c.home_window;
    });
    $("outcome").innerHTML = Object.keys(hall.outcomes).map(function (k) {
      return '<option value="' + k + '">' + I18n.escape(hall.outcomes[k].zh + " " + hall.outcomes[k].en) + "</option>";
    }).join("");
    $("to-category").innerHTML = hall.categories.map(function (c) {
      return '<option value="' + c.id + '">' + I18n.escape(c.prefix + " " + c.name + " " + c.name_en) + "</option>";
    }).join("");
    $("login").addEventListener("submit", login);
    document.querySelectorAll("[data-action]").forEach(function (b) { b.addEventListener("click", function () { run(b.dataset.action); }); });
    document.querySelectorAll("[data-cancel]").forEach(function (b) { b.addEventListener("click", function () { dialog(null); }); });
    $("finish-dialog").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = { outcome: $("outcome").value };
      if ($("case-number").value.trim()) body.case_number = $("case-number").value.trim();
      dialog(null);
      act("finish", body);
    });
    $("transfer-dialog").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = { to_category: $("to-category").value, keep_place: $("keep-place").checked };
      if ($("to-window").value) body.to_window = parseInt($("to-window").value, 10);
      dialog(null);
      act("transfer", body);
    });
    $("pause-dialog").addEventListener("submit", function (ev) { ev.preventDefault(); dialog(null); act("pause", { reason: $("pause-reason").value, note: $("pause-note").value.trim() || null }); });
    $("logout").addEventListener("click", function () {
      act("close").then(function () { sessionStorage.removeItem(STORE + page.hall); location.reload(); });
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { dialog(null); return; }
      if (ev.key === "Enter" && dialogOpen() && (ev.target.tagName || "").toLowerCase() !== "button") {
        // Enter confirms the open dialog, also from a <select> (which has no implicit submission)
        var open = ["finish-dialog", "transfer-dialog", "pause-dialog"].filter(function (d) { return !$(d).hidden; })[0];
        ev.preventDefault();
        $(open).requestSubmit();
        return;
      }
      if (!session || dialogOpen() || ev.ctrlKey || ev.altKey || ev.metaKey) return;
      var tag = (ev.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "textarea" || tag === "select") return;
      var action = { c: "call", r: "recall", n: "noshow", s: "start", f: "finish", t: "transfer" }[ev.key.toLowerCase()];
      if (ev.key.toLowerCase() === "p") action = win && win.status === "paused" ? "resume" : "pause";
      if (action) { ev.preventDefault(); run(action); }
    });
    document.addEventListener("hallq:lang", render);
    var saved = sessionStorage.getItem(STORE + page.hall);
    if (saved) start(JSON.parse(saved));
  });
})();
