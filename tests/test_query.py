"""gaistd_kg.query: the safety rules of running SPARQL on the store, one test per rule (the rule in the docstring).

Queries run in the real worker pool on the fixture build; "no outbound request" is checked with a real HTTP listener
on loopback that counts what reaches it.
"""

from __future__ import annotations

import csv
import http.server
import io
import json
import os
import statistics
import threading
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gaistd_kg import formats
from gaistd_kg import query
from gaistd_kg.query import pool as querypool
from gaistd_kg.iris import GRAPH, PREFIXES
from gaistd_kg.query.engine import Dataset, QueryInfo, check_query, inspect

from conftest import DOC_IRI

GAISTD = "https://w3id.org/gaistd/ontology#"
DATA, ONTOLOGY, INFERRED = (str(GRAPH[n]) for n in ("data", "ontology", "inferred"))
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n ?o }"


# --- fixtures -------------------------------------------------------------------------------------------------------

class Listener:
    """An HTTP server on loopback that records every request and answers with empty SPARQL JSON results."""

    def __init__(self):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                hits.append(self.path)
                body = b'{"head":{"vars":[]},"results":{"bindings":[{}]}}'
                self.send_response(200)
                self.send_header("Content-Type", "application/sparql-results+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def listener():
    srv = Listener()
    yield srv
    srv.close()


def store_dir(build_dir: Path) -> str:
    return str((build_dir / "current").resolve() / "oxigraph")


@pytest.fixture(scope="module")
def pool(fixture_build_dir):
    p = querypool.QueryPool(store_dir(fixture_build_dir), size=2, timeout=10, row_limit=1000, prefixes=PREFIXES).start()
    yield p
    p.close()


def rows(result) -> list[dict]:
    return json.loads(result.body)["results"]["bindings"]


def ask(pool, text, dataset=None) -> bool:
    return json.loads(pool.run(text, "json", dataset).body)["boolean"]


def proc_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# --- reading the query ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,form", [
    ("SELECT * { ?s ?p ?o }", "SELECT"),
    ("PREFIX ex: <http://ex/> BASE <http://b/> ask { ?s ?p ?o }", "ASK"),
    ("CONSTRUCT WHERE { ?s ?p ?o }", "CONSTRUCT"),
    ("# a comment\nDESCRIBE <http://ex/a>", "DESCRIBE"),
    ("SELECT*{}", "SELECT"),
])
def test_query_form_is_read_after_the_prologue(text, form):
    """The form (and so the kind of result formats to offer) is known before the query runs."""
    info = inspect(text)
    assert info.form == form
    assert info.kind == (formats.GRAPH if form in ("CONSTRUCT", "DESCRIBE") else formats.TABULAR)


@pytest.mark.parametrize("text", [
    "INSERT DATA { <http://a> <http://b> <http://c> }",
    "PREFIX ex: <http://ex/> DELETE WHERE { ?s ex:p ?o }",
    "CLEAR ALL", "LOAD <http://example.org/data.ttl>", "DROP GRAPH <http://g>",
    "WITH <http://g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
])
def test_updates_are_refused_naming_the_feature(text):
    """SPARQL Update never runs here; the error says it is an update (and which operation)."""
    with pytest.raises(query.QueryRefused) as err:
        check_query(text)
    assert err.value.feature == "update"
    assert "SPARQL Update" in str(err.value)


def test_service_is_refused_unless_its_endpoint_is_allow_listed():
    """SERVICE <x> runs only when x is in SERVICE_ALLOWLIST; the refusal names SERVICE and the endpoint."""
    text = "SELECT * { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"
    with pytest.raises(query.QueryRefused) as err:
        check_query(text)
    assert err.value.feature == "SERVICE" and "http://example.org/sparql" in str(err.value)
    assert check_query(text, ["http://example.org/sparql"]).services == ("http://example.org/sparql",)
    with pytest.raises(query.QueryRefused):
        check_query(text, ["http://example.org/sparql2"])


