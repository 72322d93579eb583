// The call page: while a centre's answer is awaited, ask for the answers part every two seconds and show it.
// Without this script the page works the same: reloading it shows what has arrived.
(function () {
  "use strict";
  var box = document.getElementById("answers");
  if (!box) { return; }
  var url = window.location.pathname.replace(/\/$/, "") + "/answers" + window.location.search;
  function refresh() {
    var now = document.getElementById("answers");
    if (!now || now.getAttribute("data-pending") !== "1") { return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("answers");
        if (fresh) { now.replaceWith(document.importNode(fresh, true)); }
      })
      .catch(function () { /* the network blinked: the next round tries again */ })
      .finally(function () { window.setTimeout(refresh, 2000); });
  }
  window.setTimeout(refresh, 2000);
}());
