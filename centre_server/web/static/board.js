/* The manager's wait-time board: /api/v1/stats/live and /stats/daily, refreshed by live events. */
"use strict";
(function () {
  const H = window.Huduma;
  const $ = (id) => document.getElementById(id);
  const model = { live: null, services: {}, chart: null, day: null, catalogue: null };

  const level = (ratio) => (ratio === null || ratio === undefined ? "" : ratio >= 1 ? "bad" : ratio >= 0.75 ? "warn" : "ok");
  /* the share within target against the national standard (headquarters' target_share; 80 % until it is known) */
  const targetShare = () => (model.catalogue && model.catalogue.standards ? model.catalogue.standards.target_share : 0.8);
  const slLevel = (sl) => (sl === null || sl === undefined ? "" : sl >= targetShare() ? "ok"
    : sl >= targetShare() - 0.2 ? "warn" : "bad");
  const pct = (v) => (v === null || v === undefined ? "—" : Math.round(v * 100) + "%");
  const cell = (text, cls) => { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; };
  /* a level is told by a mark and words beside its colour, for citizens and staff who cannot tell red from green */
  const levelCell = (text, lvl, kind) => {
    const td = cell("", "num lvl-" + lvl);
    if (lvl) {
      const mark = document.createElement("span");
      mark.className = "lvl-mark";
      mark.textContent = H.t(kind + "_mark_" + lvl);
      td.append(mark, " ");
    }
    td.append(text);
    return td;
  };

  async function refreshLive() {
    try {
      const [live, day] = await Promise.all([H.api("GET", "/stats/live"),
                                             H.api("GET", "/day").catch(() => null)]);
      model.live = live;
      model.day = day;
      model.services = Object.fromEntries(live.services.map((s) => [s.id, s]));
      render(live);
    } catch (err) {
      if (err.status !== 401) H.toast(H.describe(err), "bad");
    }
  }
  const refreshLiveSoon = H.debounce(refreshLive, 300);

  /* The estimated wait of a newcomer, or why there is none: never a number when the server has none. */
  function waitCell(s) {
    if (s.estimated_wait_s === null || s.estimated_wait_s === undefined) {
      const td = cell(s.wait_unknown ? H.t("wait_" + s.wait_unknown) : "—", "num wait-unknown");
      td.dataset.waitUnknown = s.wait_unknown || "";
      return td;
    }
    return cell(s.waiting || s.open_counters ? H.waitMinutes(s.estimated_wait_s) : "—", "num");
  }

  function nameCell(s) {
    const td = cell(s.prefix + " · " + H.serviceName(s));
    if (s.refusal === "service_suspended") {
      const tag = document.createElement("span");
      tag.className = "tag tag-bad";
      tag.dataset.refusal = s.refusal;
      tag.textContent = H.t("tag_suspended");
      td.append(" ", tag);
    }
    if (s.accepting === false && s.refusal === "after_last_call") {
      const tag = document.createElement("span");
      tag.className = "tag tag-warn";
      tag.dataset.refusal = s.refusal;
      tag.textContent = H.t("last_ticket_issued");
      td.append(" ", tag);
    }
    return td;
  }

  /* The day is closed (its closing time passed, or the manager closed it): say so above everything,
     with when the centre opens again. The services say it too, should /day be unreachable. */
  function renderDayBanner(live) {
    const day = model.day;
    const closed = day ? day.open === false
      : live.services.some((s) => s.refusal === "day_closed" || s.wait_unknown === "closed");
    $("day-banner").hidden = !closed;
    $("close-day").hidden = closed;  // a closed day offers only "Reopen today": closing it again does nothing
    // the server words it (contract.opens_again), the same sentence as the kiosk, the hall and the SMS
    const opens = day ? (H.lang === "sw" ? day.opens_again_sw : day.opens_again_en) : "";
    $("day-banner-opens").hidden = !(closed && opens);
    if (closed && opens) $("day-banner-opens").textContent = opens;
  }

  function render(live) {
    renderDayBanner(live);
    $("kpi-waiting").textContent = live.waiting;  // in the hall only (README "Queue rules")
    $("kpi-on-the-way").textContent = live.on_the_way ? H.t("passed_over_n", { n: live.on_the_way }) : "";
    $("kpi-longest").textContent = H.minutes(live.longest_wait_s) + " " + H.t("minutes_short");
    $("kpi-issued").textContent = live.issued_today;
    $("kpi-served").textContent = live.served_today;
    $("kpi-no-shows").textContent = live.no_shows_today;
    $("kpi-parked").textContent = live.parked_now === undefined ? "—" : live.parked_now;
    $("kpi-counters").textContent = live.counters_open + " / " + live.counters.length;
    $("kpi-satisfaction").textContent = live.satisfaction_mean === null ? "—" : live.satisfaction_mean.toFixed(1);
    $("kpi-longest-box").className = "kpi " + (live.services.some((s) => s.breached) ? "bad" : "");

    const showIdle = $("show-idle").checked;
    const rows = $("service-rows");
    rows.innerHTML = "";
    let shown = 0;
    for (const s of live.services) {
      if (!showIdle && !s.issued_today && !s.waiting && !s.open_counters) continue;
      shown++;
      const tr = document.createElement("tr");
      tr.dataset.service = s.id;
      const ratio = s.waiting ? s.longest_wait_s / s.target_wait_s : 0;
      tr.className = s.breached ? "row-bad" : "";
      const waiting = cell(String(s.waiting), "num big");
      if (s.on_the_way) {  // web, SMS, USSD tickets not checked in (passed over too): not waiting in the hall
        const note = document.createElement("small");
        note.className = "passed-over";
        note.textContent = H.t("passed_over_n", { n: s.on_the_way });
        waiting.append(document.createElement("br"), note);
      }
      tr.append(
        nameCell(s),
        waiting,
        levelCell(s.waiting ? H.minutes(s.longest_wait_s) : "—", s.waiting ? level(ratio) : "", "wait"),
        waitCell(s),
        cell(String(s.served_today), "num"),
        cell(H.minutes(s.wait_mean_s), "num"),
        cell(H.minutes(s.service_mean_s), "num"),
        levelCell(pct(s.service_level), slLevel(s.service_level), "sl"),
        cell(H.minutes(s.target_wait_s), "num muted"));
      rows.appendChild(tr);
    }
    if (!shown) {
      const tr = document.createElement("tr");
      const td = cell(H.t("no_data"), "muted");
      td.colSpan = 9;
      tr.appendChild(td);
      rows.appendChild(tr);
    }
    renderAlerts(live.alerts);
    renderDevices(live.devices || []);
    renderCounters(live.counters);
  }

  function renderAlerts(alerts) {
    const ul = $("alerts");
    ul.innerHTML = "";
    if (!alerts.length) {
      const li = document.createElement("li");
      li.className = "alert ok";
      li.textContent = H.t("no_alerts");
      ul.appendChild(li);
      return;
    }
    for (const a of alerts) {
      const li = document.createElement("li");
      li.className = "alert bad";
      li.dataset.kind = a.kind;
      if (a.kind === "service_breach") {
        li.textContent = H.t("alert_breach", { service: H.serviceName(model.services[a.service_id]) || a.service_id,
          wait: H.minutes(a.longest_wait_s), target: H.minutes(a.target_wait_s) });
      } else if (a.kind === "device_offline") {
        li.textContent = H.t("alert_device_offline", { device: a.device_id });
      } else if (a.kind === "printer") {
        li.className = "alert warn";
        const key = "printer_" + a.printer;
        li.textContent = H.t("alert_printer", { device: a.device_id, status: H.strings[key] ? H.t(key) : a.printer });
      } else {
        li.textContent = a.kind;
      }
      ul.appendChild(li);
    }
  }

  function renderDevices(devices) {
    const ul = $("devices");
    ul.innerHTML = "";
    const sorted = devices.slice().sort((a, b) => String(a.device_id).localeCompare(String(b.device_id)));
    for (const d of sorted) {
      const li = document.createElement("li");
      const online = d.availability === "online";
      li.className = "device " + (online ? "ok" : d.availability === "offline" ? "bad" : "");
      li.dataset.device = d.device_id;
      let text = d.device_id + " · " + (online ? H.t("online") : d.availability === "offline" ? H.t("offline") : "?");
      // the printer's word only from a device that is online: an offline kiosk's last "OK" is not news
      const printer = online && d.status && d.status.printer;
      if (printer) text += " · " + (H.strings["printer_" + printer] ? H.t("printer_" + printer) : printer);
      li.textContent = text;
      ul.appendChild(li);
    }
    if (!sorted.length) {
      const li = document.createElement("li");
      li.className = "device muted";
      li.textContent = H.t("none");
      ul.appendChild(li);
    }
  }

  function renderCounters(counters) {
    const box = $("counter-cards");
    box.innerHTML = "";
    for (const c of counters) {
      const card = document.createElement("div");
      card.className = "counter-card state-" + c.state;
      card.dataset.counter = c.id;
      const head = document.createElement("div");
      head.className = "cc-head";
      const name = document.createElement("b");
      name.textContent = H.counterName(c.name);
      const pill = document.createElement("span");
      pill.className = "pill state-" + c.state;
      pill.textContent = H.t("counter_state_" + c.state);
      head.append(name, pill);
      const line = document.createElement("div");
      line.className = "cc-line";
      if (c.ticket) {
        const num = document.createElement("span");
        num.className = "cc-ticket";
        num.textContent = c.ticket;
        line.append(num);
      } else if (c.idle_s !== null && c.idle_s !== undefined) {
        line.textContent = H.t("idle", { m: Math.floor(c.idle_s / 60) });
        if (c.idle_s >= 600) line.className += " lvl-warn";
      } else {
        line.textContent = " ";
      }
      const clerk = document.createElement("div");
      clerk.className = "cc-clerk muted";
      clerk.textContent = c.clerk ? H.t("clerk") + ": " + c.clerk : " ";
      const svc = document.createElement("div");
      svc.className = "cc-services";
      svc.textContent = c.services.map((id) => (model.services[id] ? model.services[id].prefix : id)).join(" ");
      svc.title = c.services.map((id) => H.serviceName(model.services[id]) || id).join(", ");
      const move = document.createElement("button");
      move.type = "button";
      move.className = "btn btn-small";
      move.textContent = H.t("move_counter");
      move.addEventListener("click", () => openMove(c));
      card.append(head, line, clerk, svc, move);
      box.appendChild(card);
    }
  }

  // ------------------------------------------------------------------ move a counter
  let moving = null;
  function openMove(c) {
    moving = c;
    $("move-title").textContent = H.t("move_counter_title", { n: c.name });
    $("move-error").hidden = true;
    const grid = $("move-services");
    grid.innerHTML = "";
    const all = model.live.services;
    const ordered = c.services.map((id) => model.services[id]).filter(Boolean).concat(all.filter((s) => !c.services.includes(s.id)));
    for (const s of ordered) {
      const label = document.createElement("label");
      label.className = "choice";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = s.id;
      box.checked = c.services.includes(s.id);
      label.append(box, " ", s.prefix + " · " + H.serviceName(s));
      grid.appendChild(label);
    }
    $("move-dialog").showModal();
  }

  $("move-form").addEventListener("submit", async (e) => {
    if (e.submitter && e.submitter.value !== "ok") return;
    e.preventDefault();
    const services = [...$("move-services").querySelectorAll("input:checked")].map((b) => b.value);
    if (!services.length) { $("move-error").textContent = H.t("pick_a_service"); $("move-error").hidden = false; return; }
    try {
      await H.api("PUT", "/counters/" + encodeURIComponent(moving.id) + "/services", { services });
      $("move-dialog").close();
      H.toast(H.t("saved"), "ok");
      refreshLive();
    } catch (err) {
      $("move-error").textContent = H.describe(err);
      $("move-error").hidden = false;
    }
  });

  // ------------------------------------------------------------------ notice line
  async function loadNotice() {
    try {
      const hall = await H.api("GET", "/hall");
      $("notice-en").value = hall.notice_en || "";
      $("notice-sw").value = hall.notice_sw || "";
    } catch (err) { /* the board still works without it */ }
  }
  $("notice-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await H.api("PUT", "/hall/notice", { notice_en: $("notice-en").value, notice_sw: $("notice-sw").value });
      H.toast(H.t("saved"), "ok");
    } catch (err) { H.toast(H.describe(err), "bad"); }
  });

  // ------------------------------------------------------------------ chart of today by hour
  async function refreshDaily() {
    let daily;
    try { daily = await H.api("GET", "/stats/daily"); } catch (err) { return; }
    const byHour = Object.fromEntries(daily.hours.map((h) => [h.hour, h]));
    const hours = daily.hours.map((h) => h.hour);
    const first = Math.min(7, ...hours), last = Math.max(17, ...hours);
    const labels = [], arrivals = [], served = [], waits = [];
    for (let h = first; h <= last; h++) {
      const x = byHour[h] || {};
      labels.push(String(h).padStart(2, "0") + ":00");
      arrivals.push(x.arrived || 0);
      served.push(x.served || 0);
      waits.push(x.wait_mean_s === null || x.wait_mean_s === undefined ? null : Math.round(x.wait_mean_s / 6) / 10);
    }
    const data = {
      labels,
      datasets: [
        { type: "bar", label: H.t("arrivals"), data: arrivals, backgroundColor: "#1f5fbf", yAxisID: "y" },
        { type: "bar", label: H.t("served"), data: served, backgroundColor: "#0b7a3b", yAxisID: "y" },
        { type: "line", label: H.t("avg_wait_min"), data: waits, borderColor: "#b3261e", backgroundColor: "#b3261e",
          yAxisID: "y2", spanGaps: true, tension: 0.2, pointRadius: 3 },
      ],
    };
    if (model.chart) { model.chart.data = data; model.chart.update(); return; }
    if (!window.Chart) return;
    model.chart = new window.Chart($("chart-hours"), {
      data,
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { labels: { color: "#111", font: { size: 14 } } } },
        scales: {
          y: { beginAtZero: true, title: { display: true, text: H.t("people") }, ticks: { precision: 0, color: "#111" } },
          y2: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false },
                title: { display: true, text: H.t("avg_wait_min") }, ticks: { color: "#111" } },
          x: { ticks: { color: "#111" } },
        },
      },
    });
  }
  const refreshDailySoon = H.debounce(refreshDaily, 2000);

  $("close-day").addEventListener("click", async () => {
    if (!confirm(H.t("confirm_close_day"))) return;
    try {
      const r = await H.api("POST", "/day/close");
      H.toast(H.t("day_closed_msg", { date: r.date, n: r.cancelled }), "ok");
      refreshLive();
      refreshDaily();
    } catch (err) { H.toast(H.describe(err), "bad"); }
  });

  /* A closing time set by mistake (or a close pressed too soon) is not the end of the day. */
  $("reopen-day").addEventListener("click", async () => {
    if (!confirm(H.t("confirm_reopen_day"))) return;
    try {
      model.day = await H.api("POST", "/day/reopen");
      H.toast(H.t("day_reopened_msg"), "ok");
      refreshLive();
      refreshDaily();
    } catch (err) { H.toast(H.describe(err), "bad"); }
  });

  $("show-idle").addEventListener("change", () => { if (model.live) render(model.live); });

  // ------------------------------------------------------------------ the national catalogue
  const dmy = (iso) => { const m = /^(\d{4})-(\d\d)-(\d\d)/.exec(iso || ""); return m ? m[3] + "/" + m[2] + "/" + m[1] : ""; };
  const textOf = (t) => (t ? (H.lang === "sw" ? t.sw : t.en) : "");

  async function refreshCatalogue() {
    let cat;
    try { cat = await H.api("GET", "/catalogue"); } catch (err) { return; }
    const sync = await H.api("GET", "/catalogue/sync").catch(() => null);
    model.catalogue = cat;
    renderCatalogue(cat, sync);
  }
  const refreshCatalogueSoon = H.debounce(refreshCatalogue, 300);

  // "Headquarters not reached since 09:12": when it last answered, in the manager's words
  function unreached(sync, version) {
    return sync.last_checked_at
      ? H.t("catalogue_unreached", { time: H.hhmm(sync.last_checked_at), v: version })
      : H.t("catalogue_unreached_yet", { v: version });
  }

  function renderCatalogue(cat, sync) {
    const pill = $("catalogue-version");
    pill.dataset.version = String(cat.version);
    let head = cat.version === 0 ? H.t("catalogue_shipped") : H.t("catalogue_version", { v: cat.version });
    if (cat.demo) head += " · " + H.t("catalogue_demo");
    if (cat.applied_at && cat.version > 0) head += " · " + H.t("catalogue_since", { date: dmy(cat.applied_at), time: H.hhmm(cat.applied_at) });
    pill.textContent = head;
    const line = $("catalogue-sync");
    const parts = [];
    if (sync && sync.last_error) {  // the technical detail is in the server's log, not on the manager's screen
      parts.push(unreached(sync, cat.version));
      line.className = "note bad";
    } else {
      line.className = "note";
      if (sync && sync.last_checked_at) parts.push(H.t("catalogue_checked", { time: H.hhmm(sync.last_checked_at) }));
    }
    if (sync && sync.report_pending) parts.push(H.t("catalogue_report_pending"));
    line.textContent = parts.join(" ");
    line.hidden = !parts.length;

    const ul = $("catalogue-exceptions");
    ul.innerHTML = "";
    // suspensions first, then what a manager marked not offered (a service simply absent from the menu is not listed)
    const shown = cat.services.filter((i) => i.offering.status === "suspended")
      .concat(cat.services.filter((i) => i.offering.status === "not_offered" && i.offering.since));
    for (const i of shown) {
      const li = document.createElement("li");
      const suspended = i.offering.status === "suspended";
      li.className = "alert " + (suspended ? "bad" : "warn");
      li.dataset.service = i.service.id;
      li.dataset.status = i.offering.status;
      const what = document.createElement("span");
      const when = i.offering.since ? H.hhmm(i.offering.since) : "";
      what.textContent = i.service.prefix + " · " + textOf(i.service.name) + " — "
        + (suspended ? H.t("suspended_since", { time: when }) : H.t("not_offered_here"))
        + (i.offering.reason ? ": " + textOf(i.offering.reason) : "");
      const again = document.createElement("button");
      again.type = "button";
      again.className = "btn btn-small";
      again.textContent = H.t("offer_again");
      again.addEventListener("click", () => saveOffering(i.service.id, "offered", null));
      li.append(what, " ", again);
      ul.appendChild(li);
    }
    if (!shown.length) {
      const li = document.createElement("li");
      li.className = "alert ok";
      li.textContent = H.t("catalogue_all_offered");
      ul.appendChild(li);
    }
    const select = $("offering-service");
    const chosen = select.value;
    select.innerHTML = "";
    const sorted = cat.services.slice().sort((a, b) => a.service.prefix.localeCompare(b.service.prefix));
    for (const i of sorted) {
      const o = document.createElement("option");
      o.value = i.service.id;
      o.textContent = i.service.prefix + " · " + textOf(i.service.name);
      select.appendChild(o);
    }
    if (chosen) select.value = chosen;
  }

  async function saveOffering(serviceId, status, reason) {
    $("offering-error").hidden = true;
    try {
      const o = await H.api("POST", "/catalogue/" + encodeURIComponent(serviceId) + "/offering", { status, reason });
      const info = model.catalogue && model.catalogue.services.find((i) => i.service.id === serviceId);
      H.toast(H.t("offering_saved", { service: info ? textOf(info.service.name) : serviceId,
                                      status: H.t("offering_is_" + o.status) }), "ok");
      refreshCatalogue();
      refreshLive();
      return true;
    } catch (err) {
      $("offering-error").textContent = H.describe(err);
      $("offering-error").hidden = false;
      return false;
    }
  }

  // a fee changed at headquarters need not wait for the next poll (every few minutes)
  $("catalogue-sync-now").addEventListener("click", async () => {
    const button = $("catalogue-sync-now");
    button.disabled = true;
    try {
      const status = await H.api("POST", "/catalogue/sync/now", {});
      await refreshCatalogue();
      if (status.last_error) H.toast(unreached(status, status.running_version), "bad");
      else H.toast(H.t("catalogue_sync_done", { v: status.running_version }), "ok");
    } catch (err) {
      H.toast(H.describe(err), "bad");
    } finally {
      button.disabled = false;
    }
  });

  $("offering-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const status = $("offering-status").value;
    const en = $("offering-reason-en").value.trim(), sw = $("offering-reason-sw").value.trim();
    if (status === "suspended" && (!en || !sw)) {
      $("offering-error").textContent = H.t("offering_reason_needed");
      $("offering-error").hidden = false;
      return;
    }
    const reason = en && sw ? { en, sw } : null;
    if (await saveOffering($("offering-service").value, status, reason)) {
      $("offering-reason-en").value = "";
      $("offering-reason-sw").value = "";
    }
  });

  // ------------------------------------------------------------------ headquarters away
  /* One line while headquarters answers none of the centre's links (/healthz says which and why, for the
     technician); nothing while all is well, nor when this server has no headquarters configured. */
  async function refreshHeadquarters() {
    let health;
    try {
      const r = await fetch("/healthz", { cache: "no-store" });
      if (!r.ok) return;
      health = await r.json();
    } catch (err) { return; }
    const hq = health.headquarters;
    const line = $("hq-line");
    const away = Boolean(hq && !hq.reachable && hq.unreachable_since);
    line.hidden = !away;
    line.textContent = away ? H.t("hq_unreachable", { time: H.hhmm(hq.unreachable_since) }) : "";
  }

  refreshLive();
  refreshDaily();
  refreshCatalogue();
  refreshHeadquarters();
  loadNotice();
  H.live((events) => {
    refreshLiveSoon();
    if (events.some((e) => ["service_suspended", "service_resumed"].includes(e.type))) refreshCatalogueSoon();
    if (events.some((e) => ["ticket_issued", "ticket_called", "ticket_done", "ticket_no_show", "day_closed", "day_reopened"].includes(e.type))) refreshDailySoon();
  }, refreshLiveSoon);
  setInterval(refreshLive, 15000);
  setInterval(refreshDaily, 60000);
  setInterval(refreshCatalogue, 60000);  // a new version from headquarters is no queue event
  setInterval(refreshHeadquarters, 15000);  // nor is headquarters going away or coming back
})();