BYPASS_SPELLINGS = [
    # each is a spelling Oxigraph 0.5 runs as SERVICE (checked against a live listener below)
    "SELECT * {{ SERVICE <{u}/a> {{}} }}",
    "SELECT * {{ service SILENT<{u}/b>{{}} }}",
    "SELECT * {{ SeRvIcE#comment\n<{u}/c> {{}} }}",
    "PREFIX : <{u}/d> SELECT * {{ SERVICE:{{}} }}",
    "PREFIX : <{u}/e> SELECT * {{ SERVICE:x {{}} }}",
    "PREFIX : <{u}/f> SELECT * {{ ?s ?p trueSERVICE:x {{}} }}",
    "SELECT * {{ ?s ?p falseSERVICE<{u}/g> {{}} }}",
    "PREFIX : <{u}/> SELECT * {{ SERVICESILENT:h {{}} }}",
    "PREFIX : <{u}/> SELECT * {{ SERVICE SILENT:i {{}} }}",
    "BASE <{u}/> SELECT * {{ SERVICE <j> {{}} }}",
    "SELECT * {{ SERVICE <{u}/\\u006b> {{}} }}",
    "PREFIX p: <{u}/> SELECT * {{ {{}} UNION {{ SERVICE p:\\~l {{}} }} }}",
]


@pytest.mark.parametrize("template", BYPASS_SPELLINGS)
def test_every_service_spelling_oxigraph_runs_is_refused(template, listener):
    """Oxigraph reads keywords without word boundaries (SERVICE:x, trueSERVICE); the check refuses them all.

    The same text run on a bare pyoxigraph store does reach the listener: the check is what stops it.
    """
    text = template.format(u=listener.url)
    before = len(listener.hits)
    try:
        list(ox.Store().query(text))
    except OSError:
        pass
    assert len(listener.hits) == before + 1, "the engine itself would have made the request"
    with pytest.raises(query.QueryRefused) as err:
        check_query(text, ["http://example.org/allowed"])
    assert err.value.feature == "SERVICE"


@pytest.mark.parametrize("template", [
    "PREFIX : <{u}/> SELECT * {{ BIND(1 AS ?x) FILTER(?x<?x)SERVICE:t#>\n {{}} }}",
    "SELECT * {{ BIND(<{u}/> AS ?e) SERVICE ?e {{}} }}",
])
def test_service_endpoints_the_reading_cannot_resolve_are_refused(template, listener):
    """A variable endpoint, or a SERVICE a lexer could mistake for part of an IRI, is refused, never guessed."""
    with pytest.raises(query.QueryRefused):
        check_query(template.format(u=listener.url), [listener.url + "/"])


@pytest.mark.parametrize("text", [
    "PREFIX sd: <http://www.w3.org/ns/sparql-service-description#> SELECT * { ?s a sd:Service }",
    "SELECT * { ?s ?p 'SERVICE <http://x/> {}' } # SERVICE <http://y/> {}",
    'SELECT * { ?s ?p """multi\nSERVICE <http://x/> {}""" }',
    "PREFIX ex: <http://x/> SELECT ?service { ?service ex:SERVICE <http://x/service> }",
    "PREFIX dcat: <http://www.w3.org/ns/dcat#> SELECT * { ?s a dcat:DataService }",
])
def test_the_word_service_in_strings_comments_iris_and_names_is_not_refused(text):
    """Only the SERVICE keyword is refused; labels, IRIs and names that contain the word are ordinary queries."""
    assert check_query(text).services == ()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text())
def test_reading_never_fails_and_literals_never_trigger_a_refusal(text):
    """Any text can be read; any string inside a literal (term-serialised) is data, never a refused feature."""
    inspect(text)
    literal = str(ox.Literal(text))
    assert check_query(f"SELECT * {{ ?s ?p ?o FILTER(?o != {literal}) }}").services == ()


