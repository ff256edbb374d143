/* Small page behaviours, declared with data- attributes instead of inline handlers, so the
   Content-Security-Policy can refuse every inline script (settings.CONTENT_SECURITY_POLICY).
   Delegated from document, so they also work on fragments htmx swaps in.
   - data-autosubmit on a field: submit its form when the field changes;
   - data-redraw on a field of an htmx form (hx-post): send the form to be drawn again when the
     field changes. Delegated here rather than hx-trigger="change from:[data-redraw]", which htmx
     wires only once a swapped-in form has settled: a change in those first milliseconds was lost;
   - data-confirm="question" on a form: ask before submitting;
   - data-select-all on a field: select its text on click (copy boxes);
   - data-form-mode on a radio: set its form's data-mode to the radio's value;
   - data-switch="SELECT_ID" on a form: show only its [data-for] elements that name the select's
     current value (space-separated);
   - data-poll-when-visible on an element polled by htmx (hx-trigger="every Ns"): skip the polls
     while the tab is hidden (what a trigger filter would do, but filters need eval).
   And the one place a failed request is shown: an htmx request answered 4xx/5xx (other than the
   422s htmx swaps in as a form with its messages) or not answered at all puts a message
   (role=alert) right after the form or control that sent it; the next success there removes it.
   Scripts that use fetch call window.cxloopRequestFailed(element, status, text) the same way. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches("[data-autosubmit]") && el.form) el.form.submit();
    if (el.matches("[data-redraw]") && el.form && el.form.hasAttribute("hx-post") && window.htmx) {
      window.htmx.ajax("POST", el.form.getAttribute("hx-post"), {source: el.form});
    }
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
  // the message follows the form that sent the request, or the group holding the control that
  // sent it (a row of buttons), or an element marked data-error-anchor around it
  function errorAnchor(el) {
    if (el && !el.isConnected && el.id) el = document.getElementById(el.id);  // swapped since
    if (!el || !el.isConnected) return document.getElementById("main") || document.body;
    var marked = el.closest("[data-error-anchor]");
    if (marked) return marked;
    if (el.tagName === "FORM" || !el.parentElement) return el;
    return el.parentElement;
  }
  function describe(status, text) {
    var what = status ? "The server answered " + status + (status >= 500
      ? ": something went wrong on our side. Please try again; if it keeps happening, tell your admin."
      : ": this was refused.") : "The server could not be reached. Check your connection and try again.";
    var detail = (text || "").trim();
    // a short plain or JSON answer says why; an HTML page is not shown as text
    if (detail && detail.charAt(0) === "{") {
      try { var body = JSON.parse(detail); detail = body.detail || body.message || body.error || ""; }
      catch (e) { detail = ""; }
    }
    if (typeof detail !== "string" || detail.charAt(0) === "<" || detail.length > 300) detail = "";
    return detail ? what + " " + detail : what;
  }
  function showError(el, status, text) {
    var anchor = errorAnchor(el);
    var box = anchor.nextElementSibling;
    if (!box || !box.matches("[data-request-error]")) {
      box = document.createElement("p");
      box.className = "error request-error";
      box.setAttribute("role", "alert");
      box.setAttribute("data-request-error", "");
      if (anchor.id === "main") anchor.prepend(box); else anchor.after(box);
    }
    box.textContent = describe(status, text);
  }
  function clearError(el) {
    var anchor = errorAnchor(el);
    var box = anchor.nextElementSibling;
    if (box && box.matches("[data-request-error]")) box.remove();
  }
  window.cxloopRequestFailed = showError;
  window.cxloopRequestSucceeded = clearError;
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    showError(event.detail.requestConfig ? event.detail.requestConfig.elt : event.detail.elt,
      xhr.status, xhr.responseText);
  });
  // A session that ended answers a partial request with the login page (after a redirect):
  // log in again from the page itself, and come back to it, instead of a login form in a box.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    var login = document.body.getAttribute("data-login-url");
    if (!login || !xhr.responseURL) return;
    var answered = new URL(xhr.responseURL, window.location.href);
    if (answered.pathname === login && window.location.pathname !== login) {
      event.detail.shouldSwap = false;
      window.location.assign(login + "?next=" + encodeURIComponent(window.location.pathname + window.location.search));
    }
  });
  document.addEventListener("htmx:sendError", function (event) {
    showError(event.detail.requestConfig ? event.detail.requestConfig.elt : event.detail.elt, 0, "");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) {
      clearError(event.detail.requestConfig ? event.detail.requestConfig.elt : event.detail.elt);
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
