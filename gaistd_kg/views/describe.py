"""The facts about one resource, read from the built store: what is asserted, what is inferred, what points at it.

Store-side logic only (no Flask): the linked-data pages render a :class:`Description` as HTML and serialise the very
same object as RDF, so a page and its Turtle always carry the same facts. A description is

* every triple whose subject is the resource, in any named graph, each with the graphs that hold it (a triple only in
  the inferred graph is *inferred*; one in the ontology, data or meta graph is *asserted*, even if also inferred);
* the facts of the blank nodes it reaches (milestones and the like), so nothing it says is cut off;
* every triple whose object is the resource (incoming links), again with their graphs;
* labels (``skos:prefLabel``, ``rdfs:label``, ``dcterms:title``, per language) of every IRI shown, for display.

Reads go through ``Store.quads_for_pattern`` with typed terms, never through SPARQL text.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import io
import logging
import sys
import types
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping, Sequence

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, RDFS, SKOS, VOID, XSD

from . import export, links
from gaistd_kg.iris import GRAPH, ID_BASE, ONTOLOGY_NS, SD, bind_prefixes, prefixed

LABEL_PREDICATES = tuple(ox.NamedNode(str(p)) for p in (SKOS.prefLabel, RDFS.label, DCTERMS.title))
RDF_TYPE = ox.NamedNode(str(RDF.type))
SOURCE = ox.NamedNode(str(DCTERMS.source))
PROVENANCE_OF = ox.NamedNode(ONTOLOGY_NS + "provenanceOf")
EVIDENCE_CLASS = ox.NamedNode(ONTOLOGY_NS + "evidenceClass")
INFERRED_GRAPH = str(GRAPH["inferred"])
GRAPH_NAMES = {str(iri): name for name, iri in GRAPH.items()}
LANGUAGES = ("en", "zh")
MAX_BNODE_DEPTH = 8        # blank nodes nested deeper than this are not followed (and a cycle stops earlier)
MAX_INCOMING = 2000        # incoming links shown for one resource; a hub (a jurisdiction, a status) can have many

Term = ox.NamedNode | ox.BlankNode | ox.Literal


@dataclass(frozen=True)
class Fact:
    """One triple and the named graphs that hold it."""

    subject: ox.NamedNode | ox.BlankNode
    predicate: ox.NamedNode
    object: Term
    graphs: tuple[str, ...]

    @property
    def inferred(self) -> bool:
        """True when only the reasoner says so: the triple is in the inferred graph and in no asserted one."""
        return bool(self.graphs) and all(g == INFERRED_GRAPH for g in self.graphs)

    @property
    def graph_names(self) -> tuple[str, ...]:
        return tuple(GRAPH_NAMES.get(g, g) for g in self.graphs)

    def triple(self) -> ox.Triple:
        return ox.Triple(self.subject, self.predicate, self.object)

    def quads(self) -> Iterator[ox.Quad]:
        for g in self.graphs:
            yield ox.Quad(self.subject, self.predicate, self.object, ox.NamedNode(g))


@dataclass
class Description:
    iri: ox.NamedNode
    facts: list[Fact]                                   # subject is the resource
    nested: dict[ox.BlankNode, list[Fact]]              # facts of the blank nodes the resource reaches
    incoming: list[Fact]                                # object is the resource
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # IRI -> {language tag ("" if none): label}
    incoming_truncated: bool = False
    evidence_class: dict[str, str] = field(default_factory=dict)   # cited page IRI -> its gaistd:evidenceClass IRI
    provenance: dict[str, str] = field(default_factory=dict)       # per-fact source property -> the property it sources

    @property
    def exists(self) -> bool:
        return bool(self.facts or self.incoming)

    def all_facts(self) -> Iterator[Fact]:
        yield from self.facts
        for facts in self.nested.values():
            yield from facts
        yield from self.incoming

    def triples(self) -> list[ox.Triple]:
        """The facts as triples, each once: what a triple format (Turtle, N-Triples, JSON-LD, RDF/XML) carries."""
        seen: dict[ox.Triple, None] = {}
        for fact in self.all_facts():
            seen.setdefault(fact.triple(), None)
        return list(seen)

    def quads(self) -> list[ox.Quad]:
        """The facts with their named graphs: what a quad format (TriG, N-Quads) carries."""
        seen: dict[ox.Quad, None] = {}
        for fact in self.all_facts():
            for q in fact.quads():
                seen.setdefault(q, None)
        return list(seen)

    def sources(self) -> list[Fact]:
        """``dcterms:source`` of the resource: where its facts come from."""
        return [f for f in self.facts if f.predicate == SOURCE]

    def dated(self) -> list[tuple[Fact, list[ox.NamedNode]]]:
        """Each date and status of the resource with the pages that state them (its per-fact source properties,
        paired with the properties they source by ``gaistd:provenanceOf`` in the ontology)."""
        pages: dict[str, list[ox.NamedNode]] = {}
        for f in self.facts:
            sourced = self.provenance.get(f.predicate.value)
            if sourced and isinstance(f.object, ox.NamedNode) and f.object not in pages.setdefault(sourced, []):
                pages[sourced].append(f.object)
        return [(f, pages.get(f.predicate.value, [])) for f in self.facts
                if f.predicate.value in set(self.provenance.values())]

    def label(self, term: Term, lang: str = "en") -> str | None:
        return pick_label(self.labels.get(term.value, {}), lang) if isinstance(term, ox.NamedNode) else None


def pick_label(by_lang: dict[str, str], lang: str) -> str | None:
    """The label in ``lang``, else English, else Chinese, else one without a tag, else any."""
    if not by_lang:
        return None
    for tag in (lang, "en", "zh", ""):
        if tag in by_lang:
            return by_lang[tag]
    return by_lang[sorted(by_lang)[0]]


def _graph_key(g: object) -> str:
    return g.value if isinstance(g, ox.NamedNode) else ""


def _collect(quads: Iterable[ox.Quad]) -> list[Fact]:
    """Group quads into facts (one per triple, with all its graphs), in a stable order."""
    by_triple: dict[tuple, set[str]] = {}
    for q in quads:
        graphs = by_triple.setdefault((q.subject, q.predicate, q.object), set())
        key = _graph_key(q.graph_name)
        if key:
            graphs.add(key)
    facts = [Fact(s, p, o, tuple(sorted(gs))) for (s, p, o), gs in by_triple.items()]
    facts.sort(key=_fact_order)
    return facts


def _fact_order(f: Fact) -> tuple:
    p = f.predicate.value
    rank = 0 if f.predicate == RDF_TYPE else 1 if f.predicate in LABEL_PREDICATES else 2
    return (rank, curie(p), f.inferred, str(f.subject), str(f.object))


def describe(store: ox.Store, iri: str, max_incoming: int = MAX_INCOMING) -> Description:
    """Everything the store says about ``iri`` and what points at it (see the module docstring)."""
    node = ox.NamedNode(iri)
    facts = _collect(store.quads_for_pattern(node, None, None, None))
    nested: dict[ox.BlankNode, list[Fact]] = {}
    frontier = [f.object for f in facts if isinstance(f.object, ox.BlankNode)]
    depth = 0
    while frontier and depth < MAX_BNODE_DEPTH:
        nxt: list[ox.BlankNode] = []
        for b in frontier:
            if b in nested:
                continue
            nested[b] = _collect(store.quads_for_pattern(b, None, None, None))
            nxt.extend(f.object for f in nested[b] if isinstance(f.object, ox.BlankNode))
        frontier, depth = nxt, depth + 1
    incoming_quads: list[ox.Quad] = []
    truncated = False
    for q in store.quads_for_pattern(None, None, node, None):
        if len(incoming_quads) >= max_incoming * 4:  # a triple can sit in up to four graphs
            truncated = True
            break
        incoming_quads.append(q)
    incoming = _collect(incoming_quads)
    if len(incoming) > max_incoming:
        incoming, truncated = incoming[:max_incoming], True
    desc = Description(node, facts, nested, incoming, incoming_truncated=truncated)
    desc.provenance = {q.subject.value: q.object.value for q in store.quads_for_pattern(None, PROVENANCE_OF, None, None)
                       if isinstance(q.subject, ox.NamedNode) and isinstance(q.object, ox.NamedNode)}
    cited = {f.object for f in facts if isinstance(f.object, ox.NamedNode)
             and (f.predicate == SOURCE or f.predicate.value in desc.provenance)}
    for page in cited:
        for q in store.quads_for_pattern(page, EVIDENCE_CLASS, None, None):
            if not isinstance(q.object, ox.Triple):  # an RDF-star triple has no value
                desc.evidence_class[page.value] = q.object.value
    desc.labels = labels_for(store, _iris_shown(desc))
    return desc


def _iris_shown(desc: Description) -> set[ox.NamedNode]:
    iris = {desc.iri}
    for f in desc.all_facts():
        iris.add(f.predicate)
        for t in (f.subject, f.object):
            if isinstance(t, ox.NamedNode):
                iris.add(t)
        if isinstance(f.object, ox.Literal):
            iris.add(f.object.datatype)
    return iris


def labels_for(store: ox.Store, iris: Iterable[ox.NamedNode]) -> dict[str, dict[str, str]]:
    """For each IRI, its label per language tag, taking the first label predicate that has one in that language."""
    iris = list(iris)
    bulk = getattr(store, "quads_for_subjects", None)  # a remote view: one request for all, not one per IRI
    quads = (bulk(iris, LABEL_PREDICATES) if bulk else
             (q for iri in iris for pred in LABEL_PREDICATES for q in store.quads_for_pattern(iri, pred, None, None)))
    found: dict[tuple[str, ox.NamedNode], dict[str, list[str]]] = {}
    for q in quads:
        if isinstance(q.object, ox.Literal) and isinstance(q.subject, ox.NamedNode):  # the subjects asked for are IRIs
            found.setdefault((q.subject.value, q.predicate), {}).setdefault(_base_lang(q.object.language),
                                                                            []).append(q.object.value)
    out: dict[str, dict[str, str]] = {}
    for iri in iris:
        by_lang: dict[str, str] = {}
        for pred in LABEL_PREDICATES:
            for tag, values in found.get((iri.value, pred), {}).items():
                by_lang.setdefault(tag, sorted(values)[0])
        if by_lang:
            out[iri.value] = by_lang
    return out


def _base_lang(tag: str | None) -> str:
    """``zh-Hans`` and ``zh`` both count as Chinese for the language switch; untagged is ``""``."""
    return (tag or "").split("-")[0].lower()


def graph_triples(store: ox.Store, graph_names: Iterable[str]) -> Iterator[ox.Triple]:
    """The triples of the given named graphs (short names from ``GRAPH`` or full IRIs), merged."""
    for name in graph_names:
        g = ox.NamedNode(str(GRAPH.get(name, name)))
        for q in store.quads_for_pattern(None, None, None, g):
            yield q.triple


def graph_exists(store: ox.Store, iri: str) -> bool:
    return store.contains_named_graph(ox.NamedNode(iri))


def curie(iri: str) -> str:
    """``gaistd:Standard`` for a known namespace, else the IRI itself."""
    return prefixed(iri) or iri


# --- serialising a description -------------------------------------------------------------------------------------

def serialize_description(desc: Description, fmt: str) -> bytes:
    """The description in ``fmt`` (a name or extension of a graph format of ``formats.FORMATS``), written by ``export.export``
    so a page and a dump of the same facts come out of one writer: triple formats merge the graphs, quad formats
    keep them and also hold every triple in the default graph.

    The default graph is what a linked-data client reads from a document (Comunica asks for N-Quads first and matches
    its patterns against the default graph only); as at ``/sparql``, it is the union of the named graphs."""
    scratch = ox.Store()
    ours = {str(iri) for iri in GRAPH.values()}
    for q in desc.quads():
        if isinstance(q.graph_name, ox.NamedNode) and q.graph_name.value in ours:  # a description's graphs are named
            scratch.add(q)
    out = io.BytesIO()
    export.export(scratch, out, tuple(GRAPH), fmt)
    if export.keeps_graphs(fmt):
        union = {q.triple for q in scratch}
        out.write(_n_triples(union) if export.format_name(fmt) == "nq" else _trig_default_graph(union))
    return out.getvalue()


def _trig_default_graph(triples: Iterable[ox.Triple]) -> bytes:
    """The triples as a TriG default-graph block, after the named graphs' blocks (N-Triples lines are TriG)."""
    return b"{\n" + _n_triples(triples) + b"}\n"


