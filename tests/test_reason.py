"""One test per OWL 2 RL inference the graph relies on, on a small fixture world (tests/fixtures/reasoning.ttl)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS

from gaistd_kg.pipeline.load import parse_file
from gaistd_kg.iris import BASE, GAISTD, ID, ONTOLOGY_FILE
from gaistd_kg.pipeline.reason import InconsistencyError, reason

FIXTURES = Path(__file__).parent / "fixtures"
DOC, ORG, RISK, FW, JUR, STATUS = (ID[k] for k in ("document", "org", "risk", "framework", "jurisdiction", "status"))


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return parse_file(ONTOLOGY_FILE)


@pytest.fixture(scope="module")
def data() -> Graph:
    return parse_file(FIXTURES / "reasoning.ttl")


@pytest.fixture(scope="module")
def inferred(ontology, data) -> Graph:
    return reason(ontology, data).inferred


def test_risk_rollup_narrower_risk_implies_broader(inferred):
    """A document that addresses a narrower risk addresses every broader risk above it (addressesRisk ∘ broader)."""
    assert (DOC["gb-45438-2025"], GAISTD.addressesRisk, RISK["disinformation"]) in inferred
    assert (DOC["gb-t-45652-2025"], GAISTD.addressesRisk, RISK["privacy"]) in inferred
    assert (DOC["gb-t-45652-2025"], GAISTD.addressesRisk, RISK["disinformation"]) not in inferred


def test_layer_rollup_subarea_implies_layer(inferred):
    """A document in a sub-area is in that sub-area's layer (inSubArea ∘ subAreaOf ⊑ inLayer)."""
    assert (DOC["gb-t-45652-2025"], GAISTD.inLayer, FW["security"]) in inferred
    assert (DOC["gb-45438-2025"], GAISTD.inLayer, FW["foundation"]) in inferred
    assert (DOC["gb-45438-2025"], GAISTD.inLayer, FW["security"]) not in inferred


def test_organisation_rollup_is_transitive(inferred):
    """A document developed by a committee is developed under every organisation it belongs to: SC 42 → JTC 1 → ISO, IEC."""
    doc = DOC["iso-iec-42001-2023"]
    for org in ("iso-iec-jtc-1-sc-42", "iso-iec-jtc-1", "iso", "iec"):
        assert (doc, GAISTD.developedUnder, ORG[org]) in inferred
    assert (doc, GAISTD.developedUnder, ORG["tc260"]) not in inferred


def test_inverses_are_materialised(inferred):
    """risk → documents, layer → documents, organisation → documents are queryable without inverse paths."""
    assert (RISK["disinformation"], GAISTD.addressedBy, DOC["gb-45438-2025"]) in inferred
    assert (FW["security"], GAISTD.layerIncludes, DOC["gb-t-45652-2025"]) in inferred
    assert (FW["security-data"], GAISTD.subAreaIncludes, DOC["gb-t-45652-2025"]) in inferred
    assert (ORG["iso"], GAISTD.umbrellaOf, DOC["iso-iec-42001-2023"]) in inferred
    assert (ORG["tc260"], GAISTD.developerOf, DOC["gb-45438-2025"]) in inferred
    assert (DOC["cn-labelling-measures"], GAISTD.supportedBy, DOC["gb-45438-2025"]) in inferred


def test_jurisdiction_covers_what_its_documents_cover(inferred):
    """A jurisdiction covers a risk or a layer when one of its documents does (after the roll-ups)."""
    assert (JUR["cn"], GAISTD.coversRisk, RISK["privacy"]) in inferred
    assert (JUR["cn"], GAISTD.coversRisk, RISK["disinformation"]) in inferred
    assert (JUR["cn"], GAISTD.coversFrameworkArea, FW["security"]) in inferred
    assert (JUR["international"], GAISTD.coversRisk, RISK["algorithmic-bias"]) in inferred
    assert (JUR["international"], GAISTD.coversRisk, RISK["privacy"]) not in inferred


