"""One test per inverse, sub-property and disjointness axiom of the ontology, read from ontology/gaistd.ttl.

Each axiom the tests know is named below; ``test_every_axiom_of_the_ontology_is_named_here`` fails when the ontology
gains (or loses) one that this file does not name, so a new axiom cannot ship without its test. Each named axiom is
then checked on a minimal graph with the reasoner the build uses (the fast engine, proven equal to owlrl in
test_fastreason.py): an inverse is materialised both ways, a sub-property implies its super-property, and a resource
typed with two disjoint classes fails the build naming the resource.
"""

from __future__ import annotations

from itertools import combinations

import pytest
from rdflib import Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS

from gaistd_kg.iris import ONTOLOGY_FILE, prefixed
from gaistd_kg.pipeline.fastreason import reason_fast
from gaistd_kg.pipeline.load import parse_file
from gaistd_kg.pipeline.reason import InconsistencyError

EX = "https://w3id.org/gaistd/id/axiom-test/"  # ours: the inferred graph keeps facts about our resources

INVERSES = {  # property: its owl:inverseOf, as the ontology states it
    "gaistd:addressedBy": "gaistd:addressesRisk",
    "gaistd:adoptedBy": "gaistd:adopts",
    "gaistd:answeredBy": "gaistd:answersChallenge",
    "gaistd:developerOf": "gaistd:developedBy",
    "gaistd:jurisdictionOf": "gaistd:jurisdiction",
    "gaistd:layerIncludes": "gaistd:inLayer",
    "gaistd:participatedInDrafting": "gaistd:draftingParticipant",
    "gaistd:realises": "gaistd:realisedBy",
    "gaistd:subAreaIncludes": "gaistd:inSubArea",
    "gaistd:supersededBy": "gaistd:supersedes",
    "gaistd:supportedBy": "gaistd:supports",
    "gaistd:umbrellaOf": "gaistd:developedUnder",
    "gaistd:hasProvision": "gaistd:provisionOf",
    "gaistd:addressedByDocument": "gaistd:addressesProvision",
}
SUB_PROPERTIES = {  # (sub-property, super-property)
    ("gaistd:developedBy", "gaistd:developedUnder"),
    ("gaistd:developedBy", "prov:wasAttributedTo"),
    ("gaistd:implements", "gaistd:supports"),
    ("gaistd:inLayer", "gaistd:inFrameworkArea"),
    ("gaistd:inSubArea", "gaistd:inFrameworkArea"),
    ("gaistd:jurisdiction", "dcterms:coverage"),
    ("gaistd:subAreaOf", "skos:broader"),
    ("gaistd:supersededBy", "dcterms:isReplacedBy"),
    ("gaistd:supersedes", "dcterms:replaces"),
    ("gaistd:officialRecord", "dcat:landingPage"),
    ("gaistd:statusSource", "dcterms:source"),
    ("gaistd:issuedSource", "dcterms:source"),
    ("gaistd:effectiveDateSource", "dcterms:source"),
    ("gaistd:withdrawnDateSource", "dcterms:source"),
    ("gaistd:stageDateSource", "dcterms:source"),
    ("gaistd:provisionOf", "dcterms:isPartOf"),
}
DISJOINT_GROUPS = [  # owl:AllDisjointClasses members and owl:disjointWith pairs
    ("gaistd:StandardizationDocument", "gaistd:LegalInstrument", "gaistd:PolicyDocument"),
    ("gaistd:Law", "gaistd:Regulation", "gaistd:AdministrativeMeasure", "gaistd:ExecutiveOrder"),
    ("gaistd:NormativeDocument", "gaistd:Organisation", "gaistd:Jurisdiction", "gaistd:Risk",
     "gaistd:FrameworkConcept", "gaistd:Person"),
    ("gaistd:FrameworkLayer", "gaistd:FrameworkSubArea"),
]


def _name(term) -> str:
    return prefixed(str(term)) or f"<{term}>"