def _n_triples(triples: Iterable[ox.Triple]) -> bytes:
    """The triples as N-Triples lines, sorted."""
    body = ox.serialize(sorted(triples, key=str), format=ox.RdfFormat.N_TRIPLES)
    assert body is not None  # no output given: the bytes come back
    return body


# --- the ontology documentation ------------------------------------------------------------------------------------

def _ontpub():
    """pyLODE's OntPub. pyLODE 3.4.1 reads ``site-packages/pyproject.toml`` at import to learn its own version and
    fails when installed from a wheel (RDFLib/pyLODE#260, fixed upstream after 3.4.1); the version then comes from
    the installed distribution's metadata instead."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        from pylode import OntPub
    except FileNotFoundError:
        for name in [n for n in sys.modules if n == "pylode" or n.startswith("pylode.")]:
            del sys.modules[name]
        shim = types.ModuleType("pylode.version")
        shim.__version__ = importlib.metadata.version("pylode")
        sys.modules["pylode.version"] = shim
        from pylode import OntPub
    finally:
        # pyLODE's supermodel loader calls logging.basicConfig(level=DEBUG) on import: undo it for the server's logs
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
    return OntPub


def ontology_graph(store: ox.Store) -> Graph:
    """The asserted ontology graph as an rdflib Graph (what pyLODE and the ontology's RDF views show)."""
    data = ox.serialize(graph_triples(store, ["ontology"]), format=ox.RdfFormat.N_TRIPLES)
    return bind_prefixes(Graph()).parse(data=data, format="nt")


def ontology_html(store: ox.Store) -> str:
    """HTML documentation of the ontology graph, made by pyLODE.

    Every term ``gaistd:Term`` gets the fragment id ``Term`` (pyLODE would otherwise derive some ids from labels),
    so the term IRI ``…/ontology#Term`` lands on its entry.
    """
    graph = _one_title_per_term(ontology_graph(store))
    pub = _ontpub()(ontology=graph)
    for s in set(graph.subjects()):
        if isinstance(s, URIRef) and str(s).startswith(ONTOLOGY_NS) and len(str(s)) > len(ONTOLOGY_NS):
            pub.fids[str(s)] = str(s)[len(ONTOLOGY_NS):]
    with warnings.catch_warnings():
        # pyLODE reads its stylesheet with open(...).read() and leaves the file to the garbage collector
        warnings.simplefilter("ignore", ResourceWarning)
        return pub.make_html()


def _one_title_per_term(graph: Graph) -> Graph:
    """pyLODE runs a term's labels together ("国家标准national standard"); give it one label per term that names
    every language instead: "national standard / 国家标准" (English first)."""
    for pred in (RDFS.label, DCTERMS.title):
        for s in set(graph.subjects(pred, None)):
            labels = [o for o in graph.objects(s, pred) if isinstance(o, Literal)]
            if len(labels) < 2:
                continue
            labels.sort(key=lambda o: (o.language != "en", o.language != "zh", o.language or "", str(o)))
            graph.remove((s, pred, None))
            graph.add((s, pred, Literal(" / ".join(str(o) for o in labels), lang="en")))
    return graph


# --- the dataset: VoID and DCAT ------------------------------------------------------------------------------------

CC_BY_4 = URIRef("https://creativecommons.org/licenses/by/4.0/")
IANA = "https://www.iana.org/assignments/media-types/"


@dataclass(frozen=True)
class Distribution:
    url: str          # where this server serves it
    media_type: str
    title: str        # what it holds, in English
    full: bool        # a dump of the whole dataset (void:dataDump), not of a part


def describe_dataset(store: ox.Store, dataset_iri: str, modified: float, sparql_url: str,
                     distributions: Sequence[Distribution],
                     title: Mapping[str, str], counts: Mapping[str, int] | None = None,
                     link_counts: list[links.LinkCount] | None = None) -> Graph:
    """A VoID + DCAT description of the dataset: one void:subset per named graph with its triple count (``counts``,
    the build's own count in its manifest; counted in the store when not given), the SPARQL endpoint, a
    dcat:Distribution per dump, and a void:Linkset per outside dataset our resources link to (``link_counts``, the
    build's counts; counted in the store when not given)."""
    g = bind_prefixes(Graph())
    ds = URIRef(dataset_iri)
    g.add((ds, RDF.type, VOID.Dataset))
    g.add((ds, RDF.type, DCAT.Dataset))
    for lang, text in title.items():
        g.add((ds, DCTERMS.title, Literal(text, lang=lang)))
    g.add((ds, DCTERMS.license, CC_BY_4))
    g.add((ds, DCTERMS.modified, Literal(_iso(modified), datatype=XSD.dateTime)))
    g.add((ds, VOID.sparqlEndpoint, URIRef(sparql_url)))
    g.add((ds, VOID.uriSpace, Literal(ID_BASE)))
    g.add((ds, VOID.vocabulary, URIRef(ONTOLOGY_NS)))
    total = 0
    for name, iri in GRAPH.items():
        n = (int(counts[name]) if counts and name in counts
             else sum(1 for _ in store.quads_for_pattern(None, None, None, ox.NamedNode(str(iri)))))
        total += n
        g.add((ds, VOID.subset, iri))
        g.add((iri, RDF.type, VOID.Dataset))
        g.add((iri, VOID.triples, Literal(n, datatype=XSD.integer)))
        g.add((iri, DCTERMS.title, Literal(f"{name} graph", lang="en")))
    g.add((ds, VOID.triples, Literal(total, datatype=XSD.integer)))
    service = BNode("sparql-service")
    g.add((service, RDF.type, SD.Service))
    g.add((service, SD.endpoint, URIRef(sparql_url)))
    g.add((ds, DCAT.accessService, service))
    g.add((service, RDF.type, DCAT.DataService))
    g.add((service, DCAT.endpointURL, URIRef(sparql_url)))
    for d in distributions:
        dist = URIRef(d.url)
        g.add((ds, DCAT.distribution, dist))
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCAT.downloadURL, dist))
        g.add((dist, DCAT.mediaType, URIRef(IANA + d.media_type)))
        g.add((dist, DCTERMS.title, Literal(d.title, lang="en")))
        g.add((dist, DCTERMS.license, CC_BY_4))
        if d.full:
            g.add((ds, VOID.dataDump, dist))
    return links.add_linksets(g, dataset_iri, store, link_counts)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
