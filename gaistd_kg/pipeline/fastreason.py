"""The same OWL 2 RL entailments as owlrl, computed inside Oxigraph: rule queries run to a fixpoint.

owlrl is the reference (``reason.reason``); this engine exists because owlrl's pure-Python closure grows much faster
than linearly with the data. The division of work:

* the T-box (the ontology, plus any schema triples in the data) is closed by owlrl itself — it is small and constant;
* the A-box rules the closed T-box can trigger run as SPARQL updates in an in-memory Oxigraph store until no rule adds
  a triple: cax-sco, prp-spo1, prp-inv1/2, prp-dom, prp-rng, prp-spo2 (chains of any length), cls-hv1/2, cls-int1
  (cls-int2 and cax-eqc follow from the closed T-box's scm-int/scm-eqc subclass links), and cax-dw/cax-adc for
  consistency;
* the result goes through the same de-noising as owlrl's (``reason.clean``).

Constructs outside that set (someValuesFrom, allValuesFrom, unionOf, cardinalities, transitive, symmetric, functional
or inverse-functional properties with clashing values, owl:sameAs between our own resources, keys) make
:func:`supported` false and the caller falls back to owlrl. ``tests/test_fastreason.py`` proves the two engines equal,
triple for triple, on the shipped data and on a 10× graph.
"""

from __future__ import annotations

import io
from pathlib import Path

import owlrl
import pyoxigraph as ox
from rdflib import BNode, Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS

from gaistd_kg.iris import BASE
from .reason import InconsistencyError, Reasoned, aliases, clean

R = "urn:gaistd:rule:"
T = ox.NamedNode(R + "tbox")
SKOLEM = "urn:gaistd:bnode:"
SCHEMA_PREDICATES = {RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range, OWL.equivalentClass,
                     OWL.equivalentProperty, OWL.inverseOf, OWL.propertyChainAxiom, OWL.disjointWith,
                     OWL.intersectionOf, OWL.hasValue, OWL.onProperty}
UNSUPPORTED = {OWL.someValuesFrom, OWL.allValuesFrom, OWL.unionOf, OWL.complementOf, OWL.oneOf,
               OWL.maxCardinality, OWL.maxQualifiedCardinality, OWL.cardinality, OWL.qualifiedCardinality,
               OWL.hasKey, OWL.propertyDisjointWith, OWL.AllDifferent}
UNSUPPORTED_TYPES = {OWL.TransitiveProperty, OWL.SymmetricProperty, OWL.AsymmetricProperty,
                     OWL.IrreflexiveProperty, OWL.InverseFunctionalProperty, OWL.ReflexiveProperty}

RULES = {
    "cax-sco": f"INSERT {{ ?x a ?d }} WHERE {{ GRAPH <{T.value}> {{ ?c <{R}sc> ?d }} ?x a ?c }}",
    "prp-spo1": f"INSERT {{ ?x ?q ?y }} WHERE {{ GRAPH <{T.value}> {{ ?p <{R}sp> ?q }} ?x ?p ?y }}",
    "prp-inv": f"INSERT {{ ?y ?q ?x }} WHERE {{ GRAPH <{T.value}> {{ ?p <{R}inv> ?q }} ?x ?p ?y FILTER (!isLiteral(?y)) }}",
    "prp-dom": f"INSERT {{ ?x a ?c }} WHERE {{ GRAPH <{T.value}> {{ ?p <{R}dom> ?c }} ?x ?p ?y }}",
    "prp-rng": f"INSERT {{ ?y a ?c }} WHERE {{ GRAPH <{T.value}> {{ ?p <{R}rng> ?c }} ?x ?p ?y FILTER (!isLiteral(?y)) }}",
    "cls-hv2": f"INSERT {{ ?x a ?r }} WHERE {{ GRAPH <{T.value}> {{ ?r <{R}hvp> ?p ; <{R}hvv> ?v }} ?x ?p ?v }}",
    "cls-hv1": f"INSERT {{ ?x ?p ?v }} WHERE {{ GRAPH <{T.value}> {{ ?r <{R}hvp> ?p ; <{R}hvv> ?v }} ?x a ?r }}",
    "cls-int1": f"""INSERT {{ ?x a ?i }} WHERE {{
        {{ SELECT ?x ?i (COUNT(DISTINCT ?c) AS ?k) WHERE {{ GRAPH <{T.value}> {{ ?i <{R}member> ?c }} ?x a ?c }}
          GROUP BY ?x ?i }}
        GRAPH <{T.value}> {{ ?i <{R}members> ?n }} FILTER (?k = ?n) }}""",
}
# prp-spo2 is generated per chain length present in the T-box.
# The one A-box pattern of each rule that has one: after the first round it is matched in the last round's additions.
DELTA_PATTERNS = {"cax-sco": "?x a ?c", "prp-spo1": "?x ?p ?y", "prp-inv": "?x ?p ?y", "prp-dom": "?x ?p ?y",
                  "prp-rng": "?x ?p ?y", "cls-hv2": "?x ?p ?v", "cls-hv1": "?x a ?r"}


