"""The terms context and the framed per-document JSON-LD (issue 13, item 3): exports others can merge.

The context defines a term for every class and property of ``ontology/gaistd.ttl`` (IRIs and dates coerced, titles
and labels as language maps), and is what ``python -m gaistd_kg.pipeline.context`` makes from the shipped ontology
and data; the framed JSON-LD of a document, read by PyLD and by rdflib, gives the triples of the document's Turtle.
"""

from __future__ import annotations

import json

import pytest
from rdflib import BNode, Graph, URIRef
from rdflib.compare import isomorphic

from conftest import DOC_IRI, REPO, _close_app, pyld_graph
from gaistd_kg.pipeline import context as context_mod
from gaistd_kg.views import jsonld as ld

G = "https://w3id.org/gaistd/ontology#"


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return Graph().parse(REPO / "ontology" / "gaistd.ttl", format="turtle")


def test_every_class_and_property_of_the_ontology_has_a_term(ontology):
    """A term for each of the ontology's classes and properties, named by its local name (``gaistd_<name>`` where the
    local name is a prefix already: ``gaistd:eli`` beside ``eli:``)."""
    terms = ld.ontology_terms(ontology)
    assert len(terms) > 100
    assert ld.missing_terms(ontology, ld.terms_context()) == []
    body = ld.terms_context()["@context"]
    for iri in terms:
        local = iri.rsplit("#", 1)[-1]
        name = local if not isinstance(body.get(local), str) or body[local].startswith("gaistd:") else "gaistd_" + local
        target = body[name]["@id"] if isinstance(body[name], dict) else body[name]
        assert target == "gaistd:" + local


def test_a_term_the_context_lacks_is_found(ontology):
    """The check above can fail: a class added to the ontology and not to the context is reported."""
    grown = Graph()
    grown += ontology
    grown.parse(data=f"<{G}BrandNewKind> a <http://www.w3.org/2002/07/owl#Class> .", format="turtle")
    assert ld.missing_terms(grown, ld.terms_context()) == [G + "BrandNewKind"]


def test_the_context_file_is_what_the_ontology_and_data_make():
    """``gaistd_kg/views/terms.jsonld`` is current: rerun ``python -m gaistd_kg.pipeline.context`` after changing
    the ontology (or the datatypes the data uses)."""
    assert ld.terms_context() == json.loads(context_mod.render(context_mod.generate(REPO)))


def test_coercions(ontology):
    """Object properties hold IRIs, dates are xsd:date, titles and labels are language maps."""
    body = ld.terms_context()["@context"]
    assert body["developedBy"] == {"@id": "gaistd:developedBy", "@type": "@id"}
    assert body["effectiveDate"]["@type"] == "xsd:date" and body["issued"]["@type"] == "xsd:date"
    assert body["title"] == {"@id": "dcterms:title", "@container": "@language"}
    assert body["label"]["@container"] == "@language"
    assert body["Standard"] == "gaistd:Standard"
    assert body["@version"] == 1.1


def test_terms_context_is_served(client):
    resp = client.get("/terms.jsonld")
    assert resp.status_code == 200 and resp.mimetype == "application/ld+json"
    assert resp.json == ld.terms_context()
    assert resp.headers["Access-Control-Allow-Origin"] == "*"


# --- the framed JSON-LD of a document ------------------------------------------------------------------------------

def own_triples(turtle: bytes, iri: str) -> Graph:
    """The triples of a page's Turtle about the resource itself and its blank nodes (not the incoming links, which
    belong to the resources that state them)."""
    out = Graph()
    for s, p, o in Graph().parse(data=turtle, format="turtle"):
        if s == URIRef(iri) or isinstance(s, BNode):
            out.add((s, p, o))
    return out


def check_framed(client, path: str, iri: str) -> dict:
    resp = client.get(path + ".framed.jsonld")
    assert resp.status_code == 200 and resp.mimetype == "application/ld+json"
    doc = json.loads(resp.data)
    expected = own_triples(client.get(path + ".ttl").data, iri)
    assert len(expected) > 5
    assert isomorphic(pyld_graph(doc), expected), "PyLD reads other triples than the Turtle's"
    assert isomorphic(Graph().parse(data=resp.data, format="json-ld"), expected), "rdflib reads other triples"
    return doc


def test_framed_document_gives_the_turtles_triples(client):
    """The framed JSON-LD of the fixture document, read by PyLD and rdflib, is the document's Turtle; one flat object,
    terms for keys, IRIs as compact strings, titles as a language map."""
    doc = check_framed(client, "/id/document/gb-t-45654-2025", DOC_IRI)
    assert doc["id"] == "gdoc:gb-t-45654-2025" and doc["jurisdiction"] == "gjur:cn"
    assert doc["title"]["zh"].startswith("网络安全技术") and doc["issued"] == "2025-04-25"
    assert "@graph" not in doc


def test_framed_unknown_document_is_404(client):
    assert client.get("/id/document/no-such-thing.framed.jsonld").status_code == 404


@pytest.fixture(scope="module")
def real_client(real_build_dir):
    from gaistd_kg.web import create_app

    app = create_app({"BUILD_DIR": str(real_build_dir), "TESTING": True})
    yield app.test_client()
    _close_app(app)


@pytest.mark.slow
def test_framed_documents_of_the_shipped_data_give_their_turtles_triples(real_client, real_build_dir):
    """On the shipped data, documents with milestones (blank nodes), provisions and many dates: PyLD and rdflib read
    each framed document back into exactly its Turtle's triples, and a table of them needs no RDF knowledge."""
    from gaistd_kg import store as store_mod

    opened = store_mod.open_store(real_build_dir)
    q = ("SELECT DISTINCT ?d WHERE { GRAPH <https://w3id.org/gaistd/graph/data> { ?d a ?k ; ?p ?b . "
         "FILTER(isBlank(?b)) } } ORDER BY ?d LIMIT 3")
    with_bnodes = [s["d"].value for s in opened.store.query(q)]
    assert with_bnodes
    rows = []
    for iri in [*with_bnodes, "https://w3id.org/gaistd/id/document/eu-ai-act"]:
        path = iri.replace("https://w3id.org/gaistd", "")
        doc = check_framed(real_client, path, iri)
        rows.append({k: v for k, v in doc.items() if k != "@context"})
    assert all(isinstance(r["id"], str) and r.get("title") for r in rows)
