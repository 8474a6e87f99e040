"""/sparql speaks the SPARQL 1.1 Protocol: one test per rule, through the Flask app built from the fixture build.

The app's query pool is real (worker processes on the fixture store); apps live for the module so they start once.
"""

from __future__ import annotations

import gzip
import json
from email.utils import formatdate

import pytest
from flask import Blueprint, Flask
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, XSD

from conftest import DOC_IRI, FIXTURE_BUILD_ID, FIXTURE_BUILT_AT
from gaistd_kg import formats
from gaistd_kg.iris import GRAPH
from gaistd_kg.web import create_app
from gaistd_kg.web import sparql as sparql_web

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
SELECT = "SELECT ?s ?p ?o WHERE { ?s ?p ?o }"
LABELS = f"SELECT ?l WHERE {{ <{DOC_IRI}> <http://www.w3.org/2000/01/rdf-schema#label> ?l }}"


def make(build_dir, **config):
    app = create_app({"BUILD_DIR": str(build_dir), "TESTING": True, **config})
    return app


@pytest.fixture(scope="module")
def web(fixture_build_dir):
    app = make(fixture_build_dir)
    yield app.test_client()
    sparql_web.close_app(app)


@pytest.fixture(scope="module")
def capped(fixture_build_dir):
    app = make(fixture_build_dir, ROW_LIMIT=3)
    yield app.test_client()
    sparql_web.close_app(app)


def results(resp) -> list[dict]:
    return json.loads(resp.data)["results"]["bindings"]


# --- the three ways to send a query ---------------------------------------------------------------------------------

def test_query_via_get(web):
    """GET /sparql?query=… answers with 200 and, by default, SPARQL JSON."""
    resp = web.get("/sparql", query_string={"query": LABELS})
    assert resp.status_code == 200
    assert resp.mimetype == "application/sparql-results+json"
    assert {b["l"]["value"] for b in results(resp)} == {"GB/T 45654-2025"}


def test_query_via_urlencoded_post(web):
    """POST application/x-www-form-urlencoded with query=… is a query."""
    resp = web.post("/sparql", data={"query": LABELS})
    assert resp.status_code == 200 and len(results(resp)) == 2


def test_query_via_direct_post(web):
    """POST application/sparql-query with the query as the body is a query; dataset parameters stay in the URL."""
    resp = web.post("/sparql", data=LABELS.encode(), content_type="application/sparql-query")
    assert resp.status_code == 200 and len(results(resp)) == 2


def test_head_answers_like_get_without_a_body(web):
    """HEAD gives GET's status and headers."""
    resp = web.head("/sparql", query_string={"query": LABELS})
    assert resp.status_code == 200 and resp.data == b"" and resp.headers["ETag"]


# --- dataset parameters ---------------------------------------------------------------------------------------------

def test_default_graph_uri_is_honoured_and_repeatable(web):
    """default-graph-uri (repeatable) makes the default graph the merge of the graphs named."""
    q = f"ASK {{ <{DOC_IRI}> a <https://w3id.org/gaistd/ontology#Document> }}"
    only_data = web.get("/sparql", query_string=[("query", q), ("default-graph-uri", str(GRAPH["data"]))])
    both = web.get("/sparql", query_string=[("query", q), ("default-graph-uri", str(GRAPH["data"])),
                                            ("default-graph-uri", str(GRAPH["inferred"]))])
    assert json.loads(only_data.data)["boolean"] is False
    assert json.loads(both.data)["boolean"] is True


def test_named_graph_uri_is_honoured_and_repeatable(web):
    """named-graph-uri (repeatable) makes exactly those graphs visible to GRAPH ?g."""
    q = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    resp = web.post("/sparql", data=q.encode(), content_type="application/sparql-query",
                    query_string=[("named-graph-uri", str(GRAPH["meta"])), ("named-graph-uri", str(GRAPH["data"]))])
    assert {b["g"]["value"] for b in results(resp)} == {str(GRAPH["meta"]), str(GRAPH["data"])}


def test_a_relative_dataset_iri_is_a_bad_request(web):
    """default-graph-uri / named-graph-uri must be absolute IRIs."""
    resp = web.get("/sparql", query_string={"query": "ASK {}", "default-graph-uri": "not an iri"})
    assert resp.status_code == 400 and b"absolute IRIs" in resp.data