def _sk(term) -> str:
    if isinstance(term, BNode):
        return f"<{SKOLEM}{term}>"
    return term.n3()


def supported(tbox: Graph, data: Graph) -> str | None:
    """None when this engine computes exactly what owlrl does for these graphs; otherwise the reason it does not."""
    for g in (tbox, data):
        for p in UNSUPPORTED:
            if (None, p, None) in g:
                return f"uses {p}"
        for t in UNSUPPORTED_TYPES:
            if (None, RDF.type, t) in g:
                return f"declares a {t}"
    aliases: dict = {}
    for s, o in data.subject_objects(OWL.sameAs):
        if str(s).startswith(BASE) and str(o).startswith(BASE):
            return "owl:sameAs between two resources of ours"
        ours, other = (s, o) if str(s).startswith(BASE) else (o, s)
        if aliases.setdefault(other, ours) != ours:
            return f"two resources of ours are owl:sameAs {other}, so owl:sameAs makes them one"
    for fp in tbox.subjects(RDF.type, OWL.FunctionalProperty):
        for x in set(data.subjects(fp, None)):
            if len(set(data.objects(x, fp))) > 1:
                return f"functional property {fp} with two values on {x}"
    return None


def tbox_closure(schema: Graph) -> Graph:
    closed = Graph()
    for t in schema:
        closed.add(t)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(closed)
    return closed


def _rule_tables(tbox: Graph) -> tuple[str, list[int]]:
    """The closed T-box as flat tables the rule queries join against (N-Triples, blank nodes skolemised)."""
    lines: list[str] = []

    def add(s, p: str, o) -> None:
        lines.append(f"{_sk(s)} <{R}{p}> {_sk(o)} .")

    for c, d in tbox.subject_objects(RDFS.subClassOf):
        if c != d:
            add(c, "sc", d)
    for p, q in tbox.subject_objects(RDFS.subPropertyOf):
        if p != q:
            add(p, "sp", q)
    for p, q in tbox.subject_objects(OWL.equivalentProperty):
        if p != q:
            add(p, "sp", q)
            add(q, "sp", p)
    for p, q in tbox.subject_objects(OWL.inverseOf):
        add(p, "inv", q)
        add(q, "inv", p)
    for p, c in tbox.subject_objects(RDFS.domain):
        add(p, "dom", c)
    for p, c in tbox.subject_objects(RDFS.range):
        add(p, "rng", c)
    for r, v in tbox.subject_objects(OWL.hasValue):
        add(r, "hvp", tbox.value(r, OWL.onProperty))
        add(r, "hvv", v)
    for i, lst in tbox.subject_objects(OWL.intersectionOf):
        members = list(tbox.items(lst))
        for c in members:
            add(i, "member", c)
        lines.append(f'{_sk(i)} <{R}members> "{len(members)}"^^<http://www.w3.org/2001/XMLSchema#integer> .')
    lengths = set()
    for q, lst in tbox.subject_objects(OWL.propertyChainAxiom):
        chain = list(tbox.items(lst))
        lengths.add(len(chain))
        cid = BNode()
        add(q, "chain", cid)
        for n, p in enumerate(chain, 1):
            add(cid, f"c{n}", p)
        lines.append(f'{_sk(cid)} <{R}len> "{len(chain)}"^^<http://www.w3.org/2001/XMLSchema#integer> .')
    pairs = set(tbox.subject_objects(OWL.disjointWith))
    for axiom in tbox.subjects(RDF.type, OWL.AllDisjointClasses):
        head = tbox.value(axiom, OWL.members)
        members = list(tbox.items(head)) if head is not None else []  # no list: no members
        pairs |= {(a, b) for n, a in enumerate(members) for b in members[n + 1:]}
    for a, b in pairs:
        add(a, "dw", b)
    return "\n".join(lines) + "\n", sorted(lengths)


