/* One-stop visits at the clerk terminal: the called ticket's services (done / now / next), where each
   next one is served, and the clerk's drop, reorder and add of the remaining ones
   (POST /api/v1/counters/{id}/visit). Hears clerk.js's "huduma:counter" after every render. */
"use strict";
(function () {
  const H = window.Huduma;
  const $ = (id) => document.getElementById(id);
  const MAX_SERVICES = 4;  // queue/visits.py MAX_VISIT_SERVICES
  const state = { counter: null, ticket: null, services: [], byId: {}, asked: 0 };

  async function loadServices() {
    state.services = await H.api("GET", "/services");
    state.byId = Object.fromEntries(state.services.map((s) => [s.id, s]));
  }

  async function load(counter) {
    state.counter = counter;
    const brief = counter && counter.serving;
    const asked = ++state.asked;  // an older answer arriving late must not overwrite a newer one
    if (!brief) { state.ticket = null; render(); return; }
    try {
      const [ticket] = await Promise.all([H.api("GET", "/tickets/" + encodeURIComponent(brief.id)), loadServices()]);
      if (asked !== state.asked) return;
      state.ticket = ticket;
      render();
    } catch (err) {
      if (err.status !== 401) H.toast(H.describe(err), "bad");
    }
  }

  function steps(t) {
    return t.visit || [{ service_id: t.service_id, name_en: t.service_name_en, name_sw: t.service_name_sw,
                         state: "now", counters: [] }];
  }
  const rest = (t) => steps(t).filter((s) => s.state === "next").map((s) => s.service_id);
  const nameOf = (s) => (H.lang === "sw" ? s.name_sw : s.name_en);

  function button(label, kind, id, aria) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "btn btn-small";
    b.textContent = label;
    b.dataset.visit = kind;
    b.dataset.service = id;
    b.setAttribute("aria-label", aria);
    return b;
  }

  function render() {
    const card = $("visit-card");
    const t = state.ticket;
    if (!t || !["called", "serving"].includes(t.state)) { card.hidden = true; return; }
    card.hidden = false;
    const all = steps(t);
    const next = rest(t);
    const list = $("visit-steps");
    list.textContent = "";
    for (const s of all) {
      const li = document.createElement("li");
      li.className = "visit-step step-" + s.state;
      li.dataset.service = s.service_id;
      const mark = document.createElement("span");
      mark.className = "pill";
      mark.textContent = H.t("visit_" + s.state);
      const name = document.createElement("span");
      name.className = "visit-name";
      name.textContent = nameOf(s);
      li.append(mark, name);
      if (s.state === "next") {
        if (s.counters.length) {
          const where = document.createElement("span");
          where.className = "visit-where";
          where.textContent = H.t("visit_where", { counters: s.counters.join(", ") });
          li.append(where);
        }
        if (next.indexOf(s.service_id) > 0) li.append(button(H.t("visit_up"), "up", s.service_id, H.t("visit_up") + ": " + nameOf(s)));
        li.append(button(H.t("visit_drop"), "drop", s.service_id, H.t("visit_drop") + ": " + nameOf(s)));
      }
      list.append(li);
    }
    const note = $("visit-note");
    note.hidden = !next.length;
    note.textContent = next.length ? H.t("visit_next_note", { number: t.number }) : "";
    // what a clerk may add: services taking tickets now, not yet in the visit; the menu's "then" first
    const taken = new Set(all.map((s) => s.service_id));
    const last = state.byId[all[all.length - 1].service_id];
    const then = (last && last.then) || [];
    const rank = (s) => (then.includes(s.id) ? then.indexOf(s.id) : then.length);  // the menu's order, then the rest
    const choices = state.services.filter((s) => s.enabled && s.accepting && !taken.has(s.id))
      .sort((a, b) => rank(a) - rank(b));
    const select = $("visit-add-service");
    select.textContent = "";
    for (const s of choices) {
      const o = document.createElement("option");
      o.value = s.id;
      o.textContent = H.serviceName(s);
      select.append(o);
    }
    const room = all.filter((s) => s.state !== "missed").length < MAX_SERVICES;
    select.disabled = !room || !choices.length;
    $("visit-add-go").disabled = select.disabled;
  }

  async function change(next) {
    try {
      state.ticket = await H.api("POST", "/counters/" + encodeURIComponent(state.counter.id) + "/visit", { next });
      render();
      H.toast(H.t("visit_saved"), "ok");
    } catch (err) {
      H.toast(H.describe(err), "bad");
    }
  }

  $("visit-steps").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-visit]");
    if (!b || !state.ticket) return;
    const next = rest(state.ticket);
    const i = next.indexOf(b.dataset.service);
    if (i < 0) return;
    if (b.dataset.visit === "drop") next.splice(i, 1);
    else if (b.dataset.visit === "up" && i > 0) [next[i - 1], next[i]] = [next[i], next[i - 1]];
    change(next);
  });
  $("visit-add-go").addEventListener("click", () => {
    const id = $("visit-add-service").value;
    if (id && state.ticket) change([...rest(state.ticket), id]);
  });
  document.addEventListener("huduma:counter", (e) => load(e.detail));
})();
