/* The citizen's ticket page: the fee's state (issue 20), read every few seconds while it may change,
   and "Pay now with M-Pesa" when nothing is paid yet or a payment failed. The amount is the server's. */
"use strict";
(function () {
  const H = window.Huduma;
  const $ = (id) => document.getElementById(id);
  const ticketId = JSON.parse($("ticket-data").textContent).id;
  const SETTLED = ["paid", "cash", "waived", "not_needed"];
  let timer = null;
  let last = null;

  const ksh = (n) => (n === null || n === undefined ? "" : "KSh " + Number(n).toLocaleString("en-KE"));

  function render(p) {
    last = p;
    const box = $("t-payment");
    if (!p || p.state === "not_needed") { box.hidden = true; return; }
    box.hidden = false;
    box.className = "card payment t-payment pay-" + p.state;
    box.dataset.state = p.state;
    $("t-pay-state").textContent = H.t("payment_state_" + p.state);
    const detail = $("t-pay-detail");
    detail.textContent = "";
    const reason = H.lang === "sw" ? (p.reason_sw || p.reason_en) : (p.reason_en || p.reason_sw);
    if (p.state === "paid") {
      detail.append(H.t("payment_receipt") + " ");
      const r = document.createElement("span");
      r.className = "pay-receipt";
      r.id = "t-pay-receipt";
      r.textContent = p.receipt || "—";
      detail.append(r, " · " + ksh(p.amount_ksh));
    } else if (p.state === "pending") {
      detail.textContent = H.t("t_pay_pending", { amount: ksh(p.amount_ksh) });
    } else if (p.state === "failed") {
      detail.textContent = H.t("t_pay_failed", { reason: reason || H.t("payment_state_failed") });
    } else if (p.state === "cash" || p.state === "waived") {
      detail.textContent = ksh(p.amount_ksh);
    } else if (p.fee_varies) {
      detail.textContent = H.t("payment_varies");
    } else {
      detail.textContent = H.t("t_pay_due", { amount: ksh(p.amount_ksh) });
    }
    $("t-pay-form").hidden = !(["none", "failed"].includes(p.state) && !p.fee_varies);
  }

  async function poll() {
    clearTimeout(timer);
    try {
      const resp = await fetch("/api/v1/tickets/" + encodeURIComponent(ticketId) + "/payment",
                               { cache: "no-store", credentials: "omit" });
      if (resp.ok) render(await resp.json());
      else if (resp.status === 404 || resp.status === 503) { render(null); return; }
    } catch (err) { /* offline: the ticket's own poll says so; try again */ }
    if (last && SETTLED.includes(last.state)) return;  // nothing more will change
    timer = setTimeout(poll, last && last.state === "pending" ? 3000 : (document.hidden ? 20000 : 8000));
  }

  $("t-pay-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const phone = $("t-pay-phone").value.trim();
    const error = $("t-pay-error");
    error.hidden = true;
    if (!phone) { error.textContent = H.t("payment_phone_missing"); error.hidden = false; return; }
    const go = $("t-pay-go");
    go.disabled = true;
    try {
      const resp = await fetch("/api/v1/tickets/" + encodeURIComponent(ticketId) + "/payment", {
        method: "POST", cache: "no-store", credentials: "omit",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ phone }),
      });
      const data = await resp.json().catch(() => null);
      if (resp.ok) { render(data); poll(); return; }
      const err = (data && data.error) || {};
      error.textContent = resp.status === 422 ? H.t("payment_phone_invalid")
        : (H.lang === "sw" ? err.message_sw || err.message : err.message) || H.t("t_pay_not_sent");
      error.hidden = false;
    } catch (err) {
      error.textContent = H.t("t_pay_not_sent");
      error.hidden = false;
    } finally {
      go.disabled = false;
    }
  });

  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  poll();
})();
