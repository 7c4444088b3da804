// 预约办理: pick a matter, a day and a slot; book with real name; see and cancel my bookings.
"use strict";
(() => {
  const { $, call, clock } = Q;
  let chosen = null;
  const MINE = `hallq.bookings.${Q.hall}`;

  const mine = () => JSON.parse(localStorage.getItem(MINE) || "[]");

  async function loadSlots() {
    chosen = null;
    const box = $("slots");
    box.textContent = "加载中…";
    const r = await call("GET", `appointments/slots?category=${encodeURIComponent($("category").value)}&day=${$("day").value}`);
    box.textContent = "";
    if (!r.slots.length) box.textContent = "当天无可预约时段 No slots";
    for (const s of r.slots) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = `${s.label}（余${s.left}）`;
      b.dataset.start = s.start;
      b.disabled = s.left <= 0;
      b.addEventListener("click", () => {
        box.querySelectorAll("button").forEach((x) => x.classList.remove("chosen"));
        b.classList.add("chosen");
        chosen = s;
      });
      box.appendChild(b);
    }
  }

  async function renderMine() {
    const list = $("my-list");
    const items = mine();
    if (!items.length) { list.textContent = "暂无 None"; return; }
    list.textContent = "";
    for (const item of items) {
      const p = document.createElement("p");
      try {
        const b = await call("GET", `appointments/${item.code}?token=${item.token}`, undefined, "");
        p.textContent = `${b.code} · ${b.category_name} · ${b.day} ${clock(b.slot_start)} · ${b.name} ${b.phone} · ${b.state_name} `;
        if (b.state === "booked") {
          const c = document.createElement("button");
          c.className = "danger";
          c.textContent = "取消预约 Cancel";
          c.addEventListener("click", async () => {
            try { await call("POST", `appointments/${b.code}/cancel`, { token: item.token }, ""); renderMine(); loadSlots(); }
            catch (e) { $("error").textContent = e.message; }
          });
          p.appendChild(c);
        }
      } catch (e) { p.textContent = `${item.code}: ${e.message}`; }
      list.appendChild(p);
    }
  }

  async function submit() {
    $("error").textContent = "";
    if (!chosen) { $("error").textContent = "请选择时段 (choose a slot)"; return; }
    try {
      const r = await call("POST", "appointments", {
        category: $("category").value, slot_start: chosen.start,
        name: $("name").value, id_number: $("id_number").value, phone: $("phone").value,
      }, "");
      localStorage.setItem(MINE, JSON.stringify([...mine(), { code: r.booking, token: r.token }]));
      $("code").textContent = r.booking;
      $("summary").textContent = `${r.day} ${clock(r.slot_start)}–${clock(r.slot_end)} · ${r.name} · ${r.phone}`;
      $("done").classList.remove("hidden");
      $("id_number").value = "";
      renderMine();
      loadSlots();
    } catch (e) { $("error").textContent = e.message; }
  }

  async function init() {
    const o = await call("GET", "appointments/options", undefined, "");
    const r = o.rules;
    $("rules").textContent = `可预约${r.days_ahead}个工作日内，每人每天限一次；时段开始前${r.cancel_before_minutes / 60}小时可取消；` +
      `请于时段开始前${r.early_minutes}分钟至开始后${r.late_minutes}分钟内签到，迟到转为现场排队；多次预约未到将暂停预约${r.restriction_days}天。`;
    for (const c of o.categories) $("category").add(new Option(c.name, c.id));
    for (const d of o.days) $("day").add(new Option(d, d));
    $("category").addEventListener("change", loadSlots);
    $("day").addEventListener("change", loadSlots);
    $("submit").addEventListener("click", submit);
    await loadSlots();
    renderMine();
  }
  init().catch((e) => { $("error").textContent = e.message; });
})();
