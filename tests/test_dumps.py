"""Dumps, the JSON-LD context and the VoID/DCAT description: every dump parses back and equals the store's graphs,
caching validators come from the build, gzip is offered, the VoID counts are right."""

from __future__ import annotations

import gzip
import json
import warnings
from email.utils import format_datetime, parsedate_to_datetime
from datetime import datetime, timezone

import pytest
from rdflib import Dataset, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCAT, DCTERMS, RDF, VOID, XSD

from conftest import FIXTURE_BUILT_AT, fixture_graphs
from gaistd_kg.views.export import DUMPS
from gaistd_kg.views.jsonld import terms_context
from gaistd_kg.iris import GRAPH, PREFIXES

FORMATS = {  # extension -> (media type, rdflib parser, keeps named graphs)
    "ttl": ("text/turtle", "turtle", False),
    "trig": ("application/trig", "trig", True),
    "nt": ("application/n-triples", "nt", False),
    "nq": ("application/n-quads", "nquads", True),
    "jsonld": ("application/ld+json", "json-ld", False),
}
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")


def fetch(client, path: str, **kwargs):
    """GET, read the body and close the response (a file-backed response otherwise leaks its file handle)."""
    resp = client.get(path, **kwargs)
    resp.get_data()
    resp.close()
    return resp


def parse_dataset(data: bytes, parser: str) -> Dataset:
    """rdflib's own TriG/N-Quads parsers call its deprecated ConjunctiveGraph API (rdflib 7.6); that warning is
    rdflib's business, every other warning stays an error."""
    ds = Dataset()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"(ConjunctiveGraph|Dataset\.default_context) is deprecated",
                                DeprecationWarning)
        ds.parse(data=data, format=parser)
    return ds


def expected_union(name: str) -> Graph:
    g = Graph()
    graphs = fixture_graphs()
    for part in DUMPS[name]:
        for t in graphs[part]:
            g.add(t)
    return g


def test_dump_listing_links_every_dump(client):
    html = fetch(client, "/dumps/").get_data(as_text=True)
    for name in ("asserted", "inferred", "full"):
        for ext in FORMATS:
            assert f'href="/dumps/{name}.{ext}"' in html
    assert 'href="/terms.jsonld"' in html and 'href="/context.jsonld"' in html


@pytest.mark.parametrize("ext", sorted(FORMATS))
@pytest.mark.parametrize("name", ["asserted", "inferred", "full"])
def test_every_dump_parses_back_and_equals_the_store(client, name, ext):
    media, parser, quads = FORMATS[ext]
    resp = fetch(client, f"/dumps/{name}.{ext}")
    assert resp.status_code == 200
    assert resp.mimetype == media
    if quads:
        ds = parse_dataset(resp.data, parser)
        graphs = fixture_graphs()
        named = {str(g.identifier): g for g in ds.graphs() if len(g)}
        assert set(named) == {str(GRAPH[part]) for part in DUMPS[name]}, "quad formats keep the graph names"
        for part in DUMPS[name]:
            assert isomorphic(named[str(GRAPH[part])], graphs[part]), part
    else:
        assert isomorphic(Graph().parse(data=resp.data, format=parser), expected_union(name))


def test_asserted_and_inferred_dumps_do_not_overlap(client):
    asserted = Graph().parse(data=fetch(client, "/dumps/asserted.nt").data, format="nt")
    inferred = Graph().parse(data=fetch(client, "/dumps/inferred.nt").data, format="nt")
    assert len(inferred) > 0 and not set(asserted) & set(inferred)


def test_jsonld_dumps_embed_the_terms_context(client):
    """Every JSON-LD dump carries the terms context (/terms.jsonld) itself, so it reads offline and keeps the terms
    of its build; /context.jsonld stays the prefixes-only context it always was."""
    assert json.loads(fetch(client, "/context.jsonld").data)["@context"] == PREFIXES
    terms = json.loads(fetch(client, "/terms.jsonld").data)["@context"]
    assert terms == terms_context()["@context"]
    for name in ("asserted", "inferred", "full"):
        doc = json.loads(fetch(client, f"/dumps/{name}.jsonld").data)
        assert doc["@context"] == terms, name
    # compacted with it: our IRIs appear as compact IRIs, properties as terms
    text = fetch(client, "/dumps/asserted.jsonld").get_data(as_text=True)
    assert '"id": "gdoc:gb-t-45654-2025"' in text and '"developedBy": "gorg:tc260"' in text


