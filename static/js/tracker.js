/* hallq — a citizen's tracker on their phone (/t/<ticket>): position and wait, live; when the
 * ticket is called, a full-screen 「请到5号窗口」 with a chime, speech and vibration.
 */
(function () {
  "use strict";
  var hall, page, last = null;

  function $(id) { return document.getElementById(id); }

  function render(s) {
    if (!s) {
      $("t-number").textContent = page.ticket;
      $("t-state").innerHTML = I18n.both("找不到该票号", "No such ticket");
      return;
    }
    $("t-number").textContent = s.number;
    $("t-category").innerHTML = I18n.both(s.category_name, s.category_name_en);
    var names = { waiting: ["等候中", "Waiting"], called: ["正在呼叫您", "You are being called"], serving: ["办理中", "Being served"], suspended: ["已挂起", "Set aside"],
      finished: ["已办结", "Finished"], no_show: ["已过号", "Missed"], cancelled: ["已取消", "Cancelled"], expired: ["已过期", "Expired"] };
    var n = names[s.state] || [s.state, s.state];
    $("t-state").innerHTML = I18n.both(n[0], n[1]);
    $("t-state").setAttribute("data-state", s.state);
    var fig = "";
    if (s.state === "waiting") {
      fig = "<dt>" + I18n.both("前方等待", "Ahead of you") + '</dt><dd id="t-ahead">' + I18n.both(s.ahead + "人", String(s.ahead)) + "</dd>" +
        "<dt>" + I18n.both("预计等待", "Estimated wait") + "</dt><dd>" +
        I18n.wait(s) + "</dd>";
    } else if (s.state === "finished" && s.outcome_name) {
      fig = "<dt>" + I18n.both("办理结果", "Outcome") + "</dt><dd>" + I18n.escape(s.outcome_name) + "</dd>";
    }
    $("t-figures").innerHTML = fig;
    $("t-where").innerHTML = s.where ? I18n.both(s.where.zh, s.where.en) : "";
    var called = s.state === "called" && s.window;
    if (called) {
      $("called-number").textContent = s.number;
      $("called-where").innerHTML = I18n.both("请到" + s.window + "号窗口", "Please go to window " + s.window);
    }
    var fresh = called && (!last || last.state !== "called" || last.recalls !== s.recalls);
    if (fresh) {
      $("called").hidden = false;
      if (s.announcement) hallqVoice.announce({ zh: s.announcement.zh, en: s.announcement.en, recall: s.recalls > 0 });
      if (navigator.vibrate) navigator.vibrate([400, 200, 400, 200, 400]);
    }
    if (!called) $("called").hidden = true;
    last = s;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = HallqFeed.pageData();
    hall = data.info;
    page = data.page;
    $("called-ok").addEventListener("click", function () { $("called").hidden = true; hallqVoice.enable(); });
    document.addEventListener("hallq:lang", function () { if (last) { var l = last; last = l; render(l); } });
    HallqFeed.connect("/ws/ticket/" + encodeURIComponent(page.ticket) + "?hall=" + encodeURIComponent(page.hall), {
      snapshot: function (msg) { render(msg.status); },
      status: function (msg) { render(msg.status); }
    });
  });
})();
