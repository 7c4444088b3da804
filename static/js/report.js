// 统计报表 and 季度考评: tables and server-rendered plots from the event log, with CSV downloads.
"use strict";
(() => {
  const { $, call, cell, download } = Q;
  const evaluation = !!$("quarter");

  function table(columns, rows, id = "table") {
    const t = $(id);
    t.textContent = "";
    const head = document.createElement("tr");
    for (const c of columns) { const th = document.createElement("th"); th.textContent = c.zh; head.appendChild(th); }
    t.appendChild(head);
    for (const r of rows) {
      const tr = document.createElement("tr");
      for (const c of columns) {
        let v = r[c.key];
        if (typeof v === "number" && /(_rate|^within_target|^utilisation)$/.test(c.key)) v = `${(v * 100).toFixed(1)}%`;
        tr.appendChild(cell(v));
      }
      t.appendChild(tr);
    }
  }

  function query() {
    return `from=${$("from").value}&to=${$("to").value}&period=${$("period").value}&by=${$("by").value}`;
  }

  async function run() {
    $("error").textContent = "";
    try {
      if (evaluation) {
        const r = await call("GET", `evaluation?quarter=${encodeURIComponent($("quarter").value)}`);
        $("quarter").value = r.quarter;
        table(r.columns, r.rows);
        return;
      }
      const r = await call("GET", `reports?${query()}&plots=1`);
      table(r.columns, r.rows);
      table(r.booking_columns, r.bookings, "bookings");
      const t = r.totals;
      const pct = (v) => (v == null ? "—" : `${(v * 100).toFixed(1)}%`);
      $("totals").textContent = `合计：取号 ${t.tickets}，办结 ${t.served}，平均等候 ${t.wait_mean_min ?? "—"} 分，` +
        `等候达标率 ${pct(t.within_target)}，最多跑一次率 ${pct(t.one_visit_rate)}，评价率 ${pct(t.rating_rate)}，好评率 ${pct(t.good_rate)}`;
      const plots = $("plots");
      plots.innerHTML = "";
      for (const svg of Object.values(r.plots || {})) {
        const div = document.createElement("div");
        div.innerHTML = svg; // rendered by our own server from numbers and configured names
        plots.appendChild(div);
      }
    } catch (e) { $("error").textContent = e.message; }
  }

  Q.staffLogin(() => {
    if (!evaluation) {
      const today = new Date().toISOString().slice(0, 10);
      $("from").value = $("from").value || `${today.slice(0, 8)}01`;
      $("to").value = $("to").value || today;
      $("export").addEventListener("click", () => download(`ratings/export?from=${$("from").value}&to=${$("to").value}`, "ratings.json").catch((e) => { $("error").textContent = e.message; }));
      $("csv").addEventListener("click", () => download(`reports.csv?${query()}`, "report.csv").catch((e) => { $("error").textContent = e.message; }));
    } else {
      $("csv").addEventListener("click", () => download(`evaluation?quarter=${encodeURIComponent($("quarter").value)}&format=csv`, "evaluation.csv").catch((e) => { $("error").textContent = e.message; }));
    }
    $("run").addEventListener("click", run);
    run();
  });
})();
