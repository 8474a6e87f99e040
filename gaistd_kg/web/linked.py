"""IRIs of ours that name something other than a resource of the store, dereferenced to what they name; ``/cite``.

* ``/dataset`` (``https://w3id.org/gaistd/dataset``): the VoID + DCAT description of the dataset, the one
  ``/.well-known/void`` serves, with what the build's meta graph says about the dataset.
* ``/ontology/<version>`` (the ontology's ``owl:versionIRI``): the ontology, while that version is the one served;
  another version is 404 (only the current one is kept).
* ``/shapes`` (the ``https://w3id.org/gaistd/shapes#`` namespace): the SHACL shapes graph (``shapes/*.ttl``).
* ``/cite``: how to cite the dataset and link to it.

Each answers HTML or RDF by ``Accept`` (every graph format of ``formats.FORMATS``, ``text/n3`` and
``application/json`` too), or by an extension URL (``/dataset.ttl``, ``/shapes.jsonld``, ``/ontology/0.1.0.nt``),
with ``Vary: Accept``, ``Content-Location`` and a ``Link`` header to the RDF, as the resource pages do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, render_template, request
from rdflib import Graph, URIRef
from rdflib.namespace import OWL

from gaistd_kg.iris import BASE, GRAPH, ONTOLOGY_IRI, ROOT, SHAPES_NS, bind_prefixes
from gaistd_kg.pipeline import load
from gaistd_kg.views import describe, export, jsonld
from . import dumps, pages

bp = Blueprint("linked", __name__)


def graph_response(g: Graph, path: str, ext: str | None, html: Callable[[str, list], str]) -> Response:
    """``g`` at ``path`` in the format of ``ext`` or of ``Accept``; ``html(turtle, alternates)`` renders the HTML
    view (``alternates``: the RDF representations, for the page's head)."""
    fmt = ("html" if ext == "html" else pages.BY_EXT[ext]) if ext else pages.negotiate()
    if fmt is None:
        return pages.not_acceptable()
    local = request.script_root + path
    if fmt == "html":
        return pages.finish(html(g.serialize(format="longturtle"), pages.format_links(local)), "text/html; charset=utf-8", ext is None,
                            local + ".html", alternates=local)
    assert isinstance(fmt, pages.RdfFormat)
    body: str | bytes | None
    if fmt.extension == "jsonld":
        body = g.serialize(format="json-ld", context=export.context()["@context"], auto_compact=True)
    elif fmt.extension == "ttl":
        body = g.serialize(format="longturtle")
    else:  # Oxigraph writes quad formats of a plain graph (its triples in the default graph); rdflib does not
        triples = [q.triple for q in ox.parse(g.serialize(format="nt", encoding="utf-8"), ox.RdfFormat.N_TRIPLES)]
        body = ox.serialize(triples, format=fmt.rdf_ox)
        assert body is not None  # no output given: the bytes come back
    return pages.finish(body, pages.rdf_content_type(fmt, ext is None), ext is None, f"{local}.{fmt.extension}")


# --- the dataset ---------------------------------------------------------------------------------------------------

def dataset_graph() -> Graph:
    g = dumps.void_graph()
    dataset = ox.NamedNode(current_app.config["BASE_IRI"] + "dataset")
    meta = ox.NamedNode(str(GRAPH["meta"]))
    facts = [q.triple for q in pages.current_store().store.quads_for_pattern(dataset, None, None, meta)]
    if facts:
        g.parse(data=ox.serialize(facts, format=ox.RdfFormat.N_TRIPLES), format="nt")
    return g


def dataset_response(ext: str | None) -> Response:
    return graph_response(dataset_graph(), "/dataset", ext,
                          lambda turtle, alternates: render_template("void.html", turtle=turtle,
                                                                     alternates=alternates))


@bp.get("/dataset")
def dataset() -> Response:
    return dataset_response(None)


@bp.get("/dataset.<ext>")
def dataset_ext(ext: str) -> Response:
    if ext not in pages.BY_EXT and ext != "html":
        return pages.not_found(pages.iri_for(f"/dataset.{ext}"))
    return dataset_response(ext)


# --- the ontology's version IRI ------------------------------------------------------------------------------------

def version_iris() -> set[str]:
    """The ``owl:versionIRI`` values of the served ontology."""
    store = pages.current_store().store
    found = store.quads_for_pattern(ox.NamedNode(str(ONTOLOGY_IRI)), ox.NamedNode(str(OWL.versionIRI)), None,
                                    ox.NamedNode(str(GRAPH["ontology"])))
    return {q.object.value for q in found if not isinstance(q.object, ox.Triple)}  # an RDF-star triple has no value


@bp.get("/ontology/<path:rest>")
def ontology_version(rest: str) -> Response:
    name, ext = pages.split_ext(rest)
    if pages.iri_for(f"/ontology/{name}").replace(current_app.config["BASE_IRI"], BASE, 1) not in version_iris():
        return pages.not_found(pages.iri_for(f"/ontology/{rest}"))
    return pages.ontology_ext(ext) if ext else pages.ontology()


# --- the shapes ----------------------------------------------------------------------------------------------------

def shapes_graph() -> Graph:
    """The SHACL shapes every build and write is validated against, parsed once per process."""
    configured = current_app.config.get("SHAPES_DIR")
    folder = Path(configured) if configured else ROOT / "shapes"
    files = load.shape_files(folder) if folder.is_dir() else []
    key = tuple((str(p), p.stat().st_mtime_ns) for p in files)
    cached = current_app.extensions.get("gaistd.shapes")
    if cached is None or cached[0] != key:
        parsed = load.parse_files(files)
        g = bind_prefixes(Graph())
        for prefix, ns in parsed.namespaces():
            g.bind(prefix, ns, override=False)
        g += parsed
        cached = (key, g)
        current_app.extensions["gaistd.shapes"] = cached
    return cached[1]


def shapes_response(ext: str | None) -> Response:
    g = shapes_graph()
    if len(g) == 0:
        return pages.not_found(SHAPES_NS)
    return graph_response(g, "/shapes", ext, lambda turtle, alternates: render_template(
        "rdfdoc.html", title="SHACL shapes", iri=SHAPES_NS, turtle=turtle, alternates=alternates))


@bp.get("/shapes")
def shapes() -> Response:
    return shapes_response(None)


@bp.get("/shapes.<ext>")
def shapes_ext(ext: str) -> Response:
    if ext not in pages.BY_EXT and ext != "html":
        return pages.not_found(pages.iri_for(f"/shapes.{ext}"))
    return shapes_response(ext)


# --- how to cite and link ------------------------------------------------------------------------------------------

@bp.get("/cite")
def cite() -> Response:
    opened = pages.current_store()
    host = request.host_url.rstrip("/")
    versions = sorted(version_iris())
    return Response(render_template("cite.html", base=BASE, host=host, build=opened.build_id,
                                    version=versions[0] if versions else "", dataset=URIRef(BASE + "dataset"),
                                    title=dumps.DATASET_TITLE["en"]),
                    content_type="text/html; charset=utf-8")


# --- the terms context and the framed JSON-LD of a resource --------------------------------------------------------

@bp.get("/terms.jsonld")
def terms() -> Response:
    body = json.dumps(jsonld.terms_context(), indent=2, ensure_ascii=False) + "\n"
    resp = Response(body, mimetype="application/ld+json")
    resp.cache_control.max_age = 86400
    resp.cache_control.public = True
    return resp


@bp.get("/id/<kind>/<path:slug>.framed.jsonld")
def framed(kind: str, slug: str) -> Response:
    """One resource as one JSON object: its facts under the terms of ``/terms.jsonld`` (inlined), blank nodes
    embedded, IRIs as compact strings; what a notebook turns into a table row."""
    opened = pages.current_store()
    desc = describe.describe(opened.store, pages.iri_for(f"/id/{kind}/{slug}"))
    if not desc.facts:
        return pages.not_found(desc.iri.value)
    body = json.dumps(jsonld.framed(desc.iri, desc.facts, desc.nested, jsonld.terms_context()), indent=2,
                      ensure_ascii=False) + "\n"
    return Response(body, mimetype="application/ld+json")
