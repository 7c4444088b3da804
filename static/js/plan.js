/* hallq — 规划工作台 (planner's workbench, /plan): size a hall without writing YAML.
 *
 * The page holds one hall configuration (HALLDICT, the YAML's own shape) and a growth factor per
 * category. Every input names the field it edits with data-path (e.g. windows[3].class, growth.tax);
 * each edit is validated on the server (POST /api/v1/plan/validate, debounced) and every error is
 * shown next to the element whose data-path is the longest match of the error's field. The floor plan
 * is an SVG drawn from the configuration (windows dragged with pointer events, positions saved in
 * windows[].x/y, metres). Runs go to the server's run queue; their progress arrives over /ws/plan
 * (pushed, never polled). A finished run shows its KPIs with 95% confidence intervals, its plots and
 * a playback of the day on the floor plan; scenarios are saved, loaded, downloaded and compared.
 */
(function () {
  "use strict";
  var API = "/api/v1/plan";
  var WEEKDAYS = [["mon", "一", "Mon"], ["tue", "二", "Tue"], ["wed", "三", "Wed"], ["thu", "四", "Thu"],
                  ["fri", "五", "Fri"], ["sat", "六", "Sat"], ["sun", "日", "Sun"]];
  var KINDS = { comprehensive: ["综合窗口", "Comprehensive"], specialised: ["专业窗口", "Specialised"] };
  var KIND_COLOURS = { comprehensive: "#0050b3", specialised: "#d46b08" };
  var POLICIES = [["weighted_aging", "加权等待（等得越久越优先）", "Weighted aging (longer wait, higher priority)"],
                  ["strict_priority", "严格优先级", "Strict priority"]];
  var STATES = { queued: ["排队中", "Queued"], running: ["运行中", "Running"], done: ["已完成", "Done"],
                 failed: ["失败", "Failed"], cancelled: ["已取消", "Cancelled"] };
  var WIN_W = 2.4, WIN_H = 1.8, ZONE_PAD = 1.2, ZONE_LABEL = 2.0;

  var page, token = null;
  var S = {
    config: null, growth: {}, sourceName: "", templates: [],
    errors: [], valid: false, validating: false, vseq: 0, vtimer: null, extraErrors: [],
    runs: {}, activeRun: null, mine: {}, scenarios: [],
    playback: null, playTimer: null, lastResult: null, lastCompare: null, drag: null, ws: null
  };

  function $(id) { return document.getElementById(id); }
  function esc(s) { return I18n.escape(s); }
  function both(zh, en) { return I18n.both(zh, en); }
  function t(zh, en) { return I18n.t(zh, en); }
  function attr(s) { return esc(s); }

  function msgHtml(msg) { var p = HallqFeed.splitMessage(msg); return both(p.zh, p.en); }
  /* A field error: its own {zh, en} when the page made it, else its "中文 (English)" message. */
  function fieldErrorHtml(err) { return err.zh ? both(err.zh, err.en) : msgHtml(err.message); }

  function api(method, path, body) {
    return HallqFeed.api(method, API + path, body, { token: token }).then(function (r) {
      if (r.status === 401) logout();
      return r;
    });
  }

  function logout() {
    HallqSession.clear();
    location.reload();
  }

  // ------------------------------------------------------------------ paths into the configuration

  function parsePath(path) {
    var out = [];
    String(path).replace(/([^.[\]]+)|\[(\d+)\]/g, function (m, key, idx) {
      out.push(idx !== undefined ? Number(idx) : key);
      return m;
    });
    return out;
  }
  function rootFor(path) {
    if (path.indexOf("growth.") === 0) return { obj: S.growth, parts: [path.slice(7)] };
    return { obj: S.config, parts: parsePath(path) };
  }
  function getAt(path) {
    var r = rootFor(path), o = r.obj;
    for (var i = 0; i < r.parts.length; i++) { if (o == null) return undefined; o = o[r.parts[i]]; }
    return o;
  }
  function setAt(path, value) {
    var r = rootFor(path), o = r.obj, p = r.parts;
    for (var i = 0; i < p.length - 1; i++) {
      if (o[p[i]] == null || typeof o[p[i]] !== "object") o[p[i]] = typeof p[i + 1] === "number" ? [] : {};
      o = o[p[i]];
    }
    var last = p[p.length - 1];
    if (value === undefined) delete o[last];
    else o[last] = value;
  }

  // ------------------------------------------------------------------ lookups

  function cfg() { return S.config; }
  function list(key) { if (!Array.isArray(S.config[key])) S.config[key] = []; return S.config[key]; }
  function zoneById(id) { return list("zones").filter(function (z) { return z.id === id; })[0]; }
  function classById(id) { return list("window_classes").filter(function (c) { return c.id === id; })[0]; }
  function categoryById(id) { return list("categories").filter(function (c) { return c.id === id; })[0]; }
  function windowByNumber(n) { return list("windows").filter(function (w) { return w.number === n; })[0]; }
  function nameOf(o) { return o ? t(o.name || o.id, o.name_en || o.name || o.id) : ""; }
  function catName(id) { var c = categoryById(id); return c ? nameOf(c) : id; }
  function kindOf(classId) { var c = classById(classId); return c ? c.kind : ""; }
  function staffedWindows() {
    var s = {};
    list("clerks").forEach(function (c) { if (c.home_window != null) s[c.home_window] = true; });
    return s;
  }
  function round1(v) { return Math.round(v * 10) / 10; }
  function fmtNum(v, digits) { return v == null || isNaN(v) ? "—" : Number(v).toFixed(digits); }
  function hhmm(minute) { var h = Math.floor(minute / 60), m = Math.round(minute % 60); return ("0" + h).slice(-2) + ":" + ("0" + m).slice(-2); }

  // ------------------------------------------------------------------ floor-plan positions

  function freeSpot(zoneId, ignore) {
    var all = list("windows").filter(function (w) { return w !== ignore && w.x != null && w.y != null; });
    var mine = all.filter(function (w) { return w.zone === zoneId; });
    if (!mine.length) {
      var maxX = all.length ? Math.max.apply(null, all.map(function (w) { return w.x; })) : -6;
      var minY = all.length ? Math.min.apply(null, all.map(function (w) { return w.y; })) : 0;
      return { x: maxX + 9, y: minY };
    }
    var ox = Math.min.apply(null, mine.map(function (w) { return w.x; }));
    var oy = Math.min.apply(null, mine.map(function (w) { return w.y; }));
    for (var k = 0; k < 500; k++) {
      var x = ox + (k % 6) * 3, y = oy + Math.floor(k / 6) * 3;
      var taken = all.some(function (w) { return Math.abs(w.x - x) < 1.5 && Math.abs(w.y - y) < 1.5; });
      if (!taken) return { x: x, y: y };
    }
    return { x: ox, y: oy };
  }
  function ensurePositions() {
    list("windows").forEach(function (w) {
      if (w.x == null || w.y == null) { var p = freeSpot(w.zone, w); w.x = p.x; w.y = p.y; }
    });
  }

  // ------------------------------------------------------------------ editing windows, clerks, classes, zones

  function newId(prefix, taken) {
    for (var k = 1; ; k++) { if (taken.indexOf(prefix + k) < 0) return prefix + k; }
  }

  function homeAClerk(windowNumber, classId) {
    var cls = classById(classId) || { categories: [] };
    var spare = list("clerks").filter(function (c) {
      return c.home_window == null && (cls.categories || []).some(function (cat) { return c.skills && c.skills[cat] != null; });
    })[0];
    if (spare) { spare.home_window = windowNumber; return; }
    var skills = {};
    (cls.categories || []).forEach(function (cat) { skills[cat] = 1.0; });
    var id = newId("p", list("clerks").map(function (c) { return c.id; }));
    list("clerks").push({ id: id, name: "新增人员" + id.slice(1), home_window: windowNumber, skills: skills });
  }

  function addWindow(classId, zoneId) {
    var nums = list("windows").map(function (w) { return w.number; });
    var n = nums.length ? Math.max.apply(null, nums) + 1 : 1;
    var spot = freeSpot(zoneId);
    list("windows").push({ number: n, zone: zoneId, "class": classId, x: spot.x, y: spot.y });
    homeAClerk(n, classId);
  }

  function unhome(windowNumber) {
    list("clerks").forEach(function (c) { if (c.home_window === windowNumber) delete c.home_window; });
  }

  function removeWindow(classId, zoneId) {
    var ws = list("windows").filter(function (w) { return w["class"] === classId && w.zone === zoneId; });
    if (!ws.length) return;
    var last = ws.reduce(function (a, b) { return b.number > a.number ? b : a; });
    S.config.windows = list("windows").filter(function (w) { return w !== last; });
    unhome(last.number);
  }

  function staffOne(classId) {
    var staffed = staffedWindows();
    var empty = list("windows").filter(function (w) { return w["class"] === classId && !staffed[w.number]; })
      .sort(function (a, b) { return a.number - b.number; })[0];
    if (empty) homeAClerk(empty.number, classId);
  }
  function unstaffOne(classId) {
    var staffed = staffedWindows();
    var ws = list("windows").filter(function (w) { return w["class"] === classId && staffed[w.number]; })
      .sort(function (a, b) { return b.number - a.number; });
    if (ws.length) unhome(ws[0].number);
  }

  function renameRefs(kind, from, to) {
    if (from === to) return;
    if (kind === "zone") {
      list("windows").forEach(function (w) { if (w.zone === from) w.zone = to; });
      list("categories").forEach(function (c) { if (c.zone === from) c.zone = to; });
    } else if (kind === "class") {
      list("windows").forEach(function (w) { if (w["class"] === from) w["class"] = to; });
    } else if (kind === "window") {  // a renumbered window keeps its clerks
      list("clerks").forEach(function (c) { if (c.home_window != null && String(c.home_window) === String(from)) c.home_window = to; });
    }
  }

  function act(el) {
    var a = el.getAttribute("data-act"), i = Number(el.getAttribute("data-i"));
    var cls = el.getAttribute("data-class"), zone = el.getAttribute("data-zone");
    if (a === "win-plus") addWindow(cls, zone);
    else if (a === "win-minus") removeWindow(cls, zone);
    else if (a === "staff-plus") staffOne(cls);
    else if (a === "staff-minus") unstaffOne(cls);
    else if (a === "add-class") {
      var cid = newId("class-", list("window_classes").map(function (c) { return c.id; }));
      var firstCat = list("categories")[0];
      list("window_classes").push({ id: cid, kind: "comprehensive", name: "新窗口类别" + cid.slice(6), name_en: "New class " + cid.slice(6),
                                    categories: firstCat ? [firstCat.id] : [] });
    } else if (a === "del-class") {
      var gone = list("window_classes")[i];
      list("windows").filter(function (w) { return w["class"] === gone.id; }).forEach(function (w) { unhome(w.number); });
      S.config.windows = list("windows").filter(function (w) { return w["class"] !== gone.id; });
      list("window_classes").splice(i, 1);
    } else if (a === "add-zone") {
      var zid = newId("zone-", list("zones").map(function (z) { return z.id; }));
      list("zones").push({ id: zid, name: "新分区" + zid.slice(5), name_en: "New zone " + zid.slice(5) });
    } else if (a === "del-zone") list("zones").splice(i, 1);
    else if (a === "del-window") { unhome(list("windows")[i].number); list("windows").splice(i, 1); }
    else if (a === "add-clerk") {
      var id = newId("p", list("clerks").map(function (c) { return c.id; }));
      var cat = list("categories")[0];
      var skills = {};
      if (cat) skills[cat.id] = 1.0;
      list("clerks").push({ id: id, name: "新增人员" + id.slice(1), skills: skills });
    } else if (a === "del-clerk") list("clerks").splice(i, 1);
    else if (a === "del-skill") delete list("clerks")[i].skills[el.getAttribute("data-cat")];
    else if (a === "toggle-lunch") {
      var h = S.config.hours || (S.config.hours = {});
      if (el.checked) h.lunch = { start: "12:00", end: "13:30" }; else delete h.lunch;
    } else return false;
    return true;
  }

  function onEditorInput(ev) {
    var el = ev.target;
    if (!S.config) return;
    if (el.getAttribute("data-act") === "add-skill") {
      if (ev.type !== "change" || !el.value) return;
      var clerk = list("clerks")[Number(el.getAttribute("data-i"))];
      clerk.skills = clerk.skills || {};
      clerk.skills[el.value] = 1.0;
      changed(true);
      return;
    }
    if (el.getAttribute("data-act") === "toggle-lunch") { if (ev.type === "change") { act(el); changed(true); } return; }
    var listPath = el.getAttribute("data-list-path");
    if (listPath) {
      if (ev.type !== "change") return;
      var current = (getAt(listPath) || []).slice();
      var v = el.value, at = current.indexOf(v);
      if (el.checked && at < 0) current.push(v);
      if (!el.checked && at >= 0) current.splice(at, 1);
      if (listPath === "hours.days") {
        current = WEEKDAYS.map(function (d) { return d[0]; }).filter(function (d) { return current.indexOf(d) >= 0; });
      }
      setAt(listPath, current);
      changed(true);
      return;
    }
    var path = el.getAttribute("data-path");
    if (!path || el.tagName === "TR" || el.tagName === "TD") return;
    var type = el.getAttribute("data-type") || "text", raw = el.value, value;
    if (type === "number" || type === "int") value = raw === "" ? null : Number(raw);
    else if (type === "optional-int") value = raw === "" ? undefined : Number(raw);
    else if (type === "growth") value = raw === "" ? undefined : Number(raw);
    else value = raw;
    var rename = el.getAttribute("data-rename");
    // references follow a renamed id once the edit is done (on change), never letter by letter: an
    // intermediate value could equal another zone's id and merge the two
    if (rename && ev.type === "change") { renameRefs(rename, el.getAttribute("data-old"), value); el.setAttribute("data-old", value); }
    setAt(path, value);
    // selects and structural fields redraw the editor; typing in a text box keeps its focus
    changed(el.tagName === "SELECT" || el.hasAttribute("data-redraw") && ev.type === "change");
    if (path.indexOf("growth.") === 0 || /arrivals_per_day$/.test(path)) updateDemandTotals();
  }

  function onEditorClick(ev) {
    var el = ev.target.closest("[data-act]");
    if (!el || el.tagName === "SELECT" || el.tagName === "INPUT") return;
    if (act(el)) changed(true);
  }

  function changed(redraw) {
    S.dirty = true;  // edits not saved as a scenario yet
    S.validating = true;  // until the server has answered for this very configuration
    if (redraw) renderEditor();
    else { renderSummary(); drawEditorFloor(); }
    scheduleValidate();
  }

  // ------------------------------------------------------------------ rendering the editor

  function input(path, type, extra) {
    var v = getAt(path);
    if (v == null) v = "";
    var html = type === "number" || type === "int" || type === "optional-int" || type === "growth" ? "number" : type;
    return '<input data-path="' + attr(path) + '" data-type="' + type + '" type="' + html + '" value="' + attr(v) + '"' + (extra || "") + ">";
  }
  function select(path, options, current, extra) {
    return '<select data-path="' + attr(path) + '"' + (extra || "") + ">" + options.map(function (o) {
      return '<option value="' + attr(o[0]) + '"' + (String(o[0]) === String(current == null ? "" : current) ? " selected" : "") + ">" + esc(o[1]) + "</option>";
    }).join("") + "</select>";
  }
  function zoneOptions() { return list("zones").map(function (z) { return [z.id, nameOf(z)]; }); }
  function classOptions() { return list("window_classes").map(function (c) { return [c.id, nameOf(c)]; }); }
  function kindOptions() { return [["comprehensive", t("综合窗口", "Comprehensive")], ["specialised", t("专业窗口", "Specialised")]]; }

  function renderEditor() {
    if (!S.config) return;
    renderSummary();
    renderClasses();
    renderZones();
    renderDemand();
    renderHours();
    renderPolicy();
    renderClerks();
    renderWindows();
    drawEditorFloor();
    placeErrors();
  }

  function counts() {
    var c = { compClasses: 0, specClasses: 0, compWindows: 0, specWindows: 0 };
    list("window_classes").forEach(function (k) { if (k.kind === "comprehensive") c.compClasses++; else if (k.kind === "specialised") c.specClasses++; });
    list("windows").forEach(function (w) { var k = kindOf(w["class"]); if (k === "comprehensive") c.compWindows++; else if (k === "specialised") c.specWindows++; });
    return c;
  }

  function renderSummary() {
    var c = counts(), staffed = staffedWindows();
    var onDuty = list("windows").filter(function (w) { return staffed[w.number]; }).length;
    var el = $("summary");
    el.setAttribute("data-comprehensive", c.compWindows);
    el.setAttribute("data-specialised", c.specWindows);
    el.innerHTML = both(
      "综合窗口 " + c.compClasses + " 类 " + c.compWindows + " 个 ＋ 专业窗口 " + c.specClasses + " 类 " + c.specWindows + " 个 · 在岗 " + onDuty + " 人",
      c.compClasses + " comprehensive classes, " + c.compWindows + " windows + " + c.specClasses + " specialised classes, " +
        c.specWindows + " windows · " + onDuty + " clerks on duty");
    $("window-count").textContent = list("windows").length;
    $("clerk-count").textContent = list("clerks").length;
  }

  function renderClasses() {
    var zones = list("zones"), staffed = staffedWindows();
    var head = "<thead><tr><th>" + both("类别与类型", "Class and kind") + "</th><th>" + both("办理事项", "Matters served") + "</th>" +
      zones.map(function (z) { return '<th class="num">' + esc(nameOf(z)) + "<br><span class=\"muted small\">" + both("窗口数", "windows") + "</span></th>"; }).join("") +
      '<th class="num">' + both("在岗人员", "Clerks") + "</th><th></th></tr></thead>";
    var rows = list("window_classes").map(function (c, i) {
      var p = "window_classes[" + i + "]";
      var chips = (c.categories || []).map(function (cat) { return '<span class="chip">' + esc(catName(cat)) + "</span>"; }).join("");
      var boxes = list("categories").map(function (cat) {
        var on = (c.categories || []).indexOf(cat.id) >= 0;
        return '<label class="check"><input type="checkbox" data-list-path="' + p + '.categories" value="' + attr(cat.id) + '"' + (on ? " checked" : "") + "> " + esc(nameOf(cat)) + "</label>";
      }).join("");
      var cells = zones.map(function (z) {
        var n = list("windows").filter(function (w) { return w["class"] === c.id && w.zone === z.id; }).length;
        return '<td class="num counter"><button type="button" class="btn btn-small" data-act="win-minus" data-class="' + attr(c.id) + '" data-zone="' + attr(z.id) + '"' +
          (n ? "" : " disabled") + ' aria-label="' + attr(t("减少窗口", "fewer windows")) + '">−</button><span class="wcount" data-count-class="' + attr(c.id) + '" data-count-zone="' + attr(z.id) + '">' + n +
          '</span><button type="button" class="btn btn-small" data-act="win-plus" data-class="' + attr(c.id) + '" data-zone="' + attr(z.id) + '" aria-label="' + attr(t("增加窗口", "more windows")) + '">＋</button></td>';
      }).join("");
      var ws = list("windows").filter(function (w) { return w["class"] === c.id; });
      var on = ws.filter(function (w) { return staffed[w.number]; }).length;
      var gap = ws.length - on;
      var staff = '<td class="num counter"><button type="button" class="btn btn-small" data-act="staff-minus" data-class="' + attr(c.id) + '"' + (on ? "" : " disabled") + '>−</button>' +
        '<span class="wcount" data-staff-class="' + attr(c.id) + '">' + on + "</span>" +
        '<button type="button" class="btn btn-small" data-act="staff-plus" data-class="' + attr(c.id) + '"' + (gap ? "" : " disabled") + ">＋</button>" +
        (gap ? '<div class="warn small">' + both("空岗 " + gap, gap + " unstaffed") + "</div>" : "") + "</td>";
      return '<tr data-path="' + p + '" data-class-row="' + attr(c.id) + '" class="kind-' + attr(c.kind) + '">' +
        '<td class="class-name" style="border-left: 6px solid ' + (KIND_COLOURS[c.kind] || "#888") + '">' +
        input(p + ".name", "text", ' class="name-zh" aria-label="名称"') + input(p + ".name_en", "text", ' class="name-en small" aria-label="English name"') +
        select(p + ".kind", kindOptions(), c.kind, ' class="kind-select"') +
        '<div class="small muted">ID ' + input(p + ".id", "text", ' class="id-input" data-redraw data-rename="class" data-old="' + attr(c.id) + '"') + "</div></td>" +
        '<td class="cats" data-err="' + p + '.categories">' + chips + '<details class="choose"><summary>' + both("选择事项", "Choose") + "</summary>" + boxes + "</details></td>" +
        cells + staff +
        '<td><button type="button" class="btn btn-small danger" data-act="del-class" data-i="' + i + '" title="' + attr(t("删除该类别及其窗口", "delete the class and its windows")) + '">✕</button></td></tr>';
    }).join("");
    $("classes").innerHTML = head + "<tbody>" + rows + "</tbody>";
  }

  function renderZones() {
    var rows = list("zones").map(function (z, i) {
      var p = "zones[" + i + "]";
      var used = list("windows").some(function (w) { return w.zone === z.id; }) || list("categories").some(function (c) { return c.zone === z.id; });
      return '<tr data-path="' + p + '"><td>' + input(p + ".name", "text") + "</td><td>" + input(p + ".name_en", "text") + "</td><td>" +
        input(p + ".id", "text", ' class="id-input" data-redraw data-rename="zone" data-old="' + attr(z.id) + '"') + "</td><td>" +
        '<button type="button" class="btn btn-small danger" data-act="del-zone" data-i="' + i + '"' + (used ? " disabled title=\"" + attr(t("分区内还有窗口或事项", "the zone still has windows or matters")) + '"' : "") + ">✕</button></td></tr>";
    }).join("");
    $("zones").innerHTML = "<thead><tr><th>" + both("名称", "Name") + "</th><th>" + both("英文名称", "English name") + "</th><th>ID</th><th></th></tr></thead><tbody>" + rows + "</tbody>";
  }

  function effective(cat) {
    var g = S.growth[cat.id];
    return (Number(cat.arrivals_per_day) || 0) * (g == null || isNaN(g) ? 1 : g);
  }

  function renderDemand() {
    var rows = list("categories").map(function (c, i) {
      var p = "categories[" + i + "]";
      return '<tr data-path="' + p + '" data-category="' + attr(c.id) + '"><td>' + esc(nameOf(c)) + ' <span class="muted small">' + esc(c.prefix || "") + "</span></td>" +
        "<td>" + esc(nameOf(zoneById(c.zone)) || c.zone) + "</td>" +
        '<td class="num">' + input(p + ".arrivals_per_day", "number", ' min="0" step="1"') + "</td>" +
        '<td class="num">' + input(p + ".service_time.mean", "number", ' min="0" step="0.5"') + "</td>" +
        '<td class="num">' + input("growth." + c.id, "growth", ' min="0" max="10" step="0.05" placeholder="1.0"') + "</td>" +
        '<td class="num" data-effective="' + attr(c.id) + '">' + fmtNum(effective(c), 0) + "</td></tr>";
    }).join("");
    $("demand").setAttribute("data-err", "categories");  // e.g. the total demand is too large
    $("demand").innerHTML = "<thead><tr><th>" + both("事项", "Matter") + "</th><th>" + both("分区", "Zone") + "</th>" +
      '<th class="num">' + both("日均到达（人）", "Arrivals / day") + '</th><th class="num">' + both("平均办理（分钟）", "Mean service (min)") + "</th>" +
      '<th class="num">' + both("增长系数", "Growth factor") + '</th><th class="num">' + both("仿真到达（人/日）", "Simulated / day") + "</th></tr></thead><tbody>" + rows +
      '</tbody><tfoot><tr><td colspan="5">' + both("合计", "Total") + '</td><td class="num" id="demand-total"></td></tr></tfoot>';
    updateDemandTotals();
  }

  function updateDemandTotals() {
    var total = 0;
    list("categories").forEach(function (c) {
      var e = effective(c);
      total += e;
      var cell = document.querySelector('[data-effective="' + CSS.escape(c.id) + '"]');
      if (cell) cell.textContent = fmtNum(e, 0);
    });
    if ($("demand-total")) $("demand-total").textContent = fmtNum(total, 0);
  }

  function renderHours() {
    var h = S.config.hours || {};
    var days = h.days || [];
    $("hours").innerHTML = '<div class="hours-row" data-path="hours">' +
      '<label>' + both("开门", "Opens") + input("hours.open", "time") + "</label>" +
      "<label>" + both("关门", "Closes") + input("hours.close", "time") + "</label>" +
      '<label class="check"><input type="checkbox" data-act="toggle-lunch"' + (h.lunch ? " checked" : "") + "> " + both("午休", "Lunch break") + "</label>" +
      (h.lunch ? "<label>" + both("午休开始", "Lunch from") + input("hours.lunch.start", "time") + "</label><label>" + both("午休结束", "Lunch until") + input("hours.lunch.end", "time") + "</label>" : "") +
      "</div><div class=\"days\" data-err=\"hours.days\">" + WEEKDAYS.map(function (d) {
        return '<label class="check"><input type="checkbox" data-list-path="hours.days" value="' + d[0] + '"' + (days.indexOf(d[0]) >= 0 ? " checked" : "") + "> " + both("周" + d[1], d[2]) + "</label>";
      }).join("") + "</div>";
  }

  function renderPolicy() {
    var pol = S.config.policy || {}, tg = S.config.targets || {};
    $("policy").innerHTML = '<div class="policy-grid">' +
      "<label>" + both("叫号策略", "Calling policy") + select("policy.name", POLICIES.map(function (p) { return [p[0], t(p[1], p[2])]; }), pol.name || "weighted_aging") + "</label>" +
      "<label>" + both("最长等待（分钟，到时优先）", "Longest wait (min, then first)") + input("policy.max_wait_minutes", "number", ' min="1"') + "</label>" +
      "<label>" + both("服务目标：比例", "Target share") + input("targets.service_level", "number", ' min="0" max="1" step="0.05"') + "</label>" +
      "<label>" + both("服务目标：分钟内叫号", "Target: called within (min)") + input("targets.within_minutes", "number", ' min="1"') + "</label>" +
      "</div>" + (tg.service_level ? '<p class="hint">' + both("目标：" + Math.round(tg.service_level * 100) + "% 的群众在 " + (tg.within_minutes || "?") + " 分钟内被叫号",
        "Target: " + Math.round(tg.service_level * 100) + "% called within " + (tg.within_minutes || "?") + " minutes") + "</p>" : "");
  }

  function renderClerks() {
    var windowOpts = [["", t("未安排窗口", "no window")]].concat(list("windows").slice().sort(function (a, b) { return a.number - b.number; }).map(function (w) {
      return [w.number, t(w.number + "号 " + nameOf(classById(w["class"])), "No. " + w.number + " " + nameOf(classById(w["class"])))];
    }));
    var rows = list("clerks").map(function (c, i) {
      var p = "clerks[" + i + "]";
      var skills = Object.keys(c.skills || {}).map(function (cat) {
        return '<span class="skill">' + esc(catName(cat)) + " ×" + input(p + ".skills." + cat, "number", ' min="0.1" max="3" step="0.1" class="factor"') +
          '<button type="button" class="link" data-act="del-skill" data-i="' + i + '" data-cat="' + attr(cat) + '" aria-label="remove">✕</button></span>';
      }).join("");
      var missing = list("categories").filter(function (cat) { return !(c.skills && c.skills[cat.id] != null); });
      var add = missing.length ? '<select data-act="add-skill" data-i="' + i + '"><option value="">' + esc(t("＋ 技能", "+ skill")) + "</option>" +
        missing.map(function (cat) { return '<option value="' + attr(cat.id) + '">' + esc(nameOf(cat)) + "</option>"; }).join("") + "</select>" : "";
      return '<tr data-path="' + p + '" data-clerk="' + attr(c.id) + '"><td>' + input(p + ".name", "text") + '<div class="small muted">ID ' + input(p + ".id", "text", ' class="id-input"') + "</div></td>" +
        "<td>" + select(p + ".home_window", windowOpts, c.home_window, ' data-type="optional-int"') + "</td>" +
        '<td class="skills" data-err="' + p + '.skills">' + skills + add + "</td>" +
        '<td><button type="button" class="btn btn-small danger" data-act="del-clerk" data-i="' + i + '">✕</button></td></tr>';
    }).join("");
    $("clerks").innerHTML = "<thead><tr><th>" + both("姓名", "Name") + "</th><th>" + both("窗口", "Window") + "</th><th>" + both("技能与系数", "Skills and factors") + "</th><th></th></tr></thead><tbody>" + rows + "</tbody>";
  }

  function renderWindows() {
    var rows = list("windows").map(function (w, i) {
      var p = "windows[" + i + "]";
      return '<tr data-path="' + p + '" data-window="' + w.number + '"><td>' + input(p + ".number", "int", ' min="1" max="999" class="short" data-redraw data-rename="window" data-old="' + attr(w.number) + '"') + "</td>" +
        "<td>" + select(p + ".zone", zoneOptions(), w.zone) + "</td><td>" + select(p + ".class", classOptions(), w["class"]) + "</td>" +
        '<td class="num">' + input(p + ".x", "number", ' step="0.5" class="short"') + '</td><td class="num">' + input(p + ".y", "number", ' step="0.5" class="short"') + "</td>" +
        '<td><button type="button" class="btn btn-small danger" data-act="del-window" data-i="' + i + '">✕</button></td></tr>';
    }).join("");
    $("windows").innerHTML = "<thead><tr><th>" + both("窗口号", "No.") + "</th><th>" + both("分区", "Zone") + "</th><th>" + both("类别", "Class") + "</th>" +
      '<th class="num">x (m)</th><th class="num">y (m)</th><th></th></tr></thead><tbody>' + rows + "</tbody>";
  }

  // ------------------------------------------------------------------ validation

  function scheduleValidate() {
    S.validating = true;
    S.vseq += 1;
    S.extraErrors = [];
    updateRunButton();
    clearTimeout(S.vtimer);
    S.vtimer = setTimeout(validate, 350);
  }

  function validate() {
    var seq = S.vseq;
    api("POST", "/validate", { config: S.config, growth: S.growth }).then(function (r) {
      if (seq !== S.vseq) return;  // a newer edit is on its way
      S.validating = false;
      if (r.ok) {
        S.valid = !!r.body.ok;
        S.errors = r.body.errors || [];
      } else {
        S.valid = false;
        var e = HallqFeed.errorText(r);
        S.errors = [{ field: (r.body && r.body.error && r.body.error.field) || "", zh: e.zh, en: e.en }];
      }
      placeErrors();
      updateRunButton();
    });
  }

  function parentPath(path) {
    if (/\[\d+\]$/.test(path)) return path.replace(/\[\d+\]$/, "");
    var dot = path.lastIndexOf(".");
    return dot > 0 ? path.slice(0, dot) : "";
  }

  function findFieldElement(field) {
    var path = field;
    while (path) {
      var sel = '[data-path="' + CSS.escape(path) + '"], [data-err="' + CSS.escape(path) + '"]';
      var el = document.querySelector("#editor " + sel.replace(", ", ", #editor "));
      if (el) return el;
      path = parentPath(path);
    }
    return null;
  }

  function placeErrors() {
    var all = S.errors.concat(S.extraErrors);
    Array.prototype.forEach.call(document.querySelectorAll("#editor .field-error"), function (e) { e.remove(); });
    Array.prototype.forEach.call(document.querySelectorAll("#editor .invalid"), function (e) { e.classList.remove("invalid"); });
    var other = [];
    all.forEach(function (err) {
      var el = findFieldElement(err.field || "");
      var note = document.createElement("div");
      note.className = "field-error";
      note.setAttribute("data-error-for", err.field || "");
      note.innerHTML = "⚠ " + fieldErrorHtml(err);
      if (!el) { other.push(err); return; }
      el.classList.add("invalid");
      if (el.tagName === "TR") el.lastElementChild.appendChild(note);
      else if (el.tagName === "TD" || el.tagName === "DIV") el.appendChild(note);
      else el.insertAdjacentElement("afterend", note);
      for (var d = el.closest("details"); d; d = d.parentElement && d.parentElement.closest("details")) d.open = true;
    });
    $("errors-other").innerHTML = other.map(function (err) {
      return '<li class="field-error" data-error-for="' + attr(err.field || "") + '">⚠ ' + (err.field ? "<code>" + esc(err.field) + "</code> " : "") + fieldErrorHtml(err) + "</li>";
    }).join("");
    var v = $("validity");
    if (S.validating) { v.className = "validity checking"; v.innerHTML = both("正在检查配置……", "Checking the configuration…"); }
    else if (all.length) {
      v.className = "validity bad";
      v.innerHTML = both("配置有 " + all.length + " 处问题，请按标红处修改，改好后才能运行", all.length + " problem(s) in the configuration: fix the marked fields to run");
    } else { v.className = "validity ok"; v.innerHTML = both("✓ 配置检查通过", "✓ The configuration is valid"); }
    v.setAttribute("data-errors", String(all.length));
  }

  function updateRunButton() {
    $("run").disabled = !S.config || S.validating || !S.valid;
    var run = S.runs[S.activeRun];
    $("cancel").disabled = !(run && (run.state === "queued" || run.state === "running"));
    if (S.validating) placeErrorsStatusOnly();
  }
  function placeErrorsStatusOnly() {
    var v = $("validity");
    v.className = "validity checking";
    v.innerHTML = both("正在检查配置……", "Checking the configuration…");
  }

  // ------------------------------------------------------------------ floor plan (SVG)

  function editorLayout() {
    return {
      zones: list("zones"),
      windows: list("windows").map(function (w) {
        return { number: w.number, zone: w.zone, "class": w["class"], kind: kindOf(w["class"]), x: w.x, y: w.y };
      })
    };
  }

  function heat(u) {
    u = Math.max(0, Math.min(1, Number(u) || 0));
    var stops = [[0, [230, 238, 248]], [0.5, [255, 196, 77]], [1, [196, 0, 26]]];
    var a = u <= 0.5 ? stops[0] : stops[1], b = u <= 0.5 ? stops[1] : stops[2];
    var f = (u - a[0]) / (b[0] - a[0]);
    var c = a[1].map(function (v, i) { return Math.round(v + (b[1][i] - v) * f); });
    return "rgb(" + c.join(",") + ")";
  }

  /* opts: {editable, keepViewBox, util: {number: 0..1}, waiting: {zone: n}, waitingMax} */
  function drawFloor(svg, layout, opts) {
    opts = opts || {};
    var wins = layout.windows.filter(function (w) { return w.x != null && w.y != null && !isNaN(w.x) && !isNaN(w.y); });
    var boxes = [];
    layout.zones.forEach(function (z) {
      var ws = wins.filter(function (w) { return w.zone === z.id; });
      if (!ws.length) return;
      var xs = ws.map(function (w) { return Number(w.x); }), ys = ws.map(function (w) { return Number(w.y); });
      boxes.push({ zone: z, x0: Math.min.apply(null, xs) - WIN_W / 2 - ZONE_PAD, x1: Math.max.apply(null, xs) + WIN_W / 2 + ZONE_PAD,
                   y0: Math.min.apply(null, ys) - WIN_H / 2 - ZONE_PAD - ZONE_LABEL,
                   y1: Math.max.apply(null, ys) + WIN_H / 2 + ZONE_PAD + (opts.waiting ? ZONE_LABEL : 0) });
    });
    if (!opts.keepViewBox) {
      if (boxes.length) {
        var x0 = Math.min.apply(null, boxes.map(function (b) { return b.x0; })) - 0.5, y0 = Math.min.apply(null, boxes.map(function (b) { return b.y0; })) - 0.5;
        var x1 = Math.max.apply(null, boxes.map(function (b) { return b.x1; })) + 0.5, y1 = Math.max.apply(null, boxes.map(function (b) { return b.y1; })) + 0.5;
        // at least 36 m × 9 m: a small hall is drawn at the same scale as a big one, not blown up
        var w = Math.max(x1 - x0, 36), h = Math.max(y1 - y0, 9);
        svg.setAttribute("viewBox", [x0 - (w - (x1 - x0)) / 2, y0, w, h].map(round1).join(" "));
      } else svg.setAttribute("viewBox", "0 0 20 8");
    }
    var parts = boxes.map(function (b) {
      var waiting = opts.waiting ? opts.waiting[b.zone.id] : null;
      var fill = "rgba(0,80,179,0.04)";
      if (waiting != null) fill = "rgba(0,80,179," + (0.05 + 0.45 * Math.min(1, waiting / (opts.waitingMax || 1))).toFixed(3) + ")";
      var label = nameOf(b.zone), room = b.x1 - b.x0 - 1;
      var waitText = t("等候 " + fmtNum(waiting, 1) + " 人", fmtNum(waiting, 1) + " waiting");
      var count = waiting != null ? '<text class="zone-waiting" x="' + round1(b.x0 + 0.5) + '" y="' + round1(b.y1 - 0.6) + '"' + fit(waitText, 1.3, room) + ">" +
        esc(waitText) + "</text>" : "";
      return '<g class="zone" data-zone="' + attr(b.zone.id) + '"' + (waiting != null ? ' data-waiting="' + fmtNum(waiting, 2) + '"' : "") + ">" +
        '<rect class="zone-rect" x="' + round1(b.x0) + '" y="' + round1(b.y0) + '" width="' + round1(b.x1 - b.x0) + '" height="' + round1(b.y1 - b.y0) + '" rx="0.5" fill="' + fill + '"/>' +
        '<text class="zone-label" x="' + round1(b.x0 + 0.5) + '" y="' + round1(b.y0 + 1.4) + '"' + fit(label, 1.2, room) + ">" + esc(label) + "</text>" + count + "</g>";
    });
    wins.forEach(function (w) {
      var colour = KIND_COLOURS[w.kind] || "#777";
      var util = opts.util ? opts.util[String(w.number)] : null;
      var fill = util != null ? heat(util) : colour, text = util != null ? (util > 0.6 ? "#fff" : "#0b1320") : "#fff";
      var cls = opts.util ? classNameFromLayout(w) : nameOf(classById(w["class"]));
      var tip = t(w.number + "号窗口 · " + cls, "Window " + w.number + " · " + cls) + (util != null ? t(" · 利用率 ", " · utilisation ") + Math.round(util * 100) + "%" : "");
      parts.push('<g class="win kind-' + attr(w.kind) + (opts.editable ? " draggable" : "") + '" data-window="' + w.number + '"' +
        (opts.editable ? ' tabindex="0" role="button" aria-label="' + attr(tip + t("（方向键移动）", " (arrow keys move it)")) + '"' : "") +
        (util != null ? ' data-util="' + Number(util).toFixed(3) + '"' : "") + ' transform="translate(' + round1(w.x) + " " + round1(w.y) + ')">' +
        '<rect x="' + (-WIN_W / 2) + '" y="' + (-WIN_H / 2) + '" width="' + WIN_W + '" height="' + WIN_H + '" rx="0.25" fill="' + fill + '" stroke="' + colour + '" stroke-width="' + (util != null ? 0.35 : 0.1) + '"/>' +
        '<text class="win-label" y="0.4" fill="' + text + '">' + w.number + "</text><title>" + esc(tip) + "</title></g>");
    });
    svg.innerHTML = parts.join("");
  }

  /* the width of a label in metres at a font size of ``size`` metres (CJK characters are square, Latin ones narrower) */
  function textWidth(text, size) {
    var w = 0;
    for (var i = 0; i < text.length; i++) w += text.charCodeAt(i) > 0x2e80 ? 1 : 0.6;
    return w * size;
  }

  /* a smaller font for a label that would not fit in ``room`` metres (never below half size) */
  function fit(text, size, room) {
    var w = textWidth(text, size);
    return w > room ? ' style="font-size:' + (size * Math.max(0.5, room / w)).toFixed(2) + 'px"' : "";
  }

  function classNameFromLayout(w) {
    var c = classById(w["class"]);
    return c ? nameOf(c) : w["class"] || "";
  }

  function kindLegend() {
    return Object.keys(KINDS).map(function (k) {
      return '<span class="legend-item"><span class="swatch" style="background:' + KIND_COLOURS[k] + '"></span>' + both(KINDS[k][0], KINDS[k][1]) + "</span>";
    }).join("");
  }

  function drawEditorFloor() {
    if (!S.config) return;
    drawFloor($("floor"), editorLayout(), { editable: true, keepViewBox: !!S.drag });
    $("floor-legend").innerHTML = kindLegend();
  }

  function svgPoint(svg, ev) {
    var pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    return pt.matrixTransform(svg.getScreenCTM().inverse());
  }

  function setupDrag() {
    var svg = $("floor");
    svg.addEventListener("pointerdown", function (ev) {
      var g = ev.target.closest("[data-window]");
      if (!g || !S.config) return;
      var w = windowByNumber(Number(g.getAttribute("data-window")));
      if (!w) return;
      var p = svgPoint(svg, ev);
      S.drag = { w: w, dx: p.x - w.x, dy: p.y - w.y, id: ev.pointerId, moved: false };
      svg.setPointerCapture(ev.pointerId);
      ev.preventDefault();
    });
    svg.addEventListener("pointermove", function (ev) {
      if (!S.drag || ev.pointerId !== S.drag.id) return;
      var p = svgPoint(svg, ev);
      S.drag.w.x = round1(p.x - S.drag.dx);
      S.drag.w.y = round1(p.y - S.drag.dy);
      S.drag.moved = true;
      drawEditorFloor();
    });
    function drop(ev) {
      if (!S.drag || ev.pointerId !== S.drag.id) return;
      var moved = S.drag.moved;
      S.drag = null;
      try { svg.releasePointerCapture(ev.pointerId); } catch (e) { /* already released */ }
      drawEditorFloor();
      if (moved) { S.dirty = true; renderWindows(); placeErrors(); scheduleValidate(); }
    }
    svg.addEventListener("pointerup", drop);
    svg.addEventListener("pointercancel", drop);
    // the keyboard moves a focused window too: arrows by 0.5 m, with Shift by one window (3 m)
    var STEPS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    svg.addEventListener("keydown", function (ev) {
      var g = ev.target.closest && ev.target.closest("[data-window]"), step = STEPS[ev.key];
      if (!g || !step || !S.config) return;
      var number = g.getAttribute("data-window"), w = windowByNumber(Number(number));
      if (!w) return;
      var by = ev.shiftKey ? 3 : 0.5;
      w.x = round1(w.x + step[0] * by);
      w.y = round1(w.y + step[1] * by);
      ev.preventDefault();
      S.dirty = true;
      drawEditorFloor();
      var again = svg.querySelector('[data-window="' + number + '"]');
      if (again) again.focus();  // the drawing was redone: keep the window in hand
      renderWindows(); placeErrors(); scheduleValidate();
    });
  }

  // ------------------------------------------------------------------ loading a configuration

  /* true when there are no unsaved edits, or the planner agrees to drop them */
  function mayDiscardEdits() {
    return !S.dirty || window.confirm(I18n.lang === "en"
      ? "The current plan has edits that are not saved as a scenario. Load another and lose them?"
      : "当前方案有未保存的修改，载入其他方案将丢失这些修改。确定继续吗？");
  }

  function useConfig(config, growth, sourceName) {
    S.dirty = false;
    S.config = config || {};
    delete S.config.storage;
    delete S.config.auth;
    S.growth = growth || {};
    S.sourceName = sourceName || "";
    S.errors = [];
    S.validating = true;
    ensurePositions();
    $("source").innerHTML = sourceName ? both("当前：" + sourceName, "Editing: " + sourceName) : "";
    if (!$("run-label").value || $("run-label").getAttribute("data-auto") === "1") {
      $("run-label").value = sourceName || "";
      $("run-label").setAttribute("data-auto", "1");
    }
    renderEditor();
    scheduleValidate();
  }

  function loadTemplates() {
    return api("GET", "/templates").then(function (r) {
      if (!r.ok) { benchError(r); return; }
      S.templates = r.body.templates || [];
      $("template").innerHTML = S.templates.map(function (tp) {
        return '<option value="' + attr(tp.id) + '">' + esc(t(tp.name, tp.name_en || tp.name)) + "</option>";
      }).join("");
    });
  }

  function loadTemplate(id) {
    // ":" stays as it is: it is legal in a path segment, and template ids ("hall:demo") carry one
    return api("GET", "/templates/" + encodeURIComponent(id).replace(/%3A/gi, ":")).then(function (r) {
      if (!r.ok) { benchError(r); return; }
      $("bench-error").hidden = true;
      var tp = S.templates.filter(function (x) { return x.id === id; })[0] || { name: id };
      useConfig(r.body.config, r.body.growth, t(tp.name, tp.name_en || tp.name));
    });
  }

  function benchError(r) {
    $("bench-error").hidden = false;
    $("bench-error").innerHTML = HallqFeed.errorHtml(r);
  }

  // ------------------------------------------------------------------ runs

  function runMessage(html, kind) {
    var el = $("run-message");
    el.hidden = !html;
    el.className = "message " + (kind || "info");
    el.innerHTML = html || "";
  }

  function numberIn(id, lo, hi, dflt) {
    var v = parseInt($(id).value, 10);
    if (isNaN(v)) v = dflt;
    return Math.max(lo, Math.min(hi, v));
  }

  function runSettings() {
    return { days: numberIn("days", 1, 20, 1), reps: numberIn("reps", 2, 200, 10), seed: numberIn("seed", 0, 2147483647, 0) };
  }

  function submitRun(body) {
    runMessage("");
    return api("POST", "/runs", body).then(function (r) {
      if (r.ok) {
        S.activeRun = r.body.run;
        S.mine[r.body.run] = true;
        var known = S.runs[r.body.run];
        if (!known || known.state === "queued" && r.body.state === "running") {
          S.runs[r.body.run] = { run: r.body.run, kind: body.kind, label: body.label || "", state: r.body.state, position: r.body.position,
                                 progress: known ? known.progress : { done: 0, total: 0 }, created: new Date().toISOString() };
        }
        renderRuns();
        showRunStatus();
        var now = S.runs[r.body.run];
        if (now && now.state === "done" && !now.opened) { now.opened = true; openResult(now.run); }
      } else {
        runMessage("⚠ " + HallqFeed.errorHtml(r), "error");
        var field = r.body && r.body.error && r.body.error.field;
        if (r.status === 422 && field && body.kind === "simulate") {
          S.extraErrors = [{ field: field, message: e.zh + " (" + e.en + ")" }];
          placeErrors();
        }
      }
      updateRunButton();
      return r;
    });
  }

  function startRun() {
    if ($("run").disabled) return;
    var s = runSettings();
    submitRun({ kind: "simulate", config: S.config, growth: S.growth, label: $("run-label").value.trim() || S.sourceName,
                days: s.days, reps: s.reps, seed: s.seed });
  }

  function cancelRun(id) {
    return api("POST", "/runs/" + encodeURIComponent(id) + "/cancel").then(function (r) {
      if (r.ok) onRunUpdate(r.body);
      else runMessage("⚠ " + HallqFeed.errorHtml(r), "error");
    });
  }

  function showRunStatus() {
    var run = S.runs[S.activeRun];
    var bar = $("progress"), st = $("run-status");
    if (!run) { bar.hidden = true; st.innerHTML = ""; updateRunButton(); return; }
    var p = run.progress || { done: 0, total: 0 };
    bar.hidden = !(run.state === "running" || run.state === "queued");
    bar.max = Math.max(1, p.total || 1);
    bar.value = p.done || 0;
    st.setAttribute("data-state", run.state);
    var label = run.label ? "「" + run.label + "」" : "";
    var s = STATES[run.state] || [run.state, run.state];
    var extra = "";
    if (run.state === "queued") {
      extra = both("，前面还有 " + (run.position || 0) + " 个仿真在等", ", " + (run.position || 0) + " run(s) ahead");
    } else if (run.state === "running" && p.total) {
      extra = both("，已完成 " + p.done + " / " + p.total, ", " + p.done + " of " + p.total + " done");
    } else if (run.state === "failed" && run.error) {
      extra = "：" + msgHtml(run.error);
    }
    st.innerHTML = both((run.kind === "compare" ? "对比" : "仿真") + label + " " + s[0], (run.kind === "compare" ? "Comparison " : "Run ") + label + " " + s[1]) + extra;
    updateRunButton();
  }

  function onRunUpdate(run) {
    if (!run || !run.run) return;
    var before = S.runs[run.run];
    S.runs[run.run] = Object.assign({}, before || {}, run);
    renderRuns();
    if (run.run === S.activeRun) {
      showRunStatus();
      if (run.state === "done" && (!before || before.state !== "done" || !before.opened)) {
        S.runs[run.run].opened = true;
        openResult(run.run);
      }
    }
  }

  function renderRuns() {
    var runs = Object.keys(S.runs).map(function (k) { return S.runs[k]; }).sort(function (a, b) {
      return String(b.created || "").localeCompare(String(a.created || ""));
    });
    if (!runs.length) { $("runs").innerHTML = '<tbody><tr><td class="muted">' + both("还没有仿真记录", "No runs yet") + "</td></tr></tbody>"; return; }
    $("runs").innerHTML = "<tbody>" + runs.map(function (run) {
      var s = STATES[run.state] || [run.state, run.state], p = run.progress || {};
      var active = run.state === "queued" || run.state === "running";
      var when = run.created ? new Date(run.created) : null;
      var time = when && !isNaN(when) ? ("0" + when.getHours()).slice(-2) + ":" + ("0" + when.getMinutes()).slice(-2) : "";
      return '<tr data-run="' + attr(run.run) + '" data-state="' + attr(run.state) + '"><td>' + esc(run.label || run.run) +
        ' <span class="muted small">' + both(run.kind === "compare" ? "对比" : "仿真", run.kind === "compare" ? "compare" : "simulate") + " " + time + "</span></td>" +
        '<td class="state-' + attr(run.state) + '">' + both(s[0], s[1]) + (run.state === "running" && p.total ? " " + p.done + "/" + p.total : "") + "</td><td class=\"actions\">" +
        (run.state === "done" ? '<button type="button" class="btn btn-small" data-run-act="view">' + both("查看", "View") + "</button>" : "") +
        (active ? '<button type="button" class="btn btn-small" data-run-act="cancel">' + both("取消", "Cancel") + "</button>" :
          '<button type="button" class="btn btn-small danger" data-run-act="delete">' + both("删除", "Delete") + "</button>") + "</td></tr>";
    }).join("") + "</tbody>";
  }

  function onRunsClick(ev) {
    var b = ev.target.closest("[data-run-act]");
    if (!b) return;
    var id = b.closest("tr").getAttribute("data-run"), what = b.getAttribute("data-run-act");
    if (what === "view") openResult(id);
    else if (what === "cancel") cancelRun(id);
    else if (what === "delete") {
      api("DELETE", "/runs/" + encodeURIComponent(id)).then(function (r) {
        if (r.ok) {
          delete S.runs[id];
          if (S.activeRun === id) { S.activeRun = null; showRunStatus(); }
          renderRuns();
        } else runMessage("⚠ " + HallqFeed.errorHtml(r), "error");
      });
    }
  }

  function openResult(id) {
    return api("GET", "/runs/" + encodeURIComponent(id)).then(function (r) {
      if (!r.ok) { runMessage("⚠ " + HallqFeed.errorHtml(r), "error"); return; }
      if (!r.body.result) return;
      if (r.body.kind === "compare") { S.lastCompare = r.body; renderCompare(r.body); $("compare-result").scrollIntoView({ block: "start" }); }
      else { S.lastResult = r.body; renderResult(r.body, true); $("result").scrollIntoView({ block: "start" }); }
    });
  }

  // ------------------------------------------------------------------ results

  function fmtValue(v, unit) {
    if (v == null || isNaN(v)) return "—";
    if (unit === "%") return (v * 100).toFixed(1) + "%";
    if (unit === "min") return Number(v).toFixed(1);
    return Math.abs(v) >= 100 ? Number(v).toFixed(0) : Number(v).toFixed(2);
  }
  /* the unit after a value, unless the label already names it ("平均等候(分)") */
  function unitText(unit, label) {
    if (/[(（]/.test(label || "")) return "";
    return unit === "min" ? both("分钟", "min") : unit === "%" ? "" : esc(unit || "");
  }
  function ci(low, high, unit) { return "[" + fmtValue(low, unit) + ", " + fmtValue(high, unit) + "]"; }

  function kpiRow(k) {
    return '<tr data-key="' + attr(k.key) + '" data-mean="' + attr(k.mean) + '"><td>' + both(k.label, k.label_en) + "</td>" +
      '<td class="num big">' + fmtValue(k.mean, k.unit) + " <span class=\"muted small\">" + unitText(k.unit, k.label) + "</span></td>" +
      '<td class="num muted">' + ci(k.low, k.high, k.unit) + "</td></tr>";
  }

  function renderResult(run, resetPlayback) {
    var res = run.result;
    $("result").hidden = false;
    $("result").setAttribute("data-run", run.run);
    $("result-title").innerHTML = both("仿真结果「" + (run.label || run.run) + "」", "Result: " + (run.label || run.run)) +
      ' <span class="muted small">' + both(res.days + " 天 × " + res.reps + " 次重复", res.days + " day(s) × " + res.reps + " replications") + "</span>";
    var head = "<thead><tr><th>" + both("指标", "Measure") + '</th><th class="num">' + both("均值", "Mean") + '</th><th class="num">' + both("95% 置信区间", "95% confidence interval") + "</th></tr></thead>";
    var kpis = res.kpis || [];
    var main = kpis.filter(function (k) { return k.key.indexOf("overall.") === 0; });
    var more = kpis.filter(function (k) { return k.key.indexOf("overall.") !== 0; });
    $("kpis").innerHTML = head + "<tbody>" + main.map(kpiRow).join("") + "</tbody>";
    $("kpis-more").innerHTML = head + "<tbody>" + more.map(kpiRow).join("") + "</tbody>";
    $("plots").innerHTML = plotsHtml(res.plots);
    var url = res.report_url || API + "/runs/" + encodeURIComponent(run.run) + "/report";
    $("report-link").href = url;
    $("report-link").onclick = openReport;
    if (resetPlayback) setupPlayback(res.playback);
    else drawPlayback();
  }

  /* The report needs the session, which goes in the Authorization header, never in a URL (?token= would land in
     access logs): fetch it, then show it in the tab the click opened. */
  function openReport(ev) {
    ev.preventDefault();
    var tab = window.open("", "_blank");
    fetch(this.href, { headers: { Authorization: "Bearer " + token } }).then(function (resp) {
      return resp.ok ? resp.text() : Promise.reject(resp.status);
    }).then(function (text) {
      var url = URL.createObjectURL(new Blob([text], { type: "text/html;charset=utf-8" }));
      if (tab) tab.location.href = url; else location.assign(url);
    }, function () { if (tab) tab.close(); });
  }

  function plotsHtml(plots) {
    return Object.keys(plots || {}).map(function (name) {
      return '<figure data-plot="' + attr(name) + '"><img alt="' + attr(name) + '" src="' + attr(plots[name]) + '"></figure>';
    }).join("");
  }

  function setupPlayback(pb) {
    stopPlay();
    S.playback = pb || null;
    var n = pb && pb.minutes ? pb.minutes.length : 0;
    $("slider").max = String(Math.max(0, n - 1));
    // start at the busiest moment of the day, where the picture says the most
    var best = 0, bestV = -1;
    if (pb) {
      for (var i = 0; i < n; i++) {
        var v = 0;
        Object.keys(pb.zones || {}).forEach(function (z) { v += pb.zones[z][i] || 0; });
        if (v > bestV) { bestV = v; best = i; }
      }
    }
    $("slider").value = String(best);
    drawPlayback();
  }

  function drawPlayback() {
    var pb = S.playback, svg = $("playback-floor");
    if (!pb || !pb.minutes || !pb.minutes.length) { svg.innerHTML = ""; $("play-time").textContent = ""; return; }
    var i = Number($("slider").value) || 0;
    var util = {}, waiting = {}, max = 0.5;
    Object.keys(pb.windows || {}).forEach(function (w) { util[w] = pb.windows[w][i]; });
    Object.keys(pb.zones || {}).forEach(function (z) {
      waiting[z] = pb.zones[z][i];
      pb.zones[z].forEach(function (v) { if (v > max) max = v; });
    });
    var layout = pb.layout || editorLayout();
    drawFloor(svg, layout, { util: util, waiting: waiting, waitingMax: max });
    var total = Object.keys(waiting).reduce(function (s, z) { return s + (waiting[z] || 0); }, 0);
    $("play-time").innerHTML = '<span class="clock">' + hhmm(pb.minutes[i]) + "</span> " + both("共等候 " + fmtNum(total, 1) + " 人", fmtNum(total, 1) + " waiting in all");
    $("play-time").setAttribute("data-minute", String(pb.minutes[i]));
    $("playback-legend").innerHTML = '<span class="legend-item">' + both("窗口颜色 = 利用率", "Window colour = utilisation") +
      ' <span class="heat-bar"></span> 0% – 100%</span><span class="legend-item"><span class="swatch zone-swatch"></span>' +
      both("分区底色越深，等候的人越多", "darker zone = more people waiting") + "</span>" + kindLegend().replace(/swatch"/g, 'swatch outline"');
  }

  function stopPlay() {
    if (S.playTimer) { clearInterval(S.playTimer); S.playTimer = null; }
    $("play").innerHTML = both("▶ 播放", "▶ Play");
  }
  function togglePlay() {
    if (S.playTimer) { stopPlay(); return; }
    if (!S.playback) return;
    var max = Number($("slider").max);
    if (Number($("slider").value) >= max) $("slider").value = "0";
    $("play").innerHTML = both("⏸ 暂停", "⏸ Pause");
    S.playTimer = setInterval(function () {
      var v = Number($("slider").value);
      if (v >= max) { stopPlay(); return; }
      $("slider").value = String(v + 1);
      drawPlayback();
    }, 250);
  }

  function renderCompare(run) {
    var res = run.result, names = res.scenarios || [];
    $("compare-result").hidden = false;
    $("compare-result").setAttribute("data-run", run.run);
    $("compare-title").innerHTML = both("方案对比：" + names.join(" / "), "Comparison: " + names.join(" / ")) +
      (run.label ? ' <span class="muted small">' + esc(run.label) + "</span>" : "");
    var head = "<thead><tr><th>" + both("指标", "Measure") + "</th>" + names.map(function (n, i) {
      return '<th class="num" data-scenario="' + attr(n) + '">' + esc(n) + (i === 0 ? ' <span class="muted small">' + both("（基准）", "(base)") + "</span>" : "") + "</th>";
    }).join("") + names.slice(1).map(function (n) {
      return '<th class="num">' + both("差值", "Difference") + "<br><span class=\"small\">" + esc(n) + " − " + esc(names[0]) + "</span></th>";
    }).join("") + "</tr></thead>";
    var rows = (res.rows || []).map(function (row) {
      var vals = (row.values || []).map(function (v) {
        v = v || {};  // a figure this scenario does not have (a category only another one has)
        return '<td class="num">' + fmtValue(v.mean, row.unit) + '<div class="muted small">' + ci(v.low, v.high, row.unit) + "</div></td>";
      }).join("");
      var diffs = (row.differences || []).slice(1).map(function (d) {
        if (!d) return '<td class="num">—</td>';
        var sign = d.mean > 0 ? "+" : "";
        var value = row.unit === "%" ? sign + (d.mean * 100).toFixed(1) + "%" : sign + fmtValue(d.mean, row.unit);
        return '<td class="num diff' + (d.significant ? " sig" : "") + '" data-significant="' + (d.significant ? "1" : "0") + '" data-diff="' + attr(d.mean) + '">' + (d.significant ? "★ " : "") + value +
          '<div class="muted small">' + ci(d.low, d.high, row.unit) + "</div></td>";
      }).join("");
      return '<tr data-key="' + attr(row.key) + '"><td>' + both(row.label, row.label_en) + ' <span class="muted small">' + unitText(row.unit, row.label) + "</span></td>" + vals + diffs + "</tr>";
    }).join("");
    $("compare-table").innerHTML = head + "<tbody>" + rows + "</tbody>";
    $("compare-plots").innerHTML = plotsHtml(res.plots);
  }

  // ------------------------------------------------------------------ scenarios

  function scenarioMessage(html, kind) {
    var el = $("scenario-message");
    el.hidden = !html;
    el.className = "message " + (kind || "info");
    el.innerHTML = html || "";
  }

  function loadScenarios() {
    return api("GET", "/scenarios").then(function (r) {
      if (!r.ok) return;
      var checked = chosenScenarios();
      S.scenarios = r.body.scenarios || [];
      $("scenarios").innerHTML = S.scenarios.length ? "<tbody>" + S.scenarios.map(function (sc) {
        return '<tr data-name="' + attr(sc.name) + '"><td><input type="checkbox" class="pick" aria-label="compare"' + (checked.indexOf(sc.name) >= 0 ? " checked" : "") + "></td>" +
          '<td><strong>' + esc(sc.name) + '</strong><div class="muted small">' +
          both("综合 " + sc.comprehensive + " ＋ 专业 " + sc.specialised + " = " + sc.windows + " 个窗口", sc.comprehensive + " comprehensive + " + sc.specialised + " specialised = " + sc.windows + " windows") +
          "</div></td><td class=\"actions\">" +
          '<button type="button" class="btn btn-small" data-sc-act="load">' + both("载入", "Load") + "</button>" +
          '<button type="button" class="btn btn-small" data-sc-act="yaml">YAML</button>' +
          '<button type="button" class="btn btn-small danger" data-sc-act="delete">' + both("删除", "Delete") + "</button></td></tr>";
      }).join("") + "</tbody>" : '<tbody><tr><td class="muted">' + both("还没有保存的方案", "No saved scenarios yet") + "</td></tr></tbody>";
      updateCompareButton();
    });
  }

  /* the ticked scenarios, in the order they were ticked: the first is the base of the comparison */
  function chosenScenarios() {
    var ticked = Array.prototype.map.call(document.querySelectorAll("#scenarios input.pick:checked"), function (b) {
      return b.closest("tr").getAttribute("data-name");
    });
    S.picked = (S.picked || []).filter(function (n) { return ticked.indexOf(n) >= 0; });
    ticked.forEach(function (n) { if (S.picked.indexOf(n) < 0) S.picked.push(n); });
    return S.picked.slice();
  }
  function updateCompareButton() {
    var n = chosenScenarios().length;
    $("compare").disabled = n < 2 || n > 4;
  }

  function saveScenario() {
    var name = $("scenario-name").value.trim();
    if (!name) { scenarioMessage("⚠ " + both("请填写方案名称", "Give the scenario a name"), "error"); return; }
    api("PUT", "/scenarios/" + encodeURIComponent(name), { config: S.config, growth: S.growth, notes: "" }).then(function (r) {
      if (r.ok) {
        S.dirty = false;
        scenarioMessage("✓ " + both("方案「" + name + "」已保存", "Scenario “" + name + "” saved"), "info");
        S.sourceName = name;
        $("source").innerHTML = both("当前：" + name, "Editing: " + name);
        loadScenarios();
      } else {
        var e = HallqFeed.errorText(r);
        scenarioMessage("⚠ " + HallqFeed.errorHtml(r), "error");
        var field = r.body && r.body.error && r.body.error.field;
        if (field && field !== "name") { S.extraErrors = [{ field: field, zh: e.zh, en: e.en }]; placeErrors(); }
      }
    });
  }

  function onScenariosClick(ev) {
    if (ev.target.classList.contains("pick")) { updateCompareButton(); return; }
    var b = ev.target.closest("[data-sc-act]");
    if (!b) return;
    var name = b.closest("tr").getAttribute("data-name"), what = b.getAttribute("data-sc-act");
    var path = "/scenarios/" + encodeURIComponent(name);
    if (what === "load") {
      if (!mayDiscardEdits()) return;
      api("GET", path).then(function (r) {
        if (!r.ok) { scenarioMessage("⚠ " + HallqFeed.errorHtml(r), "error"); return; }
        $("scenario-name").value = name;
        $("run-label").setAttribute("data-auto", "1");
        useConfig(r.body.config, r.body.growth, name);
        scenarioMessage("✓ " + both("已载入方案「" + name + "」", "Scenario “" + name + "” loaded"), "info");
      });
    } else if (what === "yaml") downloadYaml(name);
    else if (what === "delete") {
      api("DELETE", path).then(function (r) {
        if (r.ok) { scenarioMessage("✓ " + both("方案「" + name + "」已删除", "Scenario “" + name + "” deleted"), "info"); loadScenarios(); }
        else scenarioMessage("⚠ " + HallqFeed.errorHtml(r), "error");
      });
    }
  }

  function downloadYaml(name) {
    fetch(API + "/scenarios/" + encodeURIComponent(name) + "/yaml", { headers: { Authorization: "Bearer " + token } }).then(function (resp) {
      if (!resp.ok) { scenarioMessage("⚠ " + both("下载失败（" + resp.status + "）", "Download failed (" + resp.status + ")"), "error"); return null; }
      return resp.blob();
    }).then(function (blob) {
      if (!blob) return;
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = name + ".yaml";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    }, function () { scenarioMessage("⚠ " + both("无法连接服务器", "cannot reach the server"), "error"); });
  }

  function startCompare() {
    var names = chosenScenarios();
    if (names.length < 2 || names.length > 4) return;
    var s = runSettings();
    submitRun({ kind: "compare", scenarios: names, label: names.join(" vs "), days: s.days, reps: s.reps, seed: s.seed });
  }

  // ------------------------------------------------------------------ calibration

  function calibrate() {
    var file = $("events-file").files[0], box = $("calibrate-error");
    box.hidden = true;
    if (!file) { box.hidden = false; box.innerHTML = both("请先选择事件导出文件", "Choose an event export file first"); return; }
    if (file.size > 8 * 1024 * 1024) { box.hidden = false; box.innerHTML = both("文件超过 8 MB", "The file is larger than 8 MB"); return; }
    $("calibrate").disabled = true;
    file.text().then(function (text) {
      return api("POST", "/calibrate", { config: S.config, events: text });
    }).then(function (r) {
      $("calibrate").disabled = false;
      if (!r.ok) { box.hidden = false; box.innerHTML = "⚠ " + HallqFeed.errorHtml(r); return; }
      $("calibrate-report").innerHTML = (r.body.report || []).map(function (line) { return "<li>" + msgHtml(line) + "</li>"; }).join("");
      useConfig(r.body.config, S.growth, S.sourceName);
    });
  }

  // ------------------------------------------------------------------ live feed of runs

  function connectRuns() {
    var attempts = 0;
    function open() {
      var proto = location.protocol === "https:" ? "wss:" : "ws:";
      var ws;
      try { ws = new WebSocket(proto + "//" + location.host + "/ws/plan?token=" + encodeURIComponent(token)); }
      catch (e) { HallqFeed.indicator("down"); setTimeout(open, 2000); return; }
      S.ws = ws;
      ws.onopen = function () { attempts = 0; HallqFeed.indicator("ok"); };
      ws.onmessage = function (ev) {
        var msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.type === "runs") {
          var fresh = {};
          (msg.runs || []).forEach(function (r) { fresh[r.run] = Object.assign({}, S.runs[r.run] || {}, r); });
          S.runs = fresh;
          renderRuns();
          var run = S.runs[S.activeRun];
          if (run) { showRunStatus(); if (run.state === "done" && !run.opened) { run.opened = true; openResult(run.run); } }
        } else if (msg.type === "run") onRunUpdate(msg.run);
      };
      ws.onclose = function (ev) {
        S.ws = null;
        if (ev.code >= 4400 && ev.code < 4500) { HallqFeed.indicator("refused"); if (ev.code === 4401) logout(); return; }
        HallqFeed.indicator("down");
        var delay = Math.min(8000, 500 * Math.pow(2, attempts++));
        setTimeout(open, delay * (0.75 + Math.random() * 0.5));
      };
    }
    HallqFeed.indicator("down");
    open();
  }

  // ------------------------------------------------------------------ start

  function start(t0) {
    token = t0;
    $("login").hidden = true;
    $("bench").hidden = false;
    $("logout").hidden = false;
    connectRuns();
    loadScenarios();
    loadTemplates().then(function () {
      if (S.templates.length && !S.config) loadTemplate(S.templates[0].id);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    page = HallqFeed.pageData().page;
    var editor = $("editor");
    editor.addEventListener("input", onEditorInput);
    editor.addEventListener("change", onEditorInput);
    editor.addEventListener("click", onEditorClick);
    $("load-template").addEventListener("click", function () {
      if ($("template").value && mayDiscardEdits()) loadTemplate($("template").value);
    });
    window.addEventListener("beforeunload", function (ev) {
      if (S.dirty) { ev.preventDefault(); ev.returnValue = ""; }  // the browser asks before leaving
    });
    $("run").addEventListener("click", startRun);
    $("cancel").addEventListener("click", function () { if (S.activeRun) cancelRun(S.activeRun); });
    $("runs").addEventListener("click", onRunsClick);
    $("scenarios").addEventListener("click", onScenariosClick);
    $("save-scenario").addEventListener("click", saveScenario);
    $("compare").addEventListener("click", startCompare);
    $("calibrate").addEventListener("click", calibrate);
    $("slider").addEventListener("input", function () { drawPlayback(); });
    $("play").addEventListener("click", togglePlay);
    $("logout").addEventListener("click", logout);
    $("run-label").addEventListener("input", function () { $("run-label").setAttribute("data-auto", "0"); });
    setupDrag();
    document.addEventListener("hallq:lang", function () {
      if (S.config) renderEditor();
      if (S.lastResult) renderResult(S.lastResult, false);
      if (S.lastCompare) renderCompare(S.lastCompare);
      renderRuns();
      showRunStatus();
      if (token) loadScenarios();
      if (S.templates.length) {
        var keep = $("template").value;
        $("template").innerHTML = S.templates.map(function (tp) {
          return '<option value="' + attr(tp.id) + '">' + esc(t(tp.name, tp.name_en || tp.name)) + "</option>";
        }).join("");
        $("template").value = keep;
      }
    });
    HallqFeed.staffLogin(page.hall, ["manager", "planner"], function (tk) { start(tk); });
  });
})();
