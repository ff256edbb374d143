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

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function () { draw(document); });
  // A bad filter answers 400 with a message naming the parameter: show it in place.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 400 && event.detail.target.id === "dashboard") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