def _chain_rule(n: int) -> str:
    heads = " ".join(f"<{R}c{i}> ?p{i} ;" for i in range(1, n + 1))
    path = " . ".join(f"?y{i - 1} ?p{i} ?y{i}" for i in range(1, n + 1))
    return (f"INSERT {{ ?y0 ?q ?y{n} }} WHERE {{ GRAPH <{T.value}> {{ ?q <{R}chain> ?ch . ?ch {heads} "
            f"<{R}len> {n} }} {path} }}")


def _closed_tbox(ontology: Graph, data) -> tuple[Graph, str, list[int]]:
    """The ontology plus the data's schema triples, closed, and its rule tables (see ``_rule_tables``). ``data`` is an
    rdflib graph or a ``StoreGraph``. Raises NotImplementedError when this engine does not handle the graphs."""
    schema = Graph()
    for t in ontology:
        schema.add(t)
    for p in SCHEMA_PREDICATES:
        for t in data.triples((None, p, None)):
            schema.add(t)
    for c in (OWL.Class, OWL.Restriction):
        for t in data.triples((None, RDF.type, c)):
            schema.add(t)
    why = supported(schema, data)
    if why:
        raise NotImplementedError(f"the fast reasoner does not handle this graph ({why}); use owlrl")
    tbox = tbox_closure(schema)
    return (tbox, *_rule_tables(tbox))


def _check_disjointness(store: ox.Store, reported) -> None:
    """cax-dw/cax-adc over the closure in ``store``: raise InconsistencyError naming each clash whose resource
    ``reported(x)`` (blank nodes, ours or skolemised, are not named)."""
    answer = store.query(f"SELECT DISTINCT ?x ?a ?b WHERE {{ GRAPH <{T.value}> {{ ?a <{R}dw> ?b }} ?x a ?a . ?x a ?b }}")
    assert isinstance(answer, ox.QuerySolutions)  # a SELECT
    clashes = [(s["x"], s["a"], s["b"]) for s in answer]
    if clashes:
        from gaistd_kg.iris import short

        raise InconsistencyError(sorted(
            f"{short(URIRef(x.value))} is both a {short(URIRef(a.value))} and a {short(URIRef(b.value))}, "
            "which the ontology declares disjoint" for x, a, b in clashes if reported(x)))


def _without_skolem_objects(triples) -> Graph:
    keep = Graph()
    for t in triples:
        if not (isinstance(t[2], URIRef) and str(t[2]).startswith(SKOLEM)):
            keep.add(t)
    return keep


def reason_fast(ontology: Graph, data: Graph, max_rounds: int = 100) -> Reasoned:
    tbox, tables, lengths = _closed_tbox(ontology, data)

    store = ox.Store()
    store.bulk_load(tables.encode("utf-8"), ox.RdfFormat.N_TRIPLES, to_graph=T)
    abox = io.BytesIO()
    abox.write(data.serialize(format="nt", encoding="utf-8"))
    # Types asserted in the T-box about individuals (hasValue targets, punning) take part in A-box rules too.
    store.bulk_load(abox.getvalue(), ox.RdfFormat.N_TRIPLES, to_graph=ox.DefaultGraph())
    rules = [*RULES.values(), *(_chain_rule(n) for n in lengths)]
    size = -1
    rounds = 0
    while rounds < max_rounds:
        rounds += 1
        for rule in rules:
            store.update(rule)
        now = sum(1 for _ in store.quads_for_pattern(None, None, None, ox.DefaultGraph()))
        if now == size:
            break
        size = now
    _check_disjointness(store, lambda x: isinstance(x, ox.NamedNode))

    out = io.BytesIO()
    ox.serialize(store.quads_for_pattern(None, None, None, ox.DefaultGraph()), out, ox.RdfFormat.N_QUADS)
    closure = Graph()
    closure.parse(data=out.getvalue(), format="nt")
    for t in tbox:
        closure.add(t)
    inferred = clean(_without_skolem_objects(closure), ontology, data)
    return Reasoned(inferred=inferred, closure_size=len(closure))


