// The query UI: YASGUI pointed at our endpoint, with the competency questions as named tabs.
// No inline script anywhere (the Content-Security-Policy forbids it): the endpoint and the config URL come from
// data-attributes of #yasgui, the examples from the JSON config.
(function () {
  "use strict";

  function start(config) {
    var root = document.getElementById("yasgui");
    var endpoint = config.endpoint || root.dataset.endpoint;
    var Y = window.Yasgui;
    var yasgui = new Y(root, {
      requestConfig: { endpoint: endpoint, method: "POST" },
      copyEndpointOnNewTab: true,
      endpointCatalogueOptions: { getData: function () { return [{ endpoint: endpoint }]; } },
      persistenceId: "gaistd-kg-yasgui",
      // offline: no prefix.cc or LOV look-ups, only completions computed in the browser
      yasqe: { autocompleters: ["variables", "prefixes"], prefixCcApi: null },
    });
    window.gaistdYasgui = yasgui;

    // Tab titles stay short; the examples list beside the editor shows each full question.
    function tabTitle(name) {
      return name.length > 40 ? name.slice(0, 38) + "\u2026" : name;
    }

    function tabNamed(name) {
      var tabs = yasgui._tabs || {};
      for (var id in tabs) {
        if (tabs[id].getName() === name) return tabs[id];
      }
      return null;
    }

    function open(example, select) {
      var title = tabTitle(example.name);
      var tab = tabNamed(title);
      if (!tab) {
        tab = yasgui.addTab(select, { name: title, yasqe: { value: example.query },
                                      requestConfig: { endpoint: endpoint } });
      } else if (select) {
        yasgui.selectTabId(tab.getId());
      }
      return tab;
    }

    var examples = config.examples || [];
    // Preload every example as a named tab once per browser; later visits keep what the user left.
    // A link that carries a query (?query=…, as the resource pages' DESCRIBE link does) keeps its tab in front.
    var linked = new URLSearchParams(window.location.search).has("query");
    var seen = window.localStorage && window.localStorage.getItem("gaistd-kg-examples-loaded");
    if (!seen) {
      examples.forEach(function (e, i) { open(e, i === 0 && !linked); });
      if (window.localStorage) window.localStorage.setItem("gaistd-kg-examples-loaded", "1");
    }
    var buttons = document.querySelectorAll("button.example");
    Array.prototype.forEach.call(buttons, function (button) {
      button.addEventListener("click", function () {
        var e = examples[Number(button.dataset.index)];
        if (e) open(e, true);
      });
    });
    document.body.setAttribute("data-ui-ready", "true");
  }

  function boot() {
    var root = document.getElementById("yasgui");
    if (!root || !window.Yasgui) return;
    fetch(root.dataset.config, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(start)
      .catch(function (err) {
        start({ endpoint: root.dataset.endpoint, examples: [] });
        if (window.console) window.console.error("could not load the examples:", err);
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
