"""pySHACL over a data graph held in Oxigraph and too large for one rdflib graph: the focus nodes in chunks, each
validated against the part of the graph its shapes can read.

What a shape reads is bounded when every path is a single predicate. Validating a node reads its outgoing triples
(one *level*); a constraint on the values of a property shape (``sh:class``, and nested shapes through ``sh:node``,
``sh:qualifiedValueShape``, ``sh:and``/``sh:or``/``sh:xone``/``sh:not``, ``sh:property``) reads the value nodes'
outgoing triples one level further; ``sh:class`` reads types, with the class hierarchy of the ontology (pySHACL
mixes ``ont_graph`` in) and of the data. :func:`levels` computes that depth from the shapes. A chunk graph holds,
for the chunk's subjects, the outgoing triples of every node within that many levels, plus the data's own
``rdfs:subClassOf`` triples; pySHACL then reads there exactly what it reads in the whole graph for those nodes.

Each subject of the data graph falls in exactly one chunk, and pySHACL's own target selection (``Shape.focus_nodes``,
wrapped while a chunk runs) is narrowed to the chunk's subjects, so every focus node is validated once and nested
validations of value nodes are untouched. Shapes this argument does not cover raise :class:`NotImplementedError`:
paths other than one predicate (inverse, sequence, alternative, ``*``/``+``), recursive shapes, SHACL-SPARQL
constraints left to pySHACL (they may read anything), ``sh:targetNode``/``sh:targetObjectsOf``/``sh:target`` (their
focus nodes need not be subjects) and SHACL rules. ``tests/test_chunkshacl.py`` checks the findings equal pySHACL's
on the whole graph for every shape fixture and for the shipped and generated data.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import pyoxigraph as ox
from pyshacl import validate as shacl_validate
from pyshacl.shape import Shape
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, SH

from .sparqlshapes import _rdflib

VALUE_SHAPES = (SH.node, SH.qualifiedValueShape, SH["not"], SH.property)
LIST_SHAPES = (SH["and"], SH["or"], SH.xone)
UNBOUNDED_TARGETS = (SH.targetNode, SH.targetObjectsOf, SH.target)


def _nested(shapes: Graph, shape) -> list:
    out = [o for p in VALUE_SHAPES if p != SH.property for o in shapes.objects(shape, p)]
    for p in LIST_SHAPES:
        for lst in shapes.objects(shape, p):
            out += list(shapes.items(lst))
    return out


def levels(shapes: Graph) -> int:
    """How many levels of outgoing triples (1 = the focus node's own) validating any focus node can read."""
    if (None, SH.sparql, None) in shapes:
        raise NotImplementedError("a SHACL-SPARQL constraint pySHACL runs itself can read any part of the graph")
    if (None, SH.rule, None) in shapes:
        raise NotImplementedError("SHACL rules add triples anywhere in the graph")
    for p in UNBOUNDED_TARGETS:
        if (None, p, None) in shapes:
            raise NotImplementedError(f"{p} selects focus nodes that need not be subjects of the data")
    memo: dict = {}

    def need(shape, stack: tuple) -> int:
        """Levels read when ``shape`` is validated on a node."""
        if shape in stack:
            raise NotImplementedError(f"shape {shape} is recursive")
        if shape in memo:
            return memo[shape]
        stack = (*stack, shape)
        path = shapes.value(shape, SH.path)
        on_values = [need(n, stack) for n in _nested(shapes, shape)]
        on_values += [need(p, stack) for p in shapes.objects(shape, SH.property)]
        reads_types = (shape, SH["class"], None) in shapes
        if path is None:                                    # a node shape: its constraints apply to the node itself
            n = max([1 if reads_types or (shape, SH.closed, None) in shapes else 0, *on_values])
        elif isinstance(path, URIRef):                      # a property shape: its constraints apply to the values
            n = 1 + max([1 if reads_types else 0, *on_values])
        else:
            raise NotImplementedError(f"shape {shape} has a path that is not a single predicate")
        memo[shape] = n
        return n

    roots = set(shapes.subjects(RDF.type, SH.NodeShape)) | set(shapes.subjects(RDF.type, SH.PropertyShape))
    roots |= set(shapes.subjects(SH.property, None)) | set(shapes.objects(None, SH.property))
    return max([1, *(need(s, ()) for s in roots)])


@contextmanager
def _narrowed() -> Iterator[set]:
    """While active, pySHACL's target selection keeps only the nodes in the yielded set."""
    allowed: set = set()
    original = Shape.focus_nodes

    def focus_nodes(self, data_graph, debug=False):
        return {n for n in original(self, data_graph, debug=debug) if n in allowed}

    Shape.focus_nodes = focus_nodes
    try:
        yield allowed
    finally:
        Shape.focus_nodes = original


def _ox(term):
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    return None


def _chunks(store: ox.Store, graph: ox.NamedNode, size: int) -> Iterator[tuple[list, list]]:
    """(subjects, their outgoing triples) in chunks of ``size`` subjects."""
    answer = store.query(f"SELECT DISTINCT ?s WHERE {{ GRAPH <{graph.value}> {{ ?s ?p ?o }} }}")
    subjects: list = []
    for row in answer:
        subjects.append(row[0])
        if len(subjects) == size:
            yield _described(store, graph, subjects)
            subjects = []
    if subjects:
        yield _described(store, graph, subjects)


def _described(store: ox.Store, graph: ox.NamedNode, subjects: list) -> tuple[list, list]:
    triples = [(_rdflib(q.subject), _rdflib(q.predicate), _rdflib(q.object))
               for s in subjects for q in store.quads_for_pattern(s, None, None, graph)]
    return [_rdflib(s) for s in subjects], triples


def chunk_graph(store: ox.Store, graph: ox.NamedNode, subjects: list, triples: list, depth: int,
                schema: list) -> Graph:
    """The chunk's subjects with everything within ``depth`` levels of them (see the module docstring)."""
    g = Graph()
    for t in schema:
        g.add(t)
    seen = set(subjects)
    frontier = []
    for t in triples:
        g.add(t)
        if not isinstance(t[2], Literal) and t[2] not in seen:
            seen.add(t[2])
            frontier.append(t[2])
    for _level in range(1, depth):
        nxt = []
        for node in frontier:
            for q in store.quads_for_pattern(_ox(node), None, None, graph):
                o = _rdflib(q.object)
                g.add((node, _rdflib(q.predicate), o))
                if not isinstance(o, Literal) and o not in seen:
                    seen.add(o)
                    nxt.append(o)
        frontier = nxt
    return g


def validate_chunked(store: ox.Store, graph: ox.NamedNode, core: Graph, ontology: Graph | None,
                     size: int = 5000) -> tuple[bool, Graph]:
    """pySHACL's (conforms, report graph) for the data graph ``graph`` of ``store``, computed chunk by chunk."""
    from .validate import _prepared_sparql

    depth = levels(core)
    schema = [(_rdflib(q.subject), RDFS.subClassOf, _rdflib(q.object))
              for q in store.quads_for_pattern(None, ox.NamedNode(str(RDFS.subClassOf)), None, graph)]
    merged = Graph()
    head = BNode()
    merged.add((head, RDF.type, SH.ValidationReport))
    conforms = True
    with _prepared_sparql(), _narrowed() as allowed:
        for subjects, triples in _chunks(store, graph, size):
            g = chunk_graph(store, graph, subjects, triples, depth, schema)
            allowed.clear()
            allowed.update(subjects)
            ok, report, _ = shacl_validate(g, shacl_graph=core, ont_graph=ontology, inference="none",
                                           advanced=True, allow_warnings=True, abort_on_first=False, inplace=True)
            conforms = conforms and bool(ok)
            heads = set(report.subjects(RDF.type, SH.ValidationReport))
            for t in report:
                if t[0] not in heads:
                    merged.add(t)
            for h in heads:
                for result in report.objects(h, SH.result):
                    merged.add((head, SH.result, result))
    merged.add((head, SH.conforms, Literal(conforms)))
    return conforms, merged
