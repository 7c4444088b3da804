/* hallq — a window's own screen (窗口屏): its number, the ticket at it and its state. */
(function () {
  "use strict";
  var hall, page, current = null;

  function render() {
    var w = current, main = document.getElementById("window-main");
    var status = !w ? "closed" : w.status === "open" && w.current ? w.current.state : w.status;
    main.setAttribute("data-status", status);
    document.getElementById("window-ticket").textContent = w && w.current && w.status !== "closed" ? w.current.number : "";
    var text = {
      called: ["请" + (w && w.current ? w.current.number : "") + "号到本窗口办理", "Number " + (w && w.current ? w.current.number : "") + ", please come to this window"],
      serving: ["正在办理", "Now serving"],
      open: ["空闲，请稍候", "Open — next number soon"],
      paused: ["暂停服务" + (w && w.pause_reason && w.pause_reason !== "暂停服务" ? "（" + w.pause_reason + "）" : ""), "Service paused"],
      closed: ["暂停服务（本窗口未开放）", "Window closed"]
    }[status] || ["", ""];
    document.getElementById("window-state").innerHTML = I18n.both(text[0], text[1]);
    // the state line wraps on a narrow screen; the whole column shrinks only if it still would not fit
    var box = document.getElementById("window-main");
    HallqScreen.text(box, Math.min(innerHeight * 0.01, innerWidth * 0.007), 2);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = HallqFeed.pageData();
    hall = data.info;
    page = data.page;
    var cfg = hall.windows.filter(function (w) { return w.number === page.window; })[0];
    var cls = hall.window_classes.filter(function (c) { return cfg && c.id === cfg["class"]; })[0];
    if (cls) document.getElementById("window-class").innerHTML = " · " + I18n.both(cls.name, cls.name_en);
    HallqScreen.notices(page.notices || []);
    HallqScreen.watch(render);
    HallqFeed.connect("/ws/window/" + page.window + "?hall=" + encodeURIComponent(page.hall), {
      snapshot: function (msg) { current = msg.window; render(); },
      event: function (msg) { if (msg.window) { current = msg.window; render(); } }
    });
  });
})();
