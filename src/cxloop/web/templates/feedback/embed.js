/* cxloop survey widget: a feedback button that opens the survey in a panel. No dependencies. */
(function () {
  "use strict";
  var cfg = {{ config|safe }};
  if (window.__cxloopWidget && window.__cxloopWidget[cfg.url]) return;
  window.__cxloopWidget = window.__cxloopWidget || {};
  window.__cxloopWidget[cfg.url] = true;
  function start() {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = cfg.label;
    button.setAttribute("aria-haspopup", "dialog");
    button.className = "cxloop-feedback-button";
    button.style.cssText = "position:fixed;right:20px;bottom:20px;z-index:2147483000;padding:12px 18px;" +
      "border:0;border-radius:999px;background:#2f4fd0;color:#fff;font:600 15px system-ui,sans-serif;" +
      "box-shadow:0 4px 14px rgba(16,24,40,.25);cursor:pointer;min-height:44px";
    var panel = null, lastFocus = null;
    function close() {
      if (!panel) return;
      panel.remove(); panel = null;
      button.setAttribute("aria-expanded", "false");
      if (lastFocus) lastFocus.focus();
    }
    function open() {
      if (panel) { close(); return; }
      lastFocus = document.activeElement;
      panel = document.createElement("div");
      panel.setAttribute("role", "dialog");
      panel.setAttribute("aria-label", cfg.title);
      panel.className = "cxloop-feedback-panel";
      panel.style.cssText = "position:fixed;right:20px;bottom:80px;z-index:2147483001;width:min(420px,calc(100vw - 24px));" +
        "height:min(640px,calc(100vh - 110px));background:#fff;border-radius:14px;overflow:hidden;" +
        "box-shadow:0 12px 40px rgba(16,24,40,.3);display:flex;flex-direction:column";
      var bar = document.createElement("div");
      bar.style.cssText = "display:flex;justify-content:flex-end;padding:4px;border-bottom:1px solid #e4e7ec";
      var x = document.createElement("button");
      x.type = "button"; x.textContent = "\u00d7"; x.setAttribute("aria-label", "Close");
      x.style.cssText = "width:44px;height:44px;border:0;background:none;font-size:26px;cursor:pointer;color:#344054";
      x.onclick = close;
      bar.appendChild(x);
      var frame = document.createElement("iframe");
      frame.src = cfg.url; frame.title = cfg.title;
      frame.style.cssText = "border:0;flex:1;width:100%";
      panel.appendChild(bar); panel.appendChild(frame);
      document.body.appendChild(panel);
      button.setAttribute("aria-expanded", "true");
      x.focus();
    }
    button.onclick = open;
    document.addEventListener("keydown", function (e) { if (e.key === "Escape") close(); });
    document.body.appendChild(button);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
