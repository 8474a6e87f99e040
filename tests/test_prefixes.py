"""The project's well-known prefixes (iris.PREFIXES) accepted without declaration, as Wikidata Query Service and
Virtuoso accept theirs: the text function (query/prefixes.py), and /sparql through the app with its real query pool;
the service description lists them."""

from __future__ import annotations

import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import XSD

from gaistd_kg.iris import PREFIXES
from gaistd_kg.query import QuerySyntaxError, with_known_prefixes
from gaistd_kg.web import create_app
from gaistd_kg.web import sparql as sparql_web

SH = Namespace("http://www.w3.org/ns/shacl#")


@pytest.fixture(scope="module")
def web(fixture_build_dir):
    app = create_app({"BUILD_DIR": str(fixture_build_dir), "TESTING": True})
    yield app.test_client()
    sparql_web.close_app(app)


def test_only_the_missing_prefixes_are_declared_in_front():
    """A used, undeclared, well-known prefix is declared, one line each; a declared one is left to the query."""
    text = "PREFIX gdoc: <http://example.org/d/>\nSELECT * WHERE { gdoc:x a gaistd:Law ; dcterms:title ?t }"
    p = with_known_prefixes(text)
    assert p.added == ("gaistd", "dcterms")
    assert p.text == (f"PREFIX gaistd: <{PREFIXES['gaistd']}>\nPREFIX dcterms: <{PREFIXES['dcterms']}>\n" + text)
    assert with_known_prefixes("SELECT * WHERE { ?s ?p 'gaistd:x' } # skos:Concept").added == ()


def test_an_unknown_undeclared_prefix_is_named_with_its_position():
    with pytest.raises(QuerySyntaxError) as info:
        with_known_prefixes("SELECT *\nWHERE {\n  ?s a  nope:Thing }")
    assert str(info.value).startswith("undeclared prefix nope: at line 3, column 9")
    assert (info.value.line, info.value.column) == (3, 9)


def test_sparql_answers_a_query_without_prefix_lines(web):
    """/sparql runs a query that uses gaistd: and xsd: without declaring them."""
    q = 'SELECT ?c ?n WHERE { VALUES (?c ?n) { (gaistd:Law "3"^^xsd:integer) } }'
    resp = web.get("/sparql", query_string={"query": q}, headers={"Accept": "application/sparql-results+json"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    row = resp.json["results"]["bindings"][0]
    assert row["c"]["value"] == PREFIXES["gaistd"] + "Law"
    assert row["n"]["datatype"] == str(XSD.integer)


def test_sparql_names_an_undeclared_prefix(web):
    """An unknown prefix: 400 saying "undeclared prefix x:" with line and column, not the parser's character list."""
    resp = web.get("/sparql", query_string={"query": "SELECT * WHERE {\n ?s a x:Y }"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "undeclared prefix x: at line 2, column 7" in body and "\\u{" not in body


def test_sparql_syntax_errors_are_placed_in_the_text_sent(web):
    """A syntax error after a line using well-known prefixes is reported on the line of the text sent."""
    resp = web.get("/sparql", query_string={"query": "SELECT ?s WHERE { ?s a gaistd:Law }\nLIMT 5"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "line 2, column" in body, body


def test_service_description_lists_the_well_known_prefixes(web):
    """Every prefix a query may leave undeclared is in the service description, as sh:declare (sh:prefix,
    sh:namespace)."""
    g = Graph().parse(data=web.get("/sparql", headers={"Accept": "text/turtle"}).get_data(as_text=True),
                      format="turtle")
    svc = URIRef("http://localhost/sparql")
    declared = {str(g.value(d, SH.prefix)): g.value(d, SH.namespace) for d in g.objects(svc, SH.declare)}
    assert declared == {p: Literal(ns, datatype=XSD.anyURI) for p, ns in PREFIXES.items()}
