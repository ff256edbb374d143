/* Public survey page: skip logic as the customer answers, and autosave of partial answers. */
(function () {
  "use strict";
  var form = document.getElementById("survey-form");
  if (!form) return;
  var questions = Array.prototype.slice.call(form.querySelectorAll("fieldset.question"));

  function answerOf(key) {
    var inputs = form.querySelectorAll('[name="' + key + '"]');
    var values = [];
    for (var i = 0; i < inputs.length; i++) {
      var el = inputs[i];
      if (el.matches(":disabled")) continue;
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) continue;
      if (el.value !== "") values.push(el.value);
    }
    return values;
  }

  function holds(cond, values) {
    if (!values.length) return false;
    var wanted = cond.value;
    var nums = values.map(Number);
    switch (cond.op) {
      case "eq": return values.indexOf(String(wanted)) >= 0;
      case "ne": return values.indexOf(String(wanted)) < 0;
      case "in": return values.some(function (v) { return wanted.map(String).indexOf(v) >= 0; });
      case "lt": return nums[0] < wanted;
      case "lte": return nums[0] <= wanted;
      case "gt": return nums[0] > wanted;
      case "gte": return nums[0] >= wanted;
    }
    return false;
  }

  function applySkipLogic() {
    var shown = {};
    questions.forEach(function (fs) {
      var raw = fs.getAttribute("data-show-if");
      var visible = true;
      if (raw) {
        var cond = JSON.parse(raw);
        visible = !!shown[cond.question] && holds(cond, answerOf(cond.question));
      }
      fs.hidden = !visible;
      fs.disabled = !visible;  // hidden answers are not sent
      shown[fs.getAttribute("data-key")] = visible;
    });
  }

  var timer = null, status = form.querySelector(".saved");
  function save() {
    var url = form.getAttribute("data-save-url");
    if (!url || !window.fetch) return;
    fetch(url, { method: "POST", body: new FormData(form), credentials: "omit" })
      .then(function (r) {
        if (status) status.textContent = status.getAttribute(r.ok ? "data-saved-text" : "data-unsaved-text");
      })
      .catch(function () {
        if (status) status.textContent = status.getAttribute("data-unsaved-text");
      });
  }
  function changed() {
    applySkipLogic();
    if (status) status.textContent = "";
    clearTimeout(timer);
    timer = setTimeout(save, 600);
  }
  // A score link from an email shows the score selected but stores nothing (mail scanners open
  // links). Once the person touches the page, keep it as a partial answer, as autosave does.
  if (form.hasAttribute("data-prefilled")) {
    var kept = false;
    var keep = function () { if (!kept) { kept = true; save(); } };
    ["pointerdown", "keydown", "touchstart"].forEach(function (type) {
      document.addEventListener(type, keep, { once: true, passive: true });
    });
  }
  form.addEventListener("change", changed);
  form.addEventListener("submit", function () { clearTimeout(timer); });
  applySkipLogic();
  var firstError = form.querySelector(".question.invalid input, .question.invalid textarea");
  if (firstError) firstError.focus();
})();
