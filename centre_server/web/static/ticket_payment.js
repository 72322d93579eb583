/* The citizen's ticket page: the fee's state (issue 20), read every few seconds while it may change,
   and "Pay now with M-Pesa" when nothing is paid yet or a payment failed, while the server offers a prompt
   (``offer_prompt``: not once the ticket is served, nor after the day's close). The amount is the server's. */
"use strict";
(function () {
  const H = window.Huduma;
  const $ = (id) => document.getElementById(id);
  const ticketId = JSON.parse($("ticket-data").textContent).id;
  const { SETTLED, ksh, reason } = H.paymentBox;
  let timer = null;
  let last = null;

  /* The citizen's words for a payment not paid by M-Pesa (paid is drawn the same on both pages). */
  function words(p) {
    if (p.state === "pending") return [H.t("t_pay_pending", { amount: ksh(p.amount_ksh) })];
    if (p.state === "failed") return [H.t("t_pay_failed", { reason: reason(p) || H.t("payment_state_failed") })];
    if (p.state === "cash" || p.state === "waived") return [ksh(p.amount_ksh)];
    if (p.paid_online) return [H.t("t_pay_online")];
    if (p.fee_varies) return [H.t("payment_varies")];
    return [H.t("t_pay_due", { amount: ksh(p.amount_ksh) })];
  }

  function render(p) {
    last = p;
    if (!H.paymentBox.draw($("t-payment"), p, { stateEl: $("t-pay-state"), detailEl: $("t-pay-detail"),
                                                 receiptId: "t-pay-receipt", words })) return;
    // paid, then cancelled or a no-show without being served: the money is owed back, and how to get it
    $("t-pay-refund").hidden = !p.refund_due;
    // the server says whether a prompt can leave for this ticket now (not once served, nor after the day's close)
    $("t-pay-form").hidden = !(["none", "failed"].includes(p.state) && !p.fee_varies && p.offer_prompt);
  }

  async function poll() {
    clearTimeout(timer);
    try {
      const resp = await fetch("/api/v1/tickets/" + encodeURIComponent(ticketId) + "/payment",
                               { cache: "no-store", credentials: "omit" });
      if (resp.ok) render(await resp.json());
      else if (resp.status === 404 || resp.status === 503) { render(null); return; }
    } catch (err) { /* offline: the ticket's own poll says so; try again */ }
    // settled, nothing more will change; but a receipt to follow is read again now and then until it comes
    if (last && SETTLED.includes(last.state) && !last.receipt_to_follow) return;
    const slow = document.hidden || (last && last.receipt_to_follow);
    timer = setTimeout(poll, last && last.state === "pending" ? 3000 : (slow ? 20000 : 8000));
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
