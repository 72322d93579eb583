// The "Tomorrow" page: print the plan, and show a newly chosen day at once.
(function () {
  "use strict";
  var print = document.getElementById("plan-print");
  if (print) print.addEventListener("click", function () { window.print(); });
  var day = document.getElementById("plan-date");
  var form = document.getElementById("plan-form");
  if (day && form) day.addEventListener("change", function () { if (day.value) form.submit(); });
  // While the plan is being prepared, ask quietly every 4 s and show the page again only once it is ready:
  // no meta refresh reloading under a screen reader's or a keyboard user's feet (WCAG 2.2.1, axe meta-refresh).
  if (document.getElementById("plan-preparing")) {
    var ask = function () {
      fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
        .then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (html) {
          if (html && html.indexOf('id="plan-preparing"') < 0) window.location.reload();
          else window.setTimeout(ask, 4000);
        })
        .catch(function () { window.setTimeout(ask, 4000); });
    };
    window.setTimeout(ask, 4000);
  }
})();
