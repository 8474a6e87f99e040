"""/openapi.json: an OpenAPI 3.0 description of the app's HTTP interface (what tests/test_fuzz.py generates requests
from, and what a client generator can read).

It describes every route a client may call, their parameters, bodies and the statuses they answer with; response
bodies are described by media type only (SPARQL results and RDF have their own specifications). The media types
come from the one formats table.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from gaistd_kg import __version__, formats
from gaistd_kg.views.export import DUMPS
from gaistd_kg.iris import GRAPH, KINDS

bp = Blueprint("openapi", __name__)

TEXT = {"text/plain": {"schema": {"type": "string"}}}


def _responses(*codes: int, body: tuple[str, ...] = ()) -> dict[str, Any]:
    words = {200: "the answer", 201: "created", 204: "done", 304: "not modified", 400: "bad request (the body says "
             "why)", 401: "a bearer token is needed", 403: "refused (the body says why)", 404: "not found",
             406: "no acceptable format", 413: "body too large", 415: "body type not accepted", 422: "the data "
             "would violate the shapes", 429: "too many requests at once from this client", 503: "deadline, memory "
             "limit or busy"}
    out: dict[str, Any] = {}
    for c in codes:
        entry: dict[str, Any] = {"description": words.get(c, str(c))}
        if c == 200 and body:
            entry["content"] = {m: {"schema": {"type": "string"}} for m in body}
        elif c >= 400:
            entry["content"] = TEXT
        out[str(c)] = entry
    return out


def _param(name: str, where: str = "query", required: bool = False, schema: dict | None = None,
           description: str = "", **extra) -> dict[str, Any]:
    p = {"name": name, "in": where, "required": required or where == "path", "schema": schema or {"type": "string"}}
    if description:
        p["description"] = description
    p.update(extra)
    return p


def _iri_list(name: str, description: str) -> dict[str, Any]:
    return _param(name, schema={"type": "array", "items": {"type": "string", "format": "iri"}}, style="form",
                  explode=True, description=description)


def document() -> dict[str, Any]:
    tabular = tuple(f.media_type for f in formats.of_kind(formats.TABULAR))
    graph = tuple(f.media_type for f in formats.of_kind(formats.GRAPH))
    rdf_bodies = {"text/turtle": {"schema": {"type": "string"}},
                  "application/n-triples": {"schema": {"type": "string"}},
                  "application/rdf+xml": {"schema": {"type": "string"}},
                  "application/ld+json": {"schema": {"type": "object"}}}
    query_params = [
        _param("query", description="SPARQL 1.1 query text"),
        _iri_list("default-graph-uri", "graphs merged into the default graph"),
        _iri_list("named-graph-uri", "graphs visible to GRAPH"),
        _param("format", schema={"type": "string", "enum": list(formats.names())}),
    ]
    form_query = {"type": "object", "properties": {
        "query": {"type": "string"}, "default-graph-uri": {"type": "string"},
        "named-graph-uri": {"type": "string"}, "format": {"type": "string"}}, "required": ["query"]}
    store_params = [_param("graph", schema={"type": "string", "format": "iri"}, description="the graph's IRI"),
                    _param("default", schema={"type": "string"}, allowEmptyValue=True,
                           description="the default graph (the data graph)")]
    secured: list[dict[str, list[str]]] = [{"bearer": []}]
    writes = {
        "put": {"summary": "replace a graph", "security": secured, "requestBody": {"content": rdf_bodies},
                "responses": _responses(201, 204, 400, 401, 403, 413, 415, 422, 429, 503)},
        "post": {"summary": "merge into a graph (or, without a graph, create one)", "security": secured,
                 "requestBody": {"content": rdf_bodies},
                 "responses": _responses(201, 204, 400, 401, 403, 413, 415, 422, 429, 503)},
        "delete": {"summary": "delete a graph", "security": secured,
                   "responses": _responses(204, 401, 403, 404, 429, 503)},
    }
    reads = {
        "get": {"summary": "a graph's triples", "responses": _responses(200, 304, 400, 404, 406, body=graph)},
        "head": {"summary": "whether a graph exists", "responses": _responses(200, 400, 404, 406)},
    }
    page = {"get": {"responses": _responses(200, 404, 406, body=("text/html", *graph))}}
    ext_param = _param("ext", "path", schema={"type": "string", "enum": [f.extension for f in
                                                                         formats.of_kind(formats.GRAPH)] + ["html"]})
    paths: dict[str, Any] = {
        "/sparql": {
            "get": {"summary": "a SPARQL query (without one: the service description)", "parameters": query_params,
                    "responses": _responses(200, 304, 400, 403, 406, 429, 503, body=tabular + graph)},
            "post": {"summary": "a SPARQL query, form-encoded or direct", "parameters": query_params[1:],
                     "requestBody": {"required": True, "content": {
                         "application/x-www-form-urlencoded": {"schema": form_query},
                         "application/sparql-query": {"schema": {"type": "string"}}}},
                     "responses": _responses(200, 400, 403, 406, 413, 415, 429, 503, body=tabular + graph)},
            "options": {"summary": "CORS preflight", "responses": {"204": {"description": "allowed"}}},
        },
        "/sparql/update": {"post": {
            "summary": "SPARQL 1.1 Update (when UPDATES_ENABLED)", "security": secured,
            "parameters": [_iri_list("using-graph-uri", "USING graphs"),
                           _iri_list("using-named-graph-uri", "USING NAMED graphs")],
            "requestBody": {"required": True, "content": {
                "application/sparql-update": {"schema": {"type": "string"}},
                "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {
                    "update": {"type": "string"}}, "required": ["update"]}}}},
            "responses": _responses(200, 400, 401, 403, 413, 415, 422, 429, 503)}},
        "/rdf-graph-store": {"parameters": store_params, **reads, **writes},
        "/rdf-graph-store/{path}": {"parameters": [_param("path", "path")], **reads, **writes},
        "/id/{kind}/{slug}": {"parameters": [_param("kind", "path", schema={"type": "string", "enum": list(KINDS)}),
                                             _param("slug", "path")], **page},
        "/graph/{name}": {"parameters": [_param("name", "path", schema={"type": "string", "enum": list(GRAPH)})],
                          **page},
        "/ontology": page,
        "/ontology.{ext}": {"parameters": [ext_param], **page},
        "/dataset": page,
        "/dataset.{ext}": {"parameters": [ext_param], **page},
        "/ontology/{version}": {"parameters": [_param("version", "path")], **page},
        "/shapes": page,
        "/shapes.{ext}": {"parameters": [ext_param], **page},
        "/id/{kind}/{slug}.framed.jsonld": {
            "parameters": [_param("kind", "path", schema={"type": "string", "enum": list(KINDS)}),
                           _param("slug", "path")],
            "get": {"summary": "the resource as one compacted JSON-LD object (terms of /terms.jsonld)",
                    "responses": _responses(200, 404, body=("application/ld+json",))}},
        "/terms.jsonld": {"get": {"responses": _responses(200, body=("application/ld+json",))}},
        "/cite": {"get": {"summary": "how to cite and link", "responses": _responses(200, body=("text/html",))}},
        "/dumps/": {"get": {"responses": _responses(200, body=("text/html",))}},
        "/dumps/{name}.{ext}": {"parameters": [
            _param("name", "path", schema={"type": "string", "enum": list(DUMPS)}),
            _param("ext", "path", schema={"type": "string", "enum": ["ttl", "trig", "nt", "nq", "jsonld"]})],
            "get": {"responses": _responses(200, 304, 404, body=graph)}},
        "/context.jsonld": {"get": {"responses": _responses(200, body=("application/ld+json",))}},
        "/.well-known/void": {"get": {"responses": _responses(200, 406, body=("text/turtle", "text/html"))}},
        "/": {"get": {"summary": "the query UI", "responses": _responses(200, body=("text/html",))}},
        "/ui/config.json": {"get": {"responses": _responses(200, body=("application/json",))}},
        "/report": {"get": {"responses": _responses(200, body=("text/html",))}},
        "/report.md": {"get": {"responses": _responses(200, body=("text/markdown",))}},
        "/explain": {"get": {"parameters": [_param("s"), _param("p"), _param("o")],
                             "responses": _responses(200, 400, 404, body=("text/html",))}},
        "/explain.json": {"get": {"parameters": [_param("s"), _param("p"), _param("o")],
                                  "responses": _responses(200, 400, 404, body=("application/json",))}},
        "/openapi.json": {"get": {"responses": _responses(200, body=("application/json",))}},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "GAISTD-KG", "version": __version__,
                 "description": "SPARQL 1.1 endpoint, Graph Store, linked-data pages and dumps of GAISTD-KG."},
        "servers": [{"url": request.url_root.rstrip("/") or "/"}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())