# --- the worker sandbox -----------------------------------------------------------------------------------------------

def test_workers_cannot_reach_the_network_when_no_service_is_allowed(pool, listener):
    """With an empty allow-list, workers run under a seccomp filter: even a SERVICE that slipped past the check fails."""
    assert pool.sandboxed()
    before = len(listener.hits)
    unchecked = QueryInfo(form="SELECT")  # skip check_query on purpose
    with pytest.raises(query.QueryError):
        pool.run(f"SELECT * {{ SERVICE <{listener.url}/x> {{ ?s ?p ?o }} }}", "json", info=unchecked)
    assert len(listener.hits) == before


def test_an_allow_listed_service_endpoint_is_queried(fixture_build_dir, listener):
    """An operator-allowed endpoint is reached (and the worker is then not sandboxed: it needs the network)."""
    allowed = listener.url + "/sparql"
    p = querypool.QueryPool(store_dir(fixture_build_dir), size=1, service_allowlist=[allowed])
    try:
        before = len(listener.hits)
        result = p.run(f"SELECT * {{ SERVICE <{allowed}> {{ ?s ?p ?o }} }}", "json")
        assert len(listener.hits) == before + 1 and result.count == 1
        assert not p.sandboxed()
    finally:
        p.close()


# --- the dataset -----------------------------------------------------------------------------------------------------

def test_default_graph_is_the_union_of_the_named_graphs(pool):
    """Without a dataset, asserted (data) and inferred triples are both in the default graph."""
    assert ask(pool, f"ASK {{ <{DOC_IRI}> a <{GAISTD}NationalStandard>, <{GAISTD}Document> }}")


def test_protocol_default_graphs_replace_the_union(pool):
    """default-graph-uri=data: the default graph is the data graph only (no inferred triple), no named graphs."""
    ds = Dataset(default_graphs=(DATA,))
    assert ask(pool, f"ASK {{ <{DOC_IRI}> a <{GAISTD}NationalStandard> }}", ds)
    assert not ask(pool, f"ASK {{ <{DOC_IRI}> a <{GAISTD}Document> }}", ds)
    assert not ask(pool, "ASK { GRAPH ?g { ?s ?p ?o } }", ds)


def test_protocol_named_graphs_only_leave_the_default_graph_empty(pool):
    """named-graph-uri=inferred alone: GRAPH sees only that graph, and the default graph is empty."""
    ds = Dataset(named_graphs=(INFERRED,))
    assert ask(pool, f"ASK {{ GRAPH <{INFERRED}> {{ <{DOC_IRI}> a <{GAISTD}Document> }} }}", ds)
    assert not ask(pool, f"ASK {{ GRAPH <{DATA}> {{ ?s ?p ?o }} }}", ds)
    assert not ask(pool, "ASK { ?s ?p ?o }", ds)


def test_from_selects_graphs_of_the_store(pool):
    """FROM / FROM NAMED in the query pick graphs of the store (and switch the union off)."""
    assert ask(pool, f"ASK FROM <{DATA}> {{ <{DOC_IRI}> ?p ?o }}")
    assert not ask(pool, f"ASK FROM <{ONTOLOGY}> {{ <{DOC_IRI}> ?p ?o }}")
    assert ask(pool, f"ASK FROM NAMED <{DATA}> {{ GRAPH ?g {{ <{DOC_IRI}> ?p ?o }} }}")
    assert not ask(pool, f"ASK FROM NAMED <{DATA}> {{ <{DOC_IRI}> ?p ?o }}")


def test_protocol_dataset_overrides_from(pool):
    """When both are given, the protocol's dataset wins over FROM (SPARQL 1.1 Protocol, 2.1.4)."""
    ds = Dataset(default_graphs=(ONTOLOGY,))
    assert not ask(pool, f"ASK FROM <{DATA}> {{ <{DOC_IRI}> ?p ?o }}", ds)


