// 取号机签到: an appointment (code / ID number) or a remote ticket (phone) becomes a ticket in the queue.
"use strict";
(() => {
  const { $, call } = Q;
  async function go() {
    $("error").textContent = "";
    $("result").classList.add("hidden");
    const body = {};
    body[$("mode").value] = $("value").value.trim();
    try {
      const r = await call("POST", "checkin", body);
      $("number").textContent = r.number;
      let msg = "签到成功，请在等候区等候叫号。";
      if (r.appointment_start) msg = "预约签到成功，将在预约时段内优先叫号。";
      else if (r.late) msg = "已超过签到时间，已为您转为现场排队。";
      if (r.ahead !== undefined) msg += `前面还有 ${r.ahead} 人。`;
      $("message").textContent = msg;
      $("result").classList.remove("hidden");
      $("value").value = "";
    } catch (e) { $("error").textContent = e.message; }
  }
  $("go").addEventListener("click", go);
  $("value").addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
})();
