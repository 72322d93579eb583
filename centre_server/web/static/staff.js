/* The admin's staff page: list, add, disable/enable, reset a password, unlock, change a role; the audit. */
"use strict";
(function () {
  const H = window.Huduma;
  const $ = (id) => document.getElementById(id);
  let model = { staff: [], audit: [], you: H.user };

  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
  const pad = (n) => String(n).padStart(2, "0");
  /* seconds since the epoch -> the centre's wall-clock "YYYY-MM-DD HH:MM" */
  const when = (at) => {
    const d = new Date(at * 1000 + H.utcOffsetMin * 60000);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  };
  const roleName = (r) => H.t("role_" + r);

  async function load() {
    try {
      model = await H.api("GET", "/staff");
      $("list-error").hidden = true;
      render();
    } catch (err) {
      if (err.status === 401) return;
      $("list-error").textContent = H.describe(err);
      $("list-error").hidden = false;
    }
  }

  /* Ask before a change that ends someone's work; the answer is a promise of true/false. */
  function confirmed(text) {
    const dialog = $("confirm-dialog");
    $("confirm-text").textContent = text;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      $("confirm-cancel").focus();
    });
  }

  function showPassword(out) {
    $("password-head").textContent = H.t("staff_password_for", { username: out.username });
    $("password-value").textContent = out.password;
    $("password-card").hidden = false;
    $("password-card").focus();
  }
  $("password-done").addEventListener("click", () => {
    $("password-card").hidden = true;
    $("password-value").textContent = "";
    $("add-username").focus();
  });

  async function act(method, path, body, doneKey, username) {
    try {
      const out = await H.api(method, path, body);
      if (out && out.password) showPassword(out);
      H.toast(H.t(doneKey, { username }), "ok");
      await load();
      return out;
    } catch (err) {
      H.toast(H.describe(err), "bad");
      await load();
      return null;
    }
  }

  function stateCell(s) {
    const td = el("td");
    const parts = [];
    if (s.disabled) parts.push([H.t("staff_disabled"), "bad"]);
    if (s.locked) parts.push([H.t("staff_locked"), "warn"]);
    if (!parts.length) parts.push([H.t("staff_active"), "ok"]);
    parts.forEach(([text, cls], i) => { if (i) td.append(" · "); td.append(el("span", text, "state " + cls)); });
    return td;
  }

  function roleCell(s) {
    const td = el("td");
    const box = el("div", undefined, "role-cell");
    const select = el("select");
    select.id = "role-" + s.username;
    select.setAttribute("aria-label", H.t("staff_role_of", { username: s.username }));
    for (const r of model.roles || ["clerk", "manager", "admin"]) {
      const o = el("option", roleName(r));
      o.value = r;
      o.selected = r === s.role;
      select.append(o);
    }
    const save = el("button", H.t("staff_change_role"), "btn btn-small");
    save.type = "button";
    save.dataset.action = "role";
    save.disabled = true;
    select.addEventListener("change", () => { save.disabled = select.value === s.role; });
    if (s.username === model.you) select.disabled = true;  // the server refuses one's own role change anyway
    save.addEventListener("click", async () => {
      if (!(await confirmed(H.t("staff_confirm_role", { username: s.username, role: roleName(select.value) })))) return;
      await act("PUT", "/staff/" + encodeURIComponent(s.username) + "/role", { role: select.value }, "staff_done_role", s.username);
    });
    box.append(select, save);
    td.append(box);
    return td;
  }

  function button(text, action, cls, onClick) {
    const b = el("button", text, "btn btn-small " + (cls || ""));
    b.type = "button";
    b.dataset.action = action;
    b.addEventListener("click", onClick);
    return b;
  }

  function render() {
    const rows = $("staff-rows");
    rows.innerHTML = "";
    for (const s of model.staff) {
      const tr = el("tr");
      tr.dataset.username = s.username;
      if (s.disabled) tr.className = "muted";
      const name = el("th", s.username);
      name.scope = "row";
      if (s.username === model.you) name.append(" ", el("span", "(" + H.t("staff_you") + ")", "you muted"));
      const path = "/staff/" + encodeURIComponent(s.username);
      const actions = el("div", undefined, "staff-actions");
      actions.append(button(H.t("staff_reset_password"), "reset", "", async () => {
        if (!(await confirmed(H.t("staff_confirm_reset", { username: s.username })))) return;
        await act("POST", path + "/reset-password", undefined, "staff_done_reset", s.username);
      }));
      if (s.disabled) {
        actions.append(button(H.t("staff_enable"), "enable", "", () => act("POST", path + "/enable", undefined, "staff_done_enable", s.username)));
      } else if (s.username !== model.you) {  // nobody disables themselves (the server refuses it too)
        actions.append(button(H.t("staff_disable"), "disable", "btn-danger", async () => {
          if (!(await confirmed(H.t("staff_confirm_disable", { username: s.username })))) return;
          await act("POST", path + "/disable", undefined, "staff_done_disable", s.username);
        }));
      }
      if (s.locked) actions.append(button(H.t("staff_unlock"), "unlock", "btn-warn", () => act("POST", path + "/unlock", undefined, "staff_done_unlock", s.username)));
      const acts = el("td");
      acts.append(actions);
      tr.append(name, el("td", s.full_name || "—"), roleCell(s), stateCell(s), acts);
      rows.append(tr);
    }
    const audit = $("audit-rows");
    audit.innerHTML = "";
    for (const a of model.audit) {
      const tr = el("tr");
      tr.dataset.action = a.action;
      const d = a.detail || {};
      const what = H.t("audit_" + a.action.replace(/-/g, "_"), { username: d.username || "?", role: d.role ? roleName(d.role) : "",
                                                                  was: d.was ? roleName(d.was) : "" });
      tr.append(el("td", when(a.at)), el("td", a.actor), el("td", what));
      audit.append(tr);
    }
    if (!model.audit.length) {
      const tr = el("tr");
      const td = el("td", H.t("none"), "muted");
      td.colSpan = 3;
      tr.append(td);
      audit.append(tr);
    }
  }

  $("add-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const username = $("add-username").value.trim().toLowerCase();
    const err = $("add-error");
    if (!/^[a-z0-9][a-z0-9_-]{0,39}$/.test(username)) {
      err.textContent = H.t("err_bad_username");
      err.hidden = false;
      $("add-username").setAttribute("aria-invalid", "true");
      $("add-username").focus();
      return;
    }
    $("add-username").removeAttribute("aria-invalid");
    try {
      const out = await H.api("POST", "/staff", { username, role: $("add-role").value, full_name: $("add-full-name").value });
      err.hidden = true;
      $("add-form").reset();
      showPassword(out);
      H.toast(H.t("staff_done_add", { username }), "ok");
      await load();
    } catch (e2) {
      err.textContent = H.describe(e2);
      err.hidden = false;
    }
  });

  load();
})();
