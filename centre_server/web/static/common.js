/* Shared by every page: strings, the JSON API with the CSRF header, toasts, live events. */
"use strict";
(function () {
  const H = (window.Huduma = {});
  const body = document.body;
  H.strings = JSON.parse(document.getElementById("strings").textContent);
  H.lang = body.dataset.lang || "en";
  H.user = body.dataset.user || "";
  H.role = body.dataset.role || "";
  // The server's clock, so timers agree with the hall even when this PC's clock is off.
  H.skew = parseFloat(body.dataset.serverTime || "0") * 1000 - Date.now();
  H.now = () => Date.now() + H.skew;
  H.utcOffsetMin = parseInt(body.dataset.utcOffset || "0", 10);
  /* The centre's wall-clock time now, "HH:MM" (the browser's own time zone may differ). */
  H.centreTime = function () {
    const d = new Date(H.now() + H.utcOffsetMin * 60000);
    return String(d.getUTCHours()).padStart(2, "0") + ":" + String(d.getUTCMinutes()).padStart(2, "0");
  };

  // the one rule of centre_server/contract/i18n.py: a count {n} of 0 or 1 reads "key#0" / "key#1" when there is one
  H.t = function (key, vars) {
    const n = vars && vars.n !== undefined ? String(vars.n) : "";
    if ((n === "0" || n === "1") && H.strings[key + "#" + n] !== undefined) key = key + "#" + n;
    let s = H.strings[key];
    if (s === undefined) s = key;
    if (vars) for (const k of Object.keys(vars)) s = s.split("{" + k + "}").join(String(vars[k]));
    return s;
  };
  H.counterName = (name) => H.t("counter_n", { n: name });
  H.serviceName = (s) => (s ? (H.lang === "sw" ? s.name_sw : s.name_en) : "");

  H.cookie = function (name) {
    for (const part of document.cookie.split(";")) {
      const [k, ...v] = part.trim().split("=");
      if (k === name) return decodeURIComponent(v.join("="));
    }
    return null;
  };

  let ending = false;
  H.sessionEnded = function () {
    if (ending) return;  // several requests may notice at once: leave only once
    ending = true;
    if (H.liveSource) H.liveSource.close();
    const next = location.pathname + location.search;
    location.href = "/login?expired=1&next=" + encodeURIComponent(next);
  };

  class ApiError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }
  H.ApiError = ApiError;

  /* fetch JSON; cookie-authenticated writes carry x-csrf-token (the huduma_csrf cookie). */
  H.api = async function (method, path, body) {
    const headers = { Accept: "application/json" };
    const opts = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    if (method !== "GET") headers["x-csrf-token"] = H.cookie("huduma_csrf") || "";
    let resp;
    try { resp = await fetch("/api/v1" + path, opts); }
    catch (e) { throw new ApiError(0, "network", H.t("network_error")); }
    if (resp.status === 401 && H.user) { H.sessionEnded(); throw new ApiError(401, "not_authenticated", H.t("session_expired")); }
    if (resp.status === 204) return null;
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const err = (data && data.error) || {};
      const e = new ApiError(resp.status, err.code || "error", err.message || resp.statusText);
      e.extra = err;  // the refusal's own fields (e.g. passed_over: remote tickets not checked in yet)
      throw e;
    }
    return data;
  };

  /* A translated message for an API error, falling back to the server's own words. */
  H.describe = function (err) {
    const known = { nothing_waiting: "nothing_waiting", network: "network_error", not_authenticated: "session_expired" };
    // nobody to call, but citizens on the way were passed over: say they keep their place until they check in
    if (err && err.code === "nothing_waiting" && err.extra && err.extra.passed_over > 0) {
      return H.t("nothing_waiting_passed_over", { n: err.extra.passed_over });
    }
    if (err && known[err.code]) return H.t(known[err.code]);
    if (err && H.strings["err_" + err.code] !== undefined) return H.t("err_" + err.code);
    return H.t("error_generic", { message: (err && err.message) || "?" });
  };

  let toastTimer = null;
  H.toast = function (message, kind) {
    const el = document.getElementById("toast");
    if (!el) return;
    el.textContent = message;
    el.className = "toast " + (kind || "info");
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, kind === "bad" ? 6000 : 3500);
  };

  const pad = (n) => String(n).padStart(2, "0");
  /* seconds -> "m:ss" or "h:mm:ss" */
  H.clock = function (seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return "—";
    seconds = Math.max(0, Math.floor(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  };
  /* seconds -> whole minutes, or "—" */
  H.minutes = (s) => (s === null || s === undefined ? "—" : String(Math.round(s / 60)));
  // an estimated wait, rounded up as every other screen rounds it (contract.wait_minutes): the board said 63
  // where the hall and the citizen's page said 64 for the same 3,791 s
  H.waitMinutes = (s) => (s === null || s === undefined ? "—" : String(Math.max(0, Math.ceil(s / 60))));
  H.since = (iso) => (iso ? (H.now() - Date.parse(iso)) / 1000 : null);
  H.hhmm = function (iso) {
    if (!iso) return "";
    // the server sends centre-local times with their offset: show the wall-clock part as is
    const m = /T(\d\d):(\d\d)/.exec(iso);
    return m ? m[1] + ":" + m[2] : "";
  };

  H.debounce = function (fn, ms) {
    let timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  };

  /* Live events (server-sent): onChange(events) for every committed batch. */
  H.live = function (onChange, onOpen) {
    const status = document.getElementById("live-status");
    const show = (ok) => {
      if (!status) return;
      status.hidden = false;
      status.textContent = ok ? H.t("live") : H.t("reconnecting");
      status.className = "live-status " + (ok ? "ok" : "bad");
    };
    const source = new EventSource("/api/v1/live");
    source.addEventListener("hello", (e) => {
      const d = JSON.parse(e.data);
      H.skew = d.server_time * 1000 - Date.now();
      show(true);
      if (onOpen) onOpen();
    });
    source.addEventListener("change", (e) => { onChange(JSON.parse(e.data).events || []); });
    source.addEventListener("ping", () => show(true));
    source.addEventListener("expired", () => { source.close(); H.sessionEnded(); });
    source.onerror = async () => {
      if (ending) return;
      show(false);
      try { await H.api("GET", "/session"); } catch (err) { /* H.api sends an ended session to /login */ }
    };
    H.liveSource = source;
    return source;
  };

  const logout = document.getElementById("logout");
  if (logout) logout.addEventListener("click", async () => {
    // a page may say first what logging out ends (the clerk terminal: the counter closes)
    if (H.beforeLogout && !H.beforeLogout()) return;
    ending = true;  // the live stream and late requests will see 401 now: nobody else navigates
    if (H.liveSource) H.liveSource.close();
    try { await H.api("POST", "/auth/logout"); } catch (e) { /* already ended: go to login anyway */ }
    location.href = "/login?bye=1";
  });

  // Language links keep the rest of the address (e.g. a report's dates).
  for (const a of document.querySelectorAll("[data-lang-link]")) {
    const url = new URL(location.href);
    url.searchParams.set("lang", a.dataset.langLink);
    a.href = url.pathname + url.search;
  }
})();
