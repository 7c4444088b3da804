/* hallq — the kiosk (取号机): walk-in tickets, 预约签到 and 线上取号签到 on one touch screen.
 *
 * Walk-in: zone → category (materials, told once) → priority group → ticket. Check-in: an
 * on-screen keypad (booking code, ID number, or the phone of a phone ticket), the booking's
 * QR code held up to the kiosk's camera (the browser's BarcodeDetector + getUserMedia, when it
 * has them; the keypad always works), or the ID-card reader (see docs/OPERATIONS.md, 「取号机
 * 外设」): the reader's number arrives as a window message {type: "hallq:id-card", id_number}
 * or as a keyboard wedge (the number typed fast, then Enter). A card read while taking a
 * walk-in ticket makes it real-name (the server keeps only a keyed hash of the number).
 *
 * Tickets are taken with the kiosk's device token from the URL (?token=) and one
 * Idempotency-Key per confirmation screen, so a double tap or a retried request gives one
 * ticket. Refusals show the server's own message. The kiosk's own taps unlock sound, so the
 * elderly-mode read-aloud needs no separate button. Audio guidance (for blind citizens):
 * an arrow key starts it; arrows move between the screen's buttons, each read aloud; Enter
 * presses, Escape goes back.
 */
(function () {
  "use strict";
  var RESULT_SECONDS = 40;
  var WEDGE_GAP_MS = 60;  // a card reader "types" faster than this between keys; people do not
  var hall, page, token, queues = {}, chosen = {}, key = null, busy = false, resultTimer = null;
  var checkin = { mode: "booking", value: "" }, guide = false, wedge = { text: "", at: 0 };

  var MODES = {
    booking: { zh: "预约码", en: "Booking code", keys: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", max: 8,
      hint: ["请输入8位预约码，或刷身份证、扫预约二维码", "Enter the 8-letter booking code, or use your ID card or the booking's QR code"] },
    id_number: { zh: "身份证号", en: "ID number", keys: "123456789X0", max: 18,
      hint: ["请将身份证放在读卡区，或输入18位身份证号", "Place your ID card on the reader, or enter the 18-digit number"] },
    phone: { zh: "手机号", en: "Phone number", keys: "1234567890", max: 11,
      hint: ["请输入线上取号时填写的手机号", "Enter the phone number you took the ticket with"] }
  };
  var CHECKIN_MODES = { booking: ["booking", "id_number"], phone: ["phone"] };

  function $(id) { return document.getElementById(id); }

  function currentStep() {
    return ["zone", "category", "confirm", "checkin", "result"].filter(function (s) { return !$("step-" + s).hidden; })[0];
  }

  function show(step) {
    ["zone", "category", "confirm", "checkin", "result"].forEach(function (s) { $("step-" + s).hidden = s !== step; });
    if (step === "checkin") Scanner.start(); else Scanner.stop();
    window.scrollTo(0, 0);
    if (guide) announceStep();
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

  // -- check-in: keypad, camera, ID card

  function renderCheckin() {
    var m = MODES[checkin.mode];
    $("checkin-title").innerHTML = chosen.checkin === "phone" ? I18n.both("线上取号签到", "Phone ticket check-in")
      : I18n.both("预约签到", "Appointment check-in");
    var modes = CHECKIN_MODES[chosen.checkin];
    $("checkin-modes").hidden = modes.length < 2;
    $("checkin-modes").innerHTML = modes.map(function (id) {
      var on = id === checkin.mode;
      return '<button class="btn tab' + (on ? " selected" : "") + '" role="tab" aria-selected="' + on + '" data-mode="' + id + '">' +
        I18n.both(MODES[id].zh, MODES[id].en) + "</button>";
    }).join("");
    $("entry-hint").innerHTML = I18n.both(m.hint[0], m.hint[1]);
    $("keypad").className = "keypad" + (m.keys.length > 12 ? " letters" : "");
    $("keypad").innerHTML = m.keys.split("").map(function (k) {
      return '<button class="key" data-key="' + k + '" aria-label="' + k + '">' + k + "</button>";
    }).join("") + '<button class="key wide" data-key="del">' + I18n.both("删除", "Delete") + "</button>" +
      '<button class="key wide" data-key="clear">' + I18n.both("清空", "Clear") + "</button>";
    renderEntry();
  }

  function renderEntry() {
    var m = MODES[checkin.mode];
    $("entry").textContent = checkin.value;
    $("entry").setAttribute("data-placeholder", I18n.t("请输入" + m.zh, "Enter the " + m.en.toLowerCase()));
    $("checkin-go").disabled = checkin.value.length === 0;
  }

  function startCheckin(kind, mode) {
    chosen = { checkin: kind };
    checkin = { mode: mode || CHECKIN_MODES[kind][0], value: "" };
    key = HallqFeed.newKey();
    renderCheckin();
    show("checkin");
  }

  function press(k) {
    var m = MODES[checkin.mode];
    if (k === "del") checkin.value = checkin.value.slice(0, -1);
    else if (k === "clear") checkin.value = "";
    else if (checkin.value.length < m.max) checkin.value += k;
    renderEntry();
    if (guide) { if (k === "del") say("删除", "delete"); else if (k === "clear") say("清空", "cleared"); else say(spell(k), k); }
  }

  function submitCheckin(body) {
    if (busy) return;
    busy = true;
    $("checkin-go").disabled = true;
    HallqFeed.api("POST", "/api/v1/halls/" + encodeURIComponent(page.hall) + "/checkin", body, { token: token, key: key })
      .then(function (result) {
        busy = false;
        renderEntry();
        if (!result.ok) { key = HallqFeed.newKey(); showError(result); return; }
        var r = result.body;
        var note = r.appointment_start ? ["预约签到成功，将在预约时段内优先叫号。", "Checked in: you are called first within your slot. "]
          : r.late ? ["已超过签到时间，已为您转为现场排队。", "Past the check-in time: you queue as a walk-in. "]
          : ["签到成功。", "Checked in. "];
        showResult(r, note);
      });
  }

  /* A scanned or read value: a booking code, a booking/tracker link, or an ID number. */
  function checkinBody(text) {
    var s = String(text || "").trim();
    var ticket = /\/t\/([^/?#]+)/.exec(s);
    if (ticket) return { ticket: decodeURIComponent(ticket[1]) };
    var code = /(?:[?&]booking=|^)([A-Za-z2-7]{8})(?:$|&)/.exec(s);
    if (code) return { booking: code[1].toUpperCase() };
    if (/^\d{17}[\dXx]$/.test(s)) return { id_number: s.toUpperCase() };
    return null;
  }

  function onScanned(text) {
    var body = checkinBody(text);
    if (!body) return false;
    $("scan-state").innerHTML = I18n.both("已识别二维码，正在签到…", "QR code read, checking in…");
    submitCheckin(body);
    return true;
  }

  /* The ID-card reader delivered a number (window message or keyboard wedge). */
  function onIdCard(number) {
    var id = String(number || "").trim().toUpperCase();
    if (!/^\d{17}[\dX]$/.test(id)) return;
    var step = currentStep();
    if (step === "checkin" && chosen.checkin === "booking") { submitCheckin({ id_number: id }); return; }
    if (step === "result" || step === "checkin") return;
    chosen.idNumber = id;  // the walk-in ticket being taken becomes real-name
    $("real-name").hidden = false;
    $("real-name").innerHTML = I18n.both("已读取身份证 " + id.slice(0, 3) + "***********" + id.slice(-4) + "，实名取号",
      "ID card read (" + id.slice(0, 3) + "…" + id.slice(-4) + "): a real-name ticket");
    if (guide) say("已读取身份证", "ID card read");
  }

  /* The camera: BarcodeDetector on the kiosk camera's video, when the browser has both. */
  var Scanner = {
    stream: null, timer: null,
    supported: function () {
      return "BarcodeDetector" in window && !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
    },
    start: function () {
      if (chosen.checkin !== "booking" || Scanner.stream || !Scanner.supported()) return;
      var detector;
      try { detector = new window.BarcodeDetector({ formats: ["qr_code"] }); } catch (e) { return; }
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false }).then(function (stream) {
        if (currentStep() !== "checkin") { stream.getTracks().forEach(function (t) { t.stop(); }); return; }
        Scanner.stream = stream;
        var video = $("scan-video");
        video.srcObject = stream;
        video.play();
        $("scan").hidden = false;
        $("scan-state").innerHTML = I18n.both("正在扫描…", "Scanning…");
        Scanner.timer = setInterval(function () {
          if (busy || video.readyState < 2) return;
          detector.detect(video).then(function (codes) {
            for (var i = 0; i < codes.length; i++) if (onScanned(codes[i].rawValue)) return;
          }, function () { /* a frame the detector could not read: try the next */ });
        }, 300);
      }, function () { $("scan").hidden = true; });  // no camera, or refused: the keypad stays
    },
    stop: function () {
      clearInterval(Scanner.timer);
      if (Scanner.stream) Scanner.stream.getTracks().forEach(function (t) { t.stop(); });
      Scanner.stream = null;
      $("scan").hidden = true;
    }
  };

  // -- taking a ticket, the result

  function showError(result) {
    $("kiosk-error-text").innerHTML = HallqFeed.errorHtml(result);
    $("kiosk-error-text").setAttribute("data-code", HallqFeed.errorText(result).code || "");
    $("kiosk-error").hidden = false;
    if (e.code === "hall_closed") $("closed-banner").hidden = false;
    if (guide) { say(e.zh + "。按确认键返回", e.en + ". Press Enter to go back"); $("kiosk-error-ok").focus(); }
  }

  function take() {
    if (busy) return;  // the same tap twice: one request (and the same key on a retry)
    busy = true;
    $("take").disabled = true;
    var body = { category: chosen.category, channel: "kiosk" };
    if (chosen.group) body.priority_group = chosen.group;
    if (chosen.idNumber) body.id_number = chosen.idNumber;
    HallqFeed.api("POST", "/api/v1/halls/" + encodeURIComponent(page.hall) + "/tickets", body, { token: token, key: key })
      .then(function (result) {
        busy = false;
        $("take").disabled = false;
        if (!result.ok) { showError(result); return; }
        showResult(result.body);
      });
  }

  function hallTime(date) {  // the hall's clock, whatever time zone the kiosk's browser is set to
    return date.toLocaleString("zh-CN", { hour12: false, timeZone: hall.timezone });
  }

  function showResult(t, note) {
    var c = category(t.category), st = t.status || {};
    var ahead = st.ahead != null ? st.ahead : t.ahead;
    var w = st.estimated_wait_minutes == null ? null : st.estimated_wait_text;
    var zh = (note ? note[0] : "") + "您已领取" + t.number + "号，前方等待" + ahead + "人，" + (w ? w.zh : "当前暂无开放窗口，请留意叫号");
    var en = (note ? note[1] : "") + "You have number " + t.number + ". " + ahead + " ahead of you; " +
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
    $("pt-time").textContent = hallTime(new Date());
    show("result");
    if (document.body.classList.contains("elderly") || guide) {
      say(zh, en);
      if (guide) say("按确认键打印凭条，按返回键结束", "Press Enter to print the ticket, Escape to finish");
    }
    if (page.autoprint) setTimeout(function () { window.print(); }, 300);
    clearTimeout(resultTimer);
    resultTimer = setTimeout(restart, RESULT_SECONDS * 1000);
  }

  function restart() {
    clearTimeout(resultTimer);
    chosen = {};
    $("real-name").hidden = true;
    setElderly(false);
    if (page.checkin) startCheckin(page.checkin); else show("zone");
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

  // -- audio guidance: keyboard (or the kiosk's keypad) navigation with spoken prompts

  var HEADINGS = {
    zone: ["请选择办事区域，或预约签到、线上取号签到", "Choose an area, or check in"],
    category: ["请选择办理事项", "Choose a service"],
    confirm: ["请确认取号，可选择优先办理", "Confirm your ticket; priority service is optional"],
    checkin: ["请用数字键输入，或刷身份证。输入完成后，选择确认签到", "Type on the keypad or use your ID card, then choose Check in"],
    result: ["", ""]
  };

  /* Say it in the page's language (a further language where the config has its words, else Chinese). */
  function say(zh, en) { return hallqVoice.say(I18n.t(zh, en), I18n.tLang(zh)); }
  function spell(k) { return /\d/.test(k) ? "零一二三四五六七八九"[+k] : k; }

  function label(el) {
    function texts(cls) {
      var parts = el.querySelectorAll(cls);
      var text = parts.length ? Array.prototype.map.call(parts, function (p) { return p.textContent; }).join("，") : el.textContent;
      return text.replace(/\s+/g, " ").trim();
    }
    var out = [texts(".zh"), texts(".en")];
    if (el.getAttribute("aria-pressed") === "true" || el.getAttribute("aria-selected") === "true") out = [out[0] + "，已选", out[1] + ", selected"];
    if (el.disabled) out = [out[0] + "，不可用", out[1] + ", unavailable"];
    return out;
  }

  function focusables() {
    var scope = !$("kiosk-error").hidden ? $("kiosk-error") : $("step-" + currentStep());
    return Array.prototype.filter.call(scope.querySelectorAll("button"), function (b) { return b.offsetParent !== null; });
  }

  function move(by) {
    var list = focusables();
    if (!list.length) return;
    var i = list.indexOf(document.activeElement);
    var next = list[(i < 0 ? (by > 0 ? 0 : list.length - 1) : (i + by + list.length) % list.length)];
    next.focus();
    say.apply(null, label(next));
  }

  function announceStep() {
    var step = currentStep(), h = HEADINGS[step];
    if (step === "result") return;  // the result says itself
    var list = focusables();
    if (list.length) list[0].focus();
    var first = list.length ? label(list[0]) : ["", ""];
    if (I18n.tLang(h[0]) === I18n.tLang(first[0])) say(h[0] + (list.length ? "。" + first[0] : ""), h[1] + (list.length ? ". " + first[1] : ""));
    else { say(h[0], h[1]); say(first[0], first[1]); }  // each part in its own language
  }

  function startGuide() {
    guide = true;
    document.body.classList.add("guide");
    say("语音引导已开启", "Audio guidance is on");  // short sentences: each is heard whole
    say("用上下方向键选择，按确认键确定，按返回键回到上一步", "Use the arrow keys to choose, Enter to confirm, Escape to go back");
    announceStep();
  }

  function onKey(ev) {
    var now = Date.now();
    // a keyboard-wedge card reader: 18 characters typed faster than a person types, then Enter
    if (/^[0-9Xx]$/.test(ev.key)) {
      wedge.text = now - wedge.at < WEDGE_GAP_MS ? wedge.text + ev.key : ev.key;
      wedge.at = now;
    } else if (ev.key === "Enter" && wedge.text.length === 18 && now - wedge.at < WEDGE_GAP_MS * 3) {
      ev.preventDefault();
      if (currentStep() === "checkin") { checkin.value = ""; renderEntry(); }  // the reader's keys were no one's typing
      onIdCard(wedge.text);
      wedge.text = "";
      return;
    }
    if (currentStep() === "checkin" && ev.key.length === 1 && MODES[checkin.mode].keys.indexOf(ev.key.toUpperCase()) >= 0) {
      press(ev.key.toUpperCase());  // a physical keypad types like the on-screen one
      return;
    }
    var nav = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1, Tab: ev.shiftKey ? -1 : 1 };
    if (!guide) { if (ev.key in nav) { ev.preventDefault(); startGuide(); } return; }
    if (ev.key in nav) { ev.preventDefault(); move(nav[ev.key]); }
    else if (ev.key === "Escape" || ev.key === "Backspace") {
      ev.preventDefault();
      var back = !$("kiosk-error").hidden ? $("kiosk-error-ok") : currentStep() === "result" ? $("done")
        : document.querySelector("#step-" + currentStep() + " [data-back]");
      if (back) back.click();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = HallqFeed.pageData();
    hall = data.info;
    page = data.page;
    token = new URLSearchParams(location.search).get("token") || "";
    renderZones();
    // the kiosk's own taps and keys unlock sound: no separate button
    ["pointerdown", "keydown"].forEach(function (t) {
      document.addEventListener(t, function () { if (!hallqVoice.soundAllowed()) hallqVoice.enable(); }, true);
    });
    document.addEventListener("keydown", onKey);
    window.addEventListener("message", function (ev) {
      if (ev.source === window && ev.data && ev.data.type === "hallq:id-card") onIdCard(ev.data.id_number);
    });
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
      } else if (el.dataset.group !== undefined) {
        chosen.group = el.dataset.group || null; renderConfirm();
        if (guide) { var again = document.querySelector('[data-group="' + (chosen.group || "") + '"]'); again.focus(); say.apply(null, label(again)); }
      } else if (el.dataset.checkin) startCheckin(el.dataset.checkin);
      else if (el.dataset.mode) { checkin = { mode: el.dataset.mode, value: "" }; renderCheckin(); }
      else if (el.dataset.key) press(el.dataset.key);
      else if (el.dataset.back) show(el.dataset.back);
    });
    $("take").addEventListener("click", take);
    $("checkin-go").addEventListener("click", function () {
      var body = {};
      body[checkin.mode] = checkin.value;
      submitCheckin(body);
    });
    $("print").addEventListener("click", function () { window.print(); });
    $("done").addEventListener("click", restart);
    $("kiosk-error-ok").addEventListener("click", function () {
      $("kiosk-error").hidden = true;
      if (currentStep() === "checkin") { if (guide) announceStep(); } else show("zone");
    });
    $("elderly").addEventListener("click", function () { setElderly(!document.body.classList.contains("elderly")); });
    document.addEventListener("hallq:lang", function () {
      renderZones();
      if (chosen.zone) renderCategories();
      if (chosen.category) renderConfirm();
      if (chosen.checkin) renderCheckin();
    });
    if (page.checkin) startCheckin(page.checkin);
    HallqFeed.connect("/ws/hall?hall=" + encodeURIComponent(page.hall), {
      snapshot: function (msg) { $("closed-banner").hidden = msg.snapshot.open; onQueues(msg.snapshot.categories); },
      event: function (msg) { onQueues(msg.queues || []); }
    });
  });
})();
