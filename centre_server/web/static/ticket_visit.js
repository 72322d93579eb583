/* A one-stop visit on the citizen's page: the steps, and "Next: KRA PIN registration, at counter 12".
   Hears ticket.js's "huduma:ticket" after each poll; the first view is the server's. */
"use strict";
(function () {
  const H = window.Huduma;
  const $ = (id) => document.getElementById(id);
  const name = (s) => (H.lang === "sw" ? s.name_sw : s.name_en);

  function nextLine(t) {
    const steps = t.visit || [];
    const now = steps.find((s) => s.state === "now");
    const next = steps.find((s) => s.state === "next");
    if (t.state === "waiting" && now && steps.some((s) => s.state === "done")) {
      // a step done: the citizen now waits for this one, with the same number
      return now.counters.length ? H.t("t_visit_wait_for", { service: name(now), counters: now.counters.join(", ") })
        : H.t("t_visit_wait_for_nowhere", { service: name(now) });
    }
    if (!next || !["waiting", "called", "serving"].includes(t.state)) return "";
    return next.counters.length ? H.t("t_visit_next", { service: name(next), counters: next.counters.join(", ") })
      : H.t("t_visit_next_nowhere", { service: name(next) });
  }

  function render(t) {
    const card = $("ticket-visit");
    card.hidden = !t.visit;
    if (!t.visit) return;
    const list = $("ticket-visit-steps");
    list.textContent = "";
    for (const s of t.visit) {
      const li = document.createElement("li");
      li.className = "visit-step step-" + s.state;
      const mark = document.createElement("span");
      mark.className = "pill";
      mark.textContent = H.t("visit_" + s.state);
      const label = document.createElement("span");
      label.className = "visit-name";
      label.textContent = name(s);
      li.append(mark, label);
      list.append(li);
    }
    let line = nextLine(t);
    if (line && t.visit_wait_s !== null && t.visit_wait_s !== undefined) {  // the whole visit, every step left
      line += " " + H.t("t_visit_wait", { m: Math.max(1, Math.ceil(t.visit_wait_s / 60)) });
    } else if (line && t.state === "waiting" && t.visit_wait_unknown === "paused") {
      // a step's counters are all on a break: they are expected back, but when is not known
      const step = t.visit.find((s) => s.service_id === t.visit_wait_step);
      line += " " + H.t("t_visit_wait_paused", { service: step ? name(step) : "" });
    } else if (line && t.state === "waiting" && t.visit.some((s) => s.state === "next")) {
      line += " " + H.t("t_visit_wait_unknown");  // never a figure invented, but never silence either
    }
    $("ticket-visit-next").textContent = line;
    $("ticket-visit-next").hidden = !line;
  }

  document.addEventListener("huduma:ticket", (e) => render(e.detail));
  const first = JSON.parse($("ticket-data").textContent);
  if (first.visit) render(first);
})();
