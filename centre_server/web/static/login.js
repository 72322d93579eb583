/* The staff login form: POST /api/v1/auth/login sets the session and CSRF cookies. */
"use strict";
(function () {
  const H = window.Huduma;
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  const button = document.getElementById("login-button");
  const messages = { bad_credentials: "login_bad_credentials", locked_out: "login_locked_out", disabled: "login_disabled" };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    button.disabled = true;
    try {
      const resp = await fetch("/api/v1/auth/login", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ username: form.username.value.trim(), password: form.password.value }),
      });
      const data = await resp.json().catch(() => null);
      if (!resp.ok) {
        const err = (data && data.error) || {};
        const minutes = err.code === "locked_out" ? /(\d+)\s*min/.exec(err.message || "") : null;
        if (minutes) error.textContent = H.t("login_locked_out_min", { m: minutes[1] });
        else if (messages[err.code]) error.textContent = H.t(messages[err.code]);
        else error.textContent = H.t("error_generic", { message: err.message || resp.statusText });
        error.hidden = false;
        form.password.value = "";
        form.password.focus();
        return;
      }
      if (!["clerk", "manager", "admin"].includes(data.role)) {
        error.textContent = H.t("login_not_staff");
        error.hidden = false;
        return;
      }
      const next = form.dataset.next;
      location.href = next || (data.role === "clerk" ? "/clerk" : "/board");
    } catch (err) {
      error.textContent = H.t("network_error");
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
})();
