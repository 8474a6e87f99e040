"""Linked-data conventions the app keeps for outside clients (issue 13, item 4), on the fixture build:

CORS on every read route, ``text/n3`` and ``application/json`` on resource pages, pages pointing to their RDF
(``Link`` header and ``<link rel="alternate">``), quad formats of a page holding the triples in the default graph,
dumps labelled by what they hold, and the IRIs of ours that name something else than a resource of the store
(``/dataset``, the ontology's version IRI, ``/shapes``) dereferencing to what they name; ``/cite``.
"""

from __future__ import annotations

import json
import re
import warnings
from html.parser import HTMLParser

import pytest
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, OWL, RDF, VOID, XSD

from conftest import DOC_IRI, FIXTURE_BUILD_ID, REPO, _close_app, fixture_graphs, make_build
from gaistd_kg.iris import GRAPH, ONTOLOGY_IRI

DOC = "/id/document/gb-t-45654-2025"
VERSION_IRI = URIRef("https://w3id.org/gaistd/ontology/0.1.0")
REPO_DOCS = REPO / "docs" / "w3id"
DATASET = URIRef("https://w3id.org/gaistd/dataset")
SH_NODE_SHAPE = URIRef("http://www.w3.org/ns/shacl#NodeShape")

READ_ROUTES = [DOC, DOC + ".ttl", "/ontology", "/ontology.ttl", "/dumps/", "/dumps/asserted.ttl", "/.well-known/void",
               "/openapi.json", "/documents?format=csv", "/documents", "/search?q=gb", "/context.jsonld",
               "/terms.jsonld", "/dataset", "/shapes", "/graph/data", "/cite", "/changes.atom",
               DOC + ".framed.jsonld", "/ontology/0.1.0"]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """The fixture build with the ontology's version IRI (as ontology/gaistd.ttl states it)."""
    from gaistd_kg.web import create_app

    graphs = fixture_graphs()
    graphs["ontology"].add((ONTOLOGY_IRI, RDF.type, OWL.Ontology))
    graphs["ontology"].add((ONTOLOGY_IRI, OWL.versionIRI, VERSION_IRI))
    graphs["meta"].add((DATASET, DCTERMS.identifier, Literal(FIXTURE_BUILD_ID)))  # as the build's meta graph says
    app = create_app({"BUILD_DIR": str(make_build(tmp_path_factory.mktemp("linked-build"), graphs)),
                      "TESTING": True})
    yield app.test_client()
    _close_app(app)


def fetch(client, path: str, method: str = "GET", **headers):
    resp = client.open(path, method=method, headers=headers)
    resp.get_data()
    resp.close()
    return resp


