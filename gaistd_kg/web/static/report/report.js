// Draws the report's charts with Vega-Embed. Each chart's Vega-Lite spec sits in a JSON data block beside it
// (<script type="application/json" id="spec-NAME">), which the Content-Security-Policy allows since it never runs.
// Expressions are evaluated by Vega's interpreter (ast: true), not compiled with new Function, so the page needs no
// 'unsafe-eval'; Vega-Embed adds no <style> element (defaultStyle: false; the tooltip styles are in report.css).
(function () {
  "use strict";

  var views = {};
  window.gaistdReport = { views: views };

  function draw(el) {
    var name = el.getAttribute("data-chart");
    var block = document.getElementById("spec-" + name);
    var spec = JSON.parse(block.textContent);
    var options = {
      mode: "vega-lite", renderer: "svg", actions: false, ast: true, defaultStyle: false,
      tooltip: { disableDefaultStyle: true },
    };
    return window.vegaEmbed(el, spec, options).then(function (result) {
      views[name] = result.view;
      el.setAttribute("data-rendered", "true");
    }).catch(function (err) {
      el.setAttribute("data-rendered", "error");
      el.textContent = "This chart could not be drawn (" + err + "); its table follows.";
      window.console.error("chart " + name + ":", err);
    });
  }

  function boot() {
    var charts = document.querySelectorAll(".chart[data-chart]");
    if (!window.vegaEmbed) {
      window.console.error("Vega-Embed is missing: the charts cannot be drawn");
      return;
    }
    Promise.all(Array.prototype.map.call(charts, draw)).then(function () {
      document.body.setAttribute("data-report-ready", "true");
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