# --- negotiation ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", formats.of_kind(formats.TABULAR), ids=lambda f: f.name)
def test_select_results_are_negotiated_by_accept(web, fmt):
    """Each tabular media type of the table is served when the client asks for it."""
    resp = web.get("/sparql", query_string={"query": LABELS}, headers={"Accept": fmt.media_type})
    assert resp.status_code == 200 and resp.mimetype == fmt.media_type


@pytest.mark.parametrize("fmt", formats.of_kind(formats.GRAPH), ids=lambda f: f.name)
def test_construct_results_are_negotiated_by_accept(web, fmt):
    """Each graph media type of the table is served for CONSTRUCT when the client asks for it."""
    resp = web.get("/sparql", query_string={"query": f"CONSTRUCT WHERE {{ <{DOC_IRI}> ?p ?o }}"},
                   headers={"Accept": fmt.media_type})
    assert resp.status_code == 200 and resp.mimetype == fmt.media_type


def test_defaults_without_accept_are_json_and_turtle(web):
    """No Accept header: SPARQL JSON for SELECT/ASK, Turtle for CONSTRUCT/DESCRIBE."""
    assert web.get("/sparql", query_string={"query": "ASK {}"}).mimetype == "application/sparql-results+json"
    assert web.get("/sparql", query_string={"query": f"DESCRIBE <{DOC_IRI}>"}).mimetype == "text/turtle"


@pytest.mark.parametrize("name", ["json", "xml", "csv", "tsv", "html"])
def test_format_parameter_overrides_accept_for_tabular_results(web, name):
    """?format=<name> wins over Accept (a browser link can ask for CSV)."""
    resp = web.get("/sparql", query_string={"query": LABELS, "format": name}, headers={"Accept": "text/turtle"})
    assert resp.status_code == 200 and resp.mimetype == formats.BY_NAME[name].media_type


@pytest.mark.parametrize("name", ["ttl", "jsonld", "nt", "rdf", "trig", "nq"])
def test_format_parameter_overrides_accept_for_graph_results(web, name):
    """?format=<name> picks the graph format of a CONSTRUCT answer."""
    resp = web.get("/sparql", query_string={"query": "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 2", "format": name})
    assert resp.status_code == 200 and resp.mimetype == formats.BY_NAME[name].media_type


def test_unacceptable_accept_is_406_naming_what_is_offered(web):
    """Nothing acceptable: 406, and the body lists every media type offered for this kind of answer."""
    resp = web.get("/sparql", query_string={"query": LABELS}, headers={"Accept": "image/png"})
    assert resp.status_code == 406
    for f in formats.of_kind(formats.TABULAR):
        assert f.media_type.encode() in resp.data


def test_format_of_the_wrong_kind_is_406(web):
    """?format=ttl cannot carry SELECT rows: 406 with the offered list."""
    resp = web.get("/sparql", query_string={"query": LABELS, "format": "ttl"})
    assert resp.status_code == 406 and b"application/sparql-results+json" in resp.data


def test_unknown_format_is_400(web):
    """?format=yaml is not a format: 400 naming the choices."""
    resp = web.get("/sparql", query_string={"query": LABELS, "format": "yaml"})
    assert resp.status_code == 400 and b"json" in resp.data


# --- malformed and refused requests ---------------------------------------------------------------------------------

def test_malformed_query_is_400_with_the_parsers_message(web):
    """A syntax error: 400, text/plain, with Oxigraph's message and line:column."""
    resp = web.get("/sparql", query_string={"query": "SELECT * WHERE {\n ?s ?p }"})
    assert resp.status_code == 400 and resp.mimetype == "text/plain"
    assert b"malformed query" in resp.data and b"2:" in resp.data and b"expected" in resp.data


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "PROPFIND"])
def test_other_methods_are_405_with_allow(web, method):
    """Only GET, HEAD, POST (and OPTIONS for CORS) are SPARQL Protocol methods; Allow lists exactly those."""
    resp = web.open("/sparql", method=method, query_string={"query": "ASK {}"})
    assert resp.status_code == 405
    assert {m.strip() for m in resp.headers["Allow"].split(",")} == {"GET", "HEAD", "POST", "OPTIONS"}


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/json"])
def test_post_of_another_media_type_is_415(web, content_type):
    """A POST body that is neither form-encoded nor application/sparql-query: 415 naming both."""
    headers = {"Content-Type": content_type} if content_type else {}
    resp = web.post("/sparql", data=b"ASK {}", headers=headers)
    assert resp.status_code == 415 and b"application/sparql-query" in resp.data


