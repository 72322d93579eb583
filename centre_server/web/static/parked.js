/* Parked citizens on the clerk terminal: park the called citizen (K) with a note, and call a parked
   citizen of this counter's services back here. The list follows the live events (a park or call-back at
   any counter of these services refreshes the terminal, and this list with it). */
"use strict";
(function () {
  const H = window.Huduma;
  const $ = (id) => document.getElementById(id);
  let tickets = [];
  let loading = false;

  function clerk() { return window.HudumaClerk; }
  function counterPath() { return "/counters/" + encodeURIComponent(clerk().model.counterId); }

  async function load() {
    const c = clerk();
    if (!c || !c.model.counterId || loading) return;
    loading = true;
    try { tickets = (await H.api("GET", counterPath() + "/parked")).tickets; } catch (err) { /* keep the last list */ }
    finally { loading = false; }
    render();
  }

  let shown = null;

  function render() {
    const list = $("parked-list");
    const c = clerk();
    const open = c && c.model.counter && c.model.counter.state === "open";
    // a live update that changes nothing keeps the list (and the button the keyboard is on) as it is
    const key = JSON.stringify([open, H.lang, tickets.map((t) => [t.id, t.note, Math.floor((H.since(t.parked_at) || 0) / 60)])]);
    if (key === shown) return;
    shown = key;
    const focused = document.activeElement && document.activeElement.closest("#parked-list li");
    const focusedNumber = focused ? focused.dataset.number : null;
    list.innerHTML = "";
    $("parked-count").textContent = String(tickets.length);
    $("parked-count").hidden = !tickets.length;
    for (const t of tickets) {
      const li = document.createElement("li");
      li.dataset.number = t.number;
      const num = document.createElement("span");
      num.className = "ns-number";
      num.textContent = t.number;
      const what = document.createElement("span");
      what.className = "ns-what";
      what.textContent = t.note || H.serviceName(c.model.byId[t.service_id]) || t.service_id;
      const when = document.createElement("small");
      const m = Math.floor((H.since(t.parked_at) || 0) / 60);
      when.textContent = (m >= 1 ? H.t("parked_since", { m }) : H.t("parked_just_now"))
        + (t.counter_name ? " · " + H.t("parked_at_counter", { counter: t.counter_name }) : "");
      what.appendChild(when);
      const go = document.createElement("button");
      go.type = "button";
      go.className = "btn btn-small";
      go.textContent = H.t("call_back");
      go.setAttribute("aria-label", H.t("call_back") + " " + t.number);
      go.disabled = !open;
      go.addEventListener("click", () => callBack(t));
      li.append(num, what, go);
      list.appendChild(li);
      if (t.number === focusedNumber) go.focus();
    }
    if (!tickets.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = H.t("parked_none");
      list.appendChild(li);
    }
  }

  async function callBack(t) {
    const c = clerk();
    if (c.model.busy) return;
    c.model.busy = true;
    try {
      const r = await H.api("POST", counterPath() + "/call-parked/" + encodeURIComponent(t.id));
      H.toast(H.t("called_back_ticket", { number: r.number }), "ok");
    } catch (err) {
      H.toast(H.describe(err), "bad");
    } finally {
      c.model.busy = false;
    }
    await c.refresh();
    c.moveFocus("call-next");
  }

  function open() {
    const c = clerk();
    const t = c && c.model.counter && c.model.counter.serving;
    if (!t) return;
    $("park-number").textContent = t.number;
    $("park-note").value = "";
    $("park-error").hidden = true;
    $("park-dialog").showModal();
    $("park-note").focus();
  }

  $("park-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const note = $("park-note").value.trim();
    $("park-dialog").close();
    await clerk().act("park", note ? { note } : {});
  });

  window.HudumaParked = { open, reload: load };
  document.addEventListener("clerk:rendered", load);
})();
