/* The citizen's ticket page: polls this one ticket, nothing else. */
"use strict";
(function () {
  const H = window.Huduma;
  const $ = (id) => document.getElementById(id);
  let ticket = JSON.parse($("ticket-data").textContent);
  let lastState = ticket.state;
  let timer = null;
  const schedule = (ms) => { clearTimeout(timer); timer = setTimeout(poll, ms); };
  let opensAgain = "";  // "It opens again on ..." once the day's close cancelled this ticket
  let offering = null;  // the centre's offering of the ticket's service (catalogue): suspended, with a reason
  let offeringAt = 0;
  const OFFERING_EVERY_MS = 20000;

  function render(t) {
    const counter = t.counter_name ? H.counterName(t.counter_name) : "";
    const stateText = {
      waiting: H.t("t_waiting"), called: H.t("t_called", { counter }), serving: H.t("t_serving", { counter }),
      done: H.t("t_done"), no_show: H.t("t_no_show"), transferred: H.t("t_transferred"),
      // the close cancelled it, nobody chose to: say so, and when the centre opens again (from /day)
      cancelled: t.cancelled_at_close ? H.t("t_cancelled_at_close") + (opensAgain ? " " + opensAgain : "")
        : H.t("t_cancelled"),
      parked: H.t("t_parked"),
    }[t.state] || t.state;
    // a remote ticket its turn reached before check-in keeps its place until check_in_by (centre time)
    const passedOver = t.state === "waiting" && t.check_in_by;
    // a web, SMS or USSD ticket not checked in yet: "please wait, we will call you" would have the citizen
    // trust a call that never comes (an unchecked ticket is passed over at its turn)
    const onTheWay = t.state === "waiting" && t.checked_in === false && !passedOver;
    const status = passedOver ? H.t("t_passed_over", { time: String(t.check_in_by).slice(11, 16) })
      : onTheWay ? H.t("t_on_the_way")
      : t.state === "no_show" && t.checked_in === false ? H.t("t_no_show_remote") : stateText;
    $("ticket-card").className = "card ticket-card state-" + t.state;
    $("ticket-number").textContent = t.number;
    $("ticket-service").textContent = H.lang === "sw" ? t.service_name_sw : t.service_name_en;
    $("ticket-status").textContent = status;
    $("ticket-figures").hidden = t.state !== "waiting" || !!passedOver;  // no wait to show: check in first
    $("ticket-feedback").hidden = t.state !== "done" || !!t.rating;
    $("ticket-ahead").textContent = String(t.position);
    const wait = $("ticket-wait");
    if (t.estimated_wait_s === null || t.estimated_wait_s === undefined) {
      // nobody can serve this ticket today: say why, never a number (nor "very soon")
      wait.textContent = t.wait_unknown === "closed" ? H.t("t_wait_closed")
        : t.wait_unknown === "no_counter" ? H.t("t_wait_no_counter")
        : t.wait_unknown === "paused" ? H.t("t_wait_paused") : "—";
      wait.dataset.waitUnknown = t.wait_unknown || "";
      wait.className = "wait-text";
      $("ticket-figures").classList.add("unknown");  // a sentence, not a figure: one column
    } else {
      const m = Math.ceil(t.estimated_wait_s / 60);
      wait.textContent = m > 0 ? H.t("est_wait_value", { m }) : H.t("est_wait_soon");
      delete wait.dataset.waitUnknown;
      wait.className = "";
      $("ticket-figures").classList.remove("unknown");
    }
    // a service suspended while the citizen waits: the reason, and that the ticket is kept
    const suspended = t.state === "waiting" && offering && offering.status === "suspended";
    $("ticket-suspended").hidden = !suspended;
    if (suspended) {
      const reason = offering.reason || {};
      $("ticket-suspended-reason").textContent = (H.lang === "sw" ? reason.sw : reason.en) || reason.en || "";
    }
    $("ticket-updated").textContent = H.t("t_updated", { time: H.centreTime() });
    if (t.state === "called" && lastState !== "called" && navigator.vibrate) navigator.vibrate([300, 150, 300]);
    lastState = t.state;
    document.dispatchEvent(new CustomEvent("huduma:ticket", { detail: t }));  // ticket_visit.js: a visit's steps
  }

  async function pollOffering() {
    // the catalogue's word on the ticket's (current) service, every 20 s while the ticket waits
    if (ticket.state !== "waiting" || Date.now() - offeringAt < OFFERING_EVERY_MS) return;
    offeringAt = Date.now();
    try {
      const resp = await fetch("/api/v1/catalogue/" + encodeURIComponent(ticket.service_id), { cache: "no-store", credentials: "omit" });
      if (resp.ok) offering = (await resp.json()).offering;
      else if (resp.status === 404) offering = null;  // a service of the centre's own, outside the catalogue
    } catch (err) { /* offline: the ticket's own poll says so */ }
  }

  async function pollDay() {
    // a ticket the close cancelled: when the centre opens again (nothing once it is open again)
    if (ticket.state !== "cancelled" || !ticket.cancelled_at_close) return;
    try {
      const resp = await fetch("/api/v1/day", { cache: "no-store", credentials: "omit" });
      if (!resp.ok) return;
      const day = await resp.json();
      opensAgain = day.open === false ? (H.lang === "sw" ? day.opens_again_sw : day.opens_again_en) || "" : "";
    } catch (err) { /* offline: the ticket's own poll says so */ }
  }

  async function poll() {
    let delay = document.hidden ? 20000 : 5000;
    await pollOffering();
    await pollDay();
    try {
      const resp = await fetch("/api/v1/tickets/" + encodeURIComponent(ticket.id), { cache: "no-store", credentials: "omit" });
      if (resp.ok) {
        ticket = await resp.json();
        $("ticket-offline").hidden = true;
        render(ticket);
      } else if (resp.status === 404) {
        $("ticket-status").textContent = H.t("t_not_found");
        return;
      } else {
        $("ticket-offline").hidden = false;
      }
    } catch (err) {
      $("ticket-offline").hidden = false;
    }
    if (ticket.state === "done" || ticket.state === "cancelled") delay = 60000;
    schedule(delay);
  }

  render(ticket);
  pollOffering().then(pollDay).then(() => render(ticket));
  schedule(5000);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
})();
