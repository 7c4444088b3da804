/* hallq — 周排班 (weekly roster): pick a week, let the server solve it (CP-SAT, in a thread),
 * show each clerk's shift, break and window per day, with the solver's bound and gap.
 * The manager logs in as on the dashboard (the same session token is reused).
 */
(function () {
  "use strict";
  var page, token, last = null;
  var WEEKDAYS = [["一", "Mon"], ["二", "Tue"], ["三", "Wed"], ["四", "Thu"], ["五", "Fri"], ["六", "Sat"], ["日", "Sun"]];

  function $(id) { return document.getElementById(id); }
  function base() { return "/api/v1/halls/" + encodeURIComponent(page.hall); }

  function nextMonday() {
    var d = new Date();
    d.setDate(d.getDate() + ((8 - d.getDay()) % 7 || 7));
    return d.getFullYear() + "-" + ("0" + (d.getMonth() + 1)).slice(-2) + "-" + ("0" + d.getDate()).slice(-2);
  }

  function showError(r) {
    $("error").hidden = false;
    $("error").innerHTML = HallqFeed.errorHtml(r);
  }

  function render(d) {
    last = d;
    var gap = (d.gap * 100).toFixed(1) + "%";
    $("summary").innerHTML = I18n.both(
      "求解状态 " + d.status + "，目标值 " + Math.round(d.objective) + "，下界 " + Math.round(d.bound) + "，差距 " + gap +
        "，用时 " + d.wall_seconds + " 秒，班次 " + d.shifts + " 个，覆盖缺口 " + d.under_cover + " 人·时段",
      "Status " + d.status + ", objective " + Math.round(d.objective) + ", bound " + Math.round(d.bound) + ", gap " + gap +
        ", " + d.wall_seconds + " s, " + d.shifts + " shifts, under-cover " + d.under_cover + " clerk-intervals");
    $("summary").setAttribute("data-gap", String(d.gap));
    $("roster").querySelector("thead").innerHTML = "<tr><th>" + I18n.both("工作人员", "Clerk") + "</th>" + d.days.map(function (day, i) {
      var w = WEEKDAYS[i % 7];
      return "<th>" + I18n.both(day.slice(5) + "（" + w[0] + "）", w[1] + " " + day.slice(5)) + "</th>";
    }).join("") + "</tr>";
    $("roster").querySelector("tbody").innerHTML = d.grid.map(function (row) {
      return '<tr data-clerk="' + I18n.escape(row.clerk) + '"><td>' + I18n.escape(row.name) + "</td>" + d.days.map(function (day) {
        var a = row.days[day];
        if (!a) return '<td class="off">' + I18n.both("休", "off") + "</td>";
        var shift = d.shift_names[a.shift] || a.shift;
        var brk = a.break_start ? I18n.both("休息 " + a.break_start + "–" + a.break_end, "break " + a.break_start + "–" + a.break_end) : "";
        var win = a.window ? I18n.both(a.window + "号窗口", "window " + a.window) : "";
        return '<td class="shift" data-day="' + day + '"><div>' + I18n.escape(shift) + " " + a.start + "–" + a.end + "</div><div>" +
          win + "</div><div class=\"muted small\">" + brk + "</div></td>";
      }).join("") + "</tr>";
    }).join("");
  }

  function run(ev) {
    ev.preventDefault();
    $("error").hidden = true;
    $("run").disabled = true;
    $("status").innerHTML = I18n.both("正在排班，请稍候……", "Solving, please wait…");
    var body = { week: $("week").value, time_limit_seconds: Number($("limit").value) || 20 };
    HallqFeed.api("POST", base() + "/roster", body, { token: token }).then(function (r) {
      $("run").disabled = false;
      $("status").textContent = "";
      if (r.ok) render(r.body);
      else showError(r);
    });
  }

  function start() {
    $("login").hidden = true;
    $("dash").hidden = false;
    $("week").value = $("week").value || nextMonday();
    $("run-form").addEventListener("submit", run);
    HallqFeed.api("GET", base() + "/roster", undefined, { token: token }).then(function (r) {
      if (r.ok) { $("week").value = r.body.week_start; render(r.body); }
      else if (r.status === 401 || r.status === 403) { HallqSession.clear(); location.reload(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    page = HallqFeed.pageData().page;
    document.addEventListener("hallq:lang", function () { if (last) render(last); });
    HallqFeed.managerLogin(page.hall, function (t) { token = t; start(); });
  });
})();
