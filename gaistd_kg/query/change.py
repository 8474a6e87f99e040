"""Computing a write (``transform``), in a query worker: the current store is copied into an in-memory store, the
SPARQL Update or Graph Store operation is applied to the copy, and every graph comes back as N-Triples with what
changed. The worker has the query deadline and memory limit and no network; request bodies are parsed here (RDF/XML
with a DTD and JSON-LD with a remote context are refused before any parser sees them).

What a write sees: the asserted graphs only; its default graph is the data graph (see ``gaistd_kg.pipeline.writes``,
which validates, reasons and publishes the result). pyoxigraph only: the worker stays free of rdflib, so the graph
IRIs are spelled out here rather than read from ``gaistd_kg.iris``.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Mapping

import pyoxigraph as ox

from gaistd_kg.formats import BY_NAME

from .sparqltext import (MAX_TEXT_BYTES, QueryError, QueryRefused, QuerySyntaxError, check_update, mentioned_iris,
                         with_using)

BASE = "https://w3id.org/gaistd/"
GRAPH_BASE = BASE + "graph/"
DATA_GRAPH = GRAPH_BASE + "data"
READ_ONLY = tuple(GRAPH_BASE + name for name in ("ontology", "inferred", "meta"))
OWN_GRAPHS = (DATA_GRAPH, *READ_ONLY)
BODY_FORMATS = {name: BY_NAME[name].rdf_ox for name in ("ttl", "nt", "rdf", "jsonld")}  # request bodies: from the one table
MAX_JSON_DEPTH = 64        # JSON-LD nested deeper than this is refused before parsing
DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.I)


# --- computing a change (query worker side: pyoxigraph only) -------------------------------------------------------

@dataclass
class Changed:
    """Every graph after the change (IRI → N-Triples) and what changed in each (IRI → (added, removed))."""

    graphs: dict[str, bytes]
    diff: dict[str, tuple[int, int]]
    existed: bool = True   # a graph-store operation's target graph existed before it


def _refuse_unsafe_body(body: bytes, fmt: str) -> None:
    """RDF/XML may declare entities (Oxigraph expands internal ones: a billion-laughs document is a memory bomb);
    JSON-LD may name remote contexts. Neither is needed to send data, so both are refused before parsing."""
    if fmt == "rdf" and b"\x00" in body:  # UTF-16 would hide a declaration from the check below
        raise QueryRefused("RDF/XML encoding", "RDF/XML must be sent as UTF-8")
    if fmt == "rdf" and DTD.search(body):
        raise QueryRefused("RDF/XML DTD", "RDF/XML with a document type declaration (<!DOCTYPE or <!ENTITY) is "
                                          "refused: entities can expand without bound or name files and URLs")
    if fmt == "jsonld":
        try:
            doc = json.loads(body, object_pairs_hook=_unique_keys)
        except RecursionError:
            raise QueryRefused("JSON-LD nesting", "JSON-LD nested too deeply is refused "
                                                  f"(at most {MAX_JSON_DEPTH} levels)") from None
        except ValueError as exc:
            raise QuerySyntaxError(f"the body is not JSON: {exc}") from None
        stack = [(doc, 0)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_JSON_DEPTH:
                raise QueryRefused("JSON-LD nesting", f"JSON-LD nested deeper than {MAX_JSON_DEPTH} levels is refused")
            if isinstance(node, dict):
                ctx = node.get("@context")
                for c in ctx if isinstance(ctx, list) else [ctx]:
                    if isinstance(c, str) or (isinstance(c, dict) and "@import" in c):
                        where = c if isinstance(c, str) else c["@import"]
                        raise QueryRefused("JSON-LD remote context", f"JSON-LD @context {where!r} is refused: this "
                                           "server never fetches contexts; put the context in the document")
                stack.extend((v, depth + 1) for v in node.values())
            elif isinstance(node, list):
                stack.extend((v, depth + 1) for v in node)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object, refused when a key occurs twice: parsers disagree on which value counts (``json`` keeps the
    last, a streaming JSON-LD parser may act on the first), so a second ``@context`` could hide a remote one."""
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise QueryRefused("JSON-LD duplicate key", f"JSON-LD with the key {key!r} twice in one object is "
                                                        "refused: give each key once")
        seen[key] = value
    return seen


