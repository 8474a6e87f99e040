"""Links into other datasets (issue 13, item 1): ``queries/external-links.rq`` counts the external identifier links per
target dataset and the share of documents, organisations and jurisdictions that have one; the targets hold on the
shipped data, and the VoID description publishes exactly the query's counts as linksets."""

from __future__ import annotations

import re

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, VOID, XSD

from conftest import _close_app
from gaistd_kg.iris import GRAPH
from gaistd_kg.store import open_store
from gaistd_kg.views import links
from gaistd_kg.web import create_app

DATASET = "https://w3id.org/gaistd/dataset"


@pytest.fixture(scope="module")
def counted(real_build_dir):
    return links.count(open_store(real_build_dir).store)


@pytest.fixture(scope="module")
def real_app(real_build_dir):
    app = create_app({"BUILD_DIR": str(real_build_dir), "TESTING": True})
    yield app
    _close_app(app)


def test_the_query_counts_links_and_coverage_on_a_small_graph():
    """Three documents, one with a Wikidata match and an ISO URN, one with only a CELEX literal, one with a
    legislation.gov.uk identifier and a legislation identifier of no known scheme: three links to three targets, one
    CELEX link, and coverage 2 of 3 (a CELEX literal is not an identifier IRI); an organisation's link, and a
    legislation identifier, to a page that is no target dataset are not counted."""
    data = """
    @prefix gaistd: <https://w3id.org/gaistd/ontology#> .
    @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
    <https://w3id.org/gaistd/id/document/a> a gaistd:Regulation ;
        skos:exactMatch <http://www.wikidata.org/entity/Q1> ; gaistd:isoUrnIri <urn:iso:std:iso:1> .
    <https://w3id.org/gaistd/id/document/b> a gaistd:Regulation ; gaistd:celex "32024R1689" .
    <https://w3id.org/gaistd/id/document/d> a gaistd:Regulation ;
        gaistd:legislationIdentifier <http://www.legislation.gov.uk/id/ukpga/2023/50> , <https://example.org/law/1> .
    <https://w3id.org/gaistd/id/org/c> a gaistd:Company ; skos:exactMatch <https://example.org/c> .
    """
    ontology = """
    @prefix gaistd: <https://w3id.org/gaistd/ontology#> .
    @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
    gaistd:Regulation rdfs:subClassOf gaistd:LegalInstrument . gaistd:LegalInstrument rdfs:subClassOf gaistd:NormativeDocument .
    gaistd:Company rdfs:subClassOf gaistd:Organisation .
    """
    store = ox.Store()
    store.load(data.encode(), ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(str(GRAPH["data"])))
    store.load(ontology.encode(), ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(str(GRAPH["ontology"])))
    found, coverage = links.count(store)
    got = {(c.kind, c.target, c.predicate.rsplit("#", 1)[-1], c.links, c.subjects) for c in found}
    assert got == {("document", "wikidata", "exactMatch", 1, 1), ("document", "iso-urn", "isoUrnIri", 1, 1),
                   ("document", "celex", "celex", 1, 1),
                   ("document", "legislation-gov-uk", "legislationIdentifier", 1, 1)}
    assert (coverage["document"].linked, coverage["document"].entities) == (2, 3)
    assert (coverage["organisation"].linked, coverage["organisation"].entities) == (0, 1)


