// The query UI: YASGUI pointed at our endpoint, the examples as a menu beside the editor, and a results table of
// our own (the "gaistd" YASR plugin): labels for IRIs, plain values with their datatype or language on hover, links
// to this server's pages for IRIs of ours, and column headers shown whole.
// No inline script anywhere (the Content-Security-Policy forbids it): the endpoint, the config URL, the base IRI and
// the language come from data-attributes of #yasgui, the examples from the JSON config.
(function () {
  "use strict";

  var LABEL_BATCH = 200;

  function settings() {
    var root = document.getElementById("yasgui");
    return {
      endpoint: root.dataset.endpoint,
      base: root.dataset.baseIri || "",
      localRoot: root.dataset.localRoot || "/",
      lang: root.dataset.lang || "en",
      tableLabel: root.dataset.tableLabel || "Table",
    };
  }

  // Where an IRI links to: this server's page for an IRI of ours (keeping the language), the IRI itself otherwise.
  function hrefFor(iri, s) {
    if (s.base && iri.indexOf(s.base) === 0) {
      var local = window.location.origin + s.localRoot + iri.slice(s.base.length);
      return s.lang !== "en" && local.indexOf("#") < 0 ? local + "?lang=" + s.lang : local;
    }
    return /^https?:\/\//.test(iri) ? iri : null;
  }

  // An IRI as a SPARQL term; null for one that cannot be written safely (never spliced as text).
  function iriTerm(iri) {
    return /^[^<>"{}|^`\\\u0000-\u0020]+$/.test(iri) ? "<" + iri + ">" : null;
  }

  // The best label of each IRI, in the page's language first: skos:prefLabel, rdfs:label, dcterms:identifier.
  function fetchLabels(iris, s) {
    var terms = iris.map(iriTerm).filter(Boolean).slice(0, LABEL_BATCH);
    if (!terms.length) return Promise.resolve({});
    var query = "SELECT ?s ?l ?rank WHERE { VALUES ?s { " + terms.join(" ") + " } " +
      "{ ?s <http://purl.org/dc/terms/identifier> ?l BIND(0 AS ?rank) } UNION " +
      "{ ?s <http://www.w3.org/2004/02/skos/core#prefLabel> ?l BIND(1 AS ?rank) } UNION " +
      "{ ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l BIND(2 AS ?rank) } }";
    var body = new URLSearchParams({ query: query });
    return fetch(s.endpoint, { method: "POST", body: body, headers: { Accept: "application/sparql-results+json" } })
      .then(function (r) { return r.ok ? r.json() : { results: { bindings: [] } }; })
      .then(function (data) {
        var best = {};
        data.results.bindings.forEach(function (b) {
          var lang = b.l["xml:lang"] || "";
          // a language the page is in beats no language, which beats another language; then the rank
          var score = (lang === s.lang ? 0 : lang === "" ? 10 : 20) + Number(b.rank.value);
          var cur = best[b.s.value];
          if (!cur || score < cur.score) best[b.s.value] = { score: score, label: b.l.value };
        });
        var out = {};
        Object.keys(best).forEach(function (k) { out[k] = best[k].label; });
        return out;
      })
      .catch(function () { return {}; });
  }

  // The project's prefixes (iris.PREFIXES, from the config), longest namespace first.
  var prefixes = [];

  function compact(iri) {
    for (var i = 0; i < prefixes.length; i++) {
      var ns = prefixes[i][1];
      var local = iri.slice(ns.length);
      if (iri.indexOf(ns) === 0 && local && !/[\/#]/.test(local)) return prefixes[i][0] + ":" + local;
    }
    return iri;
  }

  function shortType(dt) {
    return compact(dt);
  }

  function cell(term, labels, s) {
    var td = document.createElement("td");
    if (!term) return td;
    if (term.type === "uri") {
      var href = hrefFor(term.value, s);
      var text = labels[term.value] || compact(term.value);
      var el = document.createElement(href ? "a" : "span");
      if (href) el.href = href;
      el.textContent = text;
      el.title = term.value;
      el.className = "iri";
      td.appendChild(el);
      if (labels[term.value]) {
        var small = document.createElement("span");
        small.className = "iri-short";
        small.textContent = compact(term.value);
        td.appendChild(document.createTextNode(" "));
        td.appendChild(small);
      }
    } else if (term.type === "literal" || term.type === "typed-literal") {
      var span = document.createElement("span");
      span.className = "literal";
      span.textContent = term.value;
      if (term["xml:lang"]) span.title = "@" + term["xml:lang"];
      else if (term.datatype) span.title = shortType(term.datatype);
      else span.title = "xsd:string";
      if (term.datatype && /#(integer|decimal|double|float|int|long)$/.test(term.datatype)) td.className = "num";
      td.appendChild(span);
    } else {
      td.textContent = "_:" + term.value;
    }
    return td;
  }

  function GaistdTable(yasr) {
    this.yasr = yasr;
    this.priority = 20;
    this.label = settings().tableLabel;
  }
  GaistdTable.prototype.canHandleResults = function () {
    var r = this.yasr.results;
    return !!(r && r.getVariables && r.getVariables() && r.getVariables().length && r.getBindings());
  };
  GaistdTable.prototype.getIcon = function () {
    var icon = document.createElement("span");
    icon.textContent = "\u25A6";
    return icon;
  };
  GaistdTable.prototype.draw = function () {
    var s = settings();
    var vars = this.yasr.results.getVariables();
    var rows = this.yasr.results.getBindings();
    var el = this.yasr.resultsEl;
    var iris = {};
    rows.forEach(function (b) {
      vars.forEach(function (v) { if (b[v] && b[v].type === "uri") iris[b[v].value] = true; });
    });
    return fetchLabels(Object.keys(iris), s).then(function (labels) {
      var wrap = document.createElement("div");
      wrap.className = "gaistd-results";
      var table = document.createElement("table");
      var head = table.createTHead().insertRow();
      vars.forEach(function (v) {
        var th = document.createElement("th");
        th.textContent = v;
        th.scope = "col";
        head.appendChild(th);
      });
      var body = table.createTBody();
      rows.forEach(function (b) {
        var tr = body.insertRow();
        vars.forEach(function (v) { tr.appendChild(cell(b[v], labels, s)); });
      });
      wrap.appendChild(table);
      el.textContent = "";
      el.appendChild(wrap);
      document.body.setAttribute("data-results-drawn", String(rows.length));
    });
  };

  function start(config) {
    var root = document.getElementById("yasgui");
    var endpoint = config.endpoint || root.dataset.endpoint;
    var Y = window.Yasgui;
    prefixes = Object.keys(config.prefixes || {}).map(function (p) { return [p, config.prefixes[p]]; })
      .sort(function (a, b) { return b[1].length - a[1].length; });
    Y.Yasr.registerPlugin("gaistd", GaistdTable);
    var yasgui = new Y(root, {
      requestConfig: { endpoint: endpoint, method: "POST" },
      copyEndpointOnNewTab: true,
      endpointCatalogueOptions: { getData: function () { return [{ endpoint: endpoint }]; } },
      // a new id: browsers that kept the thirteen preloaded example tabs of earlier versions start afresh
      persistenceId: "gaistd-kg-yasgui-2",
      // offline: no prefix.cc or LOV look-ups, only completions computed in the browser
      yasqe: { autocompleters: ["variables", "prefixes"], prefixCcApi: null },
      yasr: { pluginOrder: ["gaistd", "table", "response"], defaultPlugin: "gaistd" },
    });
    window.gaistdYasgui = yasgui;

    // Tab titles stay short; the examples menu beside the editor shows each full question.
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

    // An example opens in a tab of its own on request; nothing is preloaded, so the tab row stays one row.
    function open(example) {
      var title = tabTitle(example.name);
      var tab = tabNamed(title);
      if (!tab) {
        tab = yasgui.addTab(true, { name: title, yasqe: { value: example.query },
                                    requestConfig: { endpoint: endpoint } });
      } else {
        yasgui.selectTabId(tab.getId());
      }
      return tab;
    }

    var examples = config.examples || [];
    var buttons = document.querySelectorAll("button.example");
    Array.prototype.forEach.call(buttons, function (button) {
      button.addEventListener("click", function () {
        var e = examples[Number(button.dataset.index)];
        if (e) open(e);
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
