/* The visual journey editor: stages as columns (add, rename, delete, drag or move with buttons),
   touchpoints as cards with a rule picker (event, channel, property conditions chosen from the
   properties seen on that event, with operators for their type) and a live count of matching
   events (an htmx request per rule). The page posts the whole definition as JSON in
   "definition" (journeys.definitions format); refused ones come back with errors keyed by the
   definition path, shown next to their field. */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("journey-editor-data").textContent);
  var form = document.getElementById("journey-editor");
  var columns = document.getElementById("stage-columns");
  var status = document.getElementById("editor-status");
  var uid = 0;
  var properties = {}; // event name -> {loading: bool, list: [{name, type, examples}]}
  var counts = {}; // rule JSON -> count fragment (HTML from the server)
  var errors = (data.errors || []).slice();
  var dragFrom = null;

  var OPS = {
    number: [["eq", "="], ["neq", "≠"], ["lt", "<"], ["lte", "≤"], ["gt", ">"], ["gte", "≥"]],
    string: [["eq", "equals"], ["contains", "contains"], ["exists", "is set"]],
    "boolean": [["true", "is true"], ["false", "is false"]]
  };
  var METRICS = [["", "no feedback condition"], ["nps", "NPS"], ["csat", "CSAT"], ["ces", "CES"]];

  function next() { uid += 1; return "je" + uid; }

  // ---------------------------------------------------------------- state from the definition

  function ruleState(raw) {
    if (typeof raw === "string") raw = { event: raw };
    raw = raw || {};
    return {
      id: next(),
      event: String(raw.event || ""),
      channel: String(raw.channel || ""),
      conditions: (Array.isArray(raw.conditions) ? raw.conditions : []).map(function (c) {
        c = c || {};
        return { id: next(), property: String(c.property || ""), op: String(c.op || "eq"), value: c.value === undefined ? "" : c.value };
      })
    };
  }

  function fromDefinition(def) {
    var state = { name: String(def.name || ""), description: String(def.description || ""), stages: [] };
    var byName = {};
    (Array.isArray(def.stages) ? def.stages : []).forEach(function (raw) {
      if (typeof raw === "string") raw = { name: raw };
      raw = raw || {};
      var feedback = raw.feedback && raw.feedback.metric ? raw.feedback : null;
      var stage = {
        id: next(), name: String(raw.name || ""), description: String(raw.description || ""),
        feedback: feedback ? { metric: String(feedback.metric), op: String(feedback.op || "gte"), value: feedback.value } : null,
        touchpoints: []
      };
      state.stages.push(stage);
      byName[stage.name.trim().toLowerCase()] = byName[stage.name.trim().toLowerCase()] || stage;
    });
    (Array.isArray(def.touchpoints) ? def.touchpoints : []).forEach(function (raw) {
      raw = raw || {};
      var stage = byName[String(raw.stage || "").trim().toLowerCase()] || state.stages[state.stages.length - 1];
      if (!stage) return;
      var rules = Array.isArray(raw.rules) && raw.rules.length ? raw.rules : [{}];
      stage.touchpoints.push({ id: next(), name: String(raw.name || ""), rules: rules.map(ruleState) });
    });
    return state;
  }

  var state = fromDefinition(data.definition || {});

  function ruleDefinition(rule) {
    return {
      event: rule.event,
      channel: rule.channel,
      conditions: rule.conditions.map(function (c) {
        var condition = { property: c.property, op: c.op };
        if (c.op !== "exists") condition.value = c.value;
        return condition;
      })
    };
  }

  function toDefinition() {
    var touchpoints = [];
    var stages = state.stages.map(function (stage) {
      stage.touchpoints.forEach(function (tp) {
        var channels = {};
        tp.rules.forEach(function (r) { channels[r.channel] = true; });
        var names = Object.keys(channels);
        touchpoints.push({
          stage: stage.name, name: tp.name,
          channel: names.length === 1 ? names[0] : "", // shown on the map when every rule agrees
          rules: tp.rules.map(ruleDefinition)
        });
      });
      var out = { name: stage.name, description: stage.description };
      if (stage.feedback && stage.feedback.metric) out.feedback = stage.feedback;
      return out;
    });
    return { name: state.name, description: state.description, stages: stages, touchpoints: touchpoints };
  }

  // ---------------------------------------------------------------- small DOM helpers

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "value") node.value = value;
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function field(label, control, extraClass) {
    var id = control.id || next();
    control.id = id;
    return el("div", { "class": "jfield" + (extraClass ? " " + extraClass : "") }, [el("label", { "for": id, text: label }), control]);
  }

  function select(options, chosen, attrs) {
    var node = el("select", attrs || {});
    options.forEach(function (pair) {
      var option = el("option", { value: pair[0], text: pair[1] });
      if (String(pair[0]) === String(chosen)) option.selected = true;
      node.appendChild(option);
    });
    return node;
  }

  function say(text) { status.textContent = text; }

  // ---------------------------------------------------------------- properties seen, counts

  function propertiesOf(event, then) {
    if (!event) return [];
    var known = properties[event];
    if (known && !known.loading) return known.list;
    if (!known) {
      properties[event] = { loading: true, list: [] };
      fetch(data.urls.properties + "?event=" + encodeURIComponent(event), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : { properties: [] }; })
        .catch(function () { return { properties: [] }; })
        .then(function (body) {
          properties[event] = { loading: false, list: body.properties || [] };
          if (then) then();
        });
    }
    return null; // loading
  }

  function typeOf(event, property) {
    var list = (properties[event] && properties[event].list) || [];
    for (var i = 0; i < list.length; i += 1) if (list[i].name === property) return list[i].type;
    return "string";
  }

  var countTimers = {};
  function refreshCount(rule, target) {
    var key = JSON.stringify(ruleDefinition(rule));
    if (counts[key] !== undefined) { target.innerHTML = counts[key]; return; }
    clearTimeout(countTimers[rule.id]);
    countTimers[rule.id] = setTimeout(function () {
      if (!window.htmx || !target.isConnected) return;
      target.setAttribute("aria-busy", "true");
      window.htmx.ajax("GET", data.urls.count, { source: target, target: target, swap: "innerHTML", values: { rule: key } })
        .then(function () {
          target.removeAttribute("aria-busy");
          if (target.isConnected) counts[key] = target.innerHTML;
        });
    }, 250);
  }

  // ---------------------------------------------------------------- rendering

  function changed(message) {
    if (errors.length) { errors = []; document.getElementById("form-errors").hidden = true; }
    render();
    if (message) say(message);
  }

  function conditionRow(stage, tp, rule, condition, path) {
    var seen = propertiesOf(rule.event, render);
    var names = (seen || []).map(function (p) { return [p.name, p.name]; });
    if (condition.property && !names.some(function (p) { return p[0] === condition.property; })) {
      names.unshift([condition.property, condition.property + (seen ? " (not seen lately)" : "")]);
    }
    if (!condition.property) names.unshift(["", seen ? "Choose a property…" : "Loading properties…"]);
    var kind = typeOf(rule.event, condition.property);
    var ops = OPS[kind];
    var chosenOp = condition.op;
    if (kind === "boolean") chosenOp = condition.value === false || condition.value === "false" ? "false" : "true";
    var opKnown = ops.some(function (o) { return o[0] === chosenOp; });
    if (!opKnown) ops = [[chosenOp, chosenOp + " (not for this type)"]].concat(ops);

    var property = select(names, condition.property, { "data-path": path + ".property", "data-focus": condition.id + "-p" });
    property.addEventListener("change", function () {
      condition.property = property.value;
      var type = typeOf(rule.event, condition.property);
      if (type === "boolean") { condition.op = "eq"; condition.value = true; }
      else if (!OPS[type].some(function (o) { return o[0] === condition.op; })) { condition.op = OPS[type][0][0]; }
      if (type === "number" && typeof condition.value !== "number") condition.value = "";
      if (type === "string" && typeof condition.value !== "string") condition.value = "";
      changed();
    });
    var op = select(ops, chosenOp, { "data-path": path + ".op", "data-focus": condition.id + "-o" });
    op.addEventListener("change", function () {
      if (kind === "boolean") { condition.op = "eq"; condition.value = op.value === "true"; }
      else condition.op = op.value;
      changed();
    });
    var parts = [
      field("Property", property, "jprop"),
      field("Operator", op, "jop")
    ];
    if (kind !== "boolean" && condition.op !== "exists") {
      var attrs = { value: condition.value === null ? "" : String(condition.value), "data-path": path + ".value", "data-focus": condition.id + "-v", autocomplete: "off" };
      if (kind === "number") { attrs.type = "number"; attrs.step = "any"; attrs.inputmode = "decimal"; }
      var examples = ((seen || []).filter(function (p) { return p.name === condition.property; })[0] || {}).examples || [];
      if (examples.length) { attrs.list = condition.id + "-examples"; }
      var value = el("input", attrs);
      value.addEventListener("input", function () {
        condition.value = kind === "number" && value.value.trim() !== "" && !isNaN(Number(value.value)) ? Number(value.value) : value.value;
      });
      value.addEventListener("change", function () { refreshCount(rule, document.getElementById(rule.id + "-count")); });
      parts.push(field("Value", value, "jvalue"));
      if (examples.length) {
        parts.push(el("datalist", { id: condition.id + "-examples" }, examples.map(function (x) { return el("option", { value: x }); })));
      }
    }
    var remove = el("button", { type: "button", "class": "link", "aria-label": "Remove condition on " + (condition.property || "a property"), text: "✕" });
    remove.addEventListener("click", function () {
      rule.conditions.splice(rule.conditions.indexOf(condition), 1);
      changed("Condition removed.");
      var back = document.querySelector("[data-focus='" + rule.id + "-add']");
      if (back) back.focus();
    });
    parts.push(remove);
    return el("li", { "class": "jcond", "data-path": path }, parts);
  }

  function ruleBlock(stage, tp, rule, path, r) {
    var events = data.events.map(function (name) { return [name, name]; });
    if (rule.event && data.events.indexOf(rule.event) < 0) events.unshift([rule.event, rule.event + " (no events lately)"]);
    events.unshift(["", "Choose an event…"]);
    var event = select(events, rule.event, { "data-path": path + ".event", "data-focus": rule.id + "-e" });
    event.addEventListener("change", function () {
      rule.event = event.value;
      rule.conditions = [];
      changed();
    });
    var channel = select([["", "any channel"]].concat(data.channels.map(function (c) { return [c, c]; })), rule.channel, { "data-path": path + ".channel", "data-focus": rule.id + "-c" });
    channel.addEventListener("change", function () { rule.channel = channel.value; changed(); });
    var conditions = el("ul", { "class": "plain jconds", "data-path": path + ".conditions" },
      rule.conditions.map(function (c, i) { return conditionRow(stage, tp, rule, c, path + ".conditions[" + i + "]"); }));
    var add = el("button", { type: "button", "class": "link", "data-focus": rule.id + "-add", text: "+ Condition" });
    if (!rule.event) add.disabled = true;
    add.addEventListener("click", function () {
      var c = { id: next(), property: "", op: "eq", value: "" };
      rule.conditions.push(c);
      changed("Condition added.");
      var focus = document.querySelector("[data-focus='" + c.id + "-p']");
      if (focus) focus.focus();
    });
    var count = el("p", { "class": "rule-count", id: rule.id + "-count", "aria-live": "polite" });
    var head = el("div", { "class": "jrule-head" }, [
      field(r === 0 ? "Event" : "Or event", event, "jevent"),
      field("Channel", channel, "jchannel")
    ]);
    var children = [head, conditions, el("div", { "class": "jrule-actions" }, [add])];
    if (tp.rules.length > 1) {
      var drop = el("button", { type: "button", "class": "link danger", text: "Remove this event" });
      drop.addEventListener("click", function () { tp.rules.splice(tp.rules.indexOf(rule), 1); changed("Event removed."); });
      children[2].appendChild(drop);
    }
    children.push(count);
    var block = el("div", { "class": "jrule", "data-path": path }, children);
    if (rule.event) refreshCount(rule, count);
    else count.innerHTML = '<span class="muted">Choose an event to see how many match.</span>';
    return block;
  }

  function touchpointCard(stage, tp, path, t) {
    var name = el("input", { value: tp.name, "data-path": path + ".name", "data-focus": tp.id + "-n", autocomplete: "off", maxlength: "100", placeholder: "e.g. Checkout" });
    name.addEventListener("input", function () {
      tp.name = name.value;
      remove.setAttribute("aria-label", "Delete touchpoint " + (tp.name || String(t + 1)) + " of stage " + (stage.name || ""));
    });
    var rules = el("div", { "class": "jrules", "data-path": path + ".rules" },
      tp.rules.map(function (rule, r) { return ruleBlock(stage, tp, rule, path + ".rules[" + r + "]", r); }));
    var more = el("button", { type: "button", "class": "link", text: "+ Or another event" });
    more.addEventListener("click", function () { tp.rules.push(ruleState({})); changed("Event added."); });
    var remove = el("button", { type: "button", "class": "link danger", "data-focus": tp.id + "-x", "aria-label": "Delete touchpoint " + (tp.name || String(t + 1)) + " of stage " + (stage.name || ""), text: "Delete" });
    remove.addEventListener("click", function () {
      stage.touchpoints.splice(stage.touchpoints.indexOf(tp), 1);
      changed("Touchpoint deleted.");
      var back = document.querySelector("[data-focus='" + stage.id + "-addtp']");
      if (back) back.focus();
    });
    return el("li", { "class": "jcard", "data-path": path }, [
      el("div", { "class": "jcard-head" }, [field("Touchpoint " + (t + 1), name, "jtpname"), remove]),
      rules,
      more
    ]);
  }

  function stageColumn(stage, s, tpStart) {
    var path = "stages[" + s + "]";
    var label = stage.name || "Stage " + (s + 1);
    var handle = el("span", { "class": "jhandle", draggable: "true", title: "Drag to reorder", "aria-hidden": "true", text: "⠿" });
    handle.addEventListener("dragstart", function (e) {
      dragFrom = s;
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", String(s));
      var column = handle.closest(".jcol");
      if (e.dataTransfer.setDragImage && column) e.dataTransfer.setDragImage(column, 20, 20);
    });
    var left = el("button", { type: "button", "class": "icon", "aria-label": "Move stage " + label + " left", "data-focus": stage.id + "-left", text: "←" });
    var right = el("button", { type: "button", "class": "icon", "aria-label": "Move stage " + label + " right", "data-focus": stage.id + "-right", text: "→" });
    if (s === 0) left.disabled = true;
    if (s === state.stages.length - 1) right.disabled = true;
    left.addEventListener("click", function () { move(s, s - 1, stage.id + "-left"); });
    right.addEventListener("click", function () { move(s, s + 1, stage.id + "-right"); });
    var remove = el("button", { type: "button", "class": "link danger", "aria-label": "Delete stage " + label, text: "Delete" });
    remove.addEventListener("click", function () {
      state.stages.splice(s, 1);
      changed("Stage " + label + " deleted.");
      document.getElementById("add-stage").focus();
    });

    var name = el("input", { value: stage.name, "data-path": path + ".name", "data-focus": stage.id + "-n", autocomplete: "off", maxlength: "100", placeholder: "e.g. Purchase" });
    name.addEventListener("input", function () {
      stage.name = name.value; // labels follow without a redraw (which would move the focus)
      var now = stage.name || "Stage " + (s + 1);
      left.setAttribute("aria-label", "Move stage " + now + " left");
      right.setAttribute("aria-label", "Move stage " + now + " right");
      remove.setAttribute("aria-label", "Delete stage " + now);
      addTp.setAttribute("aria-label", "Add touchpoint to stage " + now);
      column.setAttribute("aria-label", "Stage " + (s + 1) + ": " + now);
    });
    var description = el("input", { value: stage.description, "data-path": path + ".description", "data-focus": stage.id + "-d", autocomplete: "off", maxlength: "500" });
    description.addEventListener("input", function () { stage.description = description.value; });

    var fb = stage.feedback || { metric: "", op: "gte", value: "" };
    var metric = select(METRICS, fb.metric, { "data-path": path + ".feedback.metric", "data-focus": stage.id + "-fm" });
    metric.addEventListener("change", function () {
      stage.feedback = metric.value ? { metric: metric.value, op: fb.op || "gte", value: fb.value === "" ? (metric.value === "nps" ? 7 : 4) : fb.value } : null;
      changed();
    });
    var feedbackParts = [field("Feedback condition", metric, "jmetric")];
    if (stage.feedback) {
      var op = select([["gte", "at least (≥)"], ["lte", "at most (≤)"]], fb.op, { "data-path": path + ".feedback.op", "data-focus": stage.id + "-fo" });
      op.addEventListener("change", function () { stage.feedback.op = op.value; });
      var value = el("input", { type: "number", min: "0", max: "10", step: "1", inputmode: "numeric", value: String(fb.value), "data-path": path + ".feedback.value", "data-focus": stage.id + "-fv" });
      value.addEventListener("input", function () { stage.feedback.value = value.value.trim() === "" ? "" : Number(value.value); });
      feedbackParts.push(field("Latest score", op, "jfop"), field("Score", value, "jfvalue"));
    }

    var cards = el("ol", { "class": "plain jcards" }, stage.touchpoints.map(function (tp, t) {
      return touchpointCard(stage, tp, "touchpoints[" + (tpStart + t) + "]", t);
    }));
    var addTp = el("button", { type: "button", "data-focus": stage.id + "-addtp", text: "+ Add touchpoint", "aria-label": "Add touchpoint to stage " + label });
    addTp.addEventListener("click", function () {
      var tp = { id: next(), name: "", rules: [ruleState({})] };
      stage.touchpoints.push(tp);
      changed("Touchpoint added to " + label + ".");
      var focus = document.querySelector("[data-focus='" + tp.id + "-n']");
      if (focus) focus.focus();
    });

    var column = el("li", { "class": "jcol", "data-path": path, "aria-label": "Stage " + (s + 1) + ": " + label }, [
      el("div", { "class": "jcol-head" }, [
        el("div", { "class": "jcol-bar" }, [handle, el("h3", { "class": "jcol-step", text: "Stage " + (s + 1) }), el("span", { "class": "jcol-moves" }, [left, right, remove])]),
        field("Stage name", name, "jstagename"),
        field("Description", description, "jstagedesc"),
        el("div", { "class": "jfeedback" }, feedbackParts)
      ]),
      cards,
      addTp
    ]);
    column.addEventListener("dragover", function (e) {
      if (dragFrom === null) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
      column.classList.add("drop-target");
    });
    column.addEventListener("dragleave", function () { column.classList.remove("drop-target"); });
    column.addEventListener("drop", function (e) {
      e.preventDefault();
      column.classList.remove("drop-target");
      var from = dragFrom;
      dragFrom = null;
      if (from !== null && from !== s) move(from, s, null);
    });
    column.addEventListener("dragend", function () { dragFrom = null; });
    return column;
  }

  function move(from, to, focusKey) {
    if (to < 0 || to >= state.stages.length) return;
    var stage = state.stages.splice(from, 1)[0];
    state.stages.splice(to, 0, stage);
    changed("Stage " + (stage.name || "") + " moved to position " + (to + 1) + ".");
    var button = focusKey && document.querySelector("[data-focus='" + focusKey + "']");
    if (button && button.disabled) button = document.querySelector("[data-focus='" + stage.id + (focusKey.slice(-4) === "left" ? "-right" : "-left") + "']");
    if (button) button.focus();
  }

  function render() {
    var active = document.activeElement;
    var focusKey = active && active.getAttribute && active.getAttribute("data-focus");
    columns.innerHTML = "";
    var tpStart = 0;
    state.stages.forEach(function (stage, s) {
      columns.appendChild(stageColumn(stage, s, tpStart));
      tpStart += stage.touchpoints.length;
    });
    document.getElementById("no-stages").hidden = state.stages.length > 0;
    placeErrors();
    if (focusKey) {
      var again = document.querySelector("[data-focus='" + focusKey + "']");
      if (again) again.focus();
    }
  }

  // ---------------------------------------------------------------- errors next to their field

  function placeErrors() {
    errors.forEach(function (error, i) {
      if (!error.path) return;
      var path = error.path;
      var target = null;
      while (path && !target) {
        target = document.querySelector("[data-path='" + path.replace(/'/g, "") + "']");
        if (!target) path = path.replace(/(\.[a-z_]+|\[\d+\])$/, "") === path ? "" : path.replace(/(\.[a-z_]+|\[\d+\])$/, "");
      }
      if (!target) return;
      var id = "je-error-" + i;
      var message = el("p", { "class": "field-error", id: id, text: error.message });
      if (target.matches("input, select, textarea")) {
        target.setAttribute("aria-invalid", "true");
        target.setAttribute("aria-describedby", id);
        target.parentNode.appendChild(message);
      } else {
        target.insertBefore(message, target.firstChild);
      }
    });
  }

  // ---------------------------------------------------------------- page wiring

  var nameInput = document.getElementById("j-name");
  var descriptionInput = document.getElementById("j-description");
  nameInput.value = state.name;
  descriptionInput.value = state.description;
  nameInput.addEventListener("input", function () { state.name = nameInput.value; });
  descriptionInput.addEventListener("input", function () { state.description = descriptionInput.value; });

  document.getElementById("add-stage").addEventListener("click", function () {
    var stage = { id: next(), name: "", description: "", feedback: null, touchpoints: [] };
    state.stages.push(stage);
    changed("Stage " + state.stages.length + " added.");
    var focus = document.querySelector("[data-focus='" + stage.id + "-n']");
    if (focus) focus.focus();
  });

  form.addEventListener("submit", function () {
    document.getElementById("j-definition").value = JSON.stringify(toDefinition());
  });

  render();
  var first = document.querySelector("[aria-invalid='true']");
  if (first) first.focus();
})();