def test_two_queries_at_once_are_400(web):
    """query= twice (or in the URL and the body) is a bad request."""
    assert web.get("/sparql", query_string=[("query", "ASK {}"), ("query", "ASK {}")]).status_code == 400
    resp = web.post("/sparql", data=b"ASK {}", content_type="application/sparql-query",
                    query_string={"query": "ASK {}"})
    assert resp.status_code == 400


def test_a_query_and_an_update_at_once_are_400(web):
    """One request, one operation."""
    assert web.post("/sparql", data={"query": "ASK {}", "update": "CLEAR ALL"}).status_code == 400


@pytest.mark.parametrize("send", [
    lambda c: c.post("/sparql", data="ASK {}".encode("utf-16"), content_type="application/sparql-query; charset=UTF-16"),
    lambda c: c.post("/sparql", data=b"ASK { ?s ?p \"\xff\" }", content_type="application/sparql-query"),
    lambda c: c.post("/sparql", data=b"query=ASK%20%7B%22%FF%22%7D", content_type="application/x-www-form-urlencoded"),
    lambda c: c.get("/sparql?query=ASK%20%7B%22%FF%22%7D"),
], ids=["charset-utf16", "invalid-bytes-direct", "invalid-bytes-form", "invalid-bytes-url"])
def test_non_utf8_requests_are_400(web, send):
    """The Protocol's text is UTF-8: another charset, or bytes that are not UTF-8, are a bad request."""
    resp = send(web)
    assert resp.status_code == 400 and b"UTF-8" in resp.data


def test_update_operations_are_refused_with_403(web):
    """update=… (form) and application/sparql-update are understood and refused: updates are disabled."""
    form = web.post("/sparql", data={"update": "CLEAR ALL"})
    direct = web.post("/sparql", data=b"CLEAR ALL", content_type="application/sparql-update")
    assert form.status_code == direct.status_code == 403
    assert b"SPARQL Update is disabled" in form.data


def test_update_by_get_is_400(web):
    """An update is only ever sent with POST."""
    resp = web.get("/sparql", query_string={"update": "CLEAR ALL"})
    assert resp.status_code == 400 and b"POST" in resp.data


def test_update_text_sent_as_a_query_is_400(web):
    """query=INSERT DATA … is not a legal query string: 400, naming SPARQL Update."""
    resp = web.get("/sparql", query_string={"query": "INSERT DATA { <http://a> <http://b> <http://c> }"})
    assert resp.status_code == 400 and b"SPARQL Update (INSERT)" in resp.data


def test_service_is_400_naming_service(web):
    """SERVICE to an endpoint not allow-listed is refused (400, naming the blocked feature), and the answer says
    SERVICE."""
    resp = web.get("/sparql", query_string={"query": "SELECT * { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"})
    assert resp.status_code == 400 and b"SERVICE <http://example.org/sparql> is refused" in resp.data


def test_post_without_a_query_is_400(web):
    """A form POST with no query= is a bad request (GET without one is the service description)."""
    assert web.post("/sparql", data={"default-graph-uri": str(GRAPH["data"])}).status_code == 400


def test_a_missing_build_is_503_saying_how_to_make_one(tmp_path):
    """No store built yet: 503, and the message names `gaistd build`."""
    app = make(tmp_path)
    try:
        resp = app.test_client().get("/sparql", query_string={"query": "ASK {}"})
        assert resp.status_code == 503 and b"gaistd build" in resp.data
    finally:
        sparql_web.close_app(app)


# --- caps, deadlines ------------------------------------------------------------------------------------------------

def test_capped_answers_say_so_in_headers_and_in_sparql_json(capped):
    """ROW_LIMIT reached: X-GAISTD-Result-Capped: true, X-GAISTD-Row-Limit: N, and a head link in SPARQL JSON."""
    resp = capped.get("/sparql", query_string={"query": SELECT})
    assert resp.headers["X-GAISTD-Result-Capped"] == "true" and resp.headers["X-GAISTD-Row-Limit"] == "3"
    doc = json.loads(resp.data)
    assert len(doc["results"]["bindings"]) == 3 and doc["head"]["link"][0].endswith("limit=3")