def test_from_never_fetches_anything(pool, listener):
    """FROM <http://…> names a graph of the store; no request leaves the server, and the graph is just empty."""
    before = len(listener.hits)
    result = pool.run(f"SELECT * FROM <{listener.url}/data.ttl> {{ ?s ?p ?o }}", "json")
    assert rows(result) == [] and len(listener.hits) == before


# --- the row cap ------------------------------------------------------------------------------------------------------

def test_select_is_capped_at_the_row_limit_and_says_so(pool):
    """More rows than the limit: exactly `limit` rows come back, `capped` is set and SPARQL JSON says so in head.link."""
    result = pool.run("SELECT * { ?s ?p ?o }", "json", row_limit=5)
    doc = json.loads(result.body)
    assert result.capped and result.count == 5 and len(doc["results"]["bindings"]) == 5
    assert doc["head"]["link"] == [query.CAP_LINK.format(limit=5)]


def test_an_answer_of_exactly_the_limit_is_not_capped(pool):
    """Capping needs one row more than the limit: an answer that fits is whole and unmarked."""
    total = pool.run("SELECT * { ?s ?p ?o }", "json").count
    result = pool.run("SELECT * { ?s ?p ?o }", "json", row_limit=total)
    assert not result.capped and result.count == total and "link" not in json.loads(result.body)["head"]


def test_capped_sparql_xml_carries_a_head_link(pool):
    """SPARQL XML: the cap is a <link> in <head>, after the variables, as the results schema allows."""
    body = pool.run("SELECT * { ?s ?p ?o }", "xml", row_limit=2).body
    assert b'<link href="tag:w3id.org,2025:gaistd/result-capped?limit=2"/></head>' in body
    assert len(list(ox.parse_query_results(body, format=ox.QueryResultsFormat.XML))) == 2


def test_construct_is_capped_in_triples_with_a_comment(pool):
    """CONSTRUCT/DESCRIBE count triples; Turtle gets a leading comment naming the limit."""
    result = pool.run("CONSTRUCT WHERE { ?s ?p ?o }", "ttl", row_limit=4)
    assert result.capped and result.count == 4
    assert result.body.startswith(b"# result capped at 4")
    assert len(list(ox.parse(result.body, format=ox.RdfFormat.TURTLE))) == 4


@pytest.mark.alone  # timed
def test_the_cap_stops_the_work(pool):
    """A huge answer is not computed past the cap: a cross product of five patterns returns at once."""
    start = time.monotonic()
    result = pool.run("SELECT * { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n ?o }", "json", row_limit=100)
    assert result.capped and time.monotonic() - start < pool.timeout  # computed whole, it would hit the deadline


# --- formats --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", formats.names(formats.TABULAR))
def test_select_answers_are_written_in_every_tabular_format(pool, name):
    """Each tabular row of the table produces a body its own reader accepts, with the same rows."""
    result = pool.run(f"SELECT ?l WHERE {{ <{DOC_IRI}> <http://www.w3.org/2000/01/rdf-schema#label> ?l }}", name)
    assert result.format == name and result.count == 2
    f = formats.BY_NAME[name]
    if name == "csv":
        assert list(csv.reader(io.StringIO(result.body.decode())))[0] == ["l"]
    elif name == "html":
        assert b"<table" in result.body and b"GB/T 45654-2025" in result.body
    else:
        assert len(list(ox.parse_query_results(result.body, format=f.ox))) == 2


@pytest.mark.parametrize("name", formats.names(formats.GRAPH))
def test_construct_answers_are_written_in_every_graph_format(pool, name):
    """Each graph row of the table produces a body pyoxigraph parses back to the same triples."""
    text = f"CONSTRUCT WHERE {{ <{DOC_IRI}> ?p ?o }}"
    result = pool.run(text, name)
    assert result.format == name and result.form == "CONSTRUCT"
    assert len(list(ox.parse(result.body, format=formats.BY_NAME[name].ox))) == result.count > 5


