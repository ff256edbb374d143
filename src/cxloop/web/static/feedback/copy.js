/* Copy buttons: <button data-copy="TEXT"> or data-copy-from="INPUT_ID" puts the text on the
   clipboard and says so in the button for a moment (a static file: CSP forbids inline scripts). */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy], [data-copy-from]");
    if (!button) return;
    var source = button.dataset.copyFrom && document.getElementById(button.dataset.copyFrom);
    var text = source ? source.value : button.dataset.copy;
    var label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    function done(message) {
      button.textContent = message;
      setTimeout(function () { button.textContent = label; }, 1800);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done("Copied"); }, function () { fallback(); });
    } else {
      fallback();
    }
    function fallback() {
      var box = document.createElement("textarea");
      box.value = text;
      box.setAttribute("readonly", "");
      box.style.position = "fixed";
      box.style.opacity = "0";
      document.body.appendChild(box);
      box.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(box);
      done(ok ? "Copied" : "Press Ctrl+C");
    }
  });
})();