def test_uncapped_answers_carry_no_capped_header(capped):
    """An answer within the limit has no X-GAISTD-Result-Capped header."""
    resp = capped.get("/sparql", query_string={"query": LABELS})
    assert "X-GAISTD-Result-Capped" not in resp.headers and resp.headers["X-GAISTD-Row-Limit"] == "3"


def test_capped_turtle_says_so_in_a_comment(capped):
    """A capped CONSTRUCT in Turtle starts with a comment naming the limit."""
    resp = capped.get("/sparql", query_string={"query": "CONSTRUCT WHERE { ?s ?p ?o }", "format": "ttl"})
    assert resp.headers["X-GAISTD-Result-Capped"] == "true" and resp.data.startswith(b"# result capped at 3")


def test_a_query_past_the_deadline_is_503_naming_the_limit(fixture_build_dir):
    """QUERY_TIMEOUT reached: 503 and the body names the limit in seconds."""
    app = make(fixture_build_dir, QUERY_TIMEOUT=1, QUERY_WORKERS=1)
    try:
        heavy = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n ?o }"
        resp = app.test_client().get("/sparql", query_string={"query": heavy})
        assert resp.status_code == 503 and b"time limit of 1 s" in resp.data
        assert app.test_client().get("/sparql", query_string={"query": "ASK {}"}).status_code == 200
    finally:
        sparql_web.close_app(app)


# --- caching, compression, CORS -------------------------------------------------------------------------------------

def test_etag_and_last_modified_come_from_the_build(web):
    """The ETag starts with the build id; Last-Modified is the build time."""
    resp = web.get("/sparql", query_string={"query": LABELS})
    assert resp.headers["ETag"].strip('"').startswith(FIXTURE_BUILD_ID)
    assert resp.headers["Last-Modified"] == formatdate(FIXTURE_BUILT_AT, usegmt=True)
    assert "Accept" in resp.headers["Vary"]


