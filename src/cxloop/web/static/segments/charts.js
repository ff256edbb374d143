/* Draws every plotly figure embedded as <script type="application/json" data-plotly="TARGET-ID">
   (built in Python with plotly.graph_objects); again after htmx swaps new ones in. */
(function () {
  "use strict";
  function draw() {
    if (typeof Plotly === "undefined") return;
    document.querySelectorAll("script[data-plotly]").forEach(function (node) {
      var target = document.getElementById(node.dataset.plotly);
      if (!target || target.dataset.drawn) return;
      var figure = JSON.parse(node.textContent);
      // no mode bar: its buttons are not keyboard-usable and sit inside the role="img" chart
      Plotly.newPlot(target, figure.data, figure.layout, { displayModeBar: false, responsive: true });
      target.dataset.drawn = "1";
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
  document.addEventListener("htmx:afterSettle", draw);
})();
