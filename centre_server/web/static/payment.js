/* The called ticket's fee on the clerk terminal (issue 20): pending / paid / failed, live.
   clerk.js says which ticket is at the counter ("huduma:ticket"); a "payment_updated" event for that
   number on the live stream reads the payment again. The clerk can send the M-Pesa prompt again (the
   same or another phone), or record cash or a waiver with a reason. The amount is never sent from
   here: the server takes the catalogue's fee. */
"use strict";
(function () {
  const H = window.Huduma;
  const $ = (id) => document.getElementById(id);
  const state = { ticket: null, payment: null, source: null, mode: null, poll: null };

  function path(suffix) {
    return "/tickets/" + encodeURIComponent(state.ticket.id) + "/payment" + (suffix || "");
  }

  async function load() {
    const ticket = state.ticket;
    if (!ticket) { render(null); return; }
    try {
      const p = await H.api("GET", path());
      if (state.ticket && state.ticket.id === ticket.id) render(p);
    } catch (err) {
      if (err.status === 404 || err.status === 503) render(null);  // no payments here, or an old ticket
      else if (err.status !== 401) H.toast(H.describe(err), "bad");
    }
  }

  const { SETTLED, ksh, reason } = H.paymentBox;

  /* The clerk's words for a payment not paid by M-Pesa (paid is drawn the same on both pages). */
  function words(p) {
    if (p.state === "pending") return [H.t("payment_pending_detail", { phone: p.phone_masked || "?" }), ksh(p.amount_ksh)];
    if (p.state === "failed") return [reason(p) || H.t("payment_state_failed"), ksh(p.amount_ksh)];
    if (p.state === "cash" || p.state === "waived") {
      return [reason(p) || "", p.by ? H.t("payment_by", { clerk: p.by }) : "", ksh(p.amount_ksh)];
    }
    if (p.paid_online) return [H.t("payment_online_detail")];
    if (p.fee_varies) return [H.t("payment_varies")];
    return [H.t("payment_none_detail", { amount: ksh(p.amount_ksh) })];
  }

  function render(p) {
    state.payment = p;
    clearTimeout(state.poll);
    const attempts = p && p.attempts > 1 ? [H.t("payment_attempts", { n: p.attempts })] : [];
    if (!H.paymentBox.draw($("payment"), p, { stateEl: $("payment-state"), detailEl: $("payment-detail"),
                                               receiptId: "payment-receipt", words, extra: attempts })) return;

    const settled = SETTLED.includes(p.state);
    $("pay-push").disabled = settled || p.state === "pending" || p.fee_varies;
    $("pay-cash").disabled = settled;
    $("pay-waiver").disabled = settled;
    // a lost stream must not leave "pending" on screen for ever: read again now and then while it lasts
    if (p.state === "pending") state.poll = setTimeout(load, 15000);
  }

  function listen() {
    const source = H.liveSource;
    if (!source || source === state.source) return;
    state.source = source;
    source.addEventListener("change", (e) => {
      const events = JSON.parse(e.data).events || [];
      if (state.ticket && events.some((ev) => ev.type === "payment_updated" && ev.number === state.ticket.number)) load();
    });
  }

  document.addEventListener("huduma:ticket", (e) => {
    listen();
    const t = e.detail;
    const same = t && state.ticket && t.id === state.ticket.id;
    state.ticket = t ? { id: t.id, number: t.number } : null;
    if (!same) {
      if ($("pay-dialog").open) $("pay-dialog").close();
      load();
    }
  });

  // ------------------------------------------------------------------ the clerk's actions
  function openDialog(mode) {
    if (!state.ticket || !state.payment || $("pay-" + (mode === "push" ? "push" : mode)).disabled) return;
    state.mode = mode;
    const input = $("pay-input");
    $("pay-dialog-title").textContent = H.t("payment_dialog_" + mode, { number: state.ticket.number });
    $("pay-dialog-note").textContent = mode === "push"
      ? H.t("payment_push_note", { amount: ksh(state.payment.amount_ksh) })
      : H.t("payment_reason_note_" + mode);
    $("pay-input-label").textContent = H.t(mode === "push" ? "payment_phone" : "payment_reason");
    input.value = "";
    input.type = mode === "push" ? "tel" : "text";
    input.inputMode = mode === "push" ? "tel" : "text";
    input.placeholder = mode === "push" ? "07XX XXX XXX" : "";
    $("pay-go").textContent = H.t("payment_go_" + mode);
    $("pay-error").hidden = true;
    $("pay-dialog").showModal();
    input.focus();
  }

  $("pay-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const value = $("pay-input").value.trim();
    const error = $("pay-error");
    error.hidden = true;
    if (!value) { error.textContent = H.t(state.mode === "push" ? "payment_phone_missing" : "payment_reason_missing"); error.hidden = false; return; }
    if (!state.ticket) { $("pay-dialog").close(); return; }
    const go = $("pay-go");
    go.disabled = true;
    try {
      const body = state.mode === "push" ? { phone: value } : { reason: value };
      const p = await H.api("POST", path(state.mode === "push" ? "" : "/" + state.mode), body);
      $("pay-dialog").close();
      render(p);
      H.toast(H.t("payment_done_" + state.mode, { number: state.ticket.number }), "ok");
    } catch (err) {
      error.textContent = err.status === 422 ? H.t(state.mode === "push" ? "payment_phone_invalid" : "payment_reason_missing")
        : H.describe(err);
      error.hidden = false;
    } finally {
      go.disabled = false;
    }
  });

  for (const b of document.querySelectorAll("[data-pay]")) b.addEventListener("click", () => openDialog(b.dataset.pay));

  // M: send the M-Pesa prompt; D: cash paid at the desk (C completes, K parks); W: waiver. Not while typing
  // or with a dialog open.
  const KEYS = { m: "push", d: "cash", w: "waiver" };
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.altKey || e.metaKey || $("terminal").hidden || $("payment").hidden) return;
    if (document.querySelector("dialog[open]")) return;
    const tag = (e.target && e.target.tagName) || "";
    if (["INPUT", "SELECT", "TEXTAREA"].includes(tag)) return;
    const mode = KEYS[e.key.toLowerCase()];
    if (!mode) return;
    e.preventDefault();
    openDialog(mode);
  });
})();
