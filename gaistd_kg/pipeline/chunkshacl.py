"""pySHACL over a data graph held in Oxigraph and too large for one rdflib graph: the focus nodes in chunks, each
validated against the part of the graph its shapes can read.

What a shape reads is bounded when every path is a single predicate. Validating a node reads its outgoing triples
(one *level*); a constraint on the values of a property shape (``sh:class``, and nested shapes through ``sh:node``,
``sh:qualifiedValueShape``, ``sh:and``/``sh:or``/``sh:xone``/``sh:not``, ``sh:property``) reads the value nodes'
outgoing triples one level further; ``sh:class`` reads types, with the class hierarchy of the ontology (pySHACL
mixes ``ont_graph`` in) and of the data. :func:`reads` computes, level by level, which predicates the shapes read. A
chunk graph holds the chunk's subjects' own triples, then, level by level, the triples of their values with the
predicates read at that level (a hub such as a concept scheme is not pulled in whole), plus the data's own
``rdfs:subClassOf`` triples; pySHACL then reads there exactly what it reads in the whole graph for those nodes.

Each subject of the data graph falls in exactly one chunk, and pySHACL's own target selection (``Shape.focus_nodes``,
wrapped while a chunk runs) is narrowed to the chunk's subjects, so every focus node is validated once and nested
validations of value nodes are untouched. Shapes this argument does not cover raise :class:`NotImplementedError`:
paths other than one predicate (inverse, sequence, alternative, ``*``/``+``), recursive shapes, SHACL-SPARQL
constraints left to pySHACL (they may read anything), ``sh:targetNode``/``sh:targetObjectsOf``/``sh:target`` (their
focus nodes need not be subjects) and SHACL rules. ``tests/test_streambuild.py`` checks the findings equal pySHACL's
on the whole graph for every shape fixture and for the shipped and generated data.
"""

from __future__ import annotations

import os
import sys
from typing import Iterator

import pyoxigraph as ox
from pyshacl import validate as shacl_validate
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, SH

from .patches import narrowed, prepared_sparql
from .sparqlshapes import to_oxigraph, to_rdflib

LIST_SHAPES = (SH["and"], SH["or"], SH.xone)
UNBOUNDED_TARGETS = (SH.targetNode, SH.targetObjectsOf, SH.target)


PROGRESS_SECONDS = 30
ALL = None  # "every predicate" in a level's set of predicates read
SAME_NODE_PREDICATES = (SH.equals, SH.disjoint, SH.lessThan, SH.lessThanOrEquals)


def _members(shapes: Graph, shape) -> list:
    """Shapes applied to the same node as ``shape``: sh:node, sh:not, sh:and/sh:or/sh:xone members."""
    out = [o for p in (SH.node, SH["not"]) for o in shapes.objects(shape, p)]
    for p in LIST_SHAPES:
        for lst in shapes.objects(shape, p):
            out += list(shapes.items(lst))
    return out


def reads(shapes: Graph) -> list:
    """What validating a focus node can read: for each level (index 0 = the focus node's own triples, 1 = its values'
    triples, …) the set of predicates read there, or ``ALL``."""
    if (None, SH.sparql, None) in shapes:
        raise NotImplementedError("a SHACL-SPARQL constraint pySHACL runs itself can read any part of the graph")
    if (None, SH.rule, None) in shapes:
        raise NotImplementedError("SHACL rules add triples anywhere in the graph")
    for p in UNBOUNDED_TARGETS:
        if (None, p, None) in shapes:
            raise NotImplementedError(f"{p} selects focus nodes that need not be subjects of the data")
    levels_read: list = []
    done: set = set()

    def read(level: int, predicates) -> None:
        while len(levels_read) <= level:
            levels_read.append(set())
        if predicates is ALL or levels_read[level] is ALL:
            levels_read[level] = ALL
        else:
            levels_read[level] |= set(predicates)

    def on_values(shape, level: int, stack: tuple) -> None:
        """The value-node constraints of property shape ``shape`` whose values sit at ``level``."""
        if (shape, SH["class"], None) in shapes:
            read(level, {RDF.type})
        for member in [*_members(shapes, shape), *shapes.objects(shape, SH.qualifiedValueShape),
                       *shapes.objects(shape, SH.property)]:
            visit(member, level, stack)

    def visit(shape, level: int, stack: tuple) -> None:
        """``shape`` validated on a node at ``level``."""
        if shape in stack:
            raise NotImplementedError(f"shape {shape} is recursive")
        if (shape, level) in done:
            return
        done.add((shape, level))
        stack = (*stack, shape)
        read(level, ())
        path = shapes.value(shape, SH.path)
        if path is not None:                               # a property shape: its values sit one level down
            if not isinstance(path, URIRef):
                raise NotImplementedError(f"shape {shape} has a path that is not a single predicate")
            read(level, {path, *(o for p in SAME_NODE_PREDICATES for o in shapes.objects(shape, p))})
            on_values(shape, level + 1, stack)
            return
        if (shape, SH.closed, None) in shapes:
            read(level, ALL)
        if (shape, SH["class"], None) in shapes:
            read(level, {RDF.type})
        for member in _members(shapes, shape):
            visit(member, level, stack)
        for prop in shapes.objects(shape, SH.property):
            visit(prop, level, stack)

    targeted = {s for p in (SH.targetClass, SH.targetSubjectsOf) for s in shapes.subjects(p, None)}
    targeted |= {s for s in shapes.subjects(RDF.type, SH.NodeShape)
                 if (s, RDF.type, RDFS.Class) in shapes or (s, RDF.type, URIRef("http://www.w3.org/2002/07/owl#Class")) in shapes}
    for shape in sorted(targeted, key=str):
        visit(shape, 0, ())
    return levels_read or [set()]


