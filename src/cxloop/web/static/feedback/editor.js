/* Survey editor: the preview frame (phone/desktop width, reloaded after each change), drag to
   reorder questions (HTML5 drag and drop; the ↑/↓ buttons do the same from the keyboard), the
   skip-logic value list narrowed to the chosen question, and refused actions brought into view.
   No inline scripts (CSP): everything is wired here from data- attributes. */
(function () {
  "use strict";

  function reloadPreview() {
    var frame = document.getElementById("preview");
    if (frame) frame.src = frame.getAttribute("src").split("#")[0];
  }

  // the frame takes its page's height (same origin), so the whole preview scrolls with the editor
  function fitPreview() {
    var frame = document.getElementById("preview");
    var doc = frame && frame.contentDocument;
    if (!doc || !doc.documentElement) return;
    frame.style.height = Math.max(320, doc.documentElement.scrollHeight) + "px";
  }
  function watchPreview() {
    var frame = document.getElementById("preview");
    if (!frame) return;
    frame.addEventListener("load", function () {
      fitPreview();
      var doc = frame.contentDocument;
      if (!doc) return;
      if (window.ResizeObserver) new ResizeObserver(fitPreview).observe(doc.body);
      doc.addEventListener("focusin", function () { markFocus(true); });
      frame.contentWindow.addEventListener("blur", function () { markFocus(false); });
    });
    fitPreview();
  }

  // focus inside the frame is invisible to this page's :focus: mark the frame while it has it
  function markFocus(on) {
    var frame = document.getElementById("preview");
    if (frame) frame.classList.toggle("focused", on);
  }
  window.addEventListener("focus", function () { markFocus(false); });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-preview-width]");
    if (!button) return;
    var box = document.getElementById("preview-frame");
    box.classList.toggle("phone", button.dataset.previewWidth === "phone");
    box.classList.toggle("desktop", button.dataset.previewWidth === "desktop");
    setTimeout(fitPreview, 50);
    document.querySelectorAll("[data-preview-width]").forEach(function (b) {
      b.setAttribute("aria-pressed", b === button ? "true" : "false");
    });
  });

  // skip logic: the value list shows the values of the question chosen on its left
  function syncLogic(fieldset) {
    var question = fieldset.querySelector("[data-logic-question]");
    var values = fieldset.querySelector("[data-logic-value]");
    if (!question || !values) return;
    var chosen = question.value, firstShown = null, selectedShown = false;
    values.querySelectorAll("optgroup").forEach(function (group) {
      var show = group.dataset.q === chosen;
      group.hidden = !show;
      group.disabled = !show;
      group.querySelectorAll("option").forEach(function (o) {
        if (show && !firstShown) firstShown = o;
        if (show && o.selected) selectedShown = true;
      });
    });
    if (!selectedShown && firstShown) firstShown.selected = true;
    values.disabled = !chosen;
    var op = fieldset.querySelector("select[name=show_if_op]");
    if (op) op.disabled = !chosen;
  }
  function syncAllLogic(root) {
    root.querySelectorAll("[data-logic]").forEach(syncLogic);
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-logic-question]")) syncLogic(event.target.closest("[data-logic]"));
  });

  // drag to reorder
  var dragged = null;
  document.addEventListener("dragstart", function (event) {
    var item = event.target.closest && event.target.closest("#qlist > li");
    if (!item || event.target.closest("details[open]")) return;
    dragged = item;
    item.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.dataset.key);
  });
  document.addEventListener("dragover", function (event) {
    if (!dragged) return;
    var over = event.target.closest && event.target.closest("#qlist > li");
    if (!over || over === dragged) return;
    event.preventDefault();
    var box = over.getBoundingClientRect();
    var after = event.clientY > box.top + box.height / 2;
    over.parentNode.insertBefore(dragged, after ? over.nextSibling : over);
  });
  document.addEventListener("drop", function (event) {
    if (dragged) event.preventDefault();
  });
  document.addEventListener("dragend", function () {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    dragged = null;
    var keys = Array.prototype.map.call(document.querySelectorAll("#qlist > li"), function (li) {
      return li.dataset.key;
    });
    var form = document.getElementById("reorder");
    if (!form) return;
    form.querySelector("[name=order]").value = keys.join(",");
    if (window.htmx) window.htmx.trigger(form, "submit"); else form.submit();
  });

  function afterChange(root) {
    syncAllLogic(root);
    var alert = root.querySelector(".act-errors");
    if (alert) {
      alert.setAttribute("tabindex", "-1");
      alert.scrollIntoView({ block: "center" });
      alert.focus({ preventScroll: true });
    }
  }
  document.addEventListener("htmx:afterSwap", function (event) {
    var builder = document.getElementById("builder");
    if (!builder) return;
    afterChange(builder);
    reloadPreview();
  });
  document.addEventListener("DOMContentLoaded", function () {
    var builder = document.getElementById("builder");
    if (builder) afterChange(builder);
    watchPreview();
  });
})();
