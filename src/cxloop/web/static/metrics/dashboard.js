/* Dashboard: draw the plotly figures the server built, after load and after every htmx swap. */
(function () {
  "use strict";
  var CONFIG = { displayModeBar: false, responsive: true };

  function draw(root) {
    if (typeof Plotly === "undefined") return;
    root.querySelectorAll("[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figure);
      if (!source || el.dataset.drawn === source.textContent.length + "") return;
      var figure = JSON.parse(source.textContent);
      Plotly.react(el, figure.data, figure.layout, CONFIG);
      el.dataset.drawn = source.textContent.length + "";
    });
  }

  // The filter a 400 names gets the message next to it (the panel says it too): the form is
  // outside the swapped panel, so its marks are set here after every answer.
  function markField() {
    var form = document.getElementById("dash-filters");
    if (!form) return;
    document.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
    document.querySelectorAll("#dash-filters [aria-invalid], #comment-filters [aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    });
    var error = document.getElementById("dash-error");
    if (!error) return;
    var field = document.querySelector('#dash-filters [name="' + error.dataset.param + '"]');
    if (!field || field.type === "hidden") return;
    var note = document.createElement("p");
    note.className = "field-error";
    note.id = "field-error";
    note.textContent = error.dataset.message;
    field.after(note);
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", "field-error");
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); markField(); });
  document.addEventListener("htmx:afterSettle", function () { draw(document); markField(); });
  // A bad filter answers 400 with a message naming the parameter: show it in place.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 400 && event.detail.target.id === "dashboard") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
