"""Real clients against the real server process (gunicorn, two workers, on loopback).

SPARQLWrapper and rdflib's SPARQLStore as a scientist would use them, raw HTTP for the protocol details, and the
deadline: a query past QUERY_TIMEOUT ends with 503 naming the limit while other queries are answered, and the killed
query worker is replaced without leaving a process behind (checked in /proc).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode
from xml.dom.minidom import Document

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import JSON, POST, TURTLE, XML, SPARQLWrapper

from conftest import DOC_IRI, http_call, make_build
from gaistd_kg.iris import GRAPH
from gaistd_kg.web import DEFAULTS

pytestmark = pytest.mark.server

LABELS = f"SELECT ?l WHERE {{ <{DOC_IRI}> <http://www.w3.org/2000/01/rdf-schema#label> ?l }} ORDER BY ?l"
CROSS = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def endpoint(base: str) -> str:
    return base + "/sparql"


def raw(base: str, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    """One request with http.client (no redirects, no decoding): (status, headers lower-cased, body)."""
    return http_call(base, method, path, body, headers, timeout=30)


def get(base: str, params: dict, headers: dict | None = None):
    return raw(base, "GET", "/sparql?" + urlencode(params), headers)


# --- SPARQLWrapper --------------------------------------------------------------------------------------------------

def test_sparqlwrapper_select_as_json(live_server):
    """SPARQLWrapper SELECT with JSON: the bindings it converts are the document's two labels."""
    sw = SPARQLWrapper(endpoint(live_server))
    sw.setQuery(LABELS)
    sw.setReturnFormat(JSON)
    res = sw.queryAndConvert()
    assert [b["l"]["value"] for b in res["results"]["bindings"]] == ["GB/T 45654-2025"] * 2
    assert {b["l"]["xml:lang"] for b in res["results"]["bindings"]} == {"en", "zh"}


def test_sparqlwrapper_select_as_xml_by_post(live_server):
    """SPARQLWrapper SELECT with XML, sent by POST (form-encoded): it parses the SPARQL XML results."""
    sw = SPARQLWrapper(endpoint(live_server))
    sw.setQuery(LABELS)
    sw.setReturnFormat(XML)
    sw.setMethod(POST)
    doc = sw.queryAndConvert()
    assert isinstance(doc, Document)
    assert [n.firstChild.data for n in doc.getElementsByTagName("literal")] == ["GB/T 45654-2025"] * 2


def test_sparqlwrapper_ask(live_server):
    """SPARQLWrapper ASK gives a boolean."""
    sw = SPARQLWrapper(endpoint(live_server))
    sw.setQuery(f"ASK {{ <{DOC_IRI}> a ?type }}")
    sw.setReturnFormat(JSON)
    assert sw.queryAndConvert()["boolean"] is True


# SPARQLWrapper 2.0 converts RDF/XML into an rdflib ConjunctiveGraph, which rdflib 7 deprecates: its warning, and only
# that one, is not ours to fix.
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
@pytest.mark.parametrize("fmt", [XML, TURTLE])
def test_sparqlwrapper_construct(live_server, fmt):
    """SPARQLWrapper CONSTRUCT as RDF/XML (converted to an rdflib Graph) and as Turtle."""
    sw = SPARQLWrapper(endpoint(live_server))
    sw.setQuery(f"CONSTRUCT WHERE {{ <{DOC_IRI}> ?p ?o }}")
    sw.setReturnFormat(fmt)
    res = sw.queryAndConvert()
    g = res if isinstance(res, Graph) else Graph().parse(data=res, format="turtle")
    assert (URIRef(DOC_IRI), RDFS.label, Literal("GB/T 45654-2025", lang="zh")) in g


# --- rdflib SPARQLStore ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST", "POST_FORM"])
def test_rdflib_sparqlstore_as_a_remote_graph(live_server, method):
    """rdflib's SPARQLStore reads the endpoint as a Graph: triple patterns, SELECT and CONSTRUCT, by each method."""
    g = Graph(store=SPARQLStore(query_endpoint=endpoint(live_server), method=method))
    assert (URIRef(DOC_IRI), RDFS.label, Literal("GB/T 45654-2025", lang="en")) in g
    labels = {str(row.l) for row in g.query(LABELS)}
    assert labels == {"GB/T 45654-2025"}
    constructed = g.query(f"CONSTRUCT {{ <{DOC_IRI}> ?p ?o }} WHERE {{ <{DOC_IRI}> ?p ?o }}").graph
    assert len(constructed) >= 8


