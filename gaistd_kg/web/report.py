"""The coverage and gap report and the explanations, served.

* ``/report``: the report page (HTML; the charts drawn by ``static/report/report.js`` from JSON data blocks, no inline
  script); ``/report.md``: the same as Markdown; ``/report/<table>.csv`` and ``/report/<table>.json``: each table;
  ``/report/<table>.vl.json``: a chart's Vega-Lite spec; ``/report/queries/<table>.rq``: a table's query.
* ``/explain?s=…&p=…&o=…``: why a fact holds (HTML, or JSON for ``Accept: application/json``; ``/explain.json``
  always answers JSON). Terms are full IRIs or prefixed names (``gdoc:gb-45438-2025``); ``p=a`` is rdf:type; a literal
  object is written ``"2024-08-01"^^xsd:date`` or ``"text"@en``.

The report is computed once per store build and kept for the process.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pyoxigraph as ox
from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, url_for

from gaistd_kg import store as store_mod
from gaistd_kg.views.explain import Explanation, TermError, compact, explain
from gaistd_kg.views.report import SPECS, Report, compute, table_csv, table_json
from gaistd_kg.views.report_charts import chart_spec
from gaistd_kg.views.report_render import VENDOR_SCRIPTS, Links, render_markdown, view

from .pages import current_store

bp = Blueprint("report", __name__)


def opened() -> store_mod.OpenStore:
    """The process's one handle on the served build (``pages.current_store``, shared with pages, dumps and writes)."""
    return current_store()


def current_report() -> Report:
    store = opened()
    report = current_app.extensions.get("gaistd.report")
    if report is None or report.build_id != store.build_id:
        report = compute(store.store, build_id=store.build_id)
        current_app.extensions["gaistd.report"] = report
    return report


def local_href(iri: str) -> str | None:
    base = current_app.config["BASE_IRI"]
    if iri.startswith(base):
        return request.script_root + "/" + iri[len(base):]
    return iri if iri.startswith(("http://", "https://")) else None


def app_links() -> Links:
    root = request.script_root
    return Links(
        table=lambda name, ext: url_for("report.table", name=name, ext=ext),
        query_file=lambda name: url_for("report.query_file", name=name),
        run=lambda text: f"{root}/sparql?{urlencode({'query': text})}",
        resource=local_href,
        explain=lambda s, p, o: f"{root}/explain?{urlencode({'s': s, 'p': p, 'o': o})}",
        markdown=url_for("report.markdown"))


@bp.get("/report")
def page() -> Response:
    report = current_report()
    scripts = [url_for("static", filename=f"report/{s}") for s in (*VENDOR_SCRIPTS, "report.js")]
    html = render_template("report/page.html", report=view(report, app_links()), scripts=scripts)
    return Response(html, mimetype="text/html")


@bp.get("/report.md")
def markdown() -> Response:
    text = render_markdown(current_report(), server=request.url_root.rstrip("/"))
    return Response(text, mimetype="text/markdown")


def _table(name: str):
    if name not in SPECS:
        abort(404, description=f"no report table named {name!r}")
    return current_report().tables[name]


@bp.get("/report/<name>.<any(csv, json):ext>")
def table(name: str, ext: str) -> Response:
    t = _table(name)
    if ext == "csv":
        return Response(table_csv(t), mimetype="text/csv")
    return Response(table_json(t), mimetype="application/json")


@bp.get("/report/<name>.vl.json")
def chart(name: str) -> Response:
    spec = chart_spec(_table(name))
    if spec is None:
        abort(404, description=f"the table {name!r} has no chart")
    return jsonify(spec)


@bp.get("/report/queries/<name>.rq")
def query_file(name: str) -> Response:
    t = _table(name)
    if t.query is None:
        abort(404, description=f"the table {name!r} is computed from other tables, not by a query")
    return Response(t.query, mimetype="application/sparql-query")


# --- explanations ----------------------------------------------------------------------------------------------------

def term_view(term: dict[str, Any], label: str) -> dict[str, Any]:
    href = local_href(term["value"]) if term["type"] == "uri" else None
    return {"label": label, "value": term["value"], "href": href, "literal": term["type"] == "literal"}


def explanation_view(e: Explanation) -> dict[str, Any]:
    data = e.as_json()
    return {**data,
            "s": term_view(data["subject"], e.labels[0]), "p": term_view(data["property"], e.labels[1]),
            "o": term_view(data["object"], e.labels[2]),
            "source_links": [{"value": compact(ox.NamedNode(s)) if s.startswith(("http://", "https://")) else s,
                              "href": local_href(s)} for s in e.sources],
            "steps": [explanation_view(p) for p in e.premises]}


def _explain() -> Explanation:
    args = request.args
    missing = [k for k in ("s", "p", "o") if not args.get(k)]
    if missing:
        abort(400, description=f"give the fact as s=…&p=…&o=… (missing: {', '.join(missing)})")
    try:
        return explain(opened().store, args["s"], args["p"], args["o"])
    except TermError as exc:
        abort(400, description=str(exc))


@bp.get("/explain")
def explain_view() -> Response:
    e = _explain()
    best = request.accept_mimetypes.best_match(["text/html", "application/json"], default="text/html")
    if best == "application/json":
        resp = jsonify(e.as_json())
    else:
        args: dict[str, Any] = request.args.to_dict()  # the first value of each, as ** on the MultiDict gives
        json_url = url_for("report.explain_json", **args)
        resp = Response(render_template("report/explain.html", e=explanation_view(e), text=e.text(),
                                        json_url=json_url), mimetype="text/html")
    resp.vary.add("Accept")
    return resp


@bp.get("/explain.json")
def explain_json() -> Response:
    return jsonify(_explain().as_json())
