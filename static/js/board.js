/* hallq — the hall board (综合屏): the current call, the last calls, the queues; speaks each call. */
(function () {
  "use strict";
  var REPLAY_ANNOUNCE_SECONDS = 120;  // calls missed while reconnecting are shown; only fresh ones are spoken
  var data, hall, page, calls = [], queues = {};

  function zoneOk(cat) { return !page.zone || cat.zone === page.zone; }

  function renderCalls() {
    var current = calls[0];
    document.getElementById("current-number").textContent = current ? current.number : "—";
    document.getElementById("current-window").innerHTML = current ? I18n.both(current.window + "号窗口", "Window " + current.window) : "";
    document.getElementById("current").classList.toggle("recall", !!(current && current.recall));
    var html = calls.slice(0, page.recent).map(function (c, i) {
      return '<li class="' + (i === 0 ? "latest" : "") + '" data-number="' + I18n.escape(c.number) + '" data-seq="' + c.seq + '">' +
        '<span class="ticket-number">' + I18n.escape(c.number) + "</span>" +
        '<span class="win">' + I18n.both(c.window + "号窗口", "Window " + c.window) + "</span>" +
        (c.recall ? '<span class="tag">' + I18n.both("重呼", "Recall") + "</span>" : "") + "</li>";
    }).join("");
    document.getElementById("recent-calls").innerHTML = html;
  }

  function renderQueues() {
    var rows = hall.categories.filter(zoneOk).map(function (cat) {
      var q = queues[cat.id] || { waiting: 0, estimated_wait_minutes: null };
      var est = I18n.wait(q);
      return '<tr data-category="' + cat.id + '"><td><span class="prefix">' + cat.prefix + "</span> " + I18n.both(cat.name, cat.name_en) +
        '</td><td class="num waiting">' + q.waiting + '</td><td class="num">' + est + "</td></tr>";
    });
    document.querySelector("#queues tbody").innerHTML = rows.join("");
  }

  function addCall(ev, announce) {
    var d = ev.data, recall = ev.type === "ticket.recalled";
    calls = calls.filter(function (c) { return c.ticket !== d.ticket; });
    calls.unshift({ ticket: d.ticket, number: d.number, window: d.window, recall: recall, seq: ev.seq,
      zh: ev.announcement.zh, en: ev.announcement.en });
    calls = calls.slice(0, 50);
    if (announce) hallqVoice.announce({ zh: ev.announcement.zh, en: ev.announcement.en, recall: recall });
  }

  function onSnapshot(msg) {
    var s = msg.snapshot;
    calls = s.recent_calls.map(function (c) {
      return { ticket: c.ticket, number: c.number, window: c.window, recall: false, seq: s.seq, zh: c.announcement.zh, en: c.announcement.en };
    });
    queues = {};
    s.categories.forEach(function (c) { queues[c.id] = c; });
    document.body.classList.toggle("hall-closed", !s.open);
    renderCalls();
    renderQueues();
  }

  function onEvent(msg) {
    var ev = msg.event;
    (msg.queues || []).forEach(function (q) { queues[q.category] = q; });
    if (ev.type === "ticket.called" || ev.type === "ticket.recalled") {
      var age = (Date.now() - Date.parse(ev.ts)) / 1000;
      addCall(ev, !msg.replay || age < REPLAY_ANNOUNCE_SECONDS);
      window.hallqBoard.seen.push({ seq: ev.seq, number: ev.data.number, window: ev.data.window, replay: !!msg.replay });
      renderCalls();
    }
    renderQueues();
  }

  function tick() {
    var now = new Date();
    document.getElementById("clock").textContent = now.toTimeString().slice(0, 8);
  }

  document.addEventListener("DOMContentLoaded", function () {
    data = HallqFeed.pageData();
    hall = data.info;
    page = data.page;
    window.hallqBoard = { seen: [], calls: function () { return calls; } };
    var select = document.getElementById("zone");
    select.innerHTML = '<option value="">' + I18n.t("全部区域", "All zones") + "</option>" + hall.zones.map(function (z) {
      return '<option value="' + z.id + '"' + (z.id === page.zone ? " selected" : "") + ">" + I18n.escape(I18n.t(z.name, z.name_en)) + "</option>";
    }).join("");
    select.addEventListener("change", function () {
      var q = new URLSearchParams(location.search);
      if (select.value) q.set("zone", select.value); else q.delete("zone");
      location.search = q.toString();
    });
    document.addEventListener("hallq:lang", function () { renderCalls(); renderQueues(); });
    tick();
    setInterval(tick, 1000);
    renderQueues();
    var path = "/ws/hall?hall=" + encodeURIComponent(page.hall) + (page.zone ? "&zone=" + encodeURIComponent(page.zone) : "");
    window.hallqBoard.feed = HallqFeed.connect(path, { snapshot: onSnapshot, event: onEvent });
  });
})();
