"""Dumps of the dataset, the JSON-LD context, and the VoID/DCAT description of the dataset.

* ``/dumps/`` lists the dumps; ``/dumps/{asserted,inferred,full}.{ttl,trig,nt,nq,jsonld}``: asserted = ontology +
  data graphs, inferred = the inferred graph, full = all named graphs (``export.DUMPS``). Triple formats merge the
  graphs, quad formats keep each triple's graph (``export.export`` writes them).
* Every dump is written by the build among the store's artefacts (plain and gzip; ``export.write_dumps``) and
  streamed from disk: ``ETag`` and ``Last-Modified`` come from the build manifest, conditional and range requests
  work, and a client that accepts gzip gets the compressed file (``Content-Encoding: gzip``, ``Vary:
  Accept-Encoding``).
* ``/context.jsonld``: the JSON-LD context of our prefixes alone (``export.context``), what the VoID and other small
  descriptions are compacted with. The JSON-LD dumps embed the terms context (``/terms.jsonld``) instead.
* ``/.well-known/void``: VoID + DCAT (Turtle or JSON-LD by ``Accept``; an HTML view for browsers), with triple counts
  per named graph, the SPARQL endpoint and a ``dcat:Distribution`` per dump.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from gaistd_kg.views import describe as d
from gaistd_kg.views import export, links
from gaistd_kg import formats
from .pages import BY_EXT, HTML, current_store, keeps_graphs, not_acceptable, not_found, send_export, validators

bp = Blueprint("dumps", __name__)

DUMP_FORMATS = ("ttl", "trig", "nt", "nq", "jsonld")
DUMP_TITLES = {
    "asserted": "asserted facts: the ontology and data graphs",
    "inferred": "inferred facts: the OWL 2 RL entailments (the inferred graph)",
    "full": "everything: all named graphs (ontology, data, inferred, meta)",
}
DATASET_TITLE = {"en": "GAISTD-KG: a knowledge graph of generative-AI standardization",
                 "zh": "GAISTD-KG：生成式人工智能标准化知识图谱"}


@bp.get("/dumps/")
def index() -> str:
    base = request.script_root
    dumps = [{"name": name, "title": DUMP_TITLES[name], "graphs": graphs,
              "files": [{"href": f"{base}/dumps/{name}.{ext}", "label": BY_EXT[ext].label,
                         "media": BY_EXT[ext].media_type, "quads": keeps_graphs(BY_EXT[ext])} for ext in DUMP_FORMATS]}
             for name, graphs in export.DUMPS.items()]
    return render_template("dumps.html", dumps=dumps, context=f"{base}/context.jsonld", terms=f"{base}/terms.jsonld",
                           void=f"{base}/.well-known/void")


@bp.get("/dumps/<name>.<ext>")
def dump(name: str, ext: str) -> Response:
    if name not in export.DUMPS or ext not in DUMP_FORMATS:
        return not_found(request.url)
    return send_export(name, BY_EXT[ext])


@bp.get("/context.jsonld")
def context() -> Response:
    body = json.dumps(export.context(), indent=2, ensure_ascii=False) + "\n"
    resp = Response(body, mimetype="application/ld+json")
    resp.headers["Access-Control-Allow-Origin"] = "*"  # JSON-LD processors elsewhere fetch contexts cross-origin
    resp.cache_control.max_age = 86400
    resp.cache_control.public = True
    return resp


def void_graph():
    opened = current_store()
    host = request.host_url.rstrip("/")
    dists = [d.Distribution(url=f"{host}/dumps/{name}.{ext}", media_type=BY_EXT[ext].media_type,
                            title=f"{DUMP_TITLES[name]}, as {BY_EXT[ext].label}", full=name == "full")
             for name in export.DUMPS for ext in DUMP_FORMATS]
    dataset = current_app.config["BASE_IRI"] + "dataset"
    counted = links.read_counts(Path(opened.path) / "artefacts" / links.COUNTS_FILE)
    return d.describe_dataset(opened.store, dataset, opened.built_at, f"{host}/sparql", dists, DATASET_TITLE,
                              counts=opened.manifest.get("triples"), link_counts=counted)


@bp.get("/.well-known/void")
def void() -> BaseResponse:  # make_conditional is typed as returning Werkzeug's Response
    accept = request.accept_mimetypes
    offers = [BY_EXT["ttl"].media_type, BY_EXT["jsonld"].media_type, HTML]
    best = accept.best_match(offers) if accept else offers[0]
    if best is None:
        return not_acceptable()
    etag, built_at = validators("void")
    modified = datetime.fromtimestamp(built_at, timezone.utc)  # the header's value, as Werkzeug formats a timestamp
    tag = f"{etag}-{best.replace('/', '_')}-{request.host}"
    probe = Response(status=200)
    probe.set_etag(tag)
    probe.last_modified = modified
    probe.vary.add("Accept")
    if probe.make_conditional(request).status_code == 304:
        return probe  # revalidated before anything is computed
    g = void_graph()
    if best == HTML:
        resp = Response(render_template("void.html", turtle=g.serialize(format="longturtle")), mimetype=HTML)
    else:
        fmt = formats.lookup(best, formats.GRAPH)
        if fmt.extension == "jsonld":
            body = g.serialize(format="json-ld", context=export.context()["@context"], auto_compact=True)
        else:
            body = g.serialize(format="longturtle")
        resp = Response(body, content_type=fmt.content_type)
    resp.set_etag(tag)
    resp.last_modified = modified
    resp.vary.add("Accept")
    return resp.make_conditional(request)
