// The national board refreshes itself each minute (it hangs on office walls), but never while
// someone is choosing a day or a period: a reload then would throw away what they were typing.
(function () {
  "use strict";
  var PERIOD_MS = 60000;
  function busy() {
    var el = document.activeElement;
    return !!el && el !== document.body && /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName);
  }
  function tick() {
    if (busy() || document.hidden) { window.setTimeout(tick, PERIOD_MS); return; }
    window.location.reload();
  }
  window.setTimeout(tick, PERIOD_MS);
})();