# ------------------------------------------------------------------------------------------ store to store, at scale

DATA_SKOLEM = "urn:gaistd:databnode:"


class StoreGraph:
    """The few rdflib ``Graph`` reads :func:`supported` and :func:`reason.clean` make, over one graph of a store."""

    def __init__(self, store: ox.Store, graph: ox.NamedNode):
        self.store, self.graph = store, graph

    def triples(self, pattern):
        from .sparqlshapes import to_oxigraph, to_rdflib

        s, p, o = (to_oxigraph(t) for t in pattern)
        if any(t is False for t in (s, p, o)) or isinstance(s, ox.Literal) or (p is not None and not isinstance(p, ox.NamedNode)):
            return
        for q in self.store.quads_for_pattern(s, p, o, self.graph):
            yield to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)

    def __contains__(self, pattern) -> bool:
        return next(self.triples(pattern), None) is not None

    def subject_objects(self, p):
        return ((s, o) for s, _, o in self.triples((None, p, None)))

    def subjects(self, p=None, o=None):
        return (s for s, _, _ in self.triples((None, p, o)))

    def objects(self, s=None, p=None):
        return (o for _, _, o in self.triples((s, p, None)))


def _as_construct(rule: str) -> str:
    """``INSERT { t } WHERE { body }`` → ``CONSTRUCT { t } WHERE { body FILTER NOT EXISTS { t } }``: new triples only."""
    head, _, body = rule.partition(" WHERE ")
    template = head[head.index("{"):]
    return f"CONSTRUCT {template} WHERE {body.rstrip()[:-1]} FILTER NOT EXISTS {template} }}"


def _skolemised(quads, graphs):
    """Each quad of the data graph into each of ``graphs``, blank nodes as ``DATA_SKOLEM`` IRIs: rule results pass
    through N-Triples files, and a blank node read back from a file is a new node; an IRI stays the same node."""
    def sk(t):
        return ox.NamedNode(DATA_SKOLEM + t.value) if isinstance(t, ox.BlankNode) else t

    for q in quads:
        s, o = sk(q.subject), sk(q.object)
        for g in graphs:
            yield ox.Quad(s, q.predicate, o, g)


def _clean_query(aliases: set, derived: list) -> str:
    """:func:`reason.clean` as a query over what the rules derived (the graphs in ``derived``, one per round): the
    rules only add a triple the closure lacks, and the closure starts as the data, so none of them is a data triple
    and the data (most of the closure) need not be read again; the ontology, not in the closure, still may be."""
    from gaistd_kg.iris import GRAPH
    from .reason import ERRNS, REFLEXIVE, SCHEMA_TRIVIA, TRIVIAL_OBJECTS, TRIVIAL_TYPES

    def iris(terms) -> str:
        return ", ".join(f"<{t}>" for t in sorted(terms)) or "<urn:gaistd:none>"

    scan = " UNION ".join(f"{{ GRAPH <{g.value}> {{ ?s ?p ?o }} }}" for g in derived) or "{ FILTER (false) }"
    return f"""CONSTRUCT {{ ?s ?p ?o }} WHERE {{
      {scan}
      FILTER (isIRI(?s) && STRSTARTS(STR(?s), "{BASE}") && !isBlank(?o))
      FILTER (!(isIRI(?o) && (STRSTARTS(STR(?o), "{SKOLEM}") || STRSTARTS(STR(?o), "{DATA_SKOLEM}"))))
      FILTER (?p NOT IN ({iris(SCHEMA_TRIVIA)}))
      FILTER (!(sameTerm(?s, ?o) && ?p IN ({iris(REFLEXIVE)})))
      FILTER (!(?p = <{RDF.type}> && isIRI(?o) && ?o IN ({iris(TRIVIAL_TYPES | {ERRNS})})))
      FILTER (!(isIRI(?o) && ?o IN ({iris(TRIVIAL_OBJECTS | aliases)})))
      FILTER NOT EXISTS {{ GRAPH <{GRAPH["ontology"]}> {{ ?s ?p ?o }} }}
    }}"""


