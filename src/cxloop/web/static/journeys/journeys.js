/* Journey pages: plotly charts from JSON in the page, and the rule rows of the journey editor. */
(function () {
  "use strict";

  function drawCharts() {
    if (!window.Plotly) return;
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figure);
      if (!source) return;
      var figure = JSON.parse(source.textContent);
      window.Plotly.newPlot(el, figure.data, figure.layout, { displayModeBar: false, responsive: true });
    });
  }

  function stageNames() {
    var box = document.getElementById("j-stages");
    var list = document.getElementById("stage-names");
    if (!box || !list) return;
    var update = function () {
      list.innerHTML = "";
      box.value.split("\n").forEach(function (line) {
        var name = line.split(":")[0].trim();
        if (!name) return;
        var option = document.createElement("option");
        option.value = name;
        list.appendChild(option);
      });
    };
    box.addEventListener("input", update);
    update();
  }

  function ruleRows() {
    var body = document.getElementById("rule-rows");
    var add = document.getElementById("add-row");
    if (!body || !add) return;
    add.addEventListener("click", function () {
      var rows = body.querySelectorAll("tr");
      var copy = rows[rows.length - 1].cloneNode(true);
      copy.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      copy.querySelectorAll("select").forEach(function (select) { select.selectedIndex = 0; });
      body.appendChild(copy);
      copy.querySelector("input").focus();
    });
    body.addEventListener("click", function (event) {
      var button = event.target.closest(".remove-row");
      if (!button) return;
      var row = button.closest("tr");
      if (body.querySelectorAll("tr").length > 1) {
        row.remove();
      } else {
        row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      }
    });
  }

  drawCharts();
  stageNames();
  ruleRows();
})();