def test_a_jsonld_dump_reads_as_plain_json_table_rows(client):
    """A notebook needs no RDF: json.load the dump, and a document is a flat dict whose title is a dict of language
    -> string, whose dates are plain strings and whose links are compact IRI strings."""
    doc = json.loads(fetch(client, "/dumps/full.jsonld").data)
    rows = {node["id"]: node for node in doc["@graph"]}
    row = rows["gdoc:gb-t-45654-2025"]
    assert row["title"] == {
        "en": "Cybersecurity technology - Basic security requirements for generative artificial intelligence service",
        "zh": "网络安全技术 生成式人工智能服务安全基本要求"}
    assert row["label"] == {"en": "GB/T 45654-2025", "zh": "GB/T 45654-2025"}
    assert row["issued"] == "2025-04-25"
    assert row["identifier"] == "GB/T 45654-2025"
    assert row["developedBy"] == "gorg:tc260" and row["source"] == "gsrc:zheng-2025"
    assert row["type"] == ["NationalStandard", "Standard", "gaistd:Document"]  # a class without a term: its CURIE
    assert all(":" not in key for key in row), "every value of the fixture document fits its term"
    assert rows["gorg:tc260"]["prefLabel"]["zh"] == "全国网络安全标准化技术委员会"


def write_jsonld(turtle: str) -> tuple[dict, bytes, Graph]:
    """Run the dumps' JSON-LD writer on a small graph: the document, its bytes and the graph as N-Triples read it."""
    import io

    import pyoxigraph as ox

    from gaistd_kg.views import export

    triples = list(ox.parse(("\n".join(f"@prefix {p}: <{ns}> ." for p, ns in PREFIXES.items()) + "\n" + turtle)
                            .encode("utf-8"), ox.RdfFormat.TURTLE))
    out = io.BytesIO()
    export._jsonld(triples, out)
    nt = Graph().parse(data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES), format="nt")
    return json.loads(out.getvalue()), out.getvalue(), nt


def test_a_value_that_does_not_fit_its_term_is_written_under_the_property(client):
    """Where a value does not fit its term's definition (a gYear under the date term ``issued``, an untagged title
    under the language map ``title``, a literal under the IRI term ``publisher``, an integer under the plain term
    ``identifier``, an IRI where a language map is, a property without a term), it goes under the property's compact
    IRI as an explicit value object, beside the values that fit; rdflib and PyLD read back exactly the triples."""
    from conftest import pyld_graph

    doc, data, nt = write_jsonld("""
gdoc:x a gaistd:Standard, gaistd:NoSuchClass ;
    dcterms:issued "2024-07-12"^^xsd:date, "2024"^^xsd:gYear ;
    dcterms:title "A title"@en, "标题"@zh, "an untagged title", gorg:not-a-string ;
    dcterms:publisher gorg:iso, "Some body"@en ;
    dcterms:identifier "X 1", "42"^^xsd:integer, "X eins"@de ;
    owl:deprecated "true"^^xsd:boolean ;
    gaistd:applicationMilestone [ dcterms:issued "2026-08-02"^^xsd:date ; rdfs:label "general-purpose AI"@en ] ;
    skos:prefLabel [ rdfs:label "a blank node where a language map is"@en ] ;
    <http://example.org/unknown> "v", <http://example.org/o> .
""")
    assert isomorphic(Graph().parse(data=data, format="json-ld"), nt), "rdflib reads other triples"
    assert isomorphic(pyld_graph(doc), nt), "PyLD reads other triples"
    nodes = {n["id"]: n for n in doc["@graph"]}
    x = nodes.pop("gdoc:x")
    assert x["type"] == ["Standard", "gaistd:NoSuchClass"]
    assert x["issued"] == "2024-07-12" and x["dcterms:issued"] == {"@value": "2024", "@type": "xsd:gYear"}
    assert x["title"] == {"en": "A title", "zh": "标题"}
    assert x["dcterms:title"] == [{"@value": "an untagged title"}, {"id": "gorg:not-a-string"}]
    assert x["publisher"] == "gorg:iso" and x["dcterms:publisher"] == {"@value": "Some body", "@language": "en"}
    assert x["identifier"] == "X 1"
    assert sorted(x["dcterms:identifier"], key=str) == [{"@value": "42", "@type": "xsd:integer"},
                                                        {"@value": "X eins", "@language": "de"}]
    assert x["deprecated"] == "true"
    assert x["http://example.org/unknown"] == [{"@value": "v"}, {"id": "http://example.org/o"}]
    milestone = x["applicationMilestone"]
    assert milestone.startswith("_:")  # an IRI term holds a blank node as its identifier string
    assert nodes.pop(milestone) == {"id": milestone, "issued": "2026-08-02", "label": {"en": "general-purpose AI"}}
    other, = nodes
    assert x["skos:prefLabel"] == {"id": other} and nodes[other]["label"] == {"en": "a blank node where a language map is"}


def test_context_url_is_stable_and_cacheable(client):
    resp = fetch(client, "/context.jsonld")
    assert resp.mimetype == "application/ld+json"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.cache_control.max_age and resp.cache_control.max_age >= 3600