def test_the_query_tells_each_national_scheme_by_the_beginning_of_its_iri():
    """A gaistd:legislationIdentifier of Australia's Federal Register of Legislation, Canada's Justice Laws, Singapore
    Statutes Online, law.go.kr or LexML counts as a link to that target and towards coverage; an IRI on another host
    that only contains such a beginning does not."""
    data = """
    @prefix gaistd: <https://w3id.org/gaistd/ontology#> .
    <https://w3id.org/gaistd/id/document/au> a gaistd:Regulation ;
        gaistd:legislationIdentifier <https://www.legislation.gov.au/C2024A00078> .
    <https://w3id.org/gaistd/id/document/ca> a gaistd:Regulation ;
        gaistd:legislationIdentifier <https://laws-lois.justice.gc.ca/eng/acts/P-8.6/> .
    <https://w3id.org/gaistd/id/document/sg> a gaistd:Regulation ;
        gaistd:legislationIdentifier <https://sso.agc.gov.sg/Act/PDPA2012> .
    <https://w3id.org/gaistd/id/document/kr> a gaistd:Regulation ;
        gaistd:legislationIdentifier <https://www.law.go.kr/lsInfoP.do?lsiSeq=268543> .
    <https://w3id.org/gaistd/id/document/br> a gaistd:Regulation ;
        gaistd:legislationIdentifier <urn:lex:br:federal:lei:2018-08-14;13709> .
    <https://w3id.org/gaistd/id/document/x> a gaistd:Regulation ;
        gaistd:legislationIdentifier <https://example.org/https://www.law.go.kr/lsInfoP.do?lsiSeq=1> .
    """
    ontology = """
    @prefix gaistd: <https://w3id.org/gaistd/ontology#> .
    @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
    gaistd:Regulation rdfs:subClassOf gaistd:NormativeDocument .
    """
    store = ox.Store()
    store.load(data.encode(), ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(str(GRAPH["data"])))
    store.load(ontology.encode(), ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(str(GRAPH["ontology"])))
    found, coverage = links.count(store)
    assert {(c.target, c.links, c.subjects) for c in found} == {
        ("legislation-gov-au", 1, 1), ("justice-laws", 1, 1), ("sso", 1, 1), ("law-go-kr", 1, 1), ("lexml", 1, 1)}
    assert (coverage["document"].linked, coverage["document"].entities) == (5, 6)
    assert {c.target for c in found} <= links.TARGETS.keys()


def test_every_jurisdiction_has_an_external_identifier(counted):
    """Target of issue 13: 100% of jurisdictions link to Wikidata (and to a DPV location concept where DPV has one)."""
    _, coverage = counted
    assert coverage["jurisdiction"].entities >= 26
    assert coverage["jurisdiction"].linked == coverage["jurisdiction"].entities
    kinds = {(c.kind, c.target) for c in counted[0]}
    assert {("jurisdiction", "wikidata"), ("jurisdiction", "dpv")} <= kinds


def test_linked_entities_never_fall_below_what_was_verified(counted):
    """The links read so far stay: at least 97 documents, 49 organisations (with Wikidata or ROR) and all jurisdictions; a
    file left out of data/links/ or a link property the query forgets fails here."""
    found, coverage = counted
    assert coverage["document"].linked >= 97 and coverage["document"].entities >= 428
    assert coverage["organisation"].linked >= 49 and coverage["organisation"].entities >= 175
    per = links.per_target(found)
    assert sum(per["iso-urn"].values()) >= 42 and sum(per["eli"].values()) >= 15 and sum(per["doi"].values()) >= 8
    assert sum(per["legislation-gov-uk"].values()) >= 4 and sum(per["federal-register"].values()) >= 10
    assert sum(per["e-gov"].values()) >= 3 and sum(per["urn-nir"].values()) >= 1
    assert sum(per["legislation-gov-au"].values()) >= 2 and sum(per["justice-laws"].values()) >= 1
    assert sum(per["sso"].values()) >= 1 and sum(per["law-go-kr"].values()) >= 2


# The identifier IRI forms of the national legislation schemes behind gaistd:legislationIdentifier
# (data/links/legislation-identifiers.ttl): legislation.gov.uk identifier URIs, Federal Register document IRIs, e-Gov
# law pages by law ID and URN:NIR.
LEGISLATION_SCHEMES = {
    "legislation-gov-uk": r"http://www\.legislation\.gov\.uk/id/[a-z]+/[0-9]{4}/[0-9]+",
    "federal-register": r"https://www\.federalregister\.gov/d/[0-9]{4}-[0-9]{5}",
    "e-gov": r"https://laws\.e-gov\.go\.jp/law/[0-9]{3}[A-Z]{2}[0-9]{10}",
    "urn-nir": r"urn:nir:[a-z.]+:[a-z.]+:[0-9]{4}-[0-9]{2}-[0-9]{2};[0-9]+",
    "legislation-gov-au": r"https://www\.legislation\.gov\.au/[CF][0-9]{4}[A-Z][0-9]{5}",
    "justice-laws": r"https://laws-lois\.justice\.gc\.ca/eng/acts/[A-Z]-[0-9]+(\.[0-9]+)?/",
    "sso": r"https://sso\.agc\.gov\.sg/Act/[A-Z][A-Za-z0-9]+",
    "law-go-kr": r"https://www\.law\.go\.kr/lsInfoP\.do\?lsiSeq=[0-9]+",
    "lexml": r"urn:lex:br:[a-z.]+:[a-z.]+:[0-9]{4}-[0-9]{2}-[0-9]{2};[0-9]+",
}


