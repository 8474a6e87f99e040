"""OWL 2 RL closure with owlrl → the inferred graph: new triples only, without owlrl's noise.

Noise removed (it says nothing about our resources and would drown the entailments the graph relies on):
reflexive owl:sameAs / equivalence / subsumption, ``rdf:type owl:Thing`` and ``rdfs:Resource`` and the like,
triples whose subject is not ours (axiomatic triples about RDF/RDFS/OWL/XSD/SKOS, and the copies owl:sameAs makes
onto Wikidata IRIs), domain/range restatements, triples touching blank nodes (owlrl's literal proxies, restriction
and list nodes), and owlrl's error-message resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import owlrl
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Identifier
from rdflib.namespace import OWL, RDF, RDFS, SKOS, XSD

from gaistd_kg.iris import BASE, bind_prefixes

ERRNS = URIRef("http://www.daml.org/2002/03/agents/agent-ont#ErrorMessage")
VOCABULARIES = tuple(str(ns) for ns in (RDF, RDFS, OWL, XSD, SKOS)) + (
    "http://www.daml.org/2002/03/agents/agent-ont#",
)
TRIVIAL_TYPES = {OWL.Thing, RDFS.Resource, OWL.NamedIndividual, RDFS.Class, OWL.Class, RDF.Property,
                 OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDFS.Datatype}
REFLEXIVE = {OWL.sameAs, OWL.equivalentClass, OWL.equivalentProperty, RDFS.subClassOf, RDFS.subPropertyOf,
             SKOS.exactMatch, SKOS.closeMatch}
SCHEMA_TRIVIA = {RDFS.domain, RDFS.range}  # scm-dom/scm-rng restatements along the class hierarchy
TRIVIAL_OBJECTS = {OWL.Thing, RDFS.Resource, OWL.topObjectProperty, OWL.topDataProperty}


class InconsistencyError(ValueError):
    """The asserted graph contradicts the ontology; ``clashes`` names the resources and the axioms."""

    def __init__(self, clashes: list[str]):
        self.clashes = clashes
        super().__init__("the data is inconsistent with the ontology:\n" + "\n".join(f"  - {c}" for c in clashes))


@dataclass
class Reasoned:
    inferred: Graph
    closure_size: int


def _is_noise(s, p, o) -> bool:
    if isinstance(s, (BNode, Literal)) or isinstance(o, BNode) or isinstance(p, BNode):
        return True
    if not str(s).startswith(BASE):
        # About vocabularies (axiomatic triples) or external resources (copies made through owl:sameAs links
        # to Wikidata): not statements of this graph.
        return True
    if p in SCHEMA_TRIVIA:
        return True
    if p in REFLEXIVE and s == o:
        return True
    if p == RDF.type and (o in TRIVIAL_TYPES or o == ERRNS):
        return True
    if o in TRIVIAL_OBJECTS:
        return True
    return False


def disjointness_clashes(closure: Graph) -> list[str]:
    """Resources typed with two disjoint classes, named with the classes (cax-dw and cax-adc of OWL 2 RL)."""
    from gaistd_kg.iris import short

    pairs: set[tuple] = set()
    for c1, c2 in closure.subject_objects(OWL.disjointWith):
        pairs.add((c1, c2))
    for axiom in closure.subjects(RDF.type, OWL.AllDisjointClasses):
        head = closure.value(axiom, OWL.members)
        members = list(closure.items(head)) if head is not None else []  # no list: no members
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                pairs.add((a, b))
    clashes = []
    for a, b in sorted(pairs):
        both = set(closure.subjects(RDF.type, a)) & set(closure.subjects(RDF.type, b))
        for x in sorted(x for x in both if isinstance(x, Identifier)):  # every subject is one; Node has no order
            clashes.append(f"{short(x)} is both a {short(a)} and a {short(b)}, which the ontology declares disjoint")
    return clashes


def reason(ontology: Graph, data: Graph) -> Reasoned:
    """Compute the OWL 2 RL closure of ontology + data; return what it adds, de-noised. Raises on inconsistency."""
    closure = Graph()
    for t in ontology:
        closure.add(t)
    for t in data:
        closure.add(t)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(closure)
    clashes = disjointness_clashes(closure)
    other = [str(m) for e in closure.subjects(RDF.type, ERRNS) for m in closure.objects(e, None) if isinstance(m, Literal)]
    if clashes or (other and not clashes):
        raise InconsistencyError(clashes or sorted(other))
    return Reasoned(inferred=clean(closure, ontology, data), closure_size=len(closure))


def aliases(data) -> set:
    """External IRIs declared owl:sameAs one of ours (Wikidata links): owlrl copies every fact onto them; a copy
    that only swaps our IRI for its alias is not a new statement."""
    out = {o for s, o in data.subject_objects(OWL.sameAs) if str(s).startswith(BASE) and not str(o).startswith(BASE)}
    out |= {s for s, o in data.subject_objects(OWL.sameAs) if str(o).startswith(BASE) and not str(s).startswith(BASE)}
    return out


class DataGraph(Protocol):
    """The reads :func:`clean` makes of the data: an rdflib Graph, or a ``fastreason.StoreGraph`` over a store."""

    def __contains__(self, triple: Any, /) -> bool: ...
    def subject_objects(self, predicate: Any, /) -> Any: ...


def clean(closure: Graph, ontology: Graph, data: DataGraph) -> Graph:
    """What the closure adds to ontology + data, without the noise described in the module docstring."""
    external = aliases(data)
    inferred = bind_prefixes(Graph())
    for t in closure:
        if t in ontology or t in data or _is_noise(*t) or t[2] in external:
            continue
        inferred.add(t)
    return inferred
