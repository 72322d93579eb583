/* The clerk terminal: one counter, its ticket, its queues; live from /api/v1/live. */
"use strict";
(function () {
  const H = window.Huduma;
  const $ = (id) => document.getElementById(id);
  const STORE_KEY = "huduma.counter";
  const model = { counters: [], services: [], byId: {}, counterId: null, counter: null, busy: false };

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
      const [counter, services] = await Promise.all([
        H.api("GET", "/counters/" + encodeURIComponent(model.counterId)), H.api("GET", "/services")]);
      model.services = services;
      model.byId = Object.fromEntries(services.map((s) => [s.id, s]));
      model.counter = counter;
      if (model.choosing) return;  // the clerk is choosing another counter: a live update must not close the form
      if (counter.state === "closed") { showSetup(); return; }
      renderTerminal();
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
      H.toast(H.t("counter_opened_msg"), "ok");
      model.choosing = false;
      await refresh();
    } catch (e) {
      err.textContent = H.describe(e);
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
    } else {
      $("current-label").textContent = H.t("no_ticket");
      $("current-number").textContent = "—";
      $("current-service").textContent = c.state === "paused" ? H.t("counter_paused_msg") : H.t("press_call_next");
      $("current-recalls").textContent = "—";
    }
    tickTimers();

    const open = c.state === "open", paused = c.state === "paused";
    const can = {
      "call-next": open,
      recall: !!t && t.state === "called",
      "no-show": !!t && t.state === "called",
      start: !!t && t.state === "called",
      transfer: !!t,
      complete: !!t,
      pause: open,
      resume: paused,
      close: true,
    };
    for (const b of document.querySelectorAll("[data-action]")) b.disabled = !can[b.dataset.action];
    $("btn-pause").hidden = paused;
    $("btn-resume").hidden = !paused;
    $("outcome").disabled = !t;

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
  }

  function tickTimers() {
    const t = model.counter && model.counter.serving;
    if (!t) { $("timer-wait").textContent = "—"; $("timer-service").textContent = "—"; return; }
    const issued = Date.parse(t.issued_at), called = t.called_at ? Date.parse(t.called_at) : H.now();
    $("timer-wait").textContent = H.clock((called - issued) / 1000);
    const since = t.started_at || t.called_at;
    $("timer-service").textContent = since ? H.clock(H.since(since)) : "—";
  }

  // ------------------------------------------------------------------ actions
  const done = {
    "call-next": (r) => H.t("called_ticket", { number: r.number }),
    recall: (r) => (r.state === "no_show" ? H.t("no_show_ticket", { number: r.number }) : H.t("recalled_ticket", { number: r.number })),
    "no-show": (r) => H.t("no_show_ticket", { number: r.number }),
    start: (r) => H.t("started_ticket", { number: r.number }),
    complete: (r) => H.t("completed_ticket", { number: r.number }),
    transfer: (r) => H.t("transferred_ticket", { number: r.number, service: H.serviceName(model.byId[r.service_id]) }),
    pause: () => H.t("counter_paused_msg"),
    resume: () => H.t("counter_resumed_msg"),
    close: () => H.t("counter_closed_msg"),
  };

  async function act(action, body) {
    if (model.busy || !model.counterId) return;
    const button = document.querySelector('[data-action="' + action + '"]');
    if (button && button.disabled) return;
    model.busy = true;
    try {
      const r = await H.api("POST", "/counters/" + encodeURIComponent(model.counterId) + "/" + action, body);
      H.toast(done[action](r), action === "no-show" ? "warn" : "ok");
      if (action === "complete") $("outcome").value = "served";
    } catch (err) {
      H.toast(H.describe(err), err.code === "nothing_waiting" ? "info" : "bad");
    } finally {
      model.busy = false;
    }
    await refresh();
    if (action === "close") {
      await loadAll();
      showSetup(false);
    }
  }

  function run(action) {
    if (action === "transfer") return openTransfer();
    if (action === "complete") return act("complete", { outcome: $("outcome").value });
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
    $("transfer-dialog").showModal();
    select.focus();
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
    b.addEventListener("click", (e) => { e.currentTarget.blur(); run(b.dataset.action); });
  }
  $("open-counter").addEventListener("click", openCounter);
  $("counter-select").addEventListener("change", fillServiceChoices);
  $("setup-cancel").addEventListener("click", () => { if (model.counter) renderTerminal(); });
  $("change-counter").addEventListener("click", async () => { model.choosing = true; await loadAll(); showSetup(true); });

  const KEYS = { " ": "call-next", n: "call-next", r: "recall", x: "no-show", s: "start", t: "transfer",
                 c: "complete", q: "close" };
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.altKey || e.metaKey || $("terminal").hidden) return;
    if (document.querySelector("dialog[open]")) return;
    const tag = (e.target && e.target.tagName) || "";
    if (["INPUT", "SELECT", "TEXTAREA"].includes(tag)) return;
    const key = e.key.toLowerCase();
    if (["1", "2", "3", "4"].includes(key)) {
      const sel = $("outcome");
      if (!sel.disabled) sel.selectedIndex = Number(key) - 1;
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