def test_classification_into_defined_classes(inferred):
    """OWL RL class expressions classify: security-layer standard, document addressing bias or disinformation,
    content-labelling document, legal instrument in force, published standard."""
    assert (DOC["gb-t-45652-2025"], RDF.type, GAISTD.SecurityLayerStandard) in inferred
    assert (DOC["gb-45438-2025"], RDF.type, GAISTD.SecurityLayerStandard) not in inferred
    assert (DOC["iso-iec-42001-2023"], RDF.type, GAISTD.BiasAddressingDocument) in inferred
    assert (DOC["gb-45438-2025"], RDF.type, GAISTD.DisinformationAddressingDocument) in inferred
    assert (DOC["gb-45438-2025"], RDF.type, GAISTD.ContentLabellingDocument) in inferred
    assert (DOC["cn-labelling-measures"], RDF.type, GAISTD.InForceLegalInstrument) in inferred
    assert (DOC["iso-iec-42001-2023"], RDF.type, GAISTD.PublishedStandard) in inferred
    assert (DOC["cn-labelling-measures"], RDF.type, GAISTD.PublishedStandard) not in inferred


def test_subclass_types_are_inferred(inferred):
    """Instances get their superclasses: a national standard is a standardization document and a normative document."""
    assert (DOC["gb-t-45652-2025"], RDF.type, GAISTD.StandardizationDocument) in inferred
    assert (DOC["gb-t-45652-2025"], RDF.type, GAISTD.NormativeDocument) in inferred


def test_disjoint_document_and_organisation_fails_naming_the_resource(ontology, data):
    """A document is not an organisation: typing one as both is an inconsistency that names the resource."""
    bad = data + Graph()
    bad.add((DOC["gb-t-45652-2025"], RDF.type, GAISTD.Company))
    with pytest.raises(InconsistencyError) as info:
        reason(ontology, bad)
    assert "gdoc:gb-t-45652-2025" in str(info.value)
    assert "gaistd:Organisation" in str(info.value) or "gaistd:NormativeDocument" in str(info.value)


def test_disjoint_law_and_standard_fails(ontology, data):
    """A law is not a standard (legal instruments and standardization documents are disjoint)."""
    bad = data + Graph()
    bad.add((DOC["cn-labelling-measures"], RDF.type, GAISTD.NationalStandard))
    with pytest.raises(InconsistencyError) as info:
        reason(ontology, bad)
    assert "gdoc:cn-labelling-measures" in str(info.value)


def test_inferred_graph_has_no_owlrl_noise(inferred, data, ontology):
    """No reflexive sameAs, no type owl:Thing, no axiomatic or external-subject triples, no blank nodes, and
    nothing already asserted."""
    for s, p, o in inferred:
        assert not isinstance(s, (BNode, Literal)) and not isinstance(o, BNode)
        assert str(s).startswith(BASE), (s, p, o)
        assert not (p == OWL.sameAs and s == o)
        assert not (p in (RDFS.subClassOf, OWL.equivalentClass) and s == o)
        assert (p, o) != (RDF.type, OWL.Thing) and (p, o) != (RDF.type, RDFS.Resource)
        assert p not in (RDFS.domain, RDFS.range)
        assert (s, p, o) not in data and (s, p, o) not in ontology


def test_sameas_links_do_not_copy_facts_onto_wikidata(ontology, data):
    """owl:sameAs to Wikidata is asserted; the copies owlrl makes onto or pointing at the Wikidata IRI are dropped."""
    linked = data + Graph()
    wd = URIRef("http://www.wikidata.org/entity/Q15028")
    linked.add((ORG["iso"], OWL.sameAs, wd))
    inferred = reason(ontology, linked).inferred
    assert not any(wd in (s, o) for s, _p, o in inferred)
    assert (DOC["iso-iec-42001-2023"], GAISTD.developedUnder, ORG["iso"]) in inferred
