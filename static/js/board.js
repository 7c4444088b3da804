/* hallq — the hall board (综合屏): the call being announced, the calls waiting their turn, the last calls,
 * the queues, the 通知公告 line; speaks each call.
 *
 * What the board shows and what it says stay in step:
 * - the big panel (#current) shows the call(s) the voice is saying now; when the voice is quiet, the
 *   latest call. The announcement line under it is that same sentence.
 * - a call that arrives while the voice is busy waits visibly in 即将呼叫 (#next-calls), oldest first.
 * - a burst is said compactly: when the voice is free and several calls wait, up to GROUP_SIZE of them are
 *   said in one sentence (the hall's announcements.group template: 「请A012号到5号窗口，B003号到7号窗口办理」);
 *   a recall is said on its own, and replaces the waiting call of the same ticket; a newer call at the same
 *   window replaces the older one (that window has moved on); a waiting call whose ticket is started, marked
 *   no-show, transferred or cancelled meanwhile is dropped.
 * - the bound: a call starts being spoken within ANNOUNCE_WITHIN_SECONDS of reaching the board (or, for a
 *   call replayed after a reconnection, of being made), or it is not spoken at all — it stays on the board's
 *   list and on its window's own screen, and hallqBoard.skipped counts it. With the recorded clips a sentence
 *   of GROUP_SIZE calls takes about 20 s, so under a burst the voice keeps up with about 12 calls a minute
 *   (bench/board_voice_sync.py measures it; docs/BENCHMARKS.md).
 */
