"""SKOS mappings of the risk taxonomy and the five-layer framework to outside vocabularies (data/links/
concept-mappings.ttl and the mappings written with each risk): every concept is mapped, every mapping uses a SKOS
mapping property and a vocabulary we have read, and no identity link (owl:sameAs) is asserted anywhere in data/.

Read from the Turtle files themselves, without a build."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import OWL, RDF, SKOS

from gaistd_kg.iris import ROOT

DATA = ROOT / "data"
GAISTD = Namespace("https://w3id.org/gaistd/ontology#")
GRISK = "https://w3id.org/gaistd/id/risk/"
MAPPINGS = (SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch, SKOS.relatedMatch)
# The vocabularies a mapping may point to: DPV (core, risk, AI, EU AI Act), AIRO, VAIR, and the NIST AI 600-1 and
# MIT AI Risk Repository schemes of data/risks/risks.ttl (neither publishes IRIs of its own).
TARGETS = ("https://w3id.org/dpv#", "https://w3id.org/dpv/risk#", "https://w3id.org/dpv/ai#",
           "https://w3id.org/dpv/legal/eu/aiact#", "https://w3id.org/airo#", "https://w3id.org/vair#",
           GRISK + "nist-", GRISK + "mit-")


@pytest.fixture(scope="module")
def data() -> Graph:
    g = Graph()
    for path in sorted(DATA.rglob("*.ttl")):
        g.parse(path, format="turtle")
    return g


def concepts(g: Graph) -> list[URIRef]:
    """The risks of the GAISTD taxonomy and the framework's layers and sub-areas."""
    found = set(g.subjects(RDF.type, GAISTD.Risk))
    found |= set(g.subjects(RDF.type, GAISTD.FrameworkLayer))
    found |= set(g.subjects(RDF.type, GAISTD.FrameworkSubArea))
    return sorted(found)


def outside_mappings(g: Graph, concept: URIRef) -> set[tuple[URIRef, URIRef]]:
    return {(p, o) for p in MAPPINGS for o in g.objects(concept, p) if str(o).startswith(TARGETS)}


def test_every_risk_and_framework_concept_has_a_mapping(data):
    """Each of the 20 risks, 5 layers and 21 sub-areas is mapped to at least one concept of DPV, AIRO, VAIR, NIST AI
    600-1 or the MIT AI Risk Repository."""
    found = concepts(data)
    assert len(found) >= 46
    unmapped = [str(c) for c in found if not outside_mappings(data, c)]
    assert unmapped == []


def test_each_mapping_family_is_used(data):
    """The mappings reach every vocabulary the issue names, not only one of them."""
    targets = {str(o) for c in concepts(data) for _, o in outside_mappings(data, c)}
    for prefix in TARGETS:
        assert any(t.startswith(prefix) for t in targets), prefix


def test_mapping_targets_come_from_vocabularies_we_read():
    """Every object of a SKOS mapping in data/links/concept-mappings.ttl is in one of the vocabularies read."""
    g = Graph().parse(DATA / "links" / "concept-mappings.ttl", format="turtle")
    stray = [(str(s), str(o)) for p in MAPPINGS for s, o in g.subject_objects(p) if not str(o).startswith(TARGETS)]
    assert stray == []
    assert len(list(g.subject_objects(SKOS.relatedMatch))) > 0


def test_no_owl_sameas_anywhere_in_data(data):
    """A near match is a SKOS mapping, never owl:sameAs (which would merge our resource with another dataset's
    under OWL reasoning); no data file asserts it."""
    assert list(data.subject_objects(OWL.sameAs)) == []


def test_the_sameas_check_would_see_one(tmp_path: Path):
    """The check reads owl:sameAs however it is written (prefixed or full IRI)."""
    (tmp_path / "x.ttl").write_text(
        "<https://w3id.org/gaistd/id/document/x> <http://www.w3.org/2002/07/owl#sameAs> "
        "<http://www.wikidata.org/entity/Q1> .\n", encoding="utf-8")
    g = Graph().parse(tmp_path / "x.ttl", format="turtle")
    assert len(list(g.subject_objects(OWL.sameAs))) == 1