class Head(HTMLParser):
    """The ``<link rel="alternate">`` elements of a page's head and its footer links."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.alternates: dict[str, str] = {}
        self.links: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and a.get("rel") == "alternate":
            self.alternates[a["type"]] = a["href"]
        if tag == "a" and "href" in a:
            self.links.append(a["href"])


def link_header(value: str) -> dict[str, str]:
    """``Link: <a>; rel="alternate"; type="t", …`` → {type: href} of the alternates (RFC 8288)."""
    out = {}
    for href, params in re.findall(r"<([^>]*)>([^,]*)", value):
        if 'rel="alternate"' in params:
            out[re.search(r'type="([^"]+)"', params).group(1)] = href
    return out


# --- CORS ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", READ_ROUTES)
def test_every_read_route_allows_any_origin(client, path):
    """A browser application on another origin can read every read route: ``Access-Control-Allow-Origin: *``
    on the answer, and a preflight (OPTIONS with ``Access-Control-Request-Method``) that allows GET."""
    resp = fetch(client, path, Origin="https://elsewhere.example")
    assert resp.headers.get("Access-Control-Allow-Origin") == "*", (path, resp.status_code)
    pre = fetch(client, path, "OPTIONS", Origin="https://elsewhere.example", **{
        "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "accept"})
    assert pre.status_code in (200, 204) and pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in pre.headers["Access-Control-Allow-Methods"]
    assert pre.headers["Access-Control-Allow-Headers"] == "accept"


def test_cors_exposes_link_and_etag(client):
    exposed = fetch(client, DOC, Accept="text/turtle").headers["Access-Control-Expose-Headers"]
    assert {"ETag", "Link", "Content-Location"} <= {h.strip() for h in exposed.split(",")}


# --- more Accept values --------------------------------------------------------------------------------------------

def test_n3_is_answered_with_turtle_labelled_n3(client):
    """``Accept: text/n3`` gets the Turtle (N3 extends Turtle) as ``text/n3``, not 406."""
    resp = fetch(client, DOC, Accept="text/n3")
    assert resp.status_code == 200 and resp.mimetype == "text/n3" and "Accept" in resp.headers["Vary"]
    turtle = fetch(client, DOC + ".ttl")
    assert isomorphic(Graph().parse(data=resp.data, format="turtle"),
                      Graph().parse(data=turtle.data, format="turtle"))


def test_plain_json_is_answered_with_json_ld(client):
    """``Accept: application/json`` gets the JSON-LD, labelled ``application/json``, not 406."""
    resp = fetch(client, DOC, Accept="application/json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    json.loads(resp.data)
    turtle = fetch(client, DOC + ".ttl")
    assert isomorphic(Graph().parse(data=resp.data, format="json-ld"),
                      Graph().parse(data=turtle.data, format="turtle"))


def test_an_unknown_type_is_still_406_varying_on_accept(client):
    resp = fetch(client, DOC, Accept="image/png")
    assert resp.status_code == 406 and "Accept" in resp.headers["Vary"]


# --- quad formats of a page ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("accept, parser", [("application/n-quads", "nquads"), ("application/trig", "trig")])
def test_quad_formats_of_a_page_hold_every_triple_in_the_default_graph(client, accept, parser):
    """A linked-data client reads a page's default graph: in N-Quads and TriG it holds every triple of the page (the
    union, as at /sparql), while the named graphs still say where each comes from."""
    resp = fetch(client, DOC, Accept=accept)
    ds = Dataset()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"(ConjunctiveGraph|Dataset\.default_context) is deprecated",
                                DeprecationWarning)
        ds.parse(data=resp.data, format=parser)
    default = Graph()
    for t in ds.default_graph:  # rdflib 7: the default graph of a parsed dataset
        default.add(t)
    turtle = Graph().parse(data=fetch(client, DOC + ".ttl").data, format="turtle")
    assert len(turtle) > 5 and isomorphic(default, turtle)
    inferred = ds.graph(URIRef(str(GRAPH["inferred"])))
    assert (URIRef(DOC_IRI), RDF.type, URIRef("https://w3id.org/gaistd/ontology#Standard")) in inferred


# --- pages point to their RDF --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, rdf", [(DOC, DOC), ("/ontology", "/ontology"), ("/dataset", "/dataset"),
                                       ("/shapes", "/shapes")])
def test_html_pages_point_to_their_rdf(client, path, rdf):
    """Every RDF representation is named in the page's head (``<link rel="alternate">``) and in a ``Link`` header,
    and each link answers with the type it announces."""
    resp = fetch(client, path, Accept="text/html")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    head = Head(resp.get_data(as_text=True)).alternates
    header = link_header(resp.headers["Link"])
    assert head == header
    assert header["text/turtle"] == rdf + ".ttl" and header["application/ld+json"] == rdf + ".jsonld"
    for media, href in header.items():
        assert fetch(client, href).mimetype == media, href


# --- dumps say what they hold --------------------------------------------------------------------------------------

def test_dumps_are_labelled_by_what_they_hold(client):
    """The dumps page calls TriG and N-Quads quads and every other format (JSON-LD too) triples; the JSON-LD dump
    indeed holds one graph (no named graph in it)."""
    html = fetch(client, "/dumps/").get_data(as_text=True)
    cells = re.findall(r'<a href="/dumps/full\.(\w+)"[^>]*>[^<]*</a> <small class="holds">\(([^:]+):', html)
    assert dict(cells) == {"ttl": "triples", "trig": "quads", "nt": "triples", "nq": "quads", "jsonld": "triples"}
    doc = json.loads(fetch(client, "/dumps/full.jsonld").data)
    assert all("@graph" not in node or "@id" not in node for node in doc.get("@graph", [doc]))


# --- IRIs that name something else than a resource of the store ----------------------------------------------------

def test_dataset_iri_dereferences_to_the_void_description(client):
    """``…/dataset`` is the VoID/DCAT description, by Accept and by extension, with the build's meta facts."""
    dataset = DATASET
    for resp in (fetch(client, "/dataset", Accept="text/turtle"), fetch(client, "/dataset.jsonld")):
        assert resp.status_code == 200
        g = Graph().parse(data=resp.data, format="turtle" if resp.mimetype == "text/turtle" else "json-ld")
        assert (dataset, RDF.type, VOID.Dataset) in g
        assert g.value(dataset, VOID.sparqlEndpoint) == URIRef("http://localhost/sparql")
        assert {URIRef(str(GRAPH[n])) for n in GRAPH} <= set(g.objects(dataset, VOID.subset))
        assert g.value(URIRef(str(GRAPH["data"])), VOID.triples).datatype == XSD.integer