def test_if_none_match_gives_304(web):
    """A GET repeating the ETag it was given gets 304 and no body."""
    first = web.get("/sparql", query_string={"query": LABELS})
    again = web.get("/sparql", query_string={"query": LABELS}, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == first.headers["ETag"]


def test_if_modified_since_the_build_gives_304(web):
    """A GET with If-Modified-Since at or after the build time gets 304."""
    resp = web.get("/sparql", query_string={"query": LABELS},
                   headers={"If-Modified-Since": formatdate(FIXTURE_BUILT_AT + 60, usegmt=True)})
    assert resp.status_code == 304


def test_each_representation_has_its_own_etag(web):
    """Different format, query or compression: a different ETag (a cache must not mix them)."""
    tags = {web.get("/sparql", query_string={"query": LABELS}, headers=h).headers["ETag"]
            for h in ({"Accept": "text/csv"}, {"Accept": "application/sparql-results+xml"}, {},
                      {"Accept-Encoding": "gzip"})}
    assert len(tags) == 4


def test_gzip_when_the_client_accepts_it(web):
    """Accept-Encoding: gzip gets a gzip body that decompresses to the plain answer."""
    plain = web.get("/sparql", query_string={"query": SELECT})
    zipped = web.get("/sparql", query_string={"query": SELECT}, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == plain.data and "Content-Encoding" not in plain.headers


def test_reads_allow_any_origin(web):
    """CORS: every /sparql answer (errors too) carries Access-Control-Allow-Origin: *."""
    assert web.get("/sparql", query_string={"query": "ASK {}"}).headers["Access-Control-Allow-Origin"] == "*"
    assert web.get("/sparql", query_string={"query": "ASK {"}).headers["Access-Control-Allow-Origin"] == "*"
    exposed = web.get("/sparql", query_string={"query": "ASK {}"}).headers["Access-Control-Expose-Headers"]
    assert "X-GAISTD-Result-Capped" in exposed and "ETag" in exposed


def test_preflight_options_allows_get_and_post(web):
    """OPTIONS (CORS preflight) answers 204 with the allowed methods and the requested headers."""
    resp = web.options("/sparql", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST",
                                           "Access-Control-Request-Headers": "content-type"})
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert resp.headers["Access-Control-Allow-Headers"] == "content-type"


# --- service description --------------------------------------------------------------------------------------------

def sd_graph(resp, fmt: str) -> Graph:
    return Graph().parse(data=resp.data, format=fmt)


@pytest.mark.parametrize("accept,rdflib_format", [("text/turtle", "turtle"), ("application/ld+json", "json-ld"),
                                                  ("application/rdf+xml", "xml")])
def test_get_without_a_query_is_a_service_description(web, accept, rdflib_format):
    """GET /sparql without query: an sd:Service in Turtle, JSON-LD or RDF/XML by Accept."""
    resp = web.get("/sparql", headers={"Accept": accept})
    assert resp.status_code == 200 and resp.mimetype == accept
    g = sd_graph(resp, rdflib_format)
    svc = URIRef("http://localhost/sparql")
    assert (svc, RDF.type, SD.Service) in g and (svc, SD.endpoint, svc) in g
    assert (svc, SD.supportedLanguage, SD.SPARQL11Query) in g


def test_service_description_lists_every_result_format_and_the_union_feature(web):
    """sd:resultFormat for every row of the table; sd:UnionDefaultGraph; no federation unless allowed."""
    g = sd_graph(web.get("/sparql", headers={"Accept": "text/turtle"}), "turtle")
    svc = URIRef("http://localhost/sparql")
    assert {str(o) for o in g.objects(svc, SD.resultFormat)} == {f.iri for f in formats.FORMATS}
    assert (svc, SD.feature, SD.UnionDefaultGraph) in g
    assert (svc, SD.feature, SD.BasicFederatedQuery) not in g


def test_service_description_counts_triples_per_named_graph(web, fixture_build_dir):
    """sd:defaultDataset names each named graph with its void:triples, as the build's manifest counted them."""
    manifest = json.loads((fixture_build_dir / "current" / "manifest.json").read_text())
    g = sd_graph(web.get("/sparql", headers={"Accept": "text/turtle"}), "turtle")
    counts = {}
    for ng in g.objects(None, SD.namedGraph):
        counts[str(g.value(ng, SD.name))] = g.value(g.value(ng, SD.graph), VOID.triples)
    assert counts == {str(GRAPH[n]): Literal(c, datatype=XSD.integer) for n, c in manifest["triples"].items()}
    default = g.value(g.value(URIRef("http://localhost/sparql"), SD.defaultDataset), SD.defaultGraph)
    assert g.value(default, VOID.triples).toPython() >= max(manifest["triples"].values())


def test_service_description_names_federation_when_an_endpoint_is_allowed(fixture_build_dir):
    """With SERVICE_ALLOWLIST set, the description adds sd:BasicFederatedQuery."""
    app = make(fixture_build_dir, SERVICE_ALLOWLIST=["http://example.org/sparql"], QUERY_WORKERS=1)
    try:
        g = sd_graph(app.test_client().get("/sparql", headers={"Accept": "text/turtle"}), "turtle")
        assert (URIRef("http://localhost/sparql"), SD.feature, SD.BasicFederatedQuery) in g
    finally:
        sparql_web.close_app(app)


def test_service_description_is_cached_by_etag(web):
    """The description has an ETag from the build and 304s like answers do."""
    first = web.get("/sparql", headers={"Accept": "text/turtle"})
    again = web.get("/sparql", headers={"Accept": "text/turtle", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_a_browser_gets_the_query_ui(web):
    """GET /sparql with Accept text/html, in the full app, is the query UI page (it loads /ui/config.json)."""
    resp = web.get("/sparql", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert "ui.index" in web.application.view_functions and b"ui/config.json" in resp.data


def bare_app(build_dir, with_ui: bool) -> Flask:
    app = Flask(__name__)
    app.config.update({"BUILD_DIR": str(build_dir), "SERVICE_ALLOWLIST": [], "QUERY_WORKERS": 1,
                       "QUERY_TIMEOUT": 5, "ROW_LIMIT": 100})
    sparql_web.init_app(app)
    app.register_blueprint(sparql_web.bp)
    if with_ui:
        ui = Blueprint("ui", __name__)
        ui.add_url_rule("/", "index", lambda: "<p>the UI</p>")
        app.register_blueprint(ui)
    return app


def test_html_is_handed_to_the_ui_blueprints_index_view(fixture_build_dir):
    """The hook: when the app has a view named ui.index, /sparql calls it for a browser."""
    resp = bare_app(fixture_build_dir, with_ui=True).test_client().get("/sparql", headers={"Accept": "text/html"})
    assert resp.status_code == 200 and resp.data == b"<p>the UI</p>"


def test_without_the_ui_a_browser_gets_a_minimal_form(fixture_build_dir):
    """An app with only the sparql blueprint answers a browser with a plain HTML form posting query=."""
    resp = bare_app(fixture_build_dir, with_ui=False).test_client().get("/sparql", headers={"Accept": "text/html"})
    assert resp.status_code == 200 and b'<form method="post"' in resp.data and b'name="query"' in resp.data


def test_result_cache_answers_a_repeated_query_from_memory_and_empties_on_a_new_build(tmp_path):
    """A repeated query is answered from the per-process result cache with the same body; a new build empties it;
    RESULT_CACHE_BYTES=0 disables it."""
    from conftest import _close_app, fixture_graphs, make_build
    from gaistd_kg.web import create_app

    build_dir = make_build(tmp_path / "b", fixture_graphs())
    app = create_app({"BUILD_DIR": str(build_dir), "TESTING": True})
    off_app = create_app({"BUILD_DIR": str(build_dir), "TESTING": True, "RESULT_CACHE_BYTES": 0})
    try:
        _check_result_cache(app.test_client(), off_app.test_client(), build_dir)
    finally:
        _close_app(app)
        _close_app(off_app)


def _check_result_cache(client, off, build_dir):
    from conftest import fixture_graphs, make_build

    q = {"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}
    first = client.get("/sparql", query_string=q, headers={"Accept": "application/sparql-results+json"})
    again = client.get("/sparql", query_string=q, headers={"Accept": "application/sparql-results+json"})
    assert first.headers["X-GAISTD-Cache"] == "miss" and again.headers["X-GAISTD-Cache"] == "hit"
    assert first.get_data() == again.get_data()
    graphs = fixture_graphs()
    graphs["data"].parse(data="<https://example.org/new> <https://example.org/p> 1 .", format="turtle")
    make_build(build_dir, graphs, build_id="fixture-0002")
    fresh = client.get("/sparql", query_string=q, headers={"Accept": "application/sparql-results+json"})
    assert fresh.headers["X-GAISTD-Cache"] == "miss" and fresh.get_data() != first.get_data()
    for _ in range(2):
        assert off.get("/sparql", query_string=q).headers["X-GAISTD-Cache"] == "miss"


def test_kept_parses_and_negotiations_answer_as_fresh_ones(web):
    """The endpoint keeps the parse of query strings up to KEPT_PARSE_BYTES and what an Accept or Accept-Encoding value
    negotiates: a kept parse is a new list each time (a caller adding form fields changes no later request), a refusal
    is refused again, a text past the limit is parsed all the same, and the same Accept header sent twice (and after
    other values) chooses what it chose the first time."""
    from urllib.parse import quote

    first = sparql_web.request_params(b"query=ASK%7B%7D&format=json", "query string")
    first.append(("format", "xml"))
    assert sparql_web.request_params(b"query=ASK%7B%7D&format=json", "query string") == [
        ("query", "ASK{}"), ("format", "json")]
    for _ in range(2):
        with pytest.raises(sparql_web.ProtocolError, match="not UTF-8"):
            sparql_web.request_params(b"query=%FF", "query string")
    filler = "#" + "x" * sparql_web.KEPT_PARSE_BYTES + "\n"
    long = ("query=" + quote(filler + "ASK {}")).encode("ascii")
    assert len(long) > sparql_web.KEPT_PARSE_BYTES
    assert sparql_web.request_params(long, "query string") == [("query", filler + "ASK {}")]
    ask = "/sparql?query=" + quote("ASK { ?s ?p ?o }")
    for accept, expected in [("application/sparql-results+xml", "application/sparql-results+xml"),
                             ("text/csv;q=0.5, application/sparql-results+json", "application/sparql-results+json"),
                             ("application/sparql-results+xml", "application/sparql-results+xml"),
                             ("text/csv;q=0.5, application/sparql-results+json", "application/sparql-results+json")]:
        resp = web.get(ask, headers={"Accept": accept})
        assert resp.status_code == 200 and resp.mimetype == expected, (accept, resp.status_code, resp.mimetype)
    for _ in range(2):
        assert web.get(ask, headers={"Accept": "image/png"}).status_code == 406
    big = web.get("/sparql?query=" + quote("SELECT * { ?s ?p ?o }"), headers={"Accept-Encoding": "gzip"})
    assert big.headers.get("Content-Encoding") == "gzip" and big.headers["Vary"] == "Accept, Accept-Encoding"
    plain = web.get("/sparql?query=" + quote("SELECT * { ?s ?p ?o }"), headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in plain.headers
