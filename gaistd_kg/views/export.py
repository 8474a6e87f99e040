"""Dumps of the built dataset, or one named graph, in every RDF format; the JSON-LD @context."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
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
    return bool(row.rdf_ox is not None and row.rdf_ox.supports_datasets and row.name != "jsonld")


def export(store: ox.Store, output: IO[bytes], selection: str | Iterable[str] = "full", fmt: str = "turtle") -> None:
    """Write the named graphs of ``selection`` (a dump name or a graph name) to ``output``.

    Quad formats keep each triple's graph; triple formats merge the graphs (duplicates across graphs written once).
    """
    row = formats.BY_NAME[format_name(fmt)]
    # JSON-LD is written with our context by _jsonld, its graphs merged: a triple format here
    fmt, rdf_format, quads = row.name, row.rdf_ox, keeps_graphs(row.name)
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
    """JSON-LD in the shape of a compacted document with our published @context: one node object per subject, keys
    and IRIs as prefixed names, every literal as a value object (``@value`` with ``@language`` or ``@type``), so the
    document reads back to exactly these triples under any context that defines our prefixes. Written directly (a
    streaming pass grouped by subject) rather than through rdflib's compaction, which took ~10x as long as every other
    format together and kept the dumps from being written by the build."""
    ctx = context()["@context"]
    by_ns = sorted(((ns, name) for name, ns in ctx.items()), key=lambda p: -len(p[0]))

    def short(iri: str) -> str:
        for ns, name in by_ns:
            if iri.startswith(ns) and len(iri) > len(ns) and not iri[len(ns):].startswith("//"):
                return f"{name}:{iri[len(ns):]}"
        return iri

    def node_id(term) -> str:
        return f"_:{term.value}" if isinstance(term, ox.BlankNode) else short(term.value)

    nodes: dict[str, dict] = {}
    rdf_type = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    for t in triples:
        s_id = node_id(t.subject)
        node = nodes.setdefault(s_id, {"@id": s_id})
        obj = t.object
        if t.predicate.value == rdf_type and not isinstance(obj, ox.Literal):
            node.setdefault("@type", []).append(node_id(obj))
            continue
        if isinstance(obj, ox.Literal):
            value: dict = {"@value": obj.value}
            if obj.language:
                value["@language"] = obj.language
            elif obj.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
                value["@type"] = short(obj.datatype.value)
        elif isinstance(obj, ox.Triple):
            raise ValueError("a quoted triple cannot be written as JSON-LD 1.1")
        else:
            value = {"@id": node_id(obj)}
        node.setdefault(short(t.predicate.value), []).append(value)
    doc = {"@context": ctx, "@graph": [nodes[k] for k in sorted(nodes)]}
    output.write(json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"))
    output.write(b"\n")


DUMPS_FOLDER = "dumps"  # <store>/artefacts/dumps: every dump and every named graph in every RDF format, plain and gzip


def dump_selections() -> tuple[str, ...]:
    """What is written as files: the dumps (asserted, inferred, full) and each named graph (/graph/<name>, /ontology)."""
    return (*DUMPS, *GRAPH)


def write_dumps(store: ox.Store, folder: Path) -> Path:
    """Write every selection in every RDF format of the formats table, plain and gzip (mtime 0, so the same build
    gives the same bytes), into ``folder``/dumps. Run by the build, next to the store it publishes: serving only sends
    these files."""
    out = Path(folder) / DUMPS_FOLDER
    out.mkdir(parents=True, exist_ok=True)
    present = {g.value for g in store.named_graphs()}
    for selection in dump_selections():
        if not any(g.value in present for g in graphs_for(selection)):
            continue  # a graph the store lacks is a 404, not an empty file
        for row in formats.of_kind(formats.GRAPH):
            buf = io.BytesIO()
            export(store, buf, selection, row.name)
            data = buf.getvalue()
            (out / f"{selection}.{row.extension}").write_bytes(data)
            (out / f"{selection}.{row.extension}.gz").write_bytes(gzip.compress(data, compresslevel=6, mtime=0))
    return out