def _construct(store: ox.Store, query: str) -> ox.QueryTriples:
    answer = store.query(query)
    assert isinstance(answer, ox.QueryTriples)  # a CONSTRUCT
    return answer


def reason_store(store: ox.Store, ontology: Graph, work: Path, max_rounds: int = 100,
                 say=lambda _m: None) -> int:
    """:func:`reason_fast` for data already in the named graph ``data`` of ``store``: the inferred triples go into
    its graph ``inferred``; returns how many. Nothing passes through an rdflib graph but the T-box: the closure is
    computed in a work store under ``work`` (deleted after), each rule's new triples streamed to a file and
    bulk-loaded, until a round adds nothing. ``tests/test_streambuild.py`` proves the result equal to
    :func:`reason_fast`'s (and so to owlrl's)."""
    import shutil

    from gaistd_kg.iris import GRAPH

    data_node = ox.NamedNode(str(GRAPH["data"]))
    inferred_node = ox.NamedNode(str(GRAPH["inferred"]))
    data = StoreGraph(store, data_node)
    tbox, tables, lengths = _closed_tbox(ontology, data)

    work = Path(work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        w = ox.Store(str(work / "store"))
        w.bulk_load(tables.encode("utf-8"), ox.RdfFormat.N_TRIPLES, to_graph=T)
        w.bulk_extend(_skolemised(store.quads_for_pattern(None, None, None, data_node), (ox.DefaultGraph(),)))
        ontology_nt = ontology.serialize(format="nt", encoding="utf-8")
        if ontology_nt.strip():
            w.bulk_load(ontology_nt, ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(str(GRAPH["ontology"])))
        # Semi-naive: after a first full round, a one-pattern rule can only fire on a triple added in the round
        # before (kept in that round's delta graph as well); the chain and intersection rules join several
        # A-box patterns and run in full each round.
        full = [_as_construct(r) for r in (*RULES.values(), *(_chain_rule(n) for n in lengths))]
        single = {name: _as_construct(RULES[name]) for name in DELTA_PATTERNS}
        multi = [_as_construct(r) for name, r in RULES.items() if name not in DELTA_PATTERNS]
        multi += [_as_construct(_chain_rule(n)) for n in lengths]
        new = work / "new.nt"
        delta = None
        derived: list = []
        for rounds in range(1, max_rounds + 1):
            added = False
            into = ox.NamedNode(f"{R}delta:{rounds}")
            if delta is None:
                rules = full
            else:
                rules = [single[name].replace(f"}} {pattern}", f"}} GRAPH <{delta.value}> {{ {pattern} }}", 1)
                         for name, pattern in DELTA_PATTERNS.items()] + multi
            for rule in rules:
                _construct(w, rule).serialize(str(new), ox.RdfFormat.N_TRIPLES)
                if new.stat().st_size:
                    for g in (ox.DefaultGraph(), into):
                        w.bulk_load(path=str(new), format=ox.RdfFormat.N_TRIPLES, to_graph=g)
                    added = True
            say(f"  round {rounds}: {'new triples' if added else 'nothing new'}")
            if not added:
                break
            delta = into
            derived.append(into)
        _check_disjointness(w, lambda x: not x.value.startswith(DATA_SKOLEM))
        _construct(w, _clean_query(aliases(data), derived)).serialize(str(new), ox.RdfFormat.N_TRIPLES)
        if new.stat().st_size:
            store.bulk_load(path=str(new), format=ox.RdfFormat.N_TRIPLES, to_graph=inferred_node)
        del w
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tbox_part = clean(_without_skolem_objects(tbox), ontology, data)
    if len(tbox_part):
        store.bulk_load(tbox_part.serialize(format="nt", encoding="utf-8"), ox.RdfFormat.N_TRIPLES,
                        to_graph=inferred_node)
    return sum(1 for _ in store.quads_for_pattern(None, None, None, inferred_node))
