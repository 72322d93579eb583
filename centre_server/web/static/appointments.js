/* Today's appointments on the clerk terminal, for the counter's services: time, code, checked in, late.
   Read from the channels' bookings (/api/v1/appointments); hidden where the centre runs no booking channel. */
"use strict";
(function () {
  const H = window.Huduma;
  const $ = (id) => document.getElementById(id);
  let rows = [];
  let fetchedAt = 0;
  let unavailable = false;
  const EVERY_MS = 30000;  // a booking made now is for another day: a check-in also refreshes the terminal

  function clerk() { return window.HudumaClerk; }

  async function load(force) {
    if (unavailable || (!force && Date.now() - fetchedAt < 5000)) { render(); return; }
    fetchedAt = Date.now();
    try { rows = await H.api("GET", "/appointments"); } catch (err) {
      if (err.status === 404) unavailable = true;  // no channels part on this server
    }
    render();
  }

  function stateOf(a) {
    if (a.state === "checked_in") return ["appt_checked_in", "ok"];
    // released: booked, but the check-in window passed with nobody at a kiosk (a no-show, not a cancellation)
    if (a.state === "released") return ["appt_no_show", "bad"];
    if (a.state === "cancelled") return ["appt_cancelled", "muted"];
    return Date.parse(a.slot_at) < H.now() ? ["appt_late", "bad"] : ["appt_not_yet", ""];
  }

  function render() {
    const c = clerk();
    const counter = c && c.model.counter;
    $("appointments-card").hidden = unavailable || !counter;
    if (!counter) return;
    const mine = rows.filter((a) => counter.services.includes(a.service_id));
    const body = $("appointment-rows");
    body.innerHTML = "";
    let open = 0;
    for (const a of mine) {
      const [key, cls] = stateOf(a);
      if (key === "appt_not_yet" || key === "appt_late") open += 1;
      const tr = document.createElement("tr");
      tr.className = cls;
      tr.dataset.code = a.code;
      tr.dataset.state = key;
      const s = c.model.byId[a.service_id];
      for (const text of [H.hhmm(a.slot_at), a.code, s ? s.prefix : a.service_id, H.t(key)]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    if (!mine.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 4;
      td.className = "muted";
      td.textContent = H.t("appt_none");
      tr.appendChild(td);
      body.appendChild(tr);
    }
    $("appointments-count").textContent = String(open);
    $("appointments-count").hidden = !open;
  }

  document.addEventListener("clerk:rendered", () => load(false));
  setInterval(() => { if (clerk() && clerk().model.counter) load(true); }, EVERY_MS);
})();
