"""The read side of ``pyoxigraph.Store`` over one version of a remote store, for the pages, dumps and report.

With ``STORE_URL`` set, ``/sparql`` answers through ``remote.RemotePool``; the linked-data pages (``describe``), the
dumps (``export``), the report (``report``) and the explanations (``explain``) read a store through a handful of
``pyoxigraph.Store`` methods. :class:`RemoteView` offers those methods over the graphs of one pushed version (the one
the pointer named when the view was made), so that code runs unchanged and every page is read from one version:

* ``quads_for_pattern(s, p, o, g)``: a SELECT over the version's graphs, graph names mapped back to ours;
* ``query(text, use_default_graph_as_union=…, substitutions=…)``: the query mapped as ``/sparql`` maps it, the
  bindings given as a ``VALUES`` block at the start of the WHERE group, the answer as pyoxigraph's result objects;
* ``contains_named_graph(g)``, ``named_graphs()``.

Blank nodes: a remote store labels blank nodes afresh in every answer (the standard does not let a later query name
one), so a quad pattern with a named subject also fetches, in the same answer, the facts of the blank nodes its
objects reach, up to ``BNODE_DEPTH`` levels; the view keeps them, and a later pattern whose subject is one of those
blank nodes is answered from what was kept. Deeper blank-node chains are cut there (none in our data is deeper than
three: a milestone, an RDF list of a property chain). A whole-graph pattern (dumps) is one answer, so its blank nodes
are consistent within that graph. The ontology graph (small, and full of blank nodes: OWL lists and restrictions) is
copied once per version into a local in-memory store; patterns on it, blank nodes found in it, and queries bound to
it (the explanations look axioms up with ``GRAPH ?og`` bound to the ontology graph) are answered from that copy.

Every request has the deadline and byte cap of the remote client; a failure raises ``query.QueryUnavailable``.
"""

from __future__ import annotations

import threading
from typing import Iterator, Mapping

import pyoxigraph as ox

from gaistd_kg import query as q
from . import client as remote
from gaistd_kg.views.describe import MAX_INCOMING

BNODE_DEPTH = 4
INCOMING_LIMIT = 4 * MAX_INCOMING + 1   # a page's incoming links in up to four graphs, and one more: it was cut
ONTOLOGY_GRAPH = remote.GRAPH_BASE + "ontology"
_ONTOLOGIES: dict[tuple[str, str], ox.Store] = {}   # (query URL, version) -> a local copy of its ontology graph
_ONTOLOGIES_LOCK = threading.Lock()
Term = ox.NamedNode | ox.BlankNode | ox.Literal


def _nt(term: Term) -> str:
    """A term as SPARQL text (N-Triples form is valid SPARQL for IRIs and literals)."""
    if isinstance(term, ox.BlankNode):
        raise ValueError("a blank node cannot be named in a query to another store")
    return str(term)


def _quad(s: Term, p: Term, o: Term, g: Term) -> ox.Quad:
    """A quad from the terms of one solution (SPARQL binds only IRIs and blank nodes to subjects and graph names, only
    IRIs to predicates)."""
    if not (isinstance(s, (ox.NamedNode, ox.BlankNode)) and isinstance(p, ox.NamedNode)
            and isinstance(g, (ox.NamedNode, ox.BlankNode))):
        raise TypeError(f"not a quad: {s} {p} {o} {g}")
    return ox.Quad(s, p, o, g)