def test_every_legislation_identifier_has_its_schemes_form(real_build_dir):
    """Each gaistd:legislationIdentifier object is an IRI of one of the schemes the property's definition names,
    whole (no page, fragment or query added), and each document has at most one per scheme."""
    store = open_store(real_build_dir).store
    rows = store.query(f"""SELECT ?s ?o WHERE {{ GRAPH <{GRAPH["data"]}> {{
        ?s <https://w3id.org/gaistd/ontology#legislationIdentifier> ?o }} }}""")
    assert isinstance(rows, ox.QuerySolutions)
    seen: dict[tuple[str, str], str] = {}
    count = 0
    for row in rows:
        subject, obj = row["s"], row["o"]
        assert isinstance(obj, ox.NamedNode), obj
        schemes = [name for name, pattern in LEGISLATION_SCHEMES.items() if re.fullmatch(pattern, obj.value)]
        assert len(schemes) == 1, obj.value
        key = (subject.value, schemes[0])
        assert key not in seen, (key, seen.get(key), obj.value)
        seen[key] = obj.value
        count += 1
    assert count >= 18


@pytest.mark.xfail(reason="issue 13 target not reached yet: 49 of 175 organisations (28%) have a Wikidata or ROR "
                          "link; docs/linking.md lists what could not be verified", strict=True)
def test_organisations_reach_seventy_percent(counted):
    """Target of issue 13: at least 70% of organisations have a Wikidata or ROR identifier."""
    _, coverage = counted
    assert coverage["organisation"].share >= 0.70, coverage["organisation"]


@pytest.mark.xfail(reason="issue 13 target not reached yet: 97 of 428 documents (23%) have an external identifier "
                          "IRI; docs/linking.md lists what could not be verified", strict=True)
def test_documents_reach_eighty_percent(counted):
    """Target of issue 13: at least 80% of documents have an external identifier IRI (ELI, ISO URN, DOI, ITU-T
    Recommendation, Wikidata …)."""
    _, coverage = counted
    assert coverage["document"].share >= 0.80, coverage["document"]


def test_void_publishes_the_query_counts_as_linksets(real_app, counted):
    """/.well-known/void has one void:Linkset per target dataset the query finds, a subset of the dataset, from our
    dataset to the target, with the query's triple count; per link property where a target has several."""
    resp = real_app.test_client().get("/.well-known/void", headers={"Accept": "text/turtle"})
    assert resp.status_code == 200
    g = Graph().parse(data=resp.data, format="turtle")
    expected = links.per_target(counted[0])
    assert expected.keys() >= {"wikidata", "dpv", "eli", "celex", "iso-urn", "doi", "itu-t", "legislation-gov-uk",
                               "federal-register", "e-gov", "urn-nir", "legislation-gov-au", "justice-laws", "sso",
                               "law-go-kr"}
    published = {s for s in g.subjects(RDF.type, VOID.Linkset) if (URIRef(DATASET), VOID.subset, s) in g}
    assert published == {links.linkset_iri(DATASET, t) for t in expected}
    for target, predicates in expected.items():
        linkset = links.linkset_iri(DATASET, target)
        assert g.value(linkset, VOID.triples) == Literal(sum(predicates.values()), datatype=XSD.integer), target
        assert g.value(linkset, VOID.subjectsTarget) == URIRef(DATASET)
        other = g.value(linkset, VOID.objectsTarget)
        assert (other, RDF.type, VOID.Dataset) in g
        parts = list(g.objects(linkset, VOID.subset)) or [linkset]
        got = {str(g.value(p, VOID.linkPredicate)): g.value(p, VOID.triples).toPython() for p in parts}
        assert got == predicates, target