def ontology_axioms(g: Graph) -> tuple[dict[str, str], set[tuple[str, str]], list[tuple[str, ...]]]:
    inverses = {_name(p): _name(q) for p, q in g.subject_objects(OWL.inverseOf)}
    subs = {(_name(p), _name(q)) for p, q in g.subject_objects(RDFS.subPropertyOf)}
    groups = [tuple(_name(m) for m in Collection(g, g.value(n, OWL.members)))
              for n in g.subjects(RDF.type, OWL.AllDisjointClasses)]
    groups += [(_name(a), _name(b)) for a, b in g.subject_objects(OWL.disjointWith)]
    return inverses, subs, groups


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return parse_file(ONTOLOGY_FILE)


def _expand(name: str) -> URIRef:
    from gaistd_kg.iris import PREFIXES

    prefix, local = name.split(":", 1)
    return URIRef(PREFIXES[prefix] + local)


def test_every_axiom_of_the_ontology_is_named_here(ontology):
    """The inverse, sub-property and disjointness axioms of the ontology are exactly those this file tests."""
    inverses, subs, groups = ontology_axioms(ontology)
    assert inverses == INVERSES
    assert subs == SUB_PROPERTIES
    assert sorted(map(sorted, groups)) == sorted(map(sorted, DISJOINT_GROUPS))


@pytest.fixture(scope="module")
def inferred(ontology) -> Graph:
    """One graph with a fresh pair of resources for each inverse and sub-property axiom, reasoned once."""
    data = Graph()
    for i, (p, q) in enumerate(sorted(INVERSES.items())):
        data.add((URIRef(f"{EX}inv{i}-s"), _expand(p), URIRef(f"{EX}inv{i}-o")))
        data.add((URIRef(f"{EX}inv{i}-x"), _expand(q), URIRef(f"{EX}inv{i}-y")))
    for i, (p, _q) in enumerate(sorted(SUB_PROPERTIES)):
        data.add((URIRef(f"{EX}sub{i}-s"), _expand(p), URIRef(f"{EX}sub{i}-o")))
    return reason_fast(ontology, data).inferred


@pytest.mark.parametrize("p,q", sorted(INVERSES.items()), ids=lambda v: v.split(":")[-1])
def test_inverse_is_materialised_both_ways(inferred, p, q):
    """p owl:inverseOf q: a p b gives b q a, and a q b gives b p a."""
    i = sorted(INVERSES.items()).index((p, q))
    assert (URIRef(f"{EX}inv{i}-o"), _expand(q), URIRef(f"{EX}inv{i}-s")) in inferred
    assert (URIRef(f"{EX}inv{i}-y"), _expand(p), URIRef(f"{EX}inv{i}-x")) in inferred


@pytest.mark.parametrize("p,q", sorted(SUB_PROPERTIES), ids=lambda v: v.replace(":", "-"))
def test_sub_property_implies_super_property(inferred, p, q):
    """p rdfs:subPropertyOf q: a p b gives a q b."""
    i = sorted(SUB_PROPERTIES).index((p, q))
    assert (URIRef(f"{EX}sub{i}-s"), _expand(q), URIRef(f"{EX}sub{i}-o")) in inferred


DISJOINT_PAIRS = sorted({pair for group in DISJOINT_GROUPS for pair in combinations(group, 2)})


@pytest.mark.slow  # a reasoning run per pair: ~1 s each
@pytest.mark.parametrize("a,b", DISJOINT_PAIRS, ids=lambda v: v.split(":")[-1])
def test_disjoint_classes_fail_naming_the_resource(ontology, a, b):
    """a and b are disjoint: a resource typed with both is an inconsistency that names it."""
    data = Graph()
    x = URIRef(f"{EX}both")
    data.add((x, RDF.type, _expand(a)))
    data.add((x, RDF.type, _expand(b)))
    with pytest.raises(InconsistencyError) as info:
        reason_fast(ontology, data)
    assert str(x) in str(info.value) or "both" in str(info.value)
