// 差评整改: the manager's list, overdue first; advance 核实 → 整改 → 回访 → 办结 with notes, assign, decide appeals.
"use strict";
(() => {
  const { $, call, cell, clock } = Q;

  function action(label, cls, run) {
    const b = document.createElement("button");
    b.textContent = label;
    if (cls) b.className = cls;
    b.addEventListener("click", async () => {
      $("error").textContent = "";
      try { await run(); await load(); } catch (e) { $("error").textContent = e.message; }
    });
    return b;
  }

  function ask(question) {
    const answer = prompt(question);
    if (answer === null || !answer.trim()) throw new Error("已取消：需要填写说明 (a note is required)");
    return answer.trim();
  }

  async function load() {
    const open = $("open-only").checked ? "?open=1" : "";
    const r = await call("GET", `followups${open}`);
    $("today").textContent = r.today;
    $("overdue-count").textContent = r.overdue;
    const body = $("rows");
    body.textContent = "";
    const role = Q.role();
    for (const f of r.followups) {
      const tr = document.createElement("tr");
      tr.dataset.id = f.id;
      if (f.overdue) tr.className = "overdue";
      else if (f.stage === "closed") tr.className = "closed";
      tr.appendChild(cell(`${f.number} · ${f.category_name}` + (f.case_number ? ` · 办件 ${f.case_number}` : "")));
      tr.appendChild(cell(`${f.level_name}` + (f.reason ? `：${f.reason}` : "")));
      tr.appendChild(cell(`${f.window ?? "—"}号 ${f.clerk_name ?? ""}`));
      const stage = cell(f.stage_name + (f.appeal ? ` · 申诉${{ pending: "待审", upheld: "成立", rejected: "不成立" }[f.appeal]}` : ""));
      stage.className = "stage";
      tr.appendChild(stage);
      const due = cell(f.due + (f.overdue ? " 已超期" : f.stage !== "closed" ? `（剩${f.days_left}天）` : ""));
      if (f.overdue) due.innerHTML = `${f.due} <span class="tag red">超期 Overdue</span>`;
      tr.appendChild(due);
      tr.appendChild(cell(f.owner));
      const acts = document.createElement("td");
      if (f.stage !== "closed" && role === "manager") {
        if (f.appeal === "pending") {
          acts.appendChild(action("申诉成立", "", () => call("POST", `followups/${f.id}/decide-appeal`, { upheld: true, note: ask("审核意见") })));
          acts.appendChild(action("驳回申诉", "secondary", () => call("POST", `followups/${f.id}/decide-appeal`, { upheld: false, note: ask("审核意见") })));
        } else {
          acts.appendChild(action("推进 Advance", "advance", () => call("POST", `followups/${f.id}/advance`, { note: ask(`${f.stage_name}：处理说明`) })));
        }
        acts.appendChild(action("指派", "secondary", () => call("POST", `followups/${f.id}/assign`, { owner: ask("责任人工号") })));
      }
      if (f.stage !== "closed" && !f.appeal) {
        acts.appendChild(action("申诉 Appeal", "secondary", () => call("POST", `followups/${f.id}/appeal`, { reason: ask("申诉理由") })));
      }
      const notes = document.createElement("ul");
      for (const n of f.notes) {
        const li = document.createElement("li");
        li.textContent = `${clock(n.at)} ${n.by}：${n.text}`;
        notes.appendChild(li);
      }
      acts.appendChild(notes);
      tr.appendChild(acts);
      body.appendChild(tr);
    }
  }

  $("open-only").addEventListener("change", () => load().catch((e) => { $("error").textContent = e.message; }));
  Q.staffLogin(() => load().catch((e) => { $("error").textContent = e.message; }));
})();