def levels(shapes: Graph) -> int:
    """How many levels of outgoing triples (1 = the focus node's own) validating any focus node can read."""
    return len(reads(shapes))


def _described(store: ox.Store, graph: ox.NamedNode, subjects: list) -> tuple[list, list]:
    triples = [(to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object))
               for s in subjects for q in store.quads_for_pattern(s, None, None, graph)]
    return [to_rdflib(s) for s in subjects], triples


def chunk_graph(store: ox.Store, graph: ox.NamedNode, subjects: list, triples: list, levels_read: list,
                schema: list) -> Graph:
    """The chunk's subjects with what their validation can read (see the module docstring): all their own triples,
    then, level by level, the triples of their values with the predicates the shapes read at that level."""
    g = Graph()
    for t in schema:
        g.add(t)
    seen = set(subjects)

    def follow(level: int, s, p, o, frontier: list) -> None:
        g.add((s, p, o))
        wanted = levels_read[level]
        if (level + 1 < len(levels_read) and (wanted is ALL or p in wanted) and not isinstance(o, Literal)
                and (o, level + 1) not in seen):
            seen.add((o, level + 1))
            frontier.append(o)

    frontier: list = []
    for s, p, o in triples:
        follow(0, s, p, o, frontier)
    for level in range(1, len(levels_read)):
        wanted = levels_read[level]
        nxt: list = []
        for node in frontier:
            for p in ([None] if wanted is ALL else sorted(wanted)):
                pattern = None if p is None else ox.NamedNode(str(p))
                for q in store.quads_for_pattern(to_oxigraph(node), pattern, None, graph):
                    follow(level, node, to_rdflib(q.predicate), to_rdflib(q.object), nxt)
        frontier = nxt
    return g


def _validate_chunk(store: ox.Store, graph: ox.NamedNode, subjects: list, levels_read: list, schema: list,
                    core: Graph, ontology: Graph | None, allowed: set) -> tuple[bool, Graph]:
    """pySHACL on one chunk (``subjects``: pyoxigraph terms); needs ``patches.prepared_sparql`` and ``patches.narrowed`` active."""
    names, triples = _described(store, graph, subjects)
    g = chunk_graph(store, graph, names, triples, levels_read, schema)
    allowed.clear()
    allowed.update(names)
    ok, report, _ = shacl_validate(g, shacl_graph=core, ont_graph=ontology, inference="none", advanced=True,
                                   allow_warnings=True, abort_on_first=False, inplace=True)
    return bool(ok), report


