// The "Tomorrow" page: print the plan, and show a newly chosen day at once.
(function () {
  "use strict";
  var print = document.getElementById("plan-print");
  if (print) print.addEventListener("click", function () { window.print(); });
  var day = document.getElementById("plan-date");
  var form = document.getElementById("plan-form");
  if (day && form) day.addEventListener("change", function () { if (day.value) form.submit(); });
})();
