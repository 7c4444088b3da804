/* hallq — Chinese first, English on request.
 *
 * Every piece of text is written in both languages: <span class="zh">…</span><span class="en">…</span>
 * (or I18n.both(zh, en) from scripts); CSS shows the chosen one. Strings used outside the DOM
 * (titles, alerts, speech) go through I18n.t(zh, en). The choice is kept in localStorage, and a
 * "hallq:lang" event tells pages to redraw what they built from strings.
 */
(function () {
  "use strict";
  var KEY = "hallq.lang";

  function stored() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }

  function escapeHtml(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  var I18n = {
    lang: "zh",
    set: function (lang) {
      I18n.lang = lang === "en" ? "en" : "zh";
      document.documentElement.lang = I18n.lang === "en" ? "en" : "zh-CN";
      try { localStorage.setItem(KEY, I18n.lang); } catch (e) { /* private mode: keep it for this page */ }
      var buttons = document.querySelectorAll("[data-lang-switch]");
      for (var i = 0; i < buttons.length; i++) {
        buttons[i].textContent = I18n.lang === "en" ? "中文" : "English";
      }
      document.dispatchEvent(new CustomEvent("hallq:lang", { detail: I18n.lang }));
    },
    toggle: function () { I18n.set(I18n.lang === "en" ? "zh" : "en"); },
    t: function (zh, en) { return I18n.lang === "en" && en ? en : zh; },
    both: function (zh, en) {
      return '<span class="zh">' + escapeHtml(zh) + '</span><span class="en">' + escapeHtml(en || zh) + "</span>";
    },
    escape: escapeHtml,
    // an estimated wait as the server words it (estimated_wait_text: zh and en, with its range)
    wait: function (q) {
      var t = q && q.estimated_wait_text;
      return t ? this.both(t.zh, t.en) : this.both("暂无开放窗口", "no window open");
    }
  };

  window.I18n = I18n;
  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("[data-lang-switch]");
    for (var i = 0; i < buttons.length; i++) buttons[i].addEventListener("click", I18n.toggle);
    var fromUrl = new URLSearchParams(location.search).get("lang");
    I18n.set(fromUrl || stored() || "zh");
  });
})();
