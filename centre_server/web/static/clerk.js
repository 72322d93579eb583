/* The clerk terminal: one counter, its ticket, its queues; live from /api/v1/live. */
"use strict";
(function () {
  const H = window.Huduma;
  const $ = (id) => document.getElementById(id);
  const STORE_KEY = "huduma.counter";
  const model = { counters: [], services: [], byId: {}, counterId: null, counter: null, busy: false,
                  noShows: { window_s: 0, tickets: [] } };

  // ------------------------------------------------------------------ loading
  async function loadAll() {
    const [counters, services] = await Promise.all([H.api("GET", "/counters"), H.api("GET", "/services")]);
    model.counters = counters;
    model.services = services;
    model.byId = Object.fromEntries(services.map((s) => [s.id, s]));
  }

  async function refresh() {
    if (!model.counterId) return;
    try {
      const path = "/counters/" + encodeURIComponent(model.counterId);
      const [counter, services, noShows] = await Promise.all([
        H.api("GET", path), H.api("GET", "/services"), H.api("GET", path + "/no-shows")]);
      model.noShows = noShows;
      model.services = services;
      model.byId = Object.fromEntries(services.map((s) => [s.id, s]));
      model.counter = counter;
      if (model.choosing) return;  // the clerk is choosing another counter: a live update must not close the form
      if (counter.state === "closed") { showSetup(); return; }
      renderTerminal();
      if ($("reactivate-dialog").open) renderNoShows();  // a no-show that happens meanwhile joins the list
    } catch (err) {
      if (err.status !== 401) H.toast(H.describe(err), "bad");
    }
  }
  const refreshSoon = H.debounce(refresh, 200);

  // ------------------------------------------------------------------ setup
  function showSetup(cancellable) {
    $("terminal").hidden = true;
    $("setup").hidden = false;
    $("setup-cancel").hidden = !cancellable;
    const select = $("counter-select");
    select.innerHTML = "";
    for (const c of model.counters) {
      const opt = document.createElement("option");
      opt.value = c.id;
      let label = H.counterName(c.name) + " · " + H.t("counter_state_" + c.state);
      if (c.clerk && c.state !== "closed" && c.clerk !== H.user) label += " · " + H.t("counter_in_use", { clerk: c.clerk });
      opt.textContent = label;
      select.appendChild(opt);
    }
    const remembered = model.counterId || localStorage.getItem(STORE_KEY);
    if (remembered && model.counters.some((c) => c.id === remembered)) select.value = remembered;
    fillServiceChoices();
    select.focus();
  }

  function fillServiceChoices() {
    const counter = model.counters.find((c) => c.id === $("counter-select").value);
    const chosen = counter ? counter.services : [];
    const grid = $("service-choices");
    grid.innerHTML = "";
    const ordered = chosen.map((id) => model.byId[id]).filter(Boolean)
      .concat(model.services.filter((s) => !chosen.includes(s.id)));
    for (const s of ordered) {
      const label = document.createElement("label");
      label.className = "choice";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = s.id;
      box.checked = chosen.includes(s.id);
      label.append(box, " ", s.prefix + " · " + H.serviceName(s));
      grid.appendChild(label);
    }
  }

  async function openCounter() {
    const id = $("counter-select").value;
    const services = [...$("service-choices").querySelectorAll("input:checked")].map((b) => b.value);
    const err = $("setup-error");
    err.hidden = true;
    if (!services.length) { err.textContent = H.t("pick_a_service"); err.hidden = false; return; }
    const previous = model.counter;
    try {
      // one clerk, one counter: moving closes the counter they leave
      if (previous && previous.id !== id && previous.state !== "closed" && previous.clerk === H.user) {
        if (!confirm(H.t("confirm_leave", { counter: H.counterName(previous.name) }))) return;
        await H.api("POST", "/counters/" + encodeURIComponent(previous.id) + "/close");
      }
      model.counter = await H.api("POST", "/counters/" + encodeURIComponent(id) + "/open", { services });
      model.counterId = id;
      localStorage.setItem(STORE_KEY, id);
      // opened elsewhere (another terminal, the API): the server closed the counter this clerk left
      const left = (model.counter.left || []).map((n) => H.counterName(n)).join(", ");
      H.toast(left ? H.t("counter_left_msg", { counter: left }) : H.t("counter_opened_msg"), "ok");
      model.choosing = false;
      await refresh();
    } catch (e) {
      err.textContent = await describeHeld(e, id);
      err.hidden = false;
    }
  }

  // ------------------------------------------------------------------ terminal
  function renderTerminal() {
    model.choosing = false;
    const c = model.counter;
    $("setup").hidden = true;
    $("terminal").hidden = false;
    $("counter-title").textContent = H.counterName(c.name);
    const pill = $("counter-state");
    pill.textContent = H.t("counter_state_" + c.state);
    pill.className = "pill state-" + c.state;

    const t = c.serving;
    const card = $("current");
    card.className = "card current " + (t ? "state-" + t.state : "idle");
    if (t) {
      $("current-label").textContent = t.state === "serving" ? H.t("state_serving") : H.t("state_called");
      $("current-number").textContent = t.number;
      $("current-service").textContent = H.serviceName(model.byId[t.service_id]) || t.service_id;
      $("current-recalls").textContent = String(t.recalls);
      renderDetails(t);
    } else {
      $("current-details").hidden = true;
      $("current-label").textContent = H.t("no_ticket");
      $("current-number").textContent = "—";
      $("current-service").textContent = c.state === "paused" ? H.t("counter_paused_msg") : H.t("press_call_next");
      $("current-recalls").textContent = "—";
    }
    document.dispatchEvent(new CustomEvent("huduma:counter", { detail: c }));  // visit.js: the visit's plan
    tickTimers();
    document.dispatchEvent(new CustomEvent("huduma:ticket", { detail: t || null }));  // payment.js follows it

    const open = c.state === "open", paused = c.state === "paused";
    const can = {
      "call-next": open,
      "call-number": open,
      reactivate: open || paused,
      recall: !!t && t.state === "called",
      "no-show": !!t && t.state === "called",
      start: !!t && t.state === "called",
      transfer: !!t,
      park: !!t,
      complete: !!t,
      pause: open,
      resume: paused,
      close: true,
    };
    for (const b of document.querySelectorAll("[data-action]")) b.disabled = !can[b.dataset.action];
    $("btn-pause").hidden = paused;
    $("btn-resume").hidden = !paused;
    $("outcome").disabled = !t;
    const missed = model.noShows.tickets.length;
    $("no-show-count").textContent = String(missed);
    $("no-show-count").hidden = !missed;

    const rows = $("queue-rows");
    rows.innerHTML = "";
    for (const sid of c.services) {
      const s = model.byId[sid];
      if (!s) continue;
      const tr = document.createElement("tr");
      const late = s.longest_wait_s > s.target_wait_min * 60;
      tr.className = s.waiting ? (late ? "bad" : "") : "muted";
      tr.dataset.service = sid;
      const name = document.createElement("td");
      name.textContent = s.prefix + " · " + H.serviceName(s);
      const waiting = document.createElement("td");
      waiting.className = "num big";
      waiting.textContent = String(s.waiting);
      const longest = document.createElement("td");
      longest.className = "num";
      longest.textContent = s.waiting ? H.clock(s.longest_wait_s) : "—";
      tr.append(name, waiting, longest);
      rows.appendChild(tr);
    }
    document.dispatchEvent(new CustomEvent("clerk:rendered"));  // the partials (outcomes, parked) follow
  }

  /* What the citizen was told at issue: the priority class in words (the kiosk says "staff may ask
     you to confirm"), the appointment's slot, the channel and the language. */
  function renderDetails(t) {
    $("current-details").hidden = false;
    const pri = $("current-priority");
    pri.hidden = !t.priority || t.priority === "none";
    if (t.priority === "appointment") {
      pri.textContent = t.slot_at ? H.t("appointment_at", { time: H.hhmm(t.slot_at) }) : H.t("priority_appointment");
    } else if (!pri.hidden) {
      pri.textContent = H.t("priority") + ": " + H.t("priority_" + t.priority) + " · " + H.t("priority_confirm");
    }
    pri.dataset.priority = t.priority || "none";
    $("current-channel").textContent = H.t("channel") + ": " + H.t("channel_" + t.channel);
    $("current-channel").dataset.channel = t.channel;
    $("current-language").textContent = H.t("speaks") + ": " + H.t("lang_" + t.language);
  }

  function tickTimers() {
    const t = model.counter && model.counter.serving;
    if (!t) { $("timer-wait").textContent = "—"; $("timer-service").textContent = "—"; return; }
    const issued = Date.parse(t.issued_at), called = t.called_at ? Date.parse(t.called_at) : H.now();
    $("timer-wait").textContent = H.clock((called - issued) / 1000);
    // before the clerk starts, the clock counts the wait for the citizen to come, not service: say which
    const since = t.started_at || t.called_at;
    $("timer-service-label").textContent = H.t(t.started_at ? "service_time" : "since_called");
    $("timer-service").textContent = since ? H.clock(H.since(since)) : "—";
  }

  /* Logging out closes the counter this clerk holds (the server does it, as when a session expires):
     say so first, so the clerk knows before the counter goes. */
  H.beforeLogout = function () {
    const c = model.counter;
    if (!c || c.state === "closed") return true;
    return window.confirm(H.t("logout_closes_counter", { counter: H.counterName(c.name) }));
  };

  // ------------------------------------------------------------------ actions
  const done = {
    "call-next": (r) => H.t("called_ticket", { number: r.number }),
    recall: (r) => (r.state === "no_show" ? H.t("no_show_ticket", { number: r.number }) : H.t("recalled_ticket", { number: r.number })),
    "no-show": (r) => H.t("no_show_ticket", { number: r.number }),
    start: (r) => H.t("started_ticket", { number: r.number }),
    complete: (r) => H.t("completed_ticket", { number: r.number }),
    transfer: (r) => H.t("transferred_ticket", { number: r.number, service: H.serviceName(model.byId[r.service_id]) }),
    park: (r) => H.t("parked_ticket", { number: r.number }),
    pause: () => H.t("counter_paused_msg"),
    resume: () => H.t("counter_resumed_msg"),
    close: () => H.t("counter_closed_msg"),
  };

  /* Another clerk holds the counter: say who, in the page's language (the server's words are English). */
  async function describeHeld(err, counterId) {
    if (err.code !== "not_your_counter") return H.describe(err);
    let holder = (model.counter && model.counter.id === counterId && model.counter.clerk) || "";
    try {
      holder = (await H.api("GET", "/counters/" + encodeURIComponent(counterId))).clerk || holder;
    } catch (e) { /* the name we already had will do */ }
    return H.t("err_not_your_counter", { clerk: holder || "?" });
  }

  async function act(action, body) {
    if (model.busy || !model.counterId) return;
    const button = document.querySelector('[data-action="' + action + '"]');
    if (button && button.disabled) return;
    model.busy = true;
    try {
      const r = await H.api("POST", "/counters/" + encodeURIComponent(model.counterId) + "/" + action, body);
      H.toast(done[action](r), action === "no-show" ? "warn" : "ok");
      if (action === "complete" && window.HudumaOutcomes) window.HudumaOutcomes.reset();
    } catch (err) {
      H.toast(await describeHeld(err, model.counterId), err.code === "nothing_waiting" ? "info" : "bad");
    } finally {
      model.busy = false;
    }
    await refresh();
    if (action === "close") {
      await loadAll();
      showSetup(false);
      return;
    }
    moveFocus(action);
  }

  /* After an action the keyboard lands on what comes next (called: start; serving: complete; done: call
     the next), so a clerk can serve a citizen with Tab and Enter alone. A field being typed in keeps it. */
  const NEXT_FOCUS = { "call-next": "start", recall: "start", "call-number": "start", reactivate: "call-next",
                       start: "complete", complete: "call-next", "no-show": "call-next", transfer: "call-next", park: "call-next",
                       pause: "resume", resume: "call-next" };
  function moveFocus(action) {
    const here = document.activeElement;
    if (here && ["INPUT", "TEXTAREA"].includes(here.tagName) && !here.closest("dialog:not([open])")) return;
    const wanted = document.querySelector('[data-action="' + NEXT_FOCUS[action] + '"]');
    const target = wanted && !wanted.disabled && !wanted.hidden ? wanted : $("btn-call");
    if (target && !target.disabled) target.focus();
  }

  // ------------------------------------------------------------------ by number
  /* "ar 12" -> "AR012", as the server reads it; null when it is no ticket number at all. */
  function normalNumber(raw) {
    const m = /^([A-Z]{1,4})0*(\d{1,3})$/.exec(String(raw).replace(/[\s-]/g, "").toUpperCase());
    return m ? m[1] + m[2].padStart(3, "0") : null;
  }

  const NUMBER_ERRORS = { bad_number: "num_bad", invalid_request: "num_bad", unknown_number: "num_unknown",
    not_this_counter: "num_not_this_counter", number_at_counter: "num_at_counter", number_no_show: "num_no_show",
    number_finished: "num_finished", not_no_show: "num_not_no_show", window_passed: "num_window_passed" };

  function describeNumber(err, raw) {
    const key = NUMBER_ERRORS[err.code];
    const number = normalNumber(raw) || String(raw).trim();
    if (key) return H.t(key, { number, m: Math.round(model.noShows.window_s / 60) });
    return H.describe(err);
  }

  function openDialog(id, input, error) {
    $(input).value = "";
    $(error).hidden = true;
    $(id).showModal();
    $(input).focus();
  }

  /* Call or re-activate the ticket typed in a dialog; errors stay in the dialog, next to the number. */
  async function byNumber(kind, raw) {
    const dialog = kind === "call" ? "number-dialog" : "reactivate-dialog";
    const error = kind === "call" ? "number-error" : "reactivate-error";
    if (model.busy || !model.counterId) return;
    if (!normalNumber(raw)) { $(error).textContent = H.t("num_bad"); $(error).hidden = false; return; }
    model.busy = true;
    try {
      const path = "/counters/" + encodeURIComponent(model.counterId) + (kind === "call" ? "/call-number" : "/reactivate-number");
      const r = await H.api("POST", path, { number: raw });
      $(dialog).close();
      H.toast(kind === "call" ? H.t("called_ticket", { number: r.number }) : H.t("reactivated_ticket", { number: r.number }), "ok");
    } catch (err) {
      $(error).textContent = describeNumber(err, raw);
      $(error).hidden = false;
      $(kind === "call" ? "number-input" : "reactivate-input").select();
    } finally {
      model.busy = false;
    }
    await refresh();
  }

  function renderNoShows() {
    const list = $("no-show-list");
    list.innerHTML = "";
    $("reactivate-note").textContent = H.t("reactivate_note", { m: Math.round(model.noShows.window_s / 60) });
    for (const t of model.noShows.tickets) {
      const li = document.createElement("li");
      li.dataset.number = t.number;
      const num = document.createElement("span");
      num.className = "ns-number";
      num.textContent = t.number;
      const what = document.createElement("span");
      what.className = "ns-what";
      what.textContent = H.serviceName(model.byId[t.service_id]) || t.service_id;
      const ago = document.createElement("small");
      const m = Math.floor((H.since(t.no_show_at) || 0) / 60);
      ago.textContent = m >= 1 ? H.t("missed_ago", { m }) : H.t("missed_just_now");
      what.appendChild(ago);
      const go = document.createElement("button");
      go.type = "button";
      go.className = "btn btn-small";
      go.textContent = H.t("reactivate_one");
      go.addEventListener("click", () => byNumber("reactivate", t.number));
      li.append(num, what, go);
      list.appendChild(li);
    }
    if (!model.noShows.tickets.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = H.t("no_recent_no_shows");
      list.appendChild(li);
    }
  }

  async function openReactivate() {
    openDialog("reactivate-dialog", "reactivate-input", "reactivate-error");
    renderNoShows();
    try {
      model.noShows = await H.api("GET", "/counters/" + encodeURIComponent(model.counterId) + "/no-shows");
      renderNoShows();
    } catch (err) { /* the list shown is the one of the last refresh */ }
  }

  $("number-form").addEventListener("submit", (e) => { e.preventDefault(); byNumber("call", $("number-input").value); });
  $("reactivate-form").addEventListener("submit", (e) => { e.preventDefault(); byNumber("reactivate", $("reactivate-input").value); });
  for (const b of document.querySelectorAll("dialog [data-close]")) {
    b.addEventListener("click", () => b.closest("dialog").close());
  }

  function run(action) {
    const button = document.querySelector('[data-action="' + action + '"]');
    if (action === "call-number") { if (!button.disabled) openDialog("number-dialog", "number-input", "number-error"); return; }
    if (action === "reactivate") { if (!button.disabled) openReactivate(); return; }
    if (action === "transfer") return openTransfer();
    if (action === "complete") {
      const body = window.HudumaOutcomes ? window.HudumaOutcomes.body() : { outcome: $("outcome").value };
      if (body) act("complete", body);  // null: the outcome needs a reason, and the reason field has the focus
      return;
    }
    if (action === "park") { if (!button.disabled && window.HudumaParked) window.HudumaParked.open(); return; }
    if (action === "close") { if (confirm(H.t("confirm_close"))) act("close"); return; }
    act(action);
  }

  function openTransfer() {
    const t = model.counter && model.counter.serving;
    if (!t) return;
    const select = $("transfer-service");
    select.innerHTML = "";
    for (const s of model.services) {
      if (s.id === t.service_id || !s.enabled) continue;
      const opt = document.createElement("option");
      opt.value = s.id;
      opt.textContent = s.prefix + " · " + H.serviceName(s) + " (" + s.waiting + ")";
      select.appendChild(opt);
    }
    select.selectedIndex = 0;
    const note = $("transfer-fee-note");
    note.hidden = true;
    note.textContent = "";
    $("transfer-dialog").showModal();
    select.focus();
    feeNote(t, note);
  }

  // A fee paid belongs to the service it was paid for: say so before the ticket moves (it stays there in the
  // day's reconciliation; the new service's own fee, if any, is another matter).
  async function feeNote(t, note) {
    let p;
    try { p = await H.api("GET", "/tickets/" + encodeURIComponent(t.id) + "/payment"); } catch (e) { return; }
    if (!p || !["paid", "cash"].includes(p.state) || !$("transfer-dialog").open) return;
    note.textContent = H.t("transfer_fee_paid_for", {
      amount: H.paymentBox ? H.paymentBox.ksh(p.amount_ksh) : "KSh " + p.amount_ksh,
      service: H.serviceName(model.byId[p.service_id]) || p.service_id });
    note.hidden = false;
  }

  $("transfer-dialog").addEventListener("close", () => {
    const dialog = $("transfer-dialog");
    if (dialog.returnValue === "ok" && $("transfer-service").value) act("transfer", { service_id: $("transfer-service").value });
  });
  $("transfer-service").addEventListener("dblclick", () => { $("transfer-dialog").close("ok"); });
  $("transfer-service").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); $("transfer-dialog").close("ok"); }
  });

  for (const b of document.querySelectorAll("[data-action]")) {
    b.addEventListener("click", () => run(b.dataset.action));
  }
  $("open-counter").addEventListener("click", openCounter);
  $("counter-select").addEventListener("change", fillServiceChoices);
  $("setup-cancel").addEventListener("click", () => { if (model.counter) renderTerminal(); });
  $("change-counter").addEventListener("click", async () => { model.choosing = true; await loadAll(); showSetup(true); });

  const KEYS = { " ": "call-next", n: "call-next", r: "recall", x: "no-show", s: "start", t: "transfer",
                 c: "complete", q: "close", b: "call-number", a: "reactivate", k: "park" };
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.altKey || e.metaKey || $("terminal").hidden) return;
    if (document.querySelector("dialog[open]")) return;
    const tag = (e.target && e.target.tagName) || "";
    // a field of a dialog just closed (Esc) may keep the focus for a moment: that is not typing
    const closedDialog = e.target && e.target.closest && e.target.closest("dialog:not([open])");
    if (["INPUT", "SELECT", "TEXTAREA"].includes(tag) && !closedDialog) return;
    const key = e.key.toLowerCase();
    if (/^[1-9]$/.test(key)) {
      const sel = $("outcome");
      if (!sel.disabled && Number(key) <= sel.options.length) {
        sel.selectedIndex = Number(key) - 1;
        sel.dispatchEvent(new Event("change"));  // a code that needs a reason shows its field
      }
      e.preventDefault();
      return;
    }
    let action = KEYS[key];
    if (key === "p") action = model.counter && model.counter.state === "paused" ? "resume" : "pause";
    if (!action) return;
    e.preventDefault();  // also keeps Space from pressing a focused button twice
    run(action);
  });

  // ------------------------------------------------------------------ live
  function relevant(ev) {
    const c = model.counter;
    if (!c) return false;
    if (ev.type === "day_closed") return true;
    if (ev.counter_id === c.id) return true;
    return [ev.service_id, ev.from_service_id, ev.to_service_id].some((s) => s && c.services.includes(s));
  }

  // the terminal's partials (parked list, outcome codes) act through these
  window.HudumaClerk = { model, refresh, act, moveFocus };

  async function start() {
    try { await loadAll(); } catch (err) { H.toast(H.describe(err), "bad"); return; }
    const mine = model.counters.find((c) => c.clerk === H.user && c.state !== "closed");
    const remembered = localStorage.getItem(STORE_KEY);
    const chosen = mine || model.counters.find((c) => c.id === remembered && c.state !== "closed" && c.clerk === H.user);
    if (chosen) { model.counterId = chosen.id; await refresh(); }
    else showSetup(false);
    H.live((events) => { if (events.some(relevant)) refreshSoon(); }, refreshSoon);
    setInterval(tickTimers, 1000);
    setInterval(refresh, 20000);  // longest waits grow with nobody acting
  }
  start();
})();
