/* hallq — the rating pad (评价器) at a window: after 办结 it asks the citizen to rate that service
 * on the five levels; a bad rating (不满意, 非常不满意) asks for the reason, which the hall must follow up.
 */
(function () {
  "use strict";
  var THANKS_SECONDS = 6;
  var BAD_REASONS = [["等候时间太长", "Waited too long"], ["服务态度不好", "Unfriendly service"], ["业务不熟练", "Clerk unsure of the matter"],
    ["材料要求没有一次说清", "Documents not explained at once"], ["办事效率低", "Too slow"]];
  var hall, page, token, pending = null, level = null, chosenReasons = [];

  function $(id) { return document.getElementById(id); }
  function show(step) { ["idle", "ask", "reason", "thanks"].forEach(function (s) { $("rate-" + s).hidden = s !== step; }); }

  function fetchPending() {
    return HallqFeed.api("GET", "/pages/pad/" + page.window + "?hall=" + encodeURIComponent(page.hall), undefined, { token: token })
      .then(function (r) {
        if (!r.ok) { $("rate-error").hidden = false; $("rate-error").innerHTML = HallqFeed.errorHtml(r); return; }
        $("rate-error").hidden = true;
        if (r.body.pending && (!pending || pending.ticket !== r.body.pending.ticket)) ask(r.body.pending);
      });
  }

  function ask(p) {
    pending = p;
    level = null;
    $("rate-number").textContent = p.number;
    $("rate-category").innerHTML = I18n.both(p.category_name, p.category_name_en);
    $("rate-case").innerHTML = p.case_number ? I18n.both("办件编号 " + p.case_number, "Case " + p.case_number) : "";
    $("rate-case").setAttribute("data-case", p.case_number || "");
    show("ask");
  }

  function renderLevels() {
    var stars = function (k) { return new Array(+k + 1).join("★") + new Array(6 - k).join("☆"); };
    $("levels").innerHTML = ["5", "4", "3", "2", "1"].map(function (k) {
      var l = hall.rating_levels[k];
      return '<button class="level level-' + k + '" data-level="' + k + '"><span class="face">' + stars(k) + "</span>" + I18n.both(l.zh, l.en) + "</button>";
    }).join("");
    $("reasons").innerHTML = BAD_REASONS.map(function (r, i) {
      return '<button class="choice' + (chosenReasons.indexOf(i) >= 0 ? " selected" : "") + '" data-reason="' + i + '">' + I18n.both(r[0], r[1]) + "</button>";
    }).join("");
  }

  function submit(reason) {
    var body = { level: level };
    if (reason) body.reason = reason;
    HallqFeed.api("POST", "/api/v1/halls/" + encodeURIComponent(page.hall) + "/tickets/" + encodeURIComponent(pending.ticket) + "/rating",
      body, { token: token, key: HallqFeed.newKey() }).then(function (r) {
      if (!r.ok && !(r.body && r.body.error && r.body.error.code === "already_rated")) {
        $("rate-error").hidden = false;
        $("rate-error").innerHTML = HallqFeed.errorHtml(r);
        return;
      }
      var l = hall.rating_levels[String(level)];
      $("rate-thanks-detail").innerHTML = I18n.both(pending.number + "：" + l.zh, pending.number + ": " + l.en);
      show("thanks");
      pending = null;
      setTimeout(function () { if (!pending) show("idle"); }, THANKS_SECONDS * 1000);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = HallqFeed.pageData();
    hall = data.info;
    page = data.page;
    token = new URLSearchParams(location.search).get("token") || "";
    renderLevels();
    document.addEventListener("hallq:lang", renderLevels);
    document.addEventListener("click", function (ev) {
      var b = ev.target.closest("button");
      if (!b || !pending) return;
      if (b.dataset.level) {
        level = parseInt(b.dataset.level, 10);
        if (level <= 2) { chosenReasons = []; $("reason-text").value = ""; renderLevels(); show("reason"); } else submit(null);
      } else if (b.dataset.reason !== undefined) {
        var i = parseInt(b.dataset.reason, 10), at = chosenReasons.indexOf(i);
        if (at >= 0) chosenReasons.splice(at, 1); else chosenReasons.push(i);
        renderLevels();
      } else if (b.id === "reason-submit") {
        var parts = chosenReasons.map(function (i) { return BAD_REASONS[i][0]; });
        if ($("reason-text").value.trim()) parts.push($("reason-text").value.trim());
        submit(parts.join("；").slice(0, 500) || null);
      }
    });
    HallqFeed.connect("/ws/window/" + page.window + "?hall=" + encodeURIComponent(page.hall), {
      snapshot: fetchPending,
      event: function (msg) { if (msg.event.type === "ticket.finished") fetchPending(); }
    });
  });
})();