class RemoteView:
    """Read-only, ``pyoxigraph.Store``-shaped access to the version of ``remote_store`` that ``pointer`` names."""

    def __init__(self, remote_store: remote.RemoteStore, pointer: remote.Pointer, timeout: float = 30.0):
        self.remote = remote_store
        self.pointer = pointer
        self.timeout = timeout
        self.graphs = dict(pointer.graphs)          # our graph IRI -> the version's
        self.back = pointer.back                     # the version's graph IRI -> ours
        self._bnodes: dict[ox.BlankNode, list[ox.Quad]] = {}

    # --- HTTP -----------------------------------------------------------------------------------------------------

    def _params(self) -> list[tuple[str, str]]:
        return ([("default-graph-uri", g) for g in self.graphs.values()]
                + [("named-graph-uri", g) for g in self.graphs.values()])

    def _post(self, text: str, accept: str) -> tuple[str, bytes]:
        with remote._errors(self.timeout):
            return remote.http_get(self.remote.client, self.remote.query_url, text, self._params(), accept,
                               self.timeout)

    def _answer(self, text: str):
        """The remote answer to ``text`` as pyoxigraph's result object, graph names mapped back to ours."""
        _ctype, body = self._post(text, remote.JSON_RESULTS)
        return ox.parse_query_results(remote._map_json(body, self.back), format=ox.QueryResultsFormat.JSON)

    def _solutions(self, text: str) -> list[dict[str, Term]]:
        answer = self._answer(text)
        names = [v.value for v in answer.variables]
        return [{n: s[n] for n in names if s[n] is not None} for s in answer]

    def ontology(self) -> ox.Store:
        """A local copy of this version's ontology graph (under our graph name), fetched once per version."""
        key = (self.remote.query_url, self.pointer.version)
        with _ONTOLOGIES_LOCK:
            found = _ONTOLOGIES.get(key)
        if found is None:
            found = ox.Store()
            found.extend(self._remote_quads(None, None, None, ox.NamedNode(ONTOLOGY_GRAPH)))
            with _ONTOLOGIES_LOCK:
                for old in [k for k in _ONTOLOGIES if k[0] == key[0]]:
                    del _ONTOLOGIES[old]  # one version per remote store is kept
                _ONTOLOGIES[key] = found
        return found

    # --- quad patterns --------------------------------------------------------------------------------------------

    def _graph_term(self, g) -> str | None:
        if g is None:
            return None
        if isinstance(g, ox.DefaultGraph):
            raise ValueError("the default graph of a remote store is not ours; name one of our graphs")
        return self.graphs.get(g.value)

    def quads_for_pattern(self, s=None, p=None, o=None, g=None) -> Iterator[ox.Quad]:
        if isinstance(g, ox.NamedNode) and g.value == ONTOLOGY_GRAPH:
            yield from self.ontology().quads_for_pattern(s, p, o, g)
            return
        if isinstance(s, ox.BlankNode):
            if s in self._bnodes:
                yield from (x for x in self._bnodes[s]
                            if (p is None or x.predicate == p) and (o is None or x.object == o)
                            and (g is None or x.graph_name == g))
            else:
                yield from self.ontology().quads_for_pattern(s, p, o, g)
            return
        if isinstance(o, ox.BlankNode):
            yield from self.ontology().quads_for_pattern(s, p, o, g)
            return  # a blank node from an earlier answer cannot be named to the store
        yield from self._remote_quads(s, p, o, g)

    def _remote_quads(self, s=None, p=None, o=None, g=None) -> Iterator[ox.Quad]:
        graph = self._graph_term(g)  # None when g is None
        if g is not None and graph is None:
            return  # not one of our graphs: the version has nothing in it
        values = [(v, t) for v, t in (("s", s), ("p", p), ("o", o)) if t is not None]
        if graph is not None:
            values.append(("g", ox.NamedNode(graph)))
        head = "".join(f"VALUES ?{v} {{ {_nt(t)} }} " for v, t in values)
        nested, inner = "", ""
        if s is not None:  # fetch the blank nodes the objects reach, in this same answer
            prev = "o"
            for i in range(1, BNODE_DEPTH + 1):
                nested += (f"OPTIONAL {{ FILTER(isBlank(?{prev})) GRAPH ?g{i} {{ ?{prev} ?p{i} ?o{i} }} ")
                inner += "} "
                prev = f"o{i}"
        text = f"SELECT * WHERE {{ {head}GRAPH ?g {{ ?s ?p ?o }} {nested}{inner}}}"
        if s is None and o is not None:
            # incoming links of a hub (a jurisdiction, a status) can be very many; a page shows the first
            # describe.MAX_INCOMING (a triple may sit in four graphs), so no more are fetched
            text += f" LIMIT {INCOMING_LIMIT}"
        rows = self._solutions(text)
        seen: set[ox.Quad] = set()
        out: list[ox.Quad] = []
        for row in rows:
            quad = _quad(row.get("s", s), row.get("p", p), row.get("o", o), row["g"])
            if quad not in seen:
                seen.add(quad)
                out.append(quad)
            subj = row.get("o")
            for i in range(1, BNODE_DEPTH + 1):
                if f"p{i}" not in row or not isinstance(subj, ox.BlankNode):
                    break
                nq = _quad(subj, row[f"p{i}"], row[f"o{i}"], row[f"g{i}"])
                kept = self._bnodes.setdefault(subj, [])
                if nq not in kept:
                    kept.append(nq)
                subj = row[f"o{i}"]
        yield from out

    def quads_for_subjects(self, subjects: list[ox.NamedNode], predicates: tuple[ox.NamedNode, ...]
                           ) -> Iterator[ox.Quad]:
        """The quads of any of ``subjects`` with any of ``predicates`` (the labels of a page), in one request."""
        if not subjects:
            return
        text = (f"SELECT ?s ?p ?o ?g WHERE {{ VALUES ?s {{ {' '.join(_nt(t) for t in subjects)} }} "
                f"VALUES ?p {{ {' '.join(_nt(t) for t in predicates)} }} GRAPH ?g {{ ?s ?p ?o }} }}")
        for row in self._solutions(text):
            yield _quad(row["s"], row["p"], row["o"], row["g"])

    def contains_named_graph(self, g: ox.NamedNode) -> bool:
        return g.value in self.graphs

    def named_graphs(self) -> Iterator[ox.NamedNode]:
        return iter([ox.NamedNode(g) for g in self.graphs])

    # --- queries --------------------------------------------------------------------------------------------------

    def query(self, text: str, use_default_graph_as_union: bool = False,
              substitutions: Mapping[ox.Variable, Term] | None = None, **_ignored):
        """``Store.query`` for SELECT and ASK (what the report and the explanations run) over this version."""
        if substitutions and any(isinstance(t, ox.NamedNode) and t.value == ONTOLOGY_GRAPH
                                 for t in substitutions.values()):
            return self.ontology().query(text, use_default_graph_as_union=use_default_graph_as_union,
                                         substitutions=dict(substitutions))
        if substitutions:
            text = with_values(text, {v.value: t for v, t in substitutions.items()})
        return self._answer(remote.prepare(text, self.graphs)[0])


def with_values(text: str, bindings: Mapping[str, Term]) -> str:
    """``text`` with ``VALUES (?a ?b) { (… …) }`` as the first element of its WHERE group: the bindings join the
    group's patterns, as pyoxigraph's ``substitutions`` bind them."""
    spans = remote._spans(text)  # (kind, token, start, end), comments and spaces left out
    braces = [end for (kind, tok, _s, _e), (_k, nxt, _s2, end) in zip(spans, spans[1:])
              if kind == "word" and tok.upper() == "WHERE" and nxt == "{"]
    # WHERE is optional: then the first '{' (the prologue has none)
    braces = braces or [end for _kind, tok, _start, end in spans if tok == "{"]
    if not braces:
        raise q.QuerySyntaxError("no WHERE group to bind variables in")
    names = sorted(bindings)
    block = (f" VALUES ({' '.join('?' + n for n in names)}) "
             f"{{ ({' '.join(_nt(bindings[n]) for n in names)}) }} ")
    return text[:braces[0]] + block + text[braces[0]:]