def test_ask_answers_in_tabular_formats(pool):
    """ASK gives a boolean in SPARQL JSON and XML (and CSV/TSV/HTML)."""
    assert json.loads(pool.run("ASK { ?s ?p ?o }", "json").body) == {"head": {}, "boolean": True}
    assert b"<boolean>true</boolean>" in pool.run("ASK { ?s ?p ?o }", "xml").body
    assert b"true" in pool.run("ASK { ?s ?p ?o }", "html").body


def test_a_format_of_the_wrong_kind_falls_back_to_the_kinds_default(pool):
    """Asking Turtle for a SELECT (or JSON for a CONSTRUCT) yields the default of the right kind, never an error."""
    assert pool.run("SELECT * { ?s ?p ?o } LIMIT 1", "ttl").format == "json"
    assert pool.run("CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1", "json").format == "ttl"


def test_relative_iris_resolve_against_the_base_iri(pool):
    """A query with relative IRIs resolves them against the base the caller gives (the endpoint's URL)."""
    result = pool.run("CONSTRUCT { <s> <p> 1 } WHERE {}", "nt", base_iri="http://127.0.0.1:8000/sparql")
    assert result.body.startswith(b"<http://127.0.0.1:8000/s> <http://127.0.0.1:8000/p>")


def test_turtle_declares_only_the_prefixes_it_uses(pool):
    """Graph answers use our prefixes (PREFIXES), but only those their IRIs need."""
    body = pool.run(f"CONSTRUCT WHERE {{ <{DOC_IRI}> a ?t }}", "ttl").body.decode()
    assert "@prefix gdoc: <https://w3id.org/gaistd/id/document/>" in body and "gdoc:gb-t-45654-2025" in body
    assert "@prefix dpv:" not in body


# --- errors ---------------------------------------------------------------------------------------------------------

def test_syntax_errors_carry_pyoxigraphs_message_and_position(pool):
    """A malformed query is a QuerySyntaxError with Oxigraph's own message and its line and column."""
    with pytest.raises(query.QuerySyntaxError) as err:
        pool.run("SELECT * WHERE {\n  ?s ?p }")
    assert err.value.line == 2 and err.value.column in (9, 10)  # at, or just past, the "}" that ends too early
    assert "expected" in str(err.value) and f"2:{err.value.column}" in str(err.value)


# --- the deadline ---------------------------------------------------------------------------------------------------

@pytest.mark.alone  # timed
def test_a_query_past_its_deadline_is_killed_and_its_worker_replaced(fixture_build_dir):
    """Past QUERY_TIMEOUT the worker process is killed (its CPU freed), a new one takes its place, the error names
    the limit, and the pool answers again at once."""
    p = querypool.QueryPool(store_dir(fixture_build_dir), size=1, timeout=1).start()
    try:
        p.run("ASK {}")
        (old,) = p.pids()
        start = time.monotonic()
        with pytest.raises(query.QueryTimeout) as err:
            p.run(HEAVY)
        elapsed = time.monotonic() - start
        assert err.value.limit == 1 and "time limit of 1 s" in str(err.value)
        assert 1 <= elapsed < 4 * 1  # killed at the deadline (1 s), not left to run; room for a busy machine
        assert not proc_alive(old)
        (new,) = p.pids()
        assert new != old
        assert json.loads(p.run("ASK { ?s ?p ?o }").body)["boolean"] is True
    finally:
        p.close()


@pytest.mark.alone  # timed
def test_other_queries_are_answered_while_one_runs_long(fixture_build_dir):
    """One slow query holds one worker; the other workers keep answering meanwhile."""
    timeout = 3.0
    p = querypool.QueryPool(store_dir(fixture_build_dir), size=2, timeout=timeout).start()
    try:
        p.run("ASK {}")
        errors: list[Exception] = []
        slow = threading.Thread(target=lambda: errors.append(pytest.raises(query.QueryTimeout, p.run, HEAVY).value))
        slow.start()
        time.sleep(0.2)
        start = time.monotonic()
        for _ in range(5):
            assert json.loads(p.run("ASK { ?s ?p ?o }").body)["boolean"]
        # answered while the slow query still runs, not after its deadline freed a worker
        assert time.monotonic() - start < timeout / 2 and slow.is_alive()
        slow.join()
        assert isinstance(errors[0], query.QueryTimeout)
        assert len(p.pids()) == 2
    finally:
        p.close()


