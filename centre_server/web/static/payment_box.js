/* The fee's box as the clerk terminal (payment.js) and the citizen's ticket page (ticket_payment.js) both
   draw it (issue 20): one drawing, so "paid", the receipt number, "receipt to follow" (paid, confirmed by
   M-Pesa's query, whose answer has no receipt number: it comes with M-Pesa's late message) and why a
   payment failed read the same on both. Each page adds only its own sentence for the other states. */
"use strict";
(function () {
  const H = window.Huduma;

  const SETTLED = ["paid", "cash", "waived", "not_needed"];

  function ksh(n) { return n === null || n === undefined ? "" : "KSh " + Number(n).toLocaleString("en-KE"); }

  /* Why it failed, or the clerk's reason for cash or a waiver, in the page's language. */
  function reason(p) { return H.lang === "sw" ? (p.reason_sw || p.reason_en) : (p.reason_en || p.reason_sw); }

  /* Draw ``p`` (a PaymentOut) into ``box``: its state (``stateEl``) and detail (``detailEl``); the receipt
     number in a span ``receiptId``. ``words(p)`` is the page's own list of parts for states other than paid;
     ``extra`` parts follow in every state. Returns false (the box hidden) when there is nothing to show. */
  function draw(box, p, opts) {
    // a free service has no box; a fee paid on eCitizen when applying shows one that says so (nothing to take)
    if (!p || (p.state === "not_needed" && !p.paid_online)) { box.hidden = true; return false; }
    box.hidden = false;
    for (const c of Array.from(box.classList)) if (c.startsWith("pay-")) box.classList.remove(c);
    box.classList.add("pay-" + p.state);
    box.dataset.state = p.state;
    box.dataset.receiptToFollow = p.receipt_to_follow ? "1" : "";
    opts.stateEl.textContent = H.t(p.paid_online ? "payment_state_online" : "payment_state_" + p.state);
    const detail = opts.detailEl;
    detail.textContent = "";
    let parts;
    if (p.state === "paid") {
      detail.append(H.t("payment_receipt") + " ");
      const r = document.createElement("span");
      r.className = "pay-receipt" + (p.receipt ? "" : " pay-to-follow");
      r.id = opts.receiptId;
      r.textContent = p.receipt || (p.receipt_to_follow ? H.t("payment_receipt_to_follow") : "—");
      detail.append(r);
      parts = [ksh(p.amount_ksh)];
    } else {
      parts = opts.words(p);
    }
    const words = parts.concat(opts.extra || []).filter(Boolean).join(" · ");
    if (words) detail.append((detail.childNodes.length ? " · " : "") + words);
    return true;
  }

  H.paymentBox = { SETTLED, ksh, reason, draw };
})();
