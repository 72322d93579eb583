/* The board's SMS alerts: /api/v1/alerts (thresholds, the managers' numbers, open alerts and their SMS). */
"use strict";
(function () {
  const H = window.Huduma;
  const $ = (id) => document.getElementById(id);
  if (!$("sms-alerts")) return;
  /* minutes as set: whole ones as they are, a fraction (a test's threshold) to two places */
  const num = (m) => String(Number.isInteger(m) ? m : Number(m.toFixed(m < 1 ? 2 : 1)));
  const hhmm = (at) => {
    const d = new Date(at * 1000 + H.utcOffsetMin * 60000);
    return String(d.getUTCHours()).padStart(2, "0") + ":" + String(d.getUTCMinutes()).padStart(2, "0");
  };

  function subject(a) {
    if (a.kind === "service_breach") {
      const d = a.detail || {};
      return H.t("sms_kind_service_breach", { service: (H.lang === "sw" ? d.name_sw : d.name_en) || a.subject });
    }
    return H.t("sms_kind_" + a.kind, { device: a.subject });
  }

  function render(view) {
    const th = view.thresholds;
    let rules = view.phones.length
      ? H.t("sms_alerts_rules", { phones: view.phones.join(", "), breach: num(th.breach_minutes),
                                  offline: num(th.offline_minutes), paper: num(th.paper_minutes),
                                  repeat: num(th.repeat_minutes) })
      : H.t("sms_alerts_off");
    if (view.phones.length && view.sms_gateway === "none") rules += " " + H.t("sms_alerts_no_gateway");
    $("sms-alerts-rules").textContent = rules;
    const ul = $("sms-alerts");
    ul.innerHTML = "";
    for (const a of view.alerts) {
      const li = document.createElement("li");
      li.className = "alert " + (a.told_at ? "bad" : "warn");
      li.dataset.kind = a.kind;
      li.dataset.subject = a.subject;
      const sms = a.told_at ? H.t("sms_sent_at", { time: hhmm(a.told_at) })
        : H.t("sms_due_at", { time: hhmm(a.sms_due_at) });
      li.textContent = subject(a) + " · " + H.t("since_time", { time: hhmm(a.since) }) + " · " + sms;
      ul.appendChild(li);
    }
    if (!view.alerts.length) {
      const li = document.createElement("li");
      li.className = "alert ok";
      li.textContent = H.t("sms_alerts_none");
      ul.appendChild(li);
    }
  }

  async function refresh() {
    try { render(await H.api("GET", "/alerts")); } catch (err) { /* the board works without it; 401 goes to login */ }
  }
  refresh();
  setInterval(refresh, 15000);
})();
