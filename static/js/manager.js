/* hallq — the manager dashboard: queues and waits against target, windows and clerks with
 * today's utilisation, alerts, ratings today. The manager feed (/ws/manager) says when
 * anything changes; the figures come from /pages/manager (computed by queue_server.views),
 * refreshed on each change and every 30 s (waits grow while nothing happens).
 * Rebalancing recommendations (调岗建议) come from GET …/rebalance — a solver run, so at most
 * once per 30 s while the feed moves; 「采纳」 applies one (a clerk.moved event like any move).
 */
(function () {
  "use strict";
  var hall, page, token, timer = null, reasons = {}, last = null;
  var REBALANCE_EVERY = 30000, rebalancedAt = 0, rebalanceTimer = null, recs = null, note = "", adopted = [];

  function $(id) { return document.getElementById(id); }
  // a duration on the server's clock: seconds under a minute (a demo runs faster than life)
  function duration(sec) {
    sec = Math.max(0, sec);
    if (sec < 60) return I18n.both(Math.round(sec) + "秒", Math.round(sec) + " s");
    return I18n.both(Math.round(sec / 60) + "分钟", Math.round(sec / 60) + " min");
  }
  function pct(x) { return x == null ? "—" : Math.round(x * 100) + "%"; }

  function render(d) {
    last = d;
    var s = d.snapshot;
    $("categories").querySelector("tbody").innerHTML = s.categories.map(function (c) {
      var over = c.longest_wait_minutes > c.target_wait_minutes || (c.estimated_wait_minutes || 0) > c.target_wait_minutes;
      return '<tr data-category="' + c.id + '" class="' + (over ? "over" : "") + '"><td>' + c.prefix + " " + I18n.both(c.name, c.name_en) +
        '</td><td class="num">' + c.waiting + '</td><td class="num">' + Math.round(c.longest_wait_minutes) +
        '</td><td class="num">' + (c.estimated_wait_minutes == null ? "—" : c.estimated_wait_minutes) +
        '</td><td class="num">' + c.target_wait_minutes + '</td><td class="num">' + c.issued_today + (c.daily_cap ? " / " + c.daily_cap : "") + "</td></tr>";
    }).join("");
    var util = {};
    d.utilisation.windows.forEach(function (w) { util[w.number] = w; });
    $("open-minutes").innerHTML = I18n.both("（今日已开放" + Math.round(d.utilisation.open_minutes) + "分钟）", "(open " + Math.round(d.utilisation.open_minutes) + " min today)");
    var stateNames = { open: ["服务中", "Open"], paused: ["暂停", "Paused"], closed: ["未开启", "Closed"] };
    $("windows").querySelector("tbody").innerHTML = s.windows.map(function (w) {
      var u = util[w.number] || {}, st = stateNames[w.status];
      var since = w.since ? duration(s.now - w.since) : "";
      return '<tr data-window="' + w.number + '" class="state-' + w.status + '"><td>' + w.number + "</td><td>" + I18n.both(st[0], st[1]) +
        (w.pause_reason ? "（" + I18n.escape(w.pause_reason) + "）" : "") + "</td><td>" + I18n.escape(w.clerk_name || "") +
        "</td><td>" + (w.current ? I18n.escape(w.current.number) : "") + "</td><td>" + since +
        '</td><td class="num">' + (u.served || 0) + '</td><td class="num">' + pct(u.utilisation) + "</td></tr>";
    }).join("");
    $("clerks").innerHTML = d.utilisation.clerks.length ? d.utilisation.clerks.map(function (c) {
      return '<span class="clerk" data-clerk="' + c.clerk + '">' + I18n.escape(c.name) + " " + pct(c.utilisation) +
        " (" + duration(c.busy_minutes * 60) + ")</span>";
    }).join(" · ") : I18n.both("今日尚无办件", "No services yet today");
    $("alerts").innerHTML = d.alerts.length ? d.alerts.map(function (a) {
      return '<li class="alert alert-' + a.kind + '">' + I18n.both(a.zh, a.en) + "</li>";
    }).join("") : "<li>" + I18n.both("暂无提醒", "No alerts") + "</li>";
    $("alert-count").textContent = d.alerts.length ? String(d.alerts.length) : "";
    var r = d.ratings;
    var levels = ["5", "4", "3", "2", "1"].map(function (k) {
      var l = hall.rating_levels[k];
      return '<tr class="' + (+k <= 2 && r.levels[k] ? "over" : "") + '"><td>' + I18n.both(l.zh, l.en) + '</td><td class="num" data-level="' + k + '">' + r.levels[k] + "</td></tr>";
    }).join("");
    var bad = r.bad.map(function (b) {
      var l = hall.rating_levels[String(b.level)];
      return '<li class="over">' + I18n.escape(b.number) + " · " + I18n.both(b.window + "号窗口", "window " + b.window) + " · " +
        I18n.escape(b.clerk_name || "") + " · " + I18n.both(l.zh, l.en) + (b.case_number ? " · " + I18n.escape(b.case_number) : "") +
        (reasons[b.ticket] ? " — " + I18n.escape(reasons[b.ticket]) : "") + "</li>";
    }).join("");
    $("ratings").innerHTML = "<p>" + I18n.both("已办结" + r.finished + "件，已评价" + r.rated + "件，评价率" + pct(r.rating_rate) + "，满意率" + pct(r.satisfied_rate),
      r.finished + " finished, " + r.rated + " rated (" + pct(r.rating_rate) + "), satisfied " + pct(r.satisfied_rate)) + "</p>" +
      '<table class="grid">' + levels + "</table>" + (bad ? "<h3>" + I18n.both("差评（须整改反馈）", "Bad ratings to follow up") + '</h3><ul class="bad">' + bad + "</ul>" : "");
  }

  function renderRecs() {
    if (!recs) return;
    $("recommendations").innerHTML = recs.length ? recs.map(function (r, i) {
      return '<li class="recommendation" data-clerk="' + I18n.escape(r.clerk) + '" data-kind="' + I18n.escape(r.kind) + '">' +
        "<span>" + I18n.both(r.text, r.text_en) + "</span>" +
        ' <button class="btn btn-small btn-primary" data-apply="' + i + '">' + I18n.both("采纳", "Apply") + "</button></li>";
    }).join("") : "<li>" + I18n.both("暂无调岗建议", "No moves recommended") + (note ? "（" + I18n.escape(note) + "）" : "") + "</li>";
  }

  /* One figure of an applied recommendation: predicted (interval) beside realised. */
  function effectText(e, real) {
    if (!e) return "";
    var interval = e.low === null ? "" : "（95%区间 " + Math.max(0, e.low).toFixed(0) + "–" + e.high.toFixed(0) + "）";
    var zh = "预计 " + e.before.toFixed(0) + "→" + e.after.toFixed(0) + " 分钟" + interval;
    var en = "predicted " + e.before.toFixed(0) + " → " + e.after.toFixed(0) + " min" + interval.replace("95%区间", "95%");
    if (real) {
      zh += "，实际 " + real.mean.toFixed(0) + " 分钟（" + real.citizens + "人）";
      en += ", realised " + real.mean.toFixed(0) + " min (" + real.citizens + " citizens)";
    }
    return I18n.both(zh, en);
  }

  function renderAdopted() {
    $("adopted").innerHTML = adopted.length ? adopted.map(function (a) {
      var at = new Date(a.at * 1000), until = new Date(a.until * 1000);
      var hm = function (d) { return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2); };
      var state = a.done ? I18n.both("已到期", "horizon over") : I18n.both("进行中，至" + hm(until), "running until " + hm(until));
      var held = a.done && a.gain_realised ? (a.gain_realised.within_interval ? I18n.both("在区间内", "within the interval") : I18n.both("超出区间", "outside the interval")) : "";
      return '<li class="adopted" data-done="' + (a.done ? "1" : "0") + '"><div>' + hm(at) + " " + I18n.both(a.text, a.text_en) + "</div>" +
        '<div class="effect gain">' + I18n.both("受益：", "Gain: ") + effectText(a.gain, a.gain_realised) + " " + held + "</div>" +
        (a.cost ? '<div class="effect cost">' + I18n.both("代价：", "Cost: ") + effectText(a.cost, a.cost_realised) + "</div>" : "") +
        '<div class="small">' + state + "</div></li>";
    }).join("") : "<li>" + I18n.both("今日尚未采纳调岗建议", "No advice applied today") + "</li>";
  }

  function rebalance() {
    rebalanceTimer = null;
    rebalancedAt = Date.now();
    HallqFeed.api("GET", "/api/v1/halls/" + encodeURIComponent(page.hall) + "/rebalance", undefined, { token: token }).then(function (r) {
      if (!r.ok) return;
      recs = r.body.recommendations;
      note = r.body.note || "";
      adopted = r.body.adopted || [];
      renderRecs();
      renderAdopted();
    });
  }
  /* The feed moved: ask again, but never more often than every 30 s. */
  function rebalanceSoon() {
    if (rebalanceTimer) return;
    rebalanceTimer = setTimeout(rebalance, Math.max(0, rebalancedAt + REBALANCE_EVERY - Date.now()));
  }

  function apply(i) {
    var r = recs && recs[i];
    if (!r) return;
    $("rebalance-error").hidden = true;
    HallqFeed.api("POST", "/api/v1/halls/" + encodeURIComponent(page.hall) + "/rebalance/apply",
      r.kind === "move" ? { clerk: r.command.clerk, to_window: r.command.to_window } : { window: r.command.window, categories: r.command.categories },
      { token: token, key: HallqFeed.newKey() }).then(function (res) {
      if (!res.ok) {
        $("rebalance-error").hidden = false;
        $("rebalance-error").innerHTML = HallqFeed.errorHtml(res);
        return;
      }
      recs.splice(i, 1);
      renderRecs();
      rebalance();  /* the applied advice now shows with its prediction, beside what happens */
    });
  }

  function refresh() {
    timer = null;
    HallqFeed.api("GET", "/pages/manager?hall=" + encodeURIComponent(page.hall), undefined, { token: token }).then(function (r) {
      if (r.ok) render(r.body);
      else if (r.status === 401 || r.status === 403) { HallqSession.clear(); location.reload(); }
    });
  }
  function soon() { if (!timer) timer = setTimeout(refresh, 250); }

  /* Reasons given with bad ratings are in the event log only: read today's once, then follow the feed. */
  function loadReasons(seq) {
    var after = Math.max(0, seq - 5000);
    HallqFeed.api("GET", "/api/v1/halls/" + encodeURIComponent(page.hall) + "/events?after=" + after + "&limit=5000", undefined, { token: token })
      .then(function (r) {
        if (!r.ok) return;
        r.body.events.forEach(function (e) { if (e.type === "ticket.rated" && e.data.reason) reasons[e.data.ticket] = e.data.reason; });
        if (last) render(last);
      });
  }

  function start() {
    var first = true;
    $("login").hidden = true;
    $("dash").hidden = false;
    HallqFeed.connect("/ws/manager?hall=" + encodeURIComponent(page.hall) + "&token=" + encodeURIComponent(token), {
      snapshot: function (msg) { if (first) { first = false; loadReasons(msg.seq); rebalance(); } soon(); },
      event: function (msg) {
        if (msg.event.type === "ticket.rated" && msg.event.data.reason) reasons[msg.event.data.ticket] = msg.event.data.reason;
        soon();
        rebalanceSoon();
      },
      sync: function () { soon(); rebalanceSoon(); },
      refused: function () { HallqSession.clear(); location.reload(); }  // the session ended: log in again
    });
    $("recommendations").addEventListener("click", function (ev) {
      var b = ev.target.closest("[data-apply]");
      if (b) { b.disabled = true; apply(Number(b.getAttribute("data-apply"))); }
    });
    setInterval(refresh, 30000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = HallqFeed.pageData();
    hall = data.info;
    page = data.page;
    setInterval(function () { $("clock").textContent = new Date().toTimeString().slice(0, 8); }, 1000);
    document.addEventListener("hallq:lang", function () { if (last) render(last); renderRecs(); });
    HallqFeed.managerLogin(page.hall, function (t) { token = t; start(); });
  });
})();
