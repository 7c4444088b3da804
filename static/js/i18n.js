/* hallq — Chinese first, English on request.
 *
 * Every piece of text is written in both languages: <span class="zh">…</span><span class="en">…</span>
 * (or I18n.both(zh, en) from scripts); CSS shows the chosen one. Strings used outside the DOM
 * (titles, alerts, speech) go through I18n.t(zh, en). The choice is kept in localStorage, and a
 * "hallq:lang" event tells pages to redraw what they built from strings.
 *
 * A hall's further languages (config ``languages``, e.g. Uyghur ``ug``) come with the hall's
 * description (#hall-info): their buttons go into [data-lang-choices], named as the config writes
 * them; their text is the config's label for each Chinese original (Chinese where none is given),
 * shown in a <span class="xl"> beside each .zh one, right to left where the language is.
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

  var extra = {};  // code -> the configured language {code, name, direction, labels, call, recall}

  /* A further language's text for a Chinese original, or null when the config gives none. */
  function label(zh) {
    var l = extra[I18n.lang];
    return l ? (l.labels || {})[String(zh).trim()] || null : null;
  }

  /* Give every .zh element its .xl twin in the chosen further language. */
  function translate(root) {
    var spans = root.querySelectorAll(".zh");
    for (var i = 0; i < spans.length; i++) {
      var twin = spans[i].nextElementSibling;
      if (!twin || !twin.classList.contains("en")) continue;  // only the zh/en pairs
      var xl = twin.nextElementSibling;
      if (!xl || !xl.classList.contains("xl")) {
        xl = document.createElement("span");
        xl.className = "xl";
        twin.parentNode.insertBefore(xl, twin.nextSibling);
      }
      var text = label(spans[i].textContent);
      xl.textContent = text || spans[i].textContent;
      xl.dir = text ? "" : "ltr";  // a Chinese fallback keeps its own direction inside right-to-left text
    }
  }

  function choices() {
    var boxes = document.querySelectorAll("[data-lang-choices]");
    for (var i = 0; i < boxes.length; i++) {
      boxes[i].innerHTML = Object.keys(extra).map(function (code) {
        return '<button class="btn" data-lang="' + escapeHtml(code) + '" lang="' + escapeHtml(code) + '" dir="' +
          escapeHtml(extra[code].direction || "ltr") + '">' + escapeHtml(extra[code].name) + "</button>";
      }).join("");
    }
  }

  var I18n = {
    lang: "zh",
    set: function (lang) {
      I18n.lang = lang === "en" || extra[lang] ? lang : "zh";
      var html = document.documentElement;
      html.lang = I18n.lang === "zh" ? "zh-CN" : I18n.lang;
      html.dir = extra[I18n.lang] ? extra[I18n.lang].direction || "ltr" : "ltr";
      html.classList.toggle("xl", !!extra[I18n.lang]);
      try { localStorage.setItem(KEY, I18n.lang); } catch (e) { /* private mode: keep it for this page */ }
      var buttons = document.querySelectorAll("[data-lang-switch]");
      for (var i = 0; i < buttons.length; i++) {
        buttons[i].textContent = I18n.lang === "zh" ? "English" : "中文";
      }
      document.dispatchEvent(new CustomEvent("hallq:lang", { detail: I18n.lang }));
      if (extra[I18n.lang]) translate(document);  // after the pages redrew
    },
    toggle: function () { I18n.set(I18n.lang === "zh" ? "en" : "zh"); },
    t: function (zh, en) { return I18n.lang === "en" && en ? en : label(zh) || zh; },
    /* The language text said with I18n.t(zh, en) is in: a further language without a label falls back to zh. */
    tLang: function (zh) { return I18n.lang === "en" || label(zh) ? I18n.lang : "zh"; },
    both: function (zh, en) {
      var out = '<span class="zh">' + escapeHtml(zh) + '</span><span class="en">' + escapeHtml(en || zh) + "</span>";
      if (!extra[I18n.lang]) return out;
      var text = label(zh);
      return out + '<span class="xl"' + (text ? "" : ' dir="ltr"') + ">" + escapeHtml(text || zh) + "</span>";
    },
    language: function (code) { return extra[code] || null; },
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
    var info = document.getElementById("hall-info");
    try {
      (info ? JSON.parse(info.textContent).languages || [] : []).forEach(function (l) { extra[l.code] = l; });
    } catch (e) { /* a page without the hall's description: zh and en only */ }
    choices();
    document.addEventListener("click", function (ev) {
      var b = ev.target.closest && ev.target.closest("[data-lang]");
      if (b) I18n.set(b.getAttribute("data-lang"));
    });
    var fromUrl = new URLSearchParams(location.search).get("lang");
    I18n.set(fromUrl || stored() || "zh");
  });
})();