# --- the pool's life ------------------------------------------------------------------------------------------------

def test_a_pool_inherited_through_fork_starts_its_own_workers(pool):
    """After fork (gunicorn --preload), the child never talks to its parent's workers: it starts its own, and when
    the child dies its workers notice and exit."""
    parent_workers = set(pool.pids())
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: answer through the pipe, then leave without cleanup
        try:
            os.close(r)
            result = pool.run("ASK { ?s ?p ?o }")
            os.write(w, json.dumps({"pids": pool.pids(), "body": result.body.decode()}).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        report = json.loads(f.read())
    os.waitpid(pid, 0)
    assert json.loads(report["body"])["boolean"] is True
    assert report["pids"] and not set(report["pids"]) & parent_workers
    deadline = time.monotonic() + 3
    while any(proc_alive(p) for p in report["pids"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(proc_alive(p) for p in report["pids"]), "orphaned workers must exit"
    assert set(pool.pids()) == parent_workers and ask(pool, "ASK { ?s ?p ?o }")


def test_close_stops_every_worker(fixture_build_dir):
    """close() ends the worker processes; a closed pool refuses work instead of hanging."""
    p = querypool.QueryPool(store_dir(fixture_build_dir), size=2).start()
    p.run("ASK {}")
    pids = p.pids()
    p.close()
    assert not any(proc_alive(x) for x in pids)
    with pytest.raises(query.QueryUnavailable):
        p.run("ASK {}")


def test_a_missing_store_is_reported_as_unavailable(tmp_path):
    """A worker that cannot open the store reports why; the pool raises QueryUnavailable."""
    p = querypool.QueryPool(str(tmp_path / "nothing-here"), size=1, startup_timeout=20)
    try:
        with pytest.raises(query.QueryUnavailable, match="cannot open the store"):
            p.run("ASK {}")
    finally:
        p.close()


def test_the_pool_answers_as_pyoxigraph_does_and_its_overhead_is_printed(pool, fixture_build_dir):
    """A small query through a worker answers exactly as pyoxigraph in this process does. What the round trip costs
    is printed, not asserted (bench/overhead.py measures it beside the HTTP floor; typically 0.05–0.5 ms)."""
    store = ox.Store.read_only(store_dir(fixture_build_dir))
    text = "SELECT ?s ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l } LIMIT 3"
    for _ in range(50):
        pool.run(text, "json")
    direct, pooled = [], []
    for _ in range(300):
        t0 = time.perf_counter()
        store.query(text, use_default_graph_as_union=True).serialize(format=ox.QueryResultsFormat.JSON)
        t1 = time.perf_counter()
        pool.run(text, "json")
        t2 = time.perf_counter()
        direct.append(t1 - t0)
        pooled.append(t2 - t1)
    overhead = statistics.median(pooled) - statistics.median(direct)
    print(f"in-process median {statistics.median(direct) * 1e6:.0f} µs, through the pool "
          f"{statistics.median(pooled) * 1e6:.0f} µs: overhead {overhead * 1e6:.0f} µs")
    want = store.query(text, use_default_graph_as_union=True).serialize(format=ox.QueryResultsFormat.JSON)
    assert pool.run(text, "json").body == want


def test_the_pool_is_reachable_from_the_query_module():
    """query.QueryPool is querypool.QueryPool: callers of the safety rules need one import."""
    assert query.QueryPool is querypool.QueryPool and query.pool_for_build is querypool.pool_for_build