def _n_triples(triples: list[ox.Triple]) -> bytes:
    data = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
    assert data is not None  # no output given: the bytes are returned
    return data


def parse_body(body: bytes, fmt: str, base_iri: str | None) -> list[ox.Triple]:
    """The triples of a request body in one of ``BODY_FORMATS`` (fresh blank nodes), or QuerySyntaxError."""
    _refuse_unsafe_body(body, fmt)
    try:
        return [q.triple for q in ox.parse(body, BODY_FORMATS[fmt], base_iri=base_iri, rename_blank_nodes=True,
                                           without_named_graphs=True)]
    except (SyntaxError, ValueError) as exc:
        raise QuerySyntaxError(f"the body is not valid {fmt}: {exc}") from None


def _copy(store: ox.Store, data: ox.NamedNode) -> ox.Store:
    """An in-memory copy of the writable part of ``store``: every graph but the read-only ones, with the data graph
    as the default graph (the store's own default graph, empty in our builds, is folded into it)."""
    work = ox.Store()
    default = ox.DefaultGraph()
    hidden = {ox.NamedNode(g) for g in READ_ONLY}
    work.extend(ox.Quad(q.subject, q.predicate, q.object, default) if q.graph_name in (data, default) else q
                for q in store if q.graph_name not in hidden)
    return work


def _graph_name(graph: str | None) -> ox.NamedNode | ox.DefaultGraph:
    return ox.DefaultGraph() if graph in (None, DATA_GRAPH) else ox.NamedNode(graph)


def transform(store: ox.Store, change: Mapping) -> Changed:
    """Apply one change to a copy of ``store``; return every graph after it and the per-graph difference.

    ``change``: ``{"op": "update", "text", "base_iri", "using", "using_named", "service_allowlist"}`` or
    ``{"op": "put"|"post"|"delete", "graph": IRI or None (the data graph), "parts": [(bytes, format)], "base_iri"}``,
    with ``"writable"``: IRIs of writable graphs besides the data graph, or ``"*"`` for every graph not read-only.
    Raises QueryRefused (a refused feature, a read-only or unwritable graph), QuerySyntaxError, QueryError.
    """
    data = ox.NamedNode(change.get("data_graph", DATA_GRAPH))
    work = _copy(store, data)
    before = set(work)
    op = change["op"]
    existed = True
    if op == "update":
        check_update(change["text"], change.get("service_allowlist", ()), change.get("max_bytes", MAX_TEXT_BYTES))
        named = sorted(mentioned_iris(change["text"]) & set(READ_ONLY))
        if named:
            raise QueryRefused("read-only graph", f"graph <{named[0]}> is read-only, and not part of what an update "
                                                  "sees: updates read and change the asserted graphs; the inferred "
                                                  "and meta graphs are recomputed by each write")
        text = with_using(change["text"], change.get("using", ()), change.get("using_named", ()))
        if not change.get("may_empty"):
            _probe_graphs(work, text, change.get("base_iri"))
        try:
            work.update(text, base_iri=change.get("base_iri"))
        except SyntaxError as exc:
            raise QuerySyntaxError(str(exc)) from None
        except (ValueError, OSError, RuntimeError) as exc:
            raise QueryError(f"update failed: {exc}") from None
    else:
        target = _graph_name(change.get("graph"))
        existed = isinstance(target, ox.DefaultGraph) or any(True for _ in work.quads_for_pattern(None, None, None,
                                                                                                  target))
        triples = [t for body, fmt in change.get("parts", ()) for t in parse_body(body, fmt, change.get("base_iri"))]
        if op in ("put", "delete"):
            work.remove_graph(target) if not isinstance(target, ox.DefaultGraph) else work.clear_graph(target)
        if op in ("put", "post"):
            work.extend(ox.Quad(t.subject, t.predicate, t.object, target) for t in triples)
    after = set(work)
    if not change.get("may_empty") and _holds_data(before) and not _holds_data(after):
        raise QueryRefused("emptying the data graph", f"this write would empty the data graph <{data.value}>: emptying "
                                                      "it whole is not offered (UPDATE_ADMINS names the tokens that "
                                                      "may); nothing was changed")
    _refuse_triple_terms(after - before)
    diff: dict[str, list[int]] = {}
    for q, i in [(q, 0) for q in after - before] + [(q, 1) for q in before - after]:
        name = data.value if isinstance(q.graph_name, ox.DefaultGraph) else q.graph_name.value
        diff.setdefault(name, [0, 0])[i] += 1
    _check_writable(diff, change.get("writable", ()), data.value)
    graphs: dict[str, list[ox.Triple]] = {}
    for g in READ_ONLY:  # as they are: the commit needs the ontology, and extends the meta graph
        triples = [q.triple for q in store.quads_for_pattern(None, None, None, ox.NamedNode(g))]
        if triples:
            graphs[g] = triples
    for q in after:
        graphs.setdefault(data.value if isinstance(q.graph_name, ox.DefaultGraph) else q.graph_name.value,
                          []).append(q.triple)
    return Changed(graphs={g: _n_triples(ts) for g, ts in graphs.items()},
                   diff={g: (a, r) for g, (a, r) in diff.items()}, existed=existed)