def test_dump_validators_come_from_the_build(client):
    resp = fetch(client, "/dumps/full.ttl")
    etag = resp.headers["ETag"]
    assert "fixture-0001" in etag
    modified = parsedate_to_datetime(resp.headers["Last-Modified"])
    assert modified == datetime.fromtimestamp(FIXTURE_BUILT_AT, tz=timezone.utc)
    assert fetch(client, "/dumps/full.ttl", headers={"If-None-Match": etag}).status_code == 304
    since = format_datetime(modified, usegmt=True)
    assert fetch(client, "/dumps/full.ttl", headers={"If-Modified-Since": since}).status_code == 304
    assert fetch(client, "/dumps/full.ttl", headers={"If-None-Match": '"something-else"'}).status_code == 200


def test_dumps_are_gzipped_for_clients_that_accept_it(client):
    plain = fetch(client, "/dumps/full.nq")
    packed = fetch(client, "/dumps/full.nq", headers={"Accept-Encoding": "gzip, deflate"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] != plain.headers["ETag"]  # a different body needs a different strong validator


def test_dump_range_request(client):
    whole = fetch(client, "/dumps/asserted.nt").data
    part = fetch(client, "/dumps/asserted.nt", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.data == whole[:10]


@pytest.mark.parametrize("path", ["/dumps/nothing.ttl", "/dumps/full.xyz", "/dumps/full.rdf"])
def test_unknown_dump_is_404(client, path):
    assert fetch(client, path).status_code == 404


def test_dumps_are_written_once_per_build(fixture_build_dir, tmp_path):
    from gaistd_kg.web import create_app

    app = create_app({"BUILD_DIR": str(fixture_build_dir), "CACHE_DIR": str(tmp_path), "TESTING": True})
    c = app.test_client()
    fetch(c, "/dumps/full.trig")
    files = list(tmp_path.glob("*/full.trig"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    fetch(c, "/dumps/full.trig")
    assert files[0].stat().st_mtime_ns == stamp


# --- VoID / DCAT ---------------------------------------------------------------------------------------------------

def void(client, accept: str = "text/turtle") -> Graph:
    resp = fetch(client, "/.well-known/void", headers={"Accept": accept})
    assert resp.status_code == 200
    assert resp.mimetype == accept
    assert "Accept" in resp.headers["Vary"]
    return Graph().parse(data=resp.data, format="json-ld" if "json" in accept else "turtle")


def test_void_counts_triples_per_named_graph(client):
    g = void(client)
    dataset = URIRef("https://w3id.org/gaistd/dataset")
    graphs = fixture_graphs()
    for name, iri in GRAPH.items():
        assert (dataset, VOID.subset, iri) in g
        assert g.value(iri, VOID.triples) == Literal(len(graphs[name]), datatype=XSD.integer), name
    total = sum(len(graph) for graph in graphs.values())
    assert g.value(dataset, VOID.triples) == Literal(total, datatype=XSD.integer)


def test_void_names_endpoint_dumps_licence_and_modified(client):
    g = void(client)
    dataset = URIRef("https://w3id.org/gaistd/dataset")
    assert (dataset, RDF.type, DCAT.Dataset) in g
    assert g.value(dataset, VOID.sparqlEndpoint) == URIRef("http://localhost/sparql")
    assert g.value(dataset, DCTERMS.license) == URIRef("https://creativecommons.org/licenses/by/4.0/")
    modified = g.value(dataset, DCTERMS.modified)
    assert modified.datatype == XSD.dateTime
    assert modified.toPython() == datetime.fromtimestamp(FIXTURE_BUILT_AT, tz=timezone.utc)
    dumps = set(g.objects(dataset, VOID.dataDump))
    assert dumps == {URIRef(f"http://localhost/dumps/full.{ext}") for ext in FORMATS}
    distributions = set(g.objects(dataset, DCAT.distribution))
    assert len(distributions) == 3 * len(FORMATS)
    for dist in distributions:
        assert (dist, RDF.type, DCAT.Distribution) in g
        url = g.value(dist, DCAT.downloadURL)
        ext = str(url).rsplit(".", 1)[1]
        assert g.value(dist, DCAT.mediaType) == URIRef(
            "https://www.iana.org/assignments/media-types/" + FORMATS[ext][0])
        assert fetch(client, str(url).replace("http://localhost", "")).status_code == 200


def test_void_in_jsonld_says_the_same(client):
    assert isomorphic(void(client, "application/ld+json"), void(client, "text/turtle"))


def test_void_counts_follow_the_store_not_the_manifest(tmp_path):
    """A build with one more data triple reports one more triple: the counts are read, not assumed."""
    from conftest import make_build
    from gaistd_kg.web import create_app

    graphs = fixture_graphs()
    graphs["data"].add((URIRef("https://w3id.org/gaistd/id/org/x"), DCTERMS.title, Literal("x")))
    app = create_app({"BUILD_DIR": str(make_build(tmp_path / "b", graphs)), "TESTING": True})
    g = void(app.test_client())
    assert g.value(GRAPH["data"], VOID.triples).toPython() == len(fixture_graphs()["data"]) + 1