def _worker_main() -> None:
    """A validation worker (``python -c``, started by :class:`_Workers`): reads pickled requests on stdin, first
    ``(store path, graph, levels_read, schema, core, ontology)``, then lists of subject keys; answers each with
    ``("ok", conforms, report graph)`` or ``("error", traceback)`` on stdout."""
    import pickle
    import traceback

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the answers
    inp = sys.stdin.buffer
    path, graph, levels_read, schema, core, ontology = pickle.load(inp)
    store, graph = ox.Store.read_only(path), ox.NamedNode(graph)
    with prepared_sparql(), narrowed() as allowed:
        while True:
            try:
                keys = pickle.load(inp)
            except EOFError:
                return
            answer: tuple[str, bool, Graph] | tuple[str, str]
            try:
                subjects = [ox.NamedNode(v) if kind == "iri" else ox.BlankNode(v) for kind, v in keys]
                ok, report = _validate_chunk(store, graph, subjects, levels_read, schema, core, ontology, allowed)
                answer = ("ok", ok, report)
            except Exception:  # noqa: BLE001 - reported to the parent, which raises it
                answer = ("error", traceback.format_exc())
            pickle.dump(answer, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()


class _Workers:
    """``n`` worker processes (plain ``python -c`` subprocesses: no fork of a process holding a store open, no
    re-import of the caller's main module), each validating one chunk at a time."""

    def __init__(self, n: int, init: tuple):
        import pickle
        import queue
        import subprocess

        self._pickle = pickle
        self.procs = [subprocess.Popen([sys.executable, "-c", "from gaistd_kg.pipeline.chunkshacl import _worker_main; "
                                        "_worker_main()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                      for _ in range(n)]
        self.idle: queue.Queue = queue.Queue()
        for p in self.procs:
            assert p.stdin is not None  # stdin=PIPE
            pickle.dump(init, p.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            p.stdin.flush()
            self.idle.put(p)

    def run(self, keys: list) -> tuple[bool, Graph]:
        proc = self.idle.get()
        try:
            self._pickle.dump(keys, proc.stdin, protocol=self._pickle.HIGHEST_PROTOCOL)
            proc.stdin.flush()
            answer = self._pickle.load(proc.stdout)
        except (EOFError, BrokenPipeError, OSError) as exc:
            raise RuntimeError(f"a validation worker exited (code {proc.poll()}): {exc}") from None
        self.idle.put(proc)
        if answer[0] == "error":
            raise RuntimeError(f"a validation worker failed:\n{answer[1]}")
        return answer[1], answer[2]

    def close(self) -> None:
        for p in self.procs:
            assert p.stdin is not None  # stdin=PIPE
            try:
                p.stdin.close()
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(10)
            except Exception:  # noqa: BLE001
                p.kill()
                p.wait()
            assert p.stdout is not None  # stdout=PIPE
            p.stdout.close()


def _subject_chunks(store: ox.Store, graph: ox.NamedNode, size: int) -> Iterator[list]:
    answer = store.query(f"SELECT DISTINCT ?s WHERE {{ GRAPH <{graph.value}> {{ ?s ?p ?o }} }}")
    assert isinstance(answer, ox.QuerySolutions)  # a SELECT
    subjects: list = []
    for row in answer:
        subjects.append(row[0])
        if len(subjects) == size:
            yield subjects
            subjects = []
    if subjects:
        yield subjects


def validate_chunked(store: ox.Store, graph: ox.NamedNode, core: Graph, ontology: Graph | None,
                     size: int = 5000, say=lambda _m: None, path: str | None = None,
                     workers: int = 1, subjects: list | None = None) -> tuple[bool, Graph]:
    """pySHACL's (conforms, report graph) for the data graph ``graph`` of ``store``, computed chunk by chunk;
    ``say`` hears how far it got every ``PROGRESS_SECONDS``.

    With ``path`` (the store's folder, flushed) and ``workers`` > 1, chunks are validated by that many processes, each
    opening the store read-only; results are merged the same way, so the report does not depend on the split.
    ``subjects`` (pyoxigraph terms): validate only these resources (the closure check of ``validate``)."""
    import time

    levels_read = reads(core)
    schema = [(to_rdflib(q.subject), RDFS.subClassOf, to_rdflib(q.object))
              for q in store.quads_for_pattern(None, ox.NamedNode(str(RDFS.subClassOf)), None, graph)]
    merged = Graph()
    head = BNode()
    merged.add((head, RDF.type, SH.ValidationReport))
    conforms = True
    done, last = 0, time.monotonic()

    def merge(ok: bool, report: Graph, n: int) -> None:
        nonlocal conforms, done, last
        conforms = conforms and ok
        heads = set(report.subjects(RDF.type, SH.ValidationReport))
        for t in report:
            if t[0] not in heads:
                merged.add(t)
        for h in heads:
            for result in report.objects(h, SH.result):
                merged.add((head, SH.result, result))
        done += n
        if time.monotonic() - last > PROGRESS_SECONDS:
            say(f"  validated {done} resources so far")
            last = time.monotonic()

    chunks = (_subject_chunks(store, graph, size) if subjects is None
              else (list(subjects[i:i + size]) for i in range(0, len(subjects), size)))
    if path is None or workers < 2:
        with prepared_sparql(), narrowed() as allowed:
            for subjects in chunks:
                merge(*_validate_chunk(store, graph, subjects, levels_read, schema, core, ontology, allowed),
                      len(subjects))
    else:
        from concurrent.futures import Future, ThreadPoolExecutor

        team = _Workers(workers, (path, graph.value, levels_read, schema, core, ontology))
        try:
            with ThreadPoolExecutor(workers) as pool:
                pending: list[tuple[Future[tuple[bool, Graph]], int]] = []
                for subjects in chunks:
                    keys = [("iri" if isinstance(t, ox.NamedNode) else "bnode", t.value) for t in subjects]
                    pending.append((pool.submit(team.run, keys), len(keys)))
                    while len(pending) > 2 * workers:
                        future, n = pending.pop(0)
                        merge(*future.result(), n)
                for future, n in pending:
                    merge(*future.result(), n)
        finally:
            team.close()
    merged.add((head, SH.conforms, Literal(conforms)))
    return conforms, merged
