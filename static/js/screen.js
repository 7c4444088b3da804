/* hallq — what the public screens (hall board, window display) share: fitting their panels to whatever
 * screen they run on (bar, portrait, 4K), and the scrolling 通知公告 line.
 *
 * HallqScreen.text(el, max, min): the largest font size (px) between min and max at which el's content fits
 * its box (no scrolling, nothing cut). HallqScreen.list(ol): drop the list's last items until the rest fits.
 * HallqScreen.watch(fn): run fn (and fit the top bar's title) now, on resize and when the language changes.
 * HallqScreen.notices(lines): fill #notices / #notice-track with the hall's notices ({text, text_en}).
 */
(function () {
  "use strict";
  function overflows(el) { return el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1; }

  function text(el, max, min) {
    var size = max;
    el.style.fontSize = size + "px";
    while (overflows(el) && size > min) {
      size = Math.max(min, size * 0.92);
      el.style.fontSize = size + "px";
    }
    return size;
  }

  function list(el) {
    while (el.children.length > 1 && overflows(el.parentElement || el)) el.removeChild(el.lastElementChild);
  }

  /* The page title in the top bar: smaller rather than cut. */
  function title() {
    var h1 = document.querySelector(".topbar h1");
    if (!h1) return;
    h1.style.fontSize = "";
    text(h1, parseFloat(getComputedStyle(h1).fontSize), 9);
  }

  function watch(fn) {
    var queued = false;
    function later() {
      if (queued) return;
      queued = true;
      requestAnimationFrame(function () { queued = false; fn(); title(); });
    }
    window.addEventListener("resize", later);
    document.addEventListener("hallq:lang", later);
    var h1 = document.querySelector(".topbar h1");
    // the title's room changes when a button beside it appears (e.g. the sound button)
    if (h1 && window.ResizeObserver) new ResizeObserver(function () { requestAnimationFrame(title); }).observe(h1);
    fn();
    title();
    return later;
  }

  function notices(lines) {
    var bar = document.getElementById("notices");
    if (!bar) return;
    bar.hidden = !lines.length;
    var line = lines.map(function (n) { return I18n.both(n.text, n.text_en || n.text); }).join('<span class="notice-gap">◆</span>');
    var track = document.getElementById("notice-track");
    // the line twice, so the scrolling text joins up without a gap; about 6 characters a second
    track.innerHTML = '<span class="notice-line">' + line + '</span><span class="notice-line" aria-hidden="true">' + line + "</span>";
    var chars = lines.reduce(function (n, l) { return n + Math.max(l.text.length, (l.text_en || "").length / 2); }, 0);
    track.style.animationDuration = Math.max(12, Math.round(chars / 6)) + "s";
  }

  window.HallqScreen = { text: text, list: list, watch: watch, notices: notices };
})();
