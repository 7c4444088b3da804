/* hallq — one staff login per browser: the manager dashboard, roster, follow-ups, reports,
 * evaluation and workbench pages all keep the session under the one localStorage key
 * "hallq.session" ({hall, token, role, user}), so logging in on one page logs in every page
 * of that hall, in every tab. The token only ever travels as an `Authorization: Bearer` header
 * (never in a URL); a page that gets 401 from the server clears it for all of them.
 */
(function () {
  "use strict";
  var KEY = "hallq.session";

  function read() {
    try { return JSON.parse(localStorage.getItem(KEY) || "null"); } catch (e) { return null; }
  }

  window.HallqSession = {
    KEY: KEY,
    /* The saved session for ``hall`` if its role is one of ``roles`` (any role when omitted), else null. */
    get: function (hall, roles) {
      var s = read();
      if (!s || s.hall !== hall || !s.token) return null;
      return !roles || roles.indexOf(s.role) >= 0 ? s : null;
    },
    set: function (hall, login) {
      localStorage.setItem(KEY, JSON.stringify({ hall: hall, token: login.token, role: login.role, user: login.user }));
    },
    clear: function () { localStorage.removeItem(KEY); }
  };
})();
