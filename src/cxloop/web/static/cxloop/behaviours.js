/* Small page behaviours, declared with data- attributes instead of inline handlers, so the
   Content-Security-Policy can refuse every inline script (settings.CONTENT_SECURITY_POLICY).
   Delegated from document, so they also work on fragments htmx swaps in.
   - data-autosubmit on a field: submit its form when the field changes;
   - data-confirm="question" on a form: ask before submitting;
   - data-select-all on a field: select its text on click (copy boxes);
   - data-form-mode on a radio: set its form's data-mode to the radio's value;
   - data-switch="SELECT_ID" on a form: show only its [data-for] elements that name the select's
     current value (space-separated);
   - data-poll-when-visible on an element polled by htmx (hx-trigger="every Ns"): skip the polls
     while the tab is hidden (what a trigger filter would do, but filters need eval). */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches("[data-autosubmit]") && el.form) el.form.submit();
    if (el.matches("[data-form-mode]") && el.form) el.form.dataset.mode = el.value;
    if (el.form && el.form.dataset.switch === el.id) syncSwitch(el.form);
  });
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
  document.addEventListener("click", function (event) {
    if (event.target.matches("[data-select-all]")) event.target.select();
  });
  document.addEventListener("htmx:confirm", function (event) {
    if (event.target.matches("[data-poll-when-visible]") && document.visibilityState !== "visible") {
      event.preventDefault();
    }
  });
  function syncSwitch(form) {
    var select = document.getElementById(form.dataset.switch);
    if (!select) return;
    form.querySelectorAll("[data-for]").forEach(function (el) {
      el.hidden = el.getAttribute("data-for").split(" ").indexOf(select.value) < 0;
    });
  }
  function syncAll(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("form[data-switch]").forEach(syncSwitch);
  }
  document.addEventListener("DOMContentLoaded", function () { syncAll(document); });
  document.addEventListener("htmx:load", function (event) { syncAll(event.detail.elt.parentNode || document); });
})();