def _probe_graphs(work: ox.Store, text: str, base_iri: str | None) -> None:
    """Refuse, before it runs, an update that drops, clears or changes a read-only graph or drops or clears the
    data graph, in whatever words Oxigraph reads it (``DROP ALL``, ``CLEAR NAMED``, ``DROPALL``, ``MOVE``, ``GRAPH
    ?g`` …): it runs first on a store holding one marker triple (a fresh IRI nobody can name) in each read-only
    graph, in the data graph named as such, in the default graph and in every named graph of ``work`` (so that
    ``DROP GRAPH`` of an existing graph runs as it would). Whatever names a protected graph is refused whole."""
    marker = ox.NamedNode(f"urn:uuid:{uuid.uuid4()}")
    protected = [ox.NamedNode(g) for g in READ_ONLY]
    named_data = ox.NamedNode(DATA_GRAPH)
    graphs = {*protected, named_data, ox.DefaultGraph(), *work.named_graphs()}
    probe = ox.Store()
    probe.extend(ox.Quad(marker, marker, marker, g) for g in graphs)
    try:
        probe.update(text, base_iri=base_iri)
    except SyntaxError as exc:
        raise QuerySyntaxError(str(exc)) from None
    except (ValueError, OSError, RuntimeError) as exc:
        raise QueryError(f"update failed: {exc}") from None
    for g in protected:
        if list(probe.quads_for_pattern(None, None, None, g)) != [ox.Quad(marker, marker, marker, g)]:
            raise QueryRefused("read-only graph", f"this update drops, clears or changes the read-only graph "
                                                  f"<{g.value}> (DROP and CLEAR of ALL or NAMED name every graph): "
                                                  "refused whole, nothing was changed")
    if ox.Quad(marker, marker, marker, named_data) not in probe:
        raise QueryRefused("emptying the data graph", f"this update drops or clears the data graph <{DATA_GRAPH}>: "
                                                      "emptying it whole is not offered (UPDATE_ADMINS names the "
                                                      "tokens that may); nothing was changed")


def _holds_data(quads) -> bool:
    return any(isinstance(q.graph_name, ox.DefaultGraph) for q in quads)


def _refuse_triple_terms(quads) -> None:
    """RDF 1.2 triple terms (``<<( … )>>``, and the reifiers ``<< … >>`` stands for) are not supported: the shapes,
    the reasoners and the dumps read RDF 1.1."""
    for q in quads:
        if isinstance(q.subject, ox.Triple) or isinstance(q.object, ox.Triple):
            raise QueryRefused("RDF 1.2 triple terms", "RDF 1.2 quoted triples and triple terms (<< … >>, <<( … )>>) "
                                                       "are not supported by this server's writes; state the facts "
                                                       "as plain triples")


def _check_writable(diff: Mapping[str, object], writable, data: str) -> None:
    for iri in sorted(diff):
        if iri in READ_ONLY:
            raise QueryRefused("read-only graph", f"graph <{iri}> is read-only: the ontology comes from the source "
                                                  "files, the inferred and meta graphs from each build")
        if iri != data and writable != "*" and iri not in writable:
            raise QueryRefused("graph not writable", f"graph <{iri}> is not writable on this server: writes go to "
                                                     f"the data graph <{data}> (WRITABLE_GRAPHS lists any others)")
