/* hallq — one live feed per page: a WebSocket that resumes where it left off.
 *
 * HallqFeed.connect(path, handlers) opens ws(s)://<host><path>&after=<last seq>. The server
 * answers a new client with a snapshot, and a returning one with exactly the events it
 * missed (each marked replay) followed by a sync — so a board that lost its connection for a
 * minute still shows every call made meanwhile. Reconnects back off exponentially (0.5 s to
 * 8 s, with jitter). The element #conn shows 已连接 / 正在重连….
 *
 * The server sends something at least every 15 s (a ping when idle). A connection that stays
 * silent for SILENCE_MS is taken for dead — half-open: the network dropped it without a close,
 * so onclose would not come for minutes — and is dropped and reopened with after=.
 *
 * handlers: snapshot(msg), event(msg), status(msg), sync(msg), open(), down(), refused(code, reason)
 */
(function () {
  "use strict";
  var MIN_DELAY = 500, MAX_DELAY = 8000, SILENCE_MS = 40000;  // heartbeats every 7.5–15 s: two missed and more

  function indicator(state) {
    var el = document.getElementById("conn");
    if (!el) return;
    el.className = "conn conn-" + state;
    el.setAttribute("data-state", state);
    el.innerHTML = state === "ok" ? I18n.both("● 已连接", "● Connected")
      : state === "refused" ? I18n.both("● 无权访问", "● Refused")
      : I18n.both("● 正在重连…", "● Reconnecting…");
  }

  function connect(path, handlers) {
    var feed = { lastSeq: null, socket: null, closed: false, attempts: 0, messages: 0, silent: 0 };
    var timer = null, watchdog = null;

    function url() {
      var proto = location.protocol === "https:" ? "wss:" : "ws:";
      var sep = path.indexOf("?") >= 0 ? "&" : "?";
      var after = feed.lastSeq === null ? "" : sep + "after=" + feed.lastSeq;
      return proto + "//" + location.host + path + after;
    }

    function call(name, arg) {
      if (handlers[name]) {
        try { handlers[name](arg); } catch (err) { console.error("hallq feed handler " + name, err); }
      }
    }

    function schedule() {
      if (feed.closed) return;
      var delay = Math.min(MAX_DELAY, MIN_DELAY * Math.pow(2, feed.attempts));
      feed.attempts += 1;
      timer = setTimeout(open, delay * (0.75 + Math.random() * 0.5));
    }

    /* (Re)arm the silence timer: nothing heard for SILENCE_MS means the connection is dead. */
    function listen(ws) {
      if (watchdog) clearTimeout(watchdog);
      watchdog = setTimeout(function () {
        if (feed.socket !== ws) return;
        feed.silent += 1;
        ws.onclose = ws.onmessage = null;  // a half-open socket's close may never come: do not wait for it
        try { ws.close(); } catch (e) { /* already closing */ }
        lost();
      }, SILENCE_MS);
    }

    function lost() {
      feed.socket = null;
      if (watchdog) { clearTimeout(watchdog); watchdog = null; }
      indicator("down");
      call("down");
      schedule();
    }

    function open() {
      timer = null;
      var ws;
      try { ws = new WebSocket(url()); } catch (e) { indicator("down"); schedule(); return; }
      feed.socket = ws;
      listen(ws);
      ws.onopen = function () { feed.attempts = 0; indicator("ok"); call("open"); };
      ws.onmessage = function (ev) {
        listen(ws);
        var msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        feed.messages += 1;
        // ping carries the hall's seq, but a filtered feed may not have seen every event up to it:
        // resume only from what this connection actually delivered.
        if (msg.type !== "ping" && typeof msg.seq === "number" && (feed.lastSeq === null || msg.seq > feed.lastSeq)) {
          feed.lastSeq = msg.seq;
        }
        if (msg.type === "snapshot") call("snapshot", msg);
        else if (msg.type === "event") call("event", msg);
        else if (msg.type === "status") call("status", msg);
        else if (msg.type === "sync") call("sync", msg);
      };
      ws.onclose = function (ev) {
        feed.socket = null;
        if (watchdog) { clearTimeout(watchdog); watchdog = null; }
        if (feed.closed) return;
        if (ev.code >= 4400 && ev.code < 4500) {  // 4401 login required, 4403 forbidden, 4404 unknown
          indicator("refused");
          call("refused", { code: ev.code, reason: ev.reason });
          return;
        }
        lost();
      };
      ws.onerror = function () { /* onclose follows and reconnects */ };
    }

    feed.close = function () {
      feed.closed = true;
      if (timer) clearTimeout(timer);
      if (watchdog) clearTimeout(watchdog);
      if (feed.socket) feed.socket.close();
    };
    indicator("down");
    open();
    return feed;
  }

  /* JSON over HTTP with the API's error shape: resolves {ok, status, body}. */
  function api(method, path, body, opts) {
    opts = opts || {};
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (opts.token) headers["Authorization"] = "Bearer " + opts.token;
    if (opts.key) headers["Idempotency-Key"] = opts.key;
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (resp) {
        return resp.text().then(function (text) {
          var parsed = null;
          try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = { error: { message: text } }; }
          return { ok: resp.ok, status: resp.status, body: parsed };
        });
      }, function () {
        return { ok: false, status: 0, body: { error: { code: "offline", message: "无法连接服务器，请稍后再试 (cannot reach the server)",
          message_zh: "无法连接服务器，请稍后再试", message_en: "cannot reach the server", details: [] } } };
      });
  }

  /* "中文 (English)" → {zh, en}, as queue_server.errors.Bilingual.parse: the English is the balanced ASCII
     "(…)" group that ends the text (full-width （…） stay Chinese); a leading field path belongs to both. */
  function splitMessage(text) {
    text = String(text == null ? "" : text).trim();
    var start = -1, depth = 0;
    if (text.slice(-1) === ")") {
      for (var i = text.length - 1; i >= 0; i--) {
        if (text[i] === ")") depth += 1;
        else if (text[i] === "(" && --depth === 0) { start = i; break; }
      }
    }
    var zh = start > 0 ? text.slice(0, start).trim() : "";
    if (!zh) return { zh: text, en: text };
    var en = text.slice(start + 1, -1).trim(), prefix = /^[\x21-\x7e]+: /.exec(zh);
    if (prefix && en.indexOf(prefix[0]) !== 0) en = prefix[0] + en;
    return { zh: zh, en: en };
  }

  /* An API error: {zh, en, code, details: [{zh, en}]} — the server's own halves (message_zh/message_en)
     and every reason it named; an error from elsewhere (a proxy's text) is split by splitMessage. */
  function errorText(result) {
    var e = (result.body && result.body.error) || {};
    var halves = e.message_zh ? { zh: e.message_zh, en: e.message_en || e.message_zh } : splitMessage(e.message || "操作失败 (failed)");
    return { zh: halves.zh, en: halves.en, code: e.code, details: e.details || [] };
  }

  /* The whole error as HTML: the message, then the list of its reasons. */
  function errorHtml(result) {
    var e = errorText(result);
    var list = e.details.map(function (d) { return "<li>" + I18n.both(d.zh, d.en) + "</li>"; }).join("");
    return I18n.both(e.zh, e.en) + (list ? '<ul class="error-details">' + list + "</ul>" : "");
  }

  function newKey() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Date.now().toString(36) + "-" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function pageData() {
    return {
      info: JSON.parse(document.getElementById("hall-info").textContent),
      page: JSON.parse(document.getElementById("page-data").textContent)
    };
  }

  /* The manager pages' login form (#login, #user, #password, #login-error): the one staff session of the
     browser (HallqSession); ``start(token)`` runs once logged in (at once when a manager session exists). */
  function managerLogin(hallId, start) {
    document.getElementById("login").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var user = document.getElementById("user").value.trim(), password = document.getElementById("password").value;
      api("POST", "/api/v1/auth/login", { user: user, password: password, hall: hallId }).then(function (r) {
        if (!r.ok || r.body.role !== "manager") {
          var box = document.getElementById("login-error");
          box.hidden = false;
          box.innerHTML = r.ok ? I18n.both("该账号不是管理人员", "not a manager account") : errorHtml(r);
          return;
        }
        HallqSession.set(hallId, r.body);
        start(r.body.token);
      });
    });
    var saved = HallqSession.get(hallId, ["manager"]);
    if (saved) start(saved.token);
  }

  window.HallqFeed = { connect: connect, api: api, errorText: errorText, errorHtml: errorHtml, splitMessage: splitMessage,
                       newKey: newKey, pageData: pageData, indicator: indicator, managerLogin: managerLogin };
})();

/* The planner's workbench login (/plan): like managerLogin, but any of ``roles`` may log in (manager or
   planner); the session is the browser's one staff session (HallqSession). */
(function () {
  "use strict";
  function staffLogin(hallId, roles, start) {
    var api = window.HallqFeed.api, errorHtml = window.HallqFeed.errorHtml;
    document.getElementById("login").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var user = document.getElementById("user").value.trim(), password = document.getElementById("password").value;
      api("POST", "/api/v1/auth/login", { user: user, password: password, hall: hallId }).then(function (r) {
        if (!r.ok || roles.indexOf(r.body.role) < 0) {
          var box = document.getElementById("login-error");
          box.hidden = false;
          box.innerHTML = r.ok ? I18n.both("该账号没有规划权限（需要管理人员或规划人员）", "this account may not plan (manager or planner needed)")
            : errorHtml(r);
          return;
        }
        HallqSession.set(hallId, r.body);
        start(r.body.token, r.body.role);
      });
    });
    var saved = HallqSession.get(hallId, roles);
    if (saved) start(saved.token, saved.role);
  }
  window.HallqFeed.staffLogin = staffLogin;
})();
