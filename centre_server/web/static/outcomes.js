/* Outcome codes on the clerk terminal: the serving ticket's service's own codes (the menu's), in the page's
   language, numbered for keys 1-9; a code that needs a reason shows the reason field, and Complete waits
   for it. */
"use strict";
(function () {
  const H = window.Huduma;
  const $ = (id) => document.getElementById(id);
  const state = { byService: null, shownFor: null };

  async function load() {
    try { state.byService = (await H.api("GET", "/outcomes")).services; } catch (err) { state.byService = null; }
  }

  function label(o) { return H.lang === "sw" ? o.label_sw : o.label_en; }

  function codesFor(serviceId) {
    return (state.byService && state.byService[serviceId]) || [];
  }

  function current() {
    const clerk = window.HudumaClerk;
    const t = clerk && clerk.model.counter && clerk.model.counter.serving;
    return t || null;
  }

  function needsReason() {
    const t = current();
    if (!t) return false;
    const o = codesFor(t.service_id).find((x) => x.code === $("outcome").value);
    return !!(o && o.reason_required);
  }

  function showReason() {
    const field = $("outcome-reason");
    const need = needsReason();
    field.hidden = !need;
    field.required = need;
  }

  function render() {
    const t = current();
    const sel = $("outcome");
    const key = t ? t.id + "|" + t.service_id : null;
    if (key === state.shownFor) { showReason(); return; }
    state.shownFor = key;
    const codes = t ? codesFor(t.service_id) : [];
    if (!t || !codes.length) { showReason(); return; }  // keeps what the page had (served)
    sel.innerHTML = "";
    codes.forEach((o, i) => {
      const opt = document.createElement("option");
      opt.value = o.code;
      opt.textContent = (i < 9 ? (i + 1) + " · " : "") + label(o);
      opt.dataset.reason = o.reason_required ? "1" : "";
      sel.appendChild(opt);
    });
    sel.selectedIndex = 0;
    $("outcome-reason").value = "";
    showReason();
  }

  window.HudumaOutcomes = {
    /* The body of Complete, or null when the chosen code needs a reason not yet typed (the field gets the focus). */
    body() {
      const outcome = $("outcome").value;
      if (!needsReason()) return { outcome };
      const reason = $("outcome-reason").value.trim();
      if (!reason) {
        showReason();
        H.toast(H.t("err_outcome_reason_required"), "warn");
        $("outcome-reason").focus();
        return null;
      }
      return { outcome, reason };
    },
    reset() {
      $("outcome").selectedIndex = 0;
      $("outcome-reason").value = "";
      state.shownFor = null;
      showReason();
    },
  };

  $("outcome").addEventListener("change", () => {
    showReason();
    if (needsReason()) $("outcome-reason").focus();
  });
  $("outcome-reason").addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      const button = document.querySelector('[data-action="complete"]');
      if (button && !button.disabled) button.click();
    }
  });
  document.addEventListener("clerk:rendered", async () => {
    if (!state.byService) await load();
    render();
  });
})();