def test_ontology_version_iri_dereferences_to_the_ontology(client):
    """The ontology's ``owl:versionIRI`` answers with the ontology while that version is served; another is 404."""
    resp = fetch(client, "/ontology/0.1.0", Accept="text/turtle")
    assert resp.status_code == 200 and resp.mimetype == "text/turtle"
    g = Graph().parse(data=resp.data, format="turtle")
    assert (ONTOLOGY_IRI, OWL.versionIRI, VERSION_IRI) in g
    assert fetch(client, "/ontology/0.1.0.nt").mimetype == "application/n-triples"
    assert fetch(client, "/ontology/0.1.0", Accept="text/html").mimetype == "text/html"
    assert fetch(client, "/ontology/9.9.9", Accept="text/turtle").status_code == 404


def test_shapes_namespace_dereferences_to_the_shapes_graph(client):
    """``…/shapes`` (the namespace of ``gaistdsh:``) is the SHACL shapes graph the builds validate against."""
    resp = fetch(client, "/shapes", Accept="application/ld+json")
    assert resp.status_code == 200 and resp.mimetype == "application/ld+json"
    g = Graph().parse(data=resp.data, format="json-ld")
    shapes = set(g.subjects(RDF.type, SH_NODE_SHAPE))
    assert shapes and all(str(s).startswith("https://w3id.org/gaistd/shapes#") for s in shapes)
    assert fetch(client, "/shapes.ttl").mimetype == "text/turtle"
    assert fetch(client, "/shapes.yaml").status_code == 404


def test_cite_page_is_linked_from_every_page(client):
    """``/cite`` says how to cite (the build and the dataset IRI) and how to link, and every page's footer links it."""
    html = fetch(client, "/cite").get_data(as_text=True)
    assert "https://w3id.org/gaistd/dataset" in html and "fixture-0001" in html and "owl:deprecated" in html
    for path in (DOC, "/dumps/", "/cite"):
        assert "/cite" in Head(fetch(client, path, Accept="text/html").get_data(as_text=True)).links


def test_dataset_meta_facts_are_in_its_description(client):
    """What the build's meta graph says about the dataset (its build identifier) is part of ``/dataset``."""
    g = Graph().parse(data=fetch(client, "/dataset.ttl").data, format="turtle")
    assert g.value(DATASET, DCTERMS.identifier) == Literal(FIXTURE_BUILD_ID)


# --- the w3id.org redirect rules -------------------------------------------------------------------------------------

def htaccess_rules() -> list[tuple[str, str, str]]:
    """(Accept condition, path pattern, target extension) of each content-negotiation rule of docs/w3id/.htaccess."""
    text = (REPO_DOCS / ".htaccess").read_text(encoding="utf-8")
    rules = []
    for block in text.split("\n\n"):
        accept = re.search(r"RewriteCond %\{HTTP_ACCEPT\} ([^!\s]\S*)", block)
        rule = re.search(r"RewriteRule (\S+) %\{ENV:GAISTD_SERVER\}/\$1\.(\w+) \[R=303,L\]", block)
        if accept and rule:
            rules.append((accept.group(1), rule.group(1), rule.group(2)))
    return rules


def test_w3id_rules_send_each_rdf_client_to_a_url_the_server_answers(client):
    """Each content-negotiation rule of the w3id.org ``.htaccess`` sends a client to ``<path>.<ext>``: for every kind
    of IRI the rules cover, the server answers that URL with the media type the rule's Accept condition names."""
    rules = htaccess_rules()
    assert {ext for _, _, ext in rules} == {"rdf", "ttl", "jsonld", "nt", "trig", "nq"}
    samples = [DOC.lstrip("/"), "ontology", "ontology/0.1.0", "dataset", "shapes", "graph/data"]
    for accept, pattern, ext in rules:
        media = accept.split("|")[0].replace("\\", "")
        for path in samples:
            assert re.fullmatch(pattern, path), (pattern, path)
            resp = fetch(client, f"/{path}.{ext}")
            assert resp.status_code == 200 and resp.mimetype == media, (path, ext, resp.status_code)
    text = (REPO_DOCS / ".htaccess").read_text(encoding="utf-8")
    assert text.count("GAISTD-SERVER.example.org") == 1  # the one placeholder the operator sets
