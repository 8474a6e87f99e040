"""What real linked-data clients could not do (issue 13, item 4), each with the client itself against the real server.

SPARQLWrapper's CONSTRUCT as JSON-LD (a comma list of formats), a long query sent by GET, rdflib reading resource
pages over HTTP in every RDF format, PyLD reading a page's JSON-LD, Comunica (from npm) querying a resource page as a
linked-data source, and CORS on every read route.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS
from SPARQLWrapper import GET, JSON, JSONLD, SPARQLWrapper

from conftest import DOC_IRI, http_call

pytestmark = pytest.mark.server

LOCAL_DOC = "/id/document/gb-t-45654-2025"


def raw(base: str, method: str, path: str, headers: dict | None = None):
    return http_call(base, method, path, None, headers, timeout=30)


# --- the SPARQL endpoint --------------------------------------------------------------------------------------------

# SPARQLWrapper 2.0 converts JSON-LD into an rdflib ConjunctiveGraph, which rdflib 7 deprecates: not ours to fix.
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_sparqlwrapper_construct_as_jsonld(live_server):
    """SPARQLWrapper's CONSTRUCT as JSON-LD sends ``format=application/ld+json,application/x-json+ld`` and
    ``format=json-ld``: the first format of ours in the list is the answer, which it converts into a Graph."""
    sw = SPARQLWrapper(live_server + "/sparql")
    sw.setQuery(f"CONSTRUCT WHERE {{ <{DOC_IRI}> ?p ?o }}")
    sw.setReturnFormat(JSONLD)
    g = sw.queryAndConvert()
    assert isinstance(g, Graph)
    assert (URIRef(DOC_IRI), RDFS.label, Literal("GB/T 45654-2025", lang="zh")) in g


@pytest.mark.parametrize("params, media", [
    ([("format", "application/ld+json,application/x-json+ld"), ("format", "json-ld")], "application/ld+json"),
    ([("format", "yaml,turtle")], "text/turtle"),
    ([("format", "yaml"), ("output", "nt")], "application/n-triples"),
    ([("output", "json")], "application/ld+json"),
])
def test_format_lists_first_supported_wins(live_server, params, media):
    """``format`` and ``output`` may repeat and hold comma lists: the first one that can carry the answer wins."""
    q = urlencode([("query", f"CONSTRUCT WHERE {{ <{DOC_IRI}> ?p ?o }}"), *params])
    status, headers, _ = raw(live_server, "GET", "/sparql?" + q)
    assert status == 200 and headers["content-type"].split(";")[0] == media


def test_format_list_of_unknown_names_is_400(live_server):
    status, _, body = raw(live_server, "GET", "/sparql?" + urlencode({"query": "ASK {}", "format": "yaml,toml"}))
    assert status == 400 and b"yaml" in body


def test_406_from_sparql_varies_on_accept(live_server):
    """A 406 depends on the Accept header, so it says ``Vary: Accept`` (a cache must not serve it to others)."""
    status, headers, _ = raw(live_server, "GET", "/sparql?" + urlencode({"query": "ASK {}"}), {"Accept": "image/png"})
    assert status == 406 and "accept" in headers.get("vary", "").lower()


def test_long_query_by_get(live_server):
    """A query of about 9 kB sent by GET (SPARQLWrapper's default method) is answered, not cut at the request line."""
    names = ", ".join(f"ex:u{i:05d}" for i in range(820))
    query = (f"PREFIX ex: <https://example.org/unused/>\nSELECT ?l WHERE {{ <{DOC_IRI}> <{RDFS.label}> ?l . "
             f"FILTER(?l NOT IN ({names})) }}")
    assert len(query) > 9000 and len(urlencode({"query": query})) < 16000
    sw = SPARQLWrapper(live_server + "/sparql")
    sw.setMethod(GET)
    sw.setQuery(query)
    sw.setReturnFormat(JSON)
    rows = sw.queryAndConvert()["results"]["bindings"]
    assert {r["l"]["value"] for r in rows} == {"GB/T 45654-2025"}
