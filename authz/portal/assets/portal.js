// Saves a grant select as soon as it changes. Without this script the
// form's "Save grants" button does the same.
(function () {
  "use strict";
  var form = document.getElementById("grants-form");
  if (!form || !window.fetch) { return; }
  var status = document.getElementById("grants-status");
  document.documentElement.classList.add("js");
  function show(text, ok) {
    status.textContent = text;
    status.className = "save-state " + (ok ? "ok" : "bad");
  }
  form.addEventListener("change", function (ev) {
    var select = ev.target;
    if (!select.dataset || !select.dataset.grant) { return; }
    var body = new URLSearchParams(new FormData(form));
    show("Saving…", true);
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
        "X-CSRF-Token": form.elements["csrf_token"].value
      },
      body: body
    }).then(function (resp) {
      return resp.json().then(function (data) {
        if (!resp.ok) { throw new Error(data.error || ("HTTP " + resp.status)); }
        form.dataset.saved = (data.grants || []).join(" ");
        show("Saved", true);
      });
    }).catch(function (err) {
      show("Not saved: " + err.message, false);
    });
  });
})();
