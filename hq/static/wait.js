// "Use my location": the phone's position fills lat/lon and the form is sent; the county list works without it.
(function () {
  "use strict";
  var button = document.getElementById("locate");
  var status = document.getElementById("locate-status");
  var form = document.getElementById("ask");
  if (!button || !form || !("geolocation" in navigator)) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    if (!form.service.value) { form.service.focus(); form.reportValidity(); return; }
    status.textContent = button.dataset.busy;
    navigator.geolocation.getCurrentPosition(function (pos) {
      document.getElementById("lat").value = pos.coords.latitude.toFixed(4);
      document.getElementById("lon").value = pos.coords.longitude.toFixed(4);
      form.county.value = "";
      form.submit();
    }, function () {
      status.textContent = button.dataset.denied;
    }, { timeout: 15000, maximumAge: 600000 });
  });
  // choosing a county is a new question: forget a position sent before
  form.addEventListener("submit", function (e) {
    if (e.submitter && e.submitter.value === "county") {
      document.getElementById("lat").value = "";
      document.getElementById("lon").value = "";
    }
  });
})();