def test_rdflib_sparqlstore_sees_the_named_graphs(live_server):
    """Through SPARQLStore, the four named graphs are the store's contexts, and a graph-scoped read stays inside it."""
    store = SPARQLStore(query_endpoint=endpoint(live_server))
    names = {str(c.identifier if hasattr(c, "identifier") else c) for c in store.contexts()}
    assert names == {str(GRAPH[n]) for n in ("ontology", "data", "inferred", "meta")}
    inferred = Graph(store=store, identifier=GRAPH["inferred"])
    assert {str(o) for o in inferred.objects(URIRef(DOC_IRI), None)} == {
        "https://w3id.org/gaistd/ontology#Standard", "https://w3id.org/gaistd/ontology#Document"}


# --- raw HTTP -------------------------------------------------------------------------------------------------------

def test_gzip_over_http(live_server):
    """Accept-Encoding: gzip through gunicorn gives Content-Encoding: gzip and the same answer once unpacked."""
    q = {"query": "SELECT * { ?s ?p ?o }"}
    _, plain_headers, plain = get(live_server, q)
    status, headers, body = get(live_server, q, {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip" and "content-encoding" not in plain_headers
    assert gzip.decompress(body) == plain


def test_etag_revalidation_over_http(live_server):
    """A client that repeats the ETag gets 304 Not Modified with no body (both gunicorn workers agree on it)."""
    status, headers, _ = get(live_server, {"query": LABELS})
    etag = headers["etag"]
    for _ in range(4):  # requests land on either worker
        status, headers, body = get(live_server, {"query": LABELS}, {"If-None-Match": etag})
        assert status == 304 and body == b"" and headers["etag"] == etag


def test_cors_preflight_over_http(live_server):
    """A browser on another origin may POST queries: the preflight allows it, the answer carries ACAO: *."""
    status, headers, _ = raw(live_server, "OPTIONS", "/sparql", {
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert status == 204 and headers["access-control-allow-origin"] == "*"
    assert "POST" in headers["access-control-allow-methods"] and headers["access-control-allow-headers"] == "content-type"
    status, headers, _ = raw(live_server, "POST", "/sparql", {"Origin": "https://example.org",
                                                              "Content-Type": "application/sparql-query"}, b"ASK {}")
    assert status == 200 and headers["access-control-allow-origin"] == "*"


def test_406_415_and_400_over_http(live_server):
    """Errors reach the client with their status and a message: 406 lists the offer, 415 the accepted body types,
    400 the parser's message."""
    status, _, body = get(live_server, {"query": LABELS}, {"Accept": "image/png"})
    assert status == 406 and b"application/sparql-results+json" in body
    status, _, body = raw(live_server, "POST", "/sparql", {"Content-Type": "text/plain"}, b"ASK {}")
    assert status == 415 and b"application/sparql-query" in body
    status, _, body = get(live_server, {"query": "SELECT * WHERE { ?s ?p }"})
    assert status == 400 and b"malformed query: error at 1:" in body


def test_urllib_raises_with_the_message_a_person_can_read(live_server):
    """A plain urllib client sees the status and the text of a refused query."""
    url = endpoint(live_server) + "?" + urlencode({"query": "SELECT * { SERVICE <http://example.org/> { ?s ?p ?o } }"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=30)
    assert err.value.code == 400 and b"SERVICE" in err.value.read()


@pytest.mark.alone  # timed
def test_a_huge_cross_product_is_capped_not_computed(live_server):
    """With the default ROW_LIMIT the three-pattern cross product is cut at the limit and returned before the default
    QUERY_TIMEOUT (computed whole, it runs for minutes and would end in a 503 at the deadline)."""
    start = time.monotonic()
    status, headers, body = get(live_server, {"query": CROSS})
    assert status == 200 and headers["x-gaistd-result-capped"] == "true"
    assert len(json.loads(body)["results"]["bindings"]) == int(headers["x-gaistd-row-limit"])
    assert time.monotonic() - start < DEFAULTS["QUERY_TIMEOUT"]


# --- the deadline, on a live server ---------------------------------------------------------------------------------

def proc_table() -> dict[int, tuple[int, str, str, int]]:
    """pid -> (ppid, comm, state, utime+stime in ticks) for every process visible in /proc."""
    table = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(d.name)] = (int(fields[1]), comm, fields[0], int(fields[11]) + int(fields[12]))
    return table


def query_workers(master: int) -> dict[int, list[int]]:
    """gunicorn worker pid -> its live query worker pids (processes named gaistd-query)."""
    table = proc_table()
    http_workers = [pid for pid, (ppid, *_rest) in table.items() if ppid == master]
    return {w: sorted(pid for pid, (ppid, comm, state, _) in table.items()
                      if ppid == w and comm == "gaistd-query" and state != "Z") for w in http_workers}


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory, live_server_factory):
    """A live server with QUERY_TIMEOUT=1 s on 300 triples, and ROW_LIMIT raised so the cap does not end CROSS early
    (27 million rows: minutes of work)."""
    data = b"".join(b"<http://example.org/s%d> <http://example.org/p%d> <http://example.org/o%d> .\n" % (i, i % 7, i)
                    for i in range(300))
    build = make_build(tmp_path_factory.mktemp("slow-build"), {"data": data}, build_id="slow-0001")
    return live_server_factory(build, config={"QUERY_TIMEOUT": SLOW_TIMEOUT, "QUERY_WORKERS": 2, "ROW_LIMIT": 100_000_000})


SLOW_TIMEOUT = 1  # seconds, slow_server's QUERY_TIMEOUT


@pytest.mark.alone  # timed, and it looks for orphaned query processes machine-wide
def test_a_query_past_the_deadline_is_stopped_and_its_worker_replaced(slow_server):
    """CROSS runs past QUERY_TIMEOUT=1: 503 naming the limit within the deadline plus slack; queries sent meanwhile
    are answered; afterwards every gunicorn worker has its QUERY_WORKERS query processes again, the killed one is
    gone, and no query process burns CPU."""
    base = slow_server.url
    deadline = time.monotonic() + 15
    while True:  # let both gunicorn workers start their pools
        threads = [threading.Thread(target=get, args=(base, {"query": "ASK {}"})) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        before = query_workers(slow_server.pid)
        if len(before) == 2 and all(len(v) == 2 for v in before.values()):
            break
        assert time.monotonic() < deadline, f"pools did not start: {before}"
        time.sleep(0.2)

    outcome: dict = {}

    def long_query():
        start = time.monotonic()
        outcome["status"], _, outcome["body"] = get(base, {"query": CROSS})
        outcome["elapsed"] = time.monotonic() - start

    slow = threading.Thread(target=long_query)
    slow.start()
    time.sleep(0.3)
    answered_meanwhile = []
    for _ in range(3):
        status, _, body = get(base, {"query": "ASK { ?s ?p ?o }"})
        answered_meanwhile.append((status, json.loads(body)["boolean"], slow.is_alive()))
    slow.join()
    assert answered_meanwhile == [(200, True, True)] * 3
    assert outcome["status"] == 503 and b"time limit of 1 s" in outcome["body"]
    assert outcome["elapsed"] < 5 * SLOW_TIMEOUT  # stopped at the deadline, with room for a busy machine

    settle = time.monotonic() + 3  # a replacement is named gaistd-query once its interpreter has started
    while True:
        after = query_workers(slow_server.pid)
        if set(after) == set(before) and all(len(v) == 2 for v in after.values()) or time.monotonic() > settle:
            break
        time.sleep(0.1)
    assert set(after) == set(before) and all(len(v) == 2 for v in after.values()), (before, after)
    gone = {p for v in before.values() for p in v} - {p for v in after.values() for p in v}
    assert len(gone) == 1
    table = proc_table()
    assert not any(pid in table and table[pid][2] != "Z" for pid in gone)

    # no query process anywhere still spends CPU on the stopped query (sampled over half a second)
    ours = [p for v in after.values() for p in v]
    first = proc_table()
    time.sleep(0.5)
    second = proc_table()
    busy = {p: second[p][3] - first[p][3] for p in ours if p in first and p in second}
    assert all(ticks < 10 for ticks in busy.values()), busy  # < 0.1 s of CPU at the usual 100 ticks/s
    orphans = [pid for pid, (ppid, comm, state, _) in second.items() if comm == "gaistd-query" and ppid == 1]
    assert not orphans


def test_stopping_the_server_stops_its_query_workers(tmp_path_factory, live_server_factory, fixture_build_dir):
    """SIGTERM to gunicorn: its workers close their pools; no query process outlives the server."""
    server = live_server_factory(fixture_build_dir, config={"QUERY_WORKERS": 2})
    get(server.url, {"query": "ASK {}"})
    workers = [p for v in query_workers(server.pid).values() for p in v]
    assert workers
    server.stop()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        table = proc_table()
        if not any(p in table and table[p][2] != "Z" for p in workers):
            break
        time.sleep(0.1)
    table = proc_table()
    assert not any(p in table and table[p][2] != "Z" for p in workers)
