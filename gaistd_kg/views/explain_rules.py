"""The OWL 2 RL rules :mod:`gaistd_kg.views.explain` walks backward: for a fact, every one-step derivation whose premises
hold in the store, each with the axiom it uses.

Axioms are read from the ontology graph; premises are looked for in the union of asserted and inferred facts, so a
premise that is itself inferred is explained in turn. Terms are bound with ``substitutions``; the only text built here
is the variable chain ``?x1 … ?xn`` of a property chain of length n.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import pyoxigraph as ox

from gaistd_kg.iris import prefixed

RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
OWL, RDFS = "http://www.w3.org/2002/07/owl#", "http://www.w3.org/2000/01/rdf-schema#"
SUBCLASS, SUBPROPERTY = ox.NamedNode(RDFS + "subClassOf"), ox.NamedNode(RDFS + "subPropertyOf")
MAX_CANDIDATES = 40
Term = ox.NamedNode | ox.Literal | ox.BlankNode
Triple = tuple[Term, Term, Term]
Explainer = Any  # explain.Explainer, which imports this module: the reader whose store the rules query


@dataclass
class Axiom:
    rule: str                # the OWL 2 RL rule: prp-spo2, cax-sco, …
    text: str                # the axiom in words: "addresses risk ∘ broader ⊑ addresses risk"
    statements: list[str]    # the ontology statements it rests on, in compact form


def compact(t: Term) -> str:
    if isinstance(t, ox.NamedNode):
        return prefixed(t.value) or f"<{t.value}>"
    return str(t)

P = f"PREFIX owl: <{OWL}>\nPREFIX rdfs: <{RDFS}>\n"
CHAINS = P + "SELECT * WHERE { GRAPH ?og { ?p owl:propertyChainAxiom ?list } }"
SUB_PROPERTIES = P + "SELECT * WHERE { GRAPH ?og { ?q rdfs:subPropertyOf ?p } FILTER (isIRI(?q) && ?q != ?p) } ORDER BY ?q"
EQUIVALENT_PROPERTIES = P + """SELECT * WHERE { GRAPH ?og { { ?p owl:equivalentProperty ?q } UNION
  { ?q owl:equivalentProperty ?p } } FILTER (isIRI(?q) && ?q != ?p) } ORDER BY ?q"""
INVERSES = P + """SELECT * WHERE { GRAPH ?og { { ?p owl:inverseOf ?q BIND (true AS ?forward) } UNION
  { ?q owl:inverseOf ?p BIND (false AS ?forward) } } } ORDER BY ?q"""
CHARACTERISTIC = P + "SELECT * WHERE { GRAPH ?og { ?p a ?kind } }"
TRANSITIVE_STEPS = "SELECT * WHERE { ?s ?p ?x . ?x ?p ?o FILTER (?x != ?s && ?x != ?o) } ORDER BY ?x LIMIT 40"
SUB_CLASSES = P + "SELECT * WHERE { GRAPH ?og { ?d rdfs:subClassOf ?c } FILTER (isIRI(?d) && ?d != ?c) } ORDER BY ?d"
EQUIVALENT_CLASSES = P + """SELECT * WHERE { GRAPH ?og { { ?c owl:equivalentClass ?d } UNION
  { ?d owl:equivalentClass ?c } } FILTER (isIRI(?d) && ?d != ?c) } ORDER BY ?d"""
INTERSECTIONS = P + """SELECT * WHERE { GRAPH ?og {
  { ?c owl:equivalentClass ?x . ?x owl:intersectionOf ?list } UNION { ?x owl:equivalentClass ?c . ?x owl:intersectionOf ?list }
  UNION { ?c owl:intersectionOf ?list } } }"""
RESTRICTION = P + """SELECT * WHERE { GRAPH ?og { ?r owl:onProperty ?on .
  OPTIONAL { ?r owl:hasValue ?value } OPTIONAL { ?r owl:someValuesFrom ?some } } }"""
DOMAINS = P + "SELECT * WHERE { GRAPH ?og { ?q rdfs:domain ?c } } ORDER BY ?q"
RANGES = P + "SELECT * WHERE { GRAPH ?og { ?q rdfs:range ?c } } ORDER BY ?q"
ANY_OBJECT = "SELECT * WHERE { ?s ?q ?y } ORDER BY ?y LIMIT 1"
ANY_SUBJECT = "SELECT * WHERE { ?y ?q ?s } ORDER BY ?y LIMIT 1"
SOME_VALUE = "SELECT * WHERE { ?s ?q ?y . ?y a ?d } ORDER BY ?y LIMIT 1"
SCHEMA_STEPS = "SELECT * WHERE { ?a ?p ?x . ?x ?p ?b FILTER (isIRI(?x) && ?x != ?a && ?x != ?b) } ORDER BY ?x LIMIT 40"
EQUIVALENT_NAMED = P + """SELECT * WHERE { { ?a owl:equivalentClass ?b BIND ("class" AS ?kind) } UNION
  { ?b owl:equivalentClass ?a BIND ("class" AS ?kind) } UNION { ?a owl:equivalentProperty ?b BIND ("property" AS ?kind) }
  UNION { ?b owl:equivalentProperty ?a BIND ("property" AS ?kind) } }"""
TRANSITIVE, SYMMETRIC = ox.NamedNode(OWL + "TransitiveProperty"), ox.NamedNode(OWL + "SymmetricProperty")


def derivations(ex: "Explainer", t: Triple) -> Iterator[tuple[Axiom, list[Triple]]]:
    s, p, o = t
    if p == RDF_TYPE and isinstance(o, ox.NamedNode):
        yield from _class_rules(ex, s, o)
    if p in (SUBCLASS, SUBPROPERTY):
        yield from _schema_rules(ex, s, p, o)
    if p != RDF_TYPE:
        yield from _property_rules(ex, s, p, o)


def _holding(ex: "Explainer", premises: list[Triple]) -> bool:
    return all(ex.holds(x) for x in premises)


def _property_rules(ex: "Explainer", s: Term, p: Term, o: Term) -> Iterator[tuple[Axiom, list[Triple]]]:
    lp = ex.label(p)
    for row in ex.ontology(CHAINS, p=p):
        chain = ex.members(row["list"])
        if not chain or not all(isinstance(q, ox.NamedNode) for q in chain):
            continue
        axiom = Axiom("prp-spo2", f"{' ∘ '.join(ex.label(q) for q in chain)} ⊑ {lp}",
                      [f"{compact(p)} owl:propertyChainAxiom ( {' '.join(compact(q) for q in chain)} )"])
        for middle in _chain_candidates(ex, s, o, chain):
            nodes = [s, *middle, o]
            yield axiom, [(nodes[i], chain[i], nodes[i + 1]) for i in range(len(chain))]
    for row in ex.ontology(SUB_PROPERTIES, p=p):
        q = row["q"]
        if ex.holds((s, q, o)):
            yield Axiom("prp-spo1", f"{ex.label(q)} ⊑ {lp}", [f"{compact(q)} rdfs:subPropertyOf {compact(p)}"]), \
                [(s, q, o)]
    for row in ex.ontology(EQUIVALENT_PROPERTIES, p=p):
        q = row["q"]
        if ex.holds((s, q, o)):
            yield Axiom("prp-eqp1", f"{ex.label(q)} ≡ {lp}", [f"{compact(p)} owl:equivalentProperty {compact(q)}"]), \
                [(s, q, o)]
    if not isinstance(o, ox.Literal):
        for row in ex.ontology(INVERSES, p=p):
            q = row["q"]
            if ex.holds((o, q, s)):
                stated = (f"{compact(p)} owl:inverseOf {compact(q)}" if row["forward"].value == "true"
                          else f"{compact(q)} owl:inverseOf {compact(p)}")
                yield Axiom("prp-inv1" if row["forward"].value == "true" else "prp-inv2",
                            f"{lp} ≡ inverse of {ex.label(q)}", [stated]), [(o, q, s)]
        if ex.ontology(CHARACTERISTIC, p=p, kind=SYMMETRIC) and ex.holds((o, p, s)):
            yield Axiom("prp-symp", f"{lp} is symmetric", [f"{compact(p)} a owl:SymmetricProperty"]), [(o, p, s)]
    if ex.ontology(CHARACTERISTIC, p=p, kind=TRANSITIVE):
        axiom = Axiom("prp-trp", f"{lp} is transitive", [f"{compact(p)} a owl:TransitiveProperty"])
        for row in ex.select(TRANSITIVE_STEPS, s=s, p=p, o=o):
            yield axiom, [(s, p, row["x"]), (row["x"], p, o)]


def _chain_candidates(ex: "Explainer", s: Term, o: Term, chain: list[ox.NamedNode]) -> list[list[Term]]:
    """The intermediate nodes x1 … x(n-1) linking s to o along the chain, asserted links first."""
    n = len(chain)
    if n == 1:
        return [[]] if ex.holds((s, chain[0], o)) else []
    nodes = ["?s", *(f"?x{i}" for i in range(1, n)), "?o"]
    pattern = " . ".join(f"{nodes[i]} ?p{i} {nodes[i + 1]}" for i in range(n))
    query = f"SELECT * WHERE {{ {pattern} }} LIMIT {MAX_CANDIDATES}"
    rows = ex.select(query, s=s, o=o, **{f"p{i}": q for i, q in enumerate(chain)})
    found = [[r[f"x{i}"] for i in range(1, n)] for r in rows]

    def asserted_links(middle: list[Term]) -> int:
        path = [s, *middle, o]
        return sum(ex.asserted((path[i], chain[i], path[i + 1])) for i in range(n))

    return sorted(found, key=lambda m: (-asserted_links(m), [str(x) for x in m]))


def _class_rules(ex: "Explainer", s: Term, c: ox.NamedNode) -> Iterator[tuple[Axiom, list[Triple]]]:
    lc = ex.label(c)
    for row in ex.ontology(SUB_CLASSES, c=c):
        d = row["d"]
        if ex.holds((s, RDF_TYPE, d)):
            yield Axiom("cax-sco", f"{ex.label(d)} ⊑ {lc}", [f"{compact(d)} rdfs:subClassOf {compact(c)}"]), \
                [(s, RDF_TYPE, d)]
    for row in ex.ontology(EQUIVALENT_CLASSES, c=c):
        d = row["d"]
        if ex.holds((s, RDF_TYPE, d)):
            yield Axiom("cax-eqc1", f"{ex.label(d)} ≡ {lc}", [f"{compact(c)} owl:equivalentClass {compact(d)}"]), \
                [(s, RDF_TYPE, d)]
    for row in ex.ontology(INTERSECTIONS, c=c):
        found = _intersection(ex, s, c, ex.members(row["list"]))
        if found is not None:
            yield found
    for rows, rule, finder in ((ex.ontology(DOMAINS, c=c), "prp-dom", ANY_OBJECT),
                               (ex.ontology(RANGES, c=c), "prp-rng", ANY_SUBJECT)):
        for row in rows:
            q = row["q"]
            other = ex.select(finder, s=s, q=q)
            if other:
                y = other[0]["y"]
                premise = (s, q, y) if rule == "prp-dom" else (y, q, s)
                word = "domain" if rule == "prp-dom" else "range"
                yield Axiom(rule, f"the {word} of {ex.label(q)} is {lc}",
                            [f"{compact(q)} rdfs:{word} {compact(c)}"]), [premise]


def _intersection(ex: "Explainer", s: Term, c: ox.NamedNode, members: list[Term]):
    """cls-int1 over a defined class: s is in every member (named classes, hasValue and someValuesFrom restrictions)."""
    premises: list[Triple] = []
    parts: list[str] = []
    stated: list[str] = []
    for m in members:
        if isinstance(m, ox.NamedNode):
            premises.append((s, RDF_TYPE, m))
            parts.append(ex.label(m))
            stated.append(compact(m))
            continue
        rows = ex.ontology(RESTRICTION, r=m)
        if not rows:
            return None
        on, value, some = rows[0]["on"], rows[0]["value"], rows[0]["some"]
        if value is not None:
            premises.append((s, on, value))
            parts.append(f"∃ {ex.label(on)}.{{{ex.label(value)}}}")
            stated.append(f"[ owl:onProperty {compact(on)} ; owl:hasValue {compact(value)} ]")
        elif some is not None:
            y = ex.select(SOME_VALUE, s=s, q=on, d=some)
            if not y:
                return None
            premises += [(s, on, y[0]["y"]), (y[0]["y"], RDF_TYPE, some)]
            parts.append(f"∃ {ex.label(on)}.{ex.label(some)}")
            stated.append(f"[ owl:onProperty {compact(on)} ; owl:someValuesFrom {compact(some)} ]")
        else:
            return None
    if not premises or not _holding(ex, premises):
        return None
    rule = "cls-int1" + (" with cls-hv1" if any("{" in x for x in parts) else "")
    return Axiom(rule, f"{ex.label(c)} ≡ {' ⊓ '.join(parts)}",
                 [f"{compact(c)} owl:equivalentClass [ owl:intersectionOf ( {' '.join(stated)} ) ]"]), premises


def _schema_rules(ex: "Explainer", a: Term, p: Term, b: Term) -> Iterator[tuple[Axiom, list[Triple]]]:
    word = "class" if p == SUBCLASS else "property"
    rule = "scm-sco" if p == SUBCLASS else "scm-spo"
    if p == SUBCLASS and isinstance(a, ox.NamedNode):
        for row in ex.ontology(INTERSECTIONS, c=a):
            if b in ex.members(row["list"]):
                yield Axiom("scm-int", f"{ex.label(a)} is defined as an intersection that includes {ex.label(b)}",
                            [f"{compact(a)} owl:equivalentClass [ owl:intersectionOf ( … {compact(b)} … ) ]"]), []
    for row in ex.select(SCHEMA_STEPS, a=a, p=p, b=b):
        x = row["x"]
        yield Axiom(rule, f"sub{word} of a sub{word} is a sub{word} ({compact(p)} is transitive)", []), \
            [(a, p, x), (x, p, b)]
    for row in ex.select(EQUIVALENT_NAMED, a=a, b=b):
        kind = row["kind"].value
        link = ox.NamedNode(OWL + ("equivalentClass" if kind == "class" else "equivalentProperty"))
        for premise in ((a, link, b), (b, link, a)):
            if ex.holds(premise):
                yield Axiom("scm-eqc1" if kind == "class" else "scm-eqp1",
                            f"equivalent {kind}es are sub{kind}es of each other"
                            if kind == "class" else f"equivalent {kind}s are sub{kind}s of each other", []), [premise]
                break
