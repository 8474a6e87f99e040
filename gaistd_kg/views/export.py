"""Dumps of the built dataset, or one named graph, in every RDF format; the JSON-LD @context."""

from __future__ import annotations

import json
from typing import IO, Iterable

import pyoxigraph as ox

from gaistd_kg import formats
from gaistd_kg.iris import GRAPH, PREFIXES

# name -> (pyoxigraph format, keeps graph names, media type, extension)
# Which named graphs make up each dump.
DUMPS = {
    "asserted": ("ontology", "data"),
    "inferred": ("inferred",),
    "full": ("ontology", "data", "inferred", "meta"),
}


def context() -> dict:
    """The JSON-LD @context published with the dumps: our prefixes, nothing else, so every term stays an IRI."""
    return {"@context": dict(sorted(PREFIXES.items()))}


def context_json() -> str:
    return json.dumps(context(), indent=2, ensure_ascii=False)


def format_name(name: str) -> str:
    """The formats table's name of an RDF format given by name, extension or keyword (``turtle``, ``ttl``, ``xml``)."""
    try:
        return formats.lookup(name, formats.GRAPH).name
    except formats.UnknownFormat as exc:
        raise ValueError(str(exc)) from None


def graphs_for(selection: str | Iterable[str]) -> list[ox.NamedNode]:
    names = DUMPS.get(selection, (selection,)) if isinstance(selection, str) else tuple(selection)
    unknown = [n for n in names if n not in GRAPH]
    if unknown:
        raise ValueError(f"unknown graph {unknown[0]!r}: use one of {', '.join([*DUMPS, *GRAPH])}")
    return [ox.NamedNode(str(GRAPH[n])) for n in names]


def keeps_graphs(fmt: str) -> bool:
    """Whether a dump in ``fmt`` keeps each triple's named graph (TriG, N-Quads) or merges the graphs into one (every
    other format, JSON-LD included: it is written as one compacted graph)."""
    row = formats.BY_NAME[format_name(fmt)]
    return bool(row.ox is not None and row.ox.supports_datasets and row.name != "jsonld")


def export(store: ox.Store, output: IO[bytes], selection: str = "full", fmt: str = "turtle") -> None:
    """Write the named graphs of ``selection`` (a dump name or a graph name) to ``output``.

    Quad formats keep each triple's graph; triple formats merge the graphs (duplicates across graphs written once).
    """
    row = formats.BY_NAME[format_name(fmt)]
    # JSON-LD is written compacted with our context by rdflib, its graphs merged: a triple format here
    fmt, rdf_format, quads = row.name, row.ox, keeps_graphs(row.name)
    graphs = graphs_for(selection)
    prefixes = dict(PREFIXES)
    if quads:
        items: Iterable = (q for g in graphs for q in store.quads_for_pattern(None, None, None, g))
        ox.serialize(items, output, rdf_format, prefixes=prefixes)
        return
    seen: set = set()
    triples = []
    for g in graphs:
        for q in store.quads_for_pattern(None, None, None, g):
            t = q.triple
            if t not in seen:
                seen.add(t)
                triples.append(t)
    if fmt == "jsonld":
        _jsonld(triples, output)
        return
    ox.serialize(triples, output, rdf_format, prefixes=prefixes)


def _jsonld(triples: list, output: IO[bytes]) -> None:
    """JSON-LD compacted with our published @context (Oxigraph's writer does not compact, rdflib's does)."""
    import io

    from rdflib import Graph

    buf = io.BytesIO()
    ox.serialize(triples, buf, ox.RdfFormat.N_TRIPLES)
    g = Graph()
    g.parse(data=buf.getvalue(), format="nt")
    output.write(g.serialize(format="json-ld", context=context()["@context"], auto_compact=True,
                             ensure_ascii=False).encode("utf-8"))
