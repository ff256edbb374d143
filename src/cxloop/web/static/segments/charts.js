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
      Plotly.newPlot(target, figure.data, figure.layout, {
        displaylogo: false,
        responsive: true,
        modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d"],
      });
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
