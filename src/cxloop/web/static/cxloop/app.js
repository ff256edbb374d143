/* Boxes that scroll sideways (wide tables, code, the journey map) take keyboard focus, so a
   keyboard user can scroll them with the arrow keys (WCAG 2.1.1); only while they overflow, so
   a table that fits is no extra Tab stop. Again after htmx swaps new content in. */
(function () {
  "use strict";
  var SELECTOR = ".table-wrap, pre, .jmap, .chart-scroll";
  function mark() {
    document.querySelectorAll(SELECTOR).forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.tabIndex = 0;
        box.dataset.scrollFocus = "1";
        if (!box.hasAttribute("role")) {
          var card = box.closest("section, .card");
          var heading = card && card.querySelector("h1, h2, h3");
          box.setAttribute("role", "group");
          box.setAttribute(
            "aria-label",
            (heading ? heading.textContent.trim() + ": " : "") + "scrolls sideways"
          );
        }
      } else if (!scrolls && box.dataset.scrollFocus) {
        box.removeAttribute("tabindex");
        delete box.dataset.scrollFocus;
      }
    });
  }
  var timer;
  function later() {
    clearTimeout(timer);
    timer = setTimeout(mark, 100);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mark);
  } else {
    mark();
  }
  window.addEventListener("resize", later);
  document.addEventListener("htmx:afterSettle", mark);
})();
