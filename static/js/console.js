/* hallq — the clerk's console: log in to a window, then call, recall, no-show, start, finish,
 * transfer, pause and resume — with the keyboard (C R N S F T P) or the buttons; the queue in
 * calling order (↑ ↓ to pick, X 叫指定号 with a reason), 挂起 (G) and 恢复办理 (U) of a ticket,
 * a service timer and the clerk's count of services finished today.
 * The window's live state and its desk (queue, set-aside tickets, served today) come from
 * /ws/console/N; every action goes through the JSON API.
 */
(function () {
  "use strict";
  var hall, page, session = null, win = null, queues = {}, feed = null;
  var desk = null, offset = 0, picked = null;  // offset: server clock minus this browser's, in seconds
  var DIALOGS = ["finish-dialog", "transfer-dialog", "pause-dialog", "choose-dialog", "suspend-dialog"];
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
    var free = win.status === "open" && !cur;
    var enable = {
      call: free, recall: has("called"), noshow: has("called"), start: has("called"),
      finish: has("serving"), transfer: !!cur, pause: free, resume: win.status === "paused",
      choose: free && !!desk && desk.queue.length > 0, suspend: has("serving"),
      unsuspend: free && !!desk && desk.suspended.length > 0
    };
    Object.keys(enable).forEach(function (a) { document.querySelector('[data-action="' + a + '"]').disabled = !enable[a]; });
    document.querySelector('[data-action="pause"]').hidden = win.status === "paused";
    document.querySelector('[data-action="resume"]').hidden = win.status !== "paused";
    $("queues").querySelector("tbody").innerHTML = (win.categories || []).map(function (id) {
      var q = queues[id] || { waiting: 0, estimated_wait_minutes: null }, c = cat(id);
      return '<tr data-category="' + id + '"><td>' + c.prefix + " " + I18n.both(c.name, c.name_en) + '</td><td class="num waiting">' +
        q.waiting + '</td><td class="num">' + (q.estimated_wait_minutes == null ? "—" : I18n.wait(q)) + "</td></tr>";
    }).join("");
    renderDesk();
    tick();
  }

  function marks(row) {
    var out = [];
    if (row.priority) out.push('<span class="mark mark-priority">' + I18n.both(row.priority + "优先", "priority") + "</span>");
    if (row.appointment) out.push('<span class="mark">' + I18n.both("预约", "appointment") + "</span>");
    if (row.transferred) out.push('<span class="mark">' + I18n.both("转办", "transferred") + "</span>");
    if (!row.arrived) out.push('<span class="mark">' + I18n.both("未签到", "not checked in") + "</span>");
    return out.join("");
  }

  function renderDesk() {
    if (!desk) return;
    var queue = desk.queue;
    if (picked && !queue.some(function (r) { return r.ticket === picked; })) picked = null;
    $("waiting-count").innerHTML = I18n.both(desk.waiting + "人", desk.waiting + " waiting");
    $("served-today").innerHTML = I18n.both(desk.served_today + "件", String(desk.served_today));
    $("waiting").querySelector("tbody").innerHTML = queue.length ? queue.map(function (r, i) {
      var c = cat(r.category);
      return '<tr data-ticket="' + I18n.escape(r.ticket) + '" aria-selected="' + (r.ticket === picked) + '" title="' + I18n.escape(r.reason) + '">' +
        '<td class="num">' + (i + 1) + '</td><td class="ticket-number">' + I18n.escape(r.number) + "</td><td>" + I18n.both(c.name, c.name_en) +
        '</td><td class="num">' + I18n.both(r.waited_minutes + "分钟", r.waited_minutes + " min") + "</td><td>" + marks(r) +
        '</td><td><button class="btn btn-small" data-choose="' + I18n.escape(r.ticket) + '">' + I18n.both("叫此号", "Call this") + "</button></td></tr>";
    }).join("") : '<tr><td colspan="6" class="muted">' + I18n.both("暂无等候", "Nobody waiting") + "</td></tr>";
    $("suspended-box").hidden = desk.suspended.length === 0;
    $("suspended").querySelector("tbody").innerHTML = desk.suspended.map(function (r) {
      return '<tr data-ticket="' + I18n.escape(r.ticket) + '"><td class="ticket-number">' + I18n.escape(r.number) + "</td><td>" +
        I18n.both("挂起" + r.minutes + "分钟", "aside " + r.minutes + " min") + (r.window !== session.window ? " · " + I18n.both(r.window + "号窗口", "window " + r.window) : "") +
        '</td><td><button class="btn btn-small" data-resume-ticket="' + I18n.escape(r.ticket) + '">' + I18n.both("恢复办理", "Resume") + "</button></td></tr>";
    }).join("");
  }

  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var m = Math.floor(seconds / 60), sec = seconds % 60;
    return (m < 10 ? "0" : "") + m + ":" + (sec < 10 ? "0" : "") + sec;
  }

  /* The service timer: since 开始办理, less the time the ticket was set aside. */
  function tick() {
    var c = desk && desk.current, serving = win && win.current && win.current.state === "serving";
    var running = serving && c && c.ticket === win.current.ticket && c.started_at;
    $("timer").textContent = running ? clock(Date.now() / 1000 + offset - c.started_at - c.suspended_seconds) : "—";
  }

  function takeDesk(d) {
    if (!d) return;
    desk = d;
    offset = d.now - Date.now() / 1000;
  }

  function pick(step) {
    if (!desk || !desk.queue.length) return;
    var ids = desk.queue.map(function (r) { return r.ticket; }), i = ids.indexOf(picked);
    picked = ids[i < 0 ? (step > 0 ? 0 : ids.length - 1) : Math.max(0, Math.min(ids.length - 1, i + step))];
    renderDesk();
    var row = $("waiting").querySelector('tr[aria-selected="true"]');
    if (row && row.scrollIntoView) row.scrollIntoView({ block: "nearest" });
  }

  function onEvent(msg) {
    (msg.queues || []).forEach(function (q) { queues[q.category] = q; });
    takeDesk(msg.desk);
    var ev = msg.event, d = ev.data, mine = d.window === session.window;
    if (ev.type === "ticket.called" && mine) {
      win.current = { ticket: d.ticket, number: d.number, category: d.category, state: "called", reason: d.reason };
      log("呼叫 " + d.number + "：" + d.reason, "Called " + d.number + ": " + d.reason);
    } else if (ev.type === "ticket.recalled" && mine) {
      if (!win.current || win.current.ticket !== d.ticket) win.current = { ticket: d.ticket, number: d.number, category: (win.current || {}).category, state: "called" };
      log("重呼 " + d.number, "Recalled " + d.number);
    } else if (ev.type === "ticket.started" && mine && win.current) { win.current.state = "serving"; log("开始办理 " + d.number, "Started " + d.number); }
    else if (ev.type === "ticket.suspended" && mine) { win.current = null; log("挂起 " + d.number + "：" + d.reason, "Set aside " + d.number + ": " + d.reason); }
    else if (ev.type === "ticket.resumed" && mine) {
      win.current = { ticket: d.ticket, number: d.number, category: d.category, state: "serving", reason: "恢复办理" };
      log("恢复办理 " + d.number, "Resumed " + d.number);
    }
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
      transfer: "/transfer", pause: "/pause", resume: "/resume", close: "/close", choose: "/call-ticket",
      suspend: "/suspend", unsuspend: "/resume-ticket" }[action];
    return HallqFeed.api("POST", base() + path, body || {}, { token: session.token, key: HallqFeed.newKey() }).then(function (r) {
      if (r.ok) { $("desk-message").hidden = true; return r; }
      message(HallqFeed.errorHtml(r), "error");
      if (r.status === 401) { sessionStorage.removeItem(STORE + page.hall); location.reload(); }
      return r;
    });
  }

  function dialog(id) {
    DIALOGS.forEach(function (d) { $(d).hidden = d !== id; });
    if (id) { var f = $(id).querySelector("input, select"); if (f) f.focus(); }
  }
  function openDialog() { return DIALOGS.filter(function (d) { return !$(d).hidden; })[0]; }
  function dialogOpen() { return !!openDialog(); }

  function run(action, ticket) {
    var btn = document.querySelector('[data-action="' + action + '"]');
    if (!btn || btn.disabled || btn.hidden) return;
    if (action === "choose") {
      if (ticket) { picked = ticket; renderDesk(); }
      var row = desk.queue.filter(function (r) { return r.ticket === picked; })[0];
      if (!row) { message(I18n.both("请先用 ↑ ↓ 或点击选择要呼叫的号", "Pick a ticket first (↑ ↓ or click)"), "error"); return; }
      $("choose-number").textContent = row.number;
      $("choose-note").value = "";
      dialog("choose-dialog");
    }
    else if (action === "suspend") { $("suspend-number").textContent = win.current.number; dialog("suspend-dialog"); }
    else if (action === "unsuspend") act("unsuspend", { ticket: ticket || desk.suspended[0].ticket });
    else if (action === "finish") { $("finish-number").textContent = win.current.number; $("case-number").value = ""; dialog("finish-dialog"); }
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
        takeDesk(msg.desk);
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
    $("choose-reason").innerHTML = Object.keys(hall.call_reasons).map(function (k) {
      return '<option value="' + k + '">' + I18n.escape(hall.call_reasons[k].zh + " " + hall.call_reasons[k].en) + "</option>";
    }).join("");
    $("choose-dialog").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = { ticket: picked, reason: $("choose-reason").value };
      if ($("choose-note").value.trim()) body.note = $("choose-note").value.trim();
      dialog(null);
      act("choose", body).then(function (r) { if (r.ok) picked = null; });
    });
    $("suspend-dialog").addEventListener("submit", function (ev) { ev.preventDefault(); dialog(null); act("suspend", { reason: $("suspend-reason").value }); });
    $("waiting").addEventListener("click", function (ev) {
      var b = ev.target.closest("[data-choose]"), tr = ev.target.closest("tr[data-ticket]");
      if (b) run("choose", b.getAttribute("data-choose"));
      else if (tr) { picked = tr.getAttribute("data-ticket"); renderDesk(); }
    });
    $("suspended").addEventListener("click", function (ev) {
      var b = ev.target.closest("[data-resume-ticket]");
      if (b) run("unsuspend", b.getAttribute("data-resume-ticket"));
    });
    setInterval(tick, 1000);
    $("logout").addEventListener("click", function () {
      act("close").then(function () { sessionStorage.removeItem(STORE + page.hall); location.reload(); });
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { dialog(null); return; }
      if (ev.key === "Enter" && dialogOpen() && (ev.target.tagName || "").toLowerCase() !== "button") {
        // Enter confirms the open dialog, also from a <select> (which has no implicit submission)
        ev.preventDefault();
        $(openDialog()).requestSubmit();
        return;
      }
      if (!session || dialogOpen() || ev.ctrlKey || ev.altKey || ev.metaKey) return;
      var tag = (ev.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "textarea" || tag === "select") return;
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") { ev.preventDefault(); pick(ev.key === "ArrowDown" ? 1 : -1); return; }
      var action = { c: "call", r: "recall", n: "noshow", s: "start", f: "finish", t: "transfer",
        x: "choose", g: "suspend", u: "unsuspend" }[ev.key.toLowerCase()];
      if (ev.key.toLowerCase() === "p") action = win && win.status === "paused" ? "resume" : "pause";
      if (action) { ev.preventDefault(); run(action); }
    });
    document.addEventListener("hallq:lang", render);
    var saved = sessionStorage.getItem(STORE + page.hall);
    if (saved) start(JSON.parse(saved));
  });
})();
