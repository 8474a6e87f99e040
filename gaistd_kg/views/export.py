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
from gaistd_kg.views import jsonld

# name -> (pyoxigraph format, keeps graph names, media type, extension)
# Which named graphs make up each dump.
DUMPS = {
    "asserted": ("ontology", "data"),
    "inferred": ("inferred",),
    "full": ("ontology", "data", "inferred", "meta"),
}


def context() -> dict:
    """The prefixes-only JSON-LD @context (``/context.jsonld``): our prefixes, nothing else, so every term stays an
    IRI. The small descriptions served as JSON-LD (VoID, the dataset, the shapes) are compacted with it; the dumps use
    the terms context (``views/jsonld.py``, ``/terms.jsonld``), see ``_jsonld``."""
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
    # JSON-LD is written under the terms context by _jsonld, its graphs merged: a triple format here
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


def _jsonld(triples: list, output: IO[bytes], ctx: dict | None = None) -> None:
    """JSON-LD in the shape of a compacted document under the terms context (``/terms.jsonld``; ``ctx``, a context
    document, for a test): one flat node object per subject in ``@graph``, sorted by ``id``, blank nodes as ``_:``
    identifiers. Keys are terms (``title``, ``issued``, ``publisher``) and values what the term defines (a language
    map, a plain date string, a compact IRI) wherever the value fits the term; a value that does not (a ``gYear``
    under a date term, an untagged title, a literal under an IRI term) is written under the property's compact IRI
    as an explicit value object (``jsonld.Compactor``), so the document reads back to exactly these triples.

    The context object is embedded, not referred to by URL: a dump is read offline, years later, by processors that
    may not fetch remote contexts (rdflib does not by default), and it must keep meaning what it meant at its build
    even after ``/terms.jsonld`` changes with the ontology. Its ~13 KB are nothing beside a dump.

    Written directly (a streaming pass grouped by subject) rather than through rdflib's compaction, which took ~10x as
    long as every other format together and kept the dumps from being written by the build."""
    compactor = jsonld.Compactor(ctx if ctx is not None else jsonld.terms_context())
    by_subject: dict[str, tuple[object, list]] = {}
    for t in triples:
        s_id = compactor.ref(t.subject)
        entry = by_subject.get(s_id)
        if entry is None:
            entry = by_subject[s_id] = (t.subject, [])
        entry[1].append(t)
    graph = [compactor.node(subject, facts) for _, (subject, facts) in sorted(by_subject.items())]
    doc = {"@context": compactor.body, "@graph": graph}
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