(function () {
  "use strict";
  var ANNOUNCE_WITHIN_SECONDS = 60;
  var GROUP_SIZE = 4;
  var GATHER_MS = 300;  // a quiet voice waits this long for the rest of a burst (a replay arrives at once)
  var NEXT_SHOWN = 6;  // waiting calls listed by number; more are counted
  var GONE = { "ticket.started": 1, "ticket.no_show": 1, "ticket.transferred": 1, "ticket.cancelled": 1,
               "ticket.finished": 1, "ticket.expired": 1 };
  var data, hall, page, calls = [], queues = {}, pending = [], speaking = null, gatherTimer = null, open = true;

  function zoneOk(cat) { return !page.zone || cat.zone === page.zone; }

  function callHtml(c, id) {
    return '<div class="current-call" data-number="' + I18n.escape(c.number) + '"><span class="ticket-number"' + (id ? ' id="' + id + '"' : "") + ">" +
      I18n.escape(c.number) + '</span><span class="arrow">→</span><span class="current-window">' +
      I18n.both(c.window + "号窗口", "Window " + c.window) + "</span></div>";
  }

  /* The calls on the big panel: those being said, else the latest one. */
  function shownCalls() {
    if (speaking) return speaking;
    var latest = calls.filter(function (c) { return pending.indexOf(c) < 0; })[0];
    return latest ? [latest] : [];
  }

  function renderCalls() {
    var shown = shownCalls();
    var box = document.getElementById("current-calls");
    box.innerHTML = shown.length ? shown.map(function (c, i) { return callHtml(c, i === 0 ? "current-number" : ""); }).join("")
      : '<div class="current-call"><span class="ticket-number" id="current-number">—</span></div>';
    box.setAttribute("data-count", String(Math.max(1, shown.length)));
    document.getElementById("current").classList.toggle("recall", shown.length === 1 && !!shown[0].recall);
    var nextHtml = pending.slice(0, NEXT_SHOWN).map(function (c) {
      return '<li data-number="' + I18n.escape(c.number) + '"><span class="ticket-number">' + I18n.escape(c.number) + "</span>" +
        '<span class="win">' + I18n.both(c.window + "号窗口", "Window " + c.window) + "</span></li>";
    }).join("");
    var more = pending.length - NEXT_SHOWN;
    if (more > 0) nextHtml += '<li class="more">' + I18n.both("另有" + more + "个", more + " more") + "</li>";
    document.getElementById("next-calls").innerHTML = nextHtml;
    document.getElementById("next").hidden = !pending.length;
    var html = calls.filter(function (c) { return pending.indexOf(c) < 0; }).slice(0, page.recent).map(function (c) {
      return '<li class="' + (shown.indexOf(c) >= 0 ? "latest" : "") + '" data-number="' + I18n.escape(c.number) + '" data-seq="' + c.seq + '">' +
        '<span class="ticket-number">' + I18n.escape(c.number) + "</span>" +
        '<span class="win">' + I18n.both(c.window + "号窗口", "Window " + c.window) + "</span>" +
        (c.recall ? '<span class="tag">' + I18n.both("重呼", "Recall") + "</span>" : "") + "</li>";
    }).join("");
    document.getElementById("recent-calls").innerHTML = html;
    fitCalls();
  }

  /* The type as large as the screen allows: the call(s) on the big panel, then the lists cut to what fits. */
  function fitCalls() {
    var box = document.getElementById("current-calls"), n = Number(box.getAttribute("data-count")) || 1;
    // one call on a panel that is not a wide strip: the number above its window, both larger
    box.classList.toggle("stacked", n === 1 && box.clientWidth < box.clientHeight * 2.6);
    HallqScreen.text(box, Math.min(innerHeight * 0.3, innerWidth * 0.16) / (n > 1 ? 1 + n * 0.25 : 1), 12);
    HallqScreen.list(document.getElementById("next-calls"));
    HallqScreen.list(document.getElementById("recent-calls"));
  }

  function fitQueues() {
    HallqScreen.text(document.getElementById("queue-panel"), Math.min(innerHeight * 0.05, innerWidth * 0.03), 9);
  }

  function renderQueues() {
    var cats = hall.categories.filter(zoneOk);
    var rows = cats.map(function (cat) {
      var q = queues[cat.id] || { waiting: 0, estimated_wait_minutes: null };
      var est = I18n.wait(q);
      return '<tr data-category="' + cat.id + '"><td><span class="prefix">' + cat.prefix + "</span> " + I18n.both(cat.name, cat.name_en) +
        '</td><td class="num waiting">' + q.waiting + '</td><td class="num">' + est + "</td></tr>";
    });
    document.querySelector("#queues tbody").innerHTML = rows.join("");
    fitQueues();
  }

  // -- the announcer: one sentence at a time through hallqVoice, the panel showing what it says

  function sentence(group) {
    var a = hall.announcements;
    if (group.length === 1) return { zh: group[0].zh, en: group[0].en };
    function fill(tpl, c) { return tpl.replace("{ticket}", c.number).replace("{window}", c.window); }
    return {
      zh: a.group.replace("{calls}", group.map(function (c) { return fill(a.group_item, c); }).join("，")),
      en: a.group_en.replace("{calls}", group.map(function (c) { return fill(a.group_item_en, c); }).join("; "))
    };
  }

  /* The next sentence's calls: a recall alone, else up to GROUP_SIZE fresh calls in order. */
  function nextGroup() {
    var now = Date.now();
    pending = pending.filter(function (c) {
      var stale = (now - c.madeAt) / 1000 > ANNOUNCE_WITHIN_SECONDS;
      if (stale) window.hallqBoard.skipped.push(c.number);
      return !stale;
    });
    if (!pending.length) return [];
    if (pending[0].recall) return pending.splice(0, 1);
    var n = 0;
    while (n < pending.length && n < GROUP_SIZE && !pending[n].recall) n++;
    return pending.splice(0, n);
  }

  function pump() {
    if (speaking || gatherTimer || hallqVoice.busy || hallqVoice.queue.length) return;
    var group = nextGroup();
    if (!group.length) { renderCalls(); return; }
    speaking = group;
    var s = sentence(group);
    hallqVoice.announce({ zh: s.zh, en: s.en, recall: group.length === 1 && group[0].recall,
      calls: group.map(function (c) { return c.number; }) });
    window.hallqBoard.said.push(group.map(function (c) { return c.number; }));
    renderCalls();
  }

  function onSpoken() {
    speaking = null;
    pump();
    renderCalls();
  }

  function wait(call) {
    // a recall takes the place of its ticket's waiting call; a newer call at a window, that window's older one
    var at = -1;
    pending = pending.filter(function (c, i) {
      var replaced = c.ticket === call.ticket || (!call.recall && c.window === call.window);
      if (replaced && at < 0) at = i;
      return !replaced;
    });
    if (call.recall && at >= 0) pending.splice(at, 0, call); else pending.push(call);
    if (!speaking && !gatherTimer && !hallqVoice.busy) {
      gatherTimer = setTimeout(function () { gatherTimer = null; pump(); }, GATHER_MS);
    }
  }

  function addCall(ev, madeAt, announce) {
    var d = ev.data, recall = ev.type === "ticket.recalled";
    var call = { ticket: d.ticket, number: d.number, window: d.window, recall: recall, seq: ev.seq, madeAt: madeAt,
      zh: ev.announcement.zh, en: ev.announcement.en };
    calls = calls.filter(function (c) { return c.ticket !== d.ticket; });
    calls.unshift(call);
    calls = calls.slice(0, 50);
    if (announce) wait(call);
  }

  function onSnapshot(msg) {
    var s = msg.snapshot;
    pending = [];
    calls = s.recent_calls.map(function (c) {
      return { ticket: c.ticket, number: c.number, window: c.window, recall: false, seq: s.seq, zh: c.announcement.zh, en: c.announcement.en };
    });
    queues = {};
    s.categories.forEach(function (c) { queues[c.id] = c; });
    setOpen(s.open);
    renderCalls();
    renderQueues();
  }

  function onEvent(msg) {
    var ev = msg.event;
    (msg.queues || []).forEach(function (q) { queues[q.category] = q; });
    if (ev.type === "ticket.called" || ev.type === "ticket.recalled") {
      var madeAt = msg.replay ? Math.min(Date.now(), Date.parse(ev.ts)) : Date.now();
      addCall(ev, madeAt, (Date.now() - madeAt) / 1000 < ANNOUNCE_WITHIN_SECONDS);
      window.hallqBoard.seen.push({ seq: ev.seq, number: ev.data.number, window: ev.data.window, replay: !!msg.replay });
      renderCalls();
    } else if (GONE[ev.type]) {
      var before = pending.length;
      pending = pending.filter(function (c) { return c.ticket !== ev.data.ticket; });
      if (pending.length !== before) renderCalls();
    }
    renderQueues();
  }

  // -- opening hours, the clock

  var DAY_NAMES = { mon: ["一", "Mon"], tue: ["二", "Tue"], wed: ["三", "Wed"], thu: ["四", "Thu"], fri: ["五", "Fri"],
                    sat: ["六", "Sat"], sun: ["日", "Sun"] };

  function hoursHtml() {
    var h = hall.hours;
    var days = h.days.map(function (d) { return DAY_NAMES[d] || [d, d]; });
    var zhDays = "周" + days.map(function (d) { return d[0]; }).join("、"), enDays = days.map(function (d) { return d[1]; }).join(", ");
    var span = h.open.slice(0, 5) + "–" + h.close.slice(0, 5);
    var lunch = h.lunch ? [h.lunch.start.slice(0, 5) + "–" + h.lunch.end.slice(0, 5)] : null;
    return I18n.both("办公时间：" + zhDays + " " + span + (lunch ? "（午休 " + lunch[0] + "）" : ""),
      "Opening hours: " + enDays + " " + span + (lunch ? " (lunch " + lunch[0] + ")" : ""));
  }

  function setOpen(isOpen) {
    open = isOpen;
    document.body.classList.toggle("hall-closed", !open);
    document.getElementById("closed-hours").innerHTML = open ? "" : hoursHtml();
  }

  function tick() {
    var now = new Date();
    document.getElementById("clock").textContent = now.toTimeString().slice(0, 8);
  }

  document.addEventListener("DOMContentLoaded", function () {
    data = HallqFeed.pageData();
    hall = data.info;
    page = data.page;
    window.hallqBoard = {
      seen: [], said: [], skipped: [],
      calls: function () { return calls; },
      /* what the board shows and says now, for people and the bench: numbers on the big panel, numbers in
         the sentence being spoken, numbers waiting */
      sample: function () {
        var cur = hallqVoice.current;
        return { shown: shownCalls().map(function (c) { return c.number; }), speaking: cur && cur.calls ? cur.calls : [],
                 next: pending.map(function (c) { return c.number; }), queued: hallqVoice.queue.length,
                 oldest: pending.length ? (Date.now() - pending[0].madeAt) / 1000 : 0 };
      }
    };
    var select = document.getElementById("zone");
    select.innerHTML = '<option value="">' + I18n.t("全部区域", "All zones") + "</option>" + hall.zones.map(function (z) {
      return '<option value="' + z.id + '"' + (z.id === page.zone ? " selected" : "") + ">" + I18n.escape(I18n.t(z.name, z.name_en)) + "</option>";
    }).join("");
    select.addEventListener("change", function () {
      var q = new URLSearchParams(location.search);
      if (select.value) q.set("zone", select.value); else q.delete("zone");
      location.search = q.toString();
    });
    document.addEventListener("hallq:lang", function () { renderCalls(); renderQueues(); setOpen(open); HallqScreen.notices(page.notices || []); });
    document.addEventListener("hallq:spoken", onSpoken);
    tick();
    setInterval(tick, 1000);
    HallqScreen.notices(page.notices || []);
    HallqScreen.watch(function () { renderCalls(); renderQueues(); });
    var path = "/ws/hall?hall=" + encodeURIComponent(page.hall) + (page.zone ? "&zone=" + encodeURIComponent(page.zone) : "");
    window.hallqBoard.feed = HallqFeed.connect(path, { snapshot: onSnapshot, event: onEvent });
  });
})();
