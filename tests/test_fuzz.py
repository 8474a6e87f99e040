"""Robustness: over 10,000 generated and mutated requests against the real server; none gets a 5xx, none hangs past
the deadline, no process dies. The one 5xx that is an answer, not a failure: a query that runs past the deadline is
stopped and answered 503 saying so (as Fuseki does); a mutated competency question can be that expensive (a deleted
join leaves a cross product to sort). Those are counted apart, allowed only at /sparql, and at most 1 in 100.

Two generators, both driven by Hypothesis:

* **schemathesis**, from the app's own OpenAPI description (``/openapi.json``, built here from the app so the
  operations are known at collection): valid requests for every operation (positive mode) and requests that break the
  description (negative mode: wrong types, missing and extra parameters, malformed bodies), writes with a token;
* **Hypothesis strategies of our own** for what a schema cannot express: SPARQL text (token soup with every keyword
  spelling and hostile IRI we refuse, and the competency questions mutated), IRIs and percent-encodings in resource
  URLs, arbitrary header values (Accept, Content-Type, charset, conditional and proxy headers) and methods, and request
  bodies for every write format.

Every response is recorded; a module fixture checks the totals after whichever tests ran, and the last test checks the
whole module's (10,000 requests) and that the server is as it was: the same HTTP workers
(none crashed or was restarted), every query pool at its size, no query process orphaned, nothing in the log that says
a process died. Requests a client library refuses to send (a header with a newline) do not count.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis import strategies as st

from conftest import copy_build, fixture_graphs, make_build
from gaistd_kg.iris import KINDS, ROOT
from gaistd_kg.web import create_app, openapi
from test_clients import proc_table, query_workers

pytestmark = [pytest.mark.server, pytest.mark.slow]

TOKEN = "tok-fuzz-3c2b1a0f9e8d"
QUERY_TIMEOUT = 2.0
QUERY_WORKERS = 2
HTTP_WORKERS = 2
HANG = QUERY_TIMEOUT + 3.0  # an answer later than this is a hang
FAST = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))

with create_app({"BUILD_DIR": str(ROOT / "no-such-build")}).test_request_context("/"):
    SCHEMA = schemathesis.openapi.from_dict(openapi.document())
OPERATIONS = [r.ok() for r in SCHEMA.get_all_operations()]
WRITES = {"PUT", "POST", "DELETE"}


@dataclass
class Stats:
    sent: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    deadlines: list[str] = field(default_factory=list)
    slowest: float = 0.0
    unsendable: int = 0

    def record(self, what: str, status: int, elapsed: float, body: bytes = b"") -> None:
        self.sent += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1
        self.slowest = max(self.slowest, elapsed)
        if stopped_at_deadline(what, status, body):
            self.deadlines.append(f"{what[:300]}")
        elif status >= 500:
            self.server_errors.append(f"{status} {what[:300]}: {body[:300]!r}")


DEADLINE_ANSWER = b"query stopped: it ran past the time limit"


def stopped_at_deadline(what: str, status: int, body: bytes) -> bool:
    """A query at /sparql stopped at the deadline, answered 503 with the reason: the server working, not failing."""
    return status == 503 and body.startswith(DEADLINE_ANSWER) and "/sparql" in what.split("?", 1)[0]


def not_a_server_error(what: str, status: int, body: bytes) -> bool:
    return status < 500 or stopped_at_deadline(what, status, body)


STATS = Stats()


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory, live_server_factory, real_build_dir):
    """The real server on a real build of the shipped data (the pages, the report and the endpoint all have what they
    expect to find; a copy of the session's build): reads are fuzzed here."""
    build_dir = copy_build(real_build_dir, tmp_path_factory.mktemp("fuzz-build") / "build")
    return _started(live_server_factory(build_dir, workers=HTTP_WORKERS, extra_args=("--threads", "4"), config={
        "QUERY_TIMEOUT": QUERY_TIMEOUT, "QUERY_WORKERS": QUERY_WORKERS, "MAX_CONCURRENT_PER_CLIENT": 8}))


@pytest.fixture(scope="module")
def fuzz_writes(tmp_path_factory, live_server_factory):
    """Writes are fuzzed on a server of their own, with a token, on the small fixture build: an accepted write may
    replace the data graph, and every write runs validation and reasoning (fast on little data)."""
    build_dir = make_build(tmp_path_factory.mktemp("fuzz-writes-build"), fixture_graphs())
    return _started(live_server_factory(build_dir, workers=HTTP_WORKERS, extra_args=("--threads", "4"), config={
        "QUERY_TIMEOUT": QUERY_TIMEOUT, "QUERY_WORKERS": QUERY_WORKERS, "UPDATES_ENABLED": "true",
        "UPDATE_TOKENS": {"fuzzer": TOKEN}, "MAX_CONCURRENT_PER_CLIENT": 8}))


SERVERS: list = []


def _started(server):
    server.http_workers = sorted(pid for pid, (ppid, *_r) in proc_table().items() if ppid == server.pid)
    SERVERS.append(server)
    return server


class Raw:
    """Requests with http.client, keep-alive, bytes as given (no client-side normalisation)."""

    def __init__(self, base: str):
        url = urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=HANG + 5)

    def send(self, method: str, path: str, headers: dict | None = None, body: bytes | None = None) -> None:
        start = time.monotonic()
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            resp = self.conn.getresponse()
            data = resp.read()
        except (UnicodeEncodeError, ValueError) as exc:  # http.client refuses to send it: not a request
            if isinstance(exc, http.client.HTTPException):
                raise
            STATS.unsendable += 1
            self.conn.close()
            return
        finally:
            elapsed = time.monotonic() - start
        if resp.will_close:
            self.conn.close()
        STATS.record(f"{method} {path} {headers}", resp.status, elapsed, data)
        assert not_a_server_error(f"{method} {path}", resp.status, data), (method, path, headers,
                                                                            body[:200] if body else None, data[:300])
        assert elapsed < HANG, (method, path, elapsed)


@pytest.fixture(scope="module")
def raw(fuzz):
    client = Raw(fuzz.url)
    yield client
    client.conn.close()


@pytest.fixture(scope="module")
def raw_writes(fuzz_writes):
    client = Raw(fuzz_writes.url)
    yield client
    client.conn.close()


@pytest.fixture(scope="module")
def session():
    with requests.Session() as s:
        yield s


# --- schemathesis, from /openapi.json ---------------------------------------------------------------------------------

def _label(op) -> str:
    return f"{op.method.upper()} {op.path}"


@pytest.mark.parametrize("op", OPERATIONS, ids=[_label(op) for op in OPERATIONS])
@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
def test_schemathesis_requests_never_get_a_server_error(op, mode, request, session):
    """Generated from the OpenAPI description: every answer is below 500 and comes before the deadline. Writes (with
    the token) go to the writes server, everything else to the server on the shipped data."""
    has_input = bool(op.path_parameters or op.query or op.headers or op.body)
    if mode == schemathesis.GenerationMode.NEGATIVE and not has_input:
        pytest.skip("nothing to break: the operation takes no input")
    writing = op.method.upper() in WRITES and op.path != "/sparql"
    fuzz = request.getfixturevalue("fuzz_writes" if writing else "fuzz")
    auth = {"Authorization": f"Bearer {TOKEN}"} if writing else {}

    @settings(FAST, max_examples=160 if has_input else 1)
    @given(case=op.as_strategy(mode))
    def run(case):
        start = time.monotonic()
        try:
            resp = case.call(base_url=fuzz.url, session=session, headers=auth, timeout=HANG + 5)
        except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError, ValueError):
            STATS.unsendable += 1
            return
        elapsed = time.monotonic() - start
        STATS.record(f"{_label(op)} {case.path_parameters} {case.query} {str(case.body)[:100]}", resp.status_code,
                     elapsed, resp.content)
        assert not_a_server_error(_label(op), resp.status_code, resp.content), (case.as_curl_command(),
                                                                                 resp.status_code, resp.content[:300])
        assert elapsed < HANG, (case.as_curl_command(), elapsed)

    try:
        run()
    except Unsatisfiable:
        pytest.skip(f"schemathesis finds no way to break {_label(op)}'s description that a client could send")


# --- SPARQL text ------------------------------------------------------------------------------------------------------

CQ_TEXTS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "queries").glob("cq*.rq"))]
PIECES = [
    "SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "WHERE", "FROM", "FROM NAMED", "GRAPH", "SERVICE", "SERVICE SILENT",
    "LOAD", "INSERT DATA", "DELETE WHERE", "CLEAR ALL", "DROP", "WITH", "USING", "OPTIONAL", "UNION", "MINUS", "FILTER",
    "BIND", "VALUES", "GROUP BY", "ORDER BY", "LIMIT", "OFFSET", "HAVING", "DISTINCT", "REDUCED", "COUNT(*)", "AS",
    "REGEX(?o, \"(a+)+$\")", "STR(?s)", "LANG(?o)", "{", "}", "(", ")", "[", "]", ".", ";", ",", "*", "/", "|", "^",
    "+", "?", "!", "&&", "||", "=", "<", ">", "?s", "?p", "?o", "$x", "_:b", "a", "1", "1.5e3", "\"x\"", "'y'@en",
    "\"\"\"long\"\"\"", "\"2020-01-01\"^^<http://www.w3.org/2001/XMLSchema#date>", "<http://127.0.0.1:9/x>",
    "<file:///etc/passwd>", "<https://w3id.org/gaistd/graph/data>", "<javascript:alert(1)>", "PREFIX ex: <http://e/>",
    "ex:p", "BASE <http://127.0.0.1:9/>", "SERVICE:x", "trueSERVICE", "# comment\n", "\\u0053", "\x00", "\u202e",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "(<http://p>|^<http://p>)*", "<http://p>+", "!<http://p>", "NOT EXISTS", "EXISTS", "IN (1, 2)",
]
SPARQL = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=40).map(" ".join),
    st.text(max_size=300),
    st.builds(lambda q, cut, junk, where: q[:where] + junk + q[where + cut:],
              st.sampled_from(CQ_TEXTS), st.integers(0, 50), st.sampled_from(PIECES + ["", "}}}}", "{{{{"]),
              st.integers(0, 3000)),
)
ACCEPTS = st.sampled_from([None, "*/*", "application/sparql-results+json", "application/sparql-results+xml",
                           "text/csv", "text/tab-separated-values", "text/html", "text/turtle", "application/ld+json",
                           "application/rdf+xml", "application/n-triples", "image/png", "text/*;q=0.1, */*;q=0",
                           "application/json;q=abc", ";;;", "text/turtle; charset=latin-1"])


@settings(FAST, max_examples=2200)
@given(text=SPARQL, transport=st.sampled_from(["GET", "form", "direct"]), accept=ACCEPTS,
       fmt=st.one_of(st.none(), st.sampled_from(["json", "xml", "csv", "tsv", "html", "ttl", "jsonld", "nt", "rdf",
                                                  "turtle", "n3", "bogus", ""])),
       graphs=st.lists(st.sampled_from(["https://w3id.org/gaistd/graph/data", "http://127.0.0.1:9/g", "not an iri",
                                        "file:///etc/passwd", "urn:x", ""]), max_size=2))
def test_fuzzed_sparql_queries_never_get_a_server_error(raw, text, transport, accept, fmt, graphs):
    """Token soup, free text and mutated competency questions, by GET, form POST and direct POST, with any format,
    Accept and protocol dataset: answers below 500, before the deadline."""
    params = [("default-graph-uri", g) for g in graphs] + ([("format", fmt)] if fmt is not None else [])
    headers = {"Accept": accept} if accept else {}
    if transport == "GET":
        raw.send("GET", "/sparql?" + urlencode([("query", text), *params]), headers)
    elif transport == "form":
        raw.send("POST", "/sparql", {**headers, "Content-Type": "application/x-www-form-urlencoded"},
                 urlencode([("query", text), *params]).encode())
    else:
        raw.send("POST", "/sparql?" + urlencode(params), {**headers, "Content-Type": "application/sparql-query"},
                 text.encode("utf-8", "surrogatepass"))


# --- IRIs in resource URLs -----------------------------------------------------------------------------------------

SEGMENT = st.one_of(st.text(max_size=60), st.sampled_from(["..", ".", "%", "%00", "%2F", "%ZZ", "a.ttl", "x.html",
                                                            "<script>", "gb-t-45654-2025", "'\"", "\\", "~"]))


@settings(FAST, max_examples=2200)
@given(prefix=st.sampled_from([*(f"/id/{k}/" for k in KINDS), "/graph/", "/ontology.", "/dumps/", "/", "/report/",
                               "/rdf-graph-store/", "/explain?s=", "/explain.json?p=", "/rdf-graph-store?graph=",
                               "/sparql?default-graph-uri=", "/static/", "/id/"]),
       segments=st.lists(SEGMENT, min_size=1, max_size=4), safe=st.sampled_from(["", "/", "/%", ":/?#[]@!$&'()*+,;="]),
       accept=ACCEPTS, method=st.sampled_from(["GET", "GET", "HEAD"]))
def test_fuzzed_iris_in_urls_never_get_a_server_error(raw, prefix, segments, safe, accept, method):
    """Any text (unicode, percent signs, dot segments, markup) as the IRI part of a URL, raw or percent-encoded."""
    path = prefix + "/".join(quote(s.encode("utf-8", "surrogatepass"), safe=safe) for s in segments)
    raw.send(method, path, {"Accept": accept} if accept else {})


# --- headers and methods ----------------------------------------------------------------------------------------------

HEADER_VALUE = st.one_of(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
                         st.sampled_from(["", "*", "gzip;q=0", "W/\"x\"", "Thu, 01 Jan 1970 00:00:00 GMT", "bytes=0-1",
                                          "bytes=-1", "bytes=9999999-", "application/sparql-query; charset=utf-16",
                                          "text/turtle;charset=utf-8", "multipart/form-data; boundary=x",
                                          "Bearer " + TOKEN, "Bearer", "Basic Zm9vOmJhcg==", "1.2.3.4, ::1, nonsense",
                                          "chunked", "zh-CN,zh;q=0.9", "en;q=x"]))
HEADER_NAMES = st.sampled_from(["Accept", "Accept-Encoding", "Accept-Language", "If-None-Match", "If-Modified-Since",
                                "Range", "Content-Type", "Authorization", "X-Forwarded-For", "Origin",
                                "Access-Control-Request-Method", "Access-Control-Request-Headers", "Cookie"])


@settings(FAST, max_examples=1800)
@given(method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PROPFIND", "TRACE"]),
       path=st.sampled_from(["/", "/sparql", "/sparql?query=ASK%20%7B%7D", "/sparql/update", "/rdf-graph-store?default",
                             "/rdf-graph-store", "/id/document/gb-t-45654-2025", "/graph/data", "/dumps/full.ttl",
                             "/.well-known/void", "/ontology", "/context.jsonld", "/ui/config.json", "/openapi.json",
                             "/report", "/static/css/site.css"]),
       headers=st.dictionaries(HEADER_NAMES, HEADER_VALUE, max_size=5),
       body=st.one_of(st.none(), st.binary(max_size=200), st.sampled_from([b"query=ASK%20%7B%7D", b"update=CLEAR%20ALL",
                                                                          b"ASK {}", b"CLEAR ALL"])))
def test_fuzzed_headers_and_methods_never_get_a_server_error(raw, method, path, headers, body):
    """Any method on any route with arbitrary Accept, Content-Type, conditional, range, auth and proxy headers."""
    raw.send(method, path, headers, body)


# --- write bodies -----------------------------------------------------------------------------------------------------

RDF_ISH = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.lists(st.sampled_from(["<http://example.org/s>", "<http://example.org/p>", "\"o\"", "_:b", "[", "]", "(", ")",
                              ".", ";", ",", "@prefix ex: <http://example.org/> .", "ex:s", "a", "1", "<!DOCTYPE x>",
                              "<!ENTITY e \"x\">", "{", "}", "\"@context\":", "\"http://127.0.0.1:9/c\"", "@base <x>",
                              "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">", "</rdf:RDF>"]),
             max_size=30).map(lambda parts: " ".join(parts).encode()),
)


@settings(FAST, max_examples=900)
@given(where=st.sampled_from(["/rdf-graph-store?default", "/rdf-graph-store?graph=http%3A%2F%2Fexample.org%2Fg",
                              "/rdf-graph-store?graph=https%3A%2F%2Fw3id.org%2Fgaistd%2Fgraph%2Finferred",
                              "/rdf-graph-store/some/graph", "/sparql/update"]),
       method=st.sampled_from(["POST", "PUT"]),
       media=st.sampled_from(["text/turtle", "application/n-triples", "application/rdf+xml", "application/ld+json",
                              "application/sparql-update", "application/x-www-form-urlencoded", "text/plain",
                              "multipart/form-data; boundary=b", "text/turtle; charset=utf-16"]),
       body=RDF_ISH, token=st.sampled_from([TOKEN, TOKEN, "wrong"]))
def test_fuzzed_write_bodies_never_get_a_server_error(raw_writes, where, method, media, body, token):
    """Arbitrary bytes and RDF-like fragments in every write format, with a valid or a wrong token."""
    if where == "/sparql/update":
        method = "POST"
    raw_writes.send(method, where, {"Content-Type": media, "Authorization": f"Bearer {token}"}, body)


# --- the totals, and the server afterwards ---------------------------------------------------------------------------

def check_totals(min_sent: int, pools_started: bool) -> None:
    """What every response recorded so far must add up to, and each server afterwards: at least ``min_sent`` requests,
    none answered 5xx (but for queries stopped at the deadline, at most 1 in 100), none slower than the deadline plus
    slack; on each server the HTTP workers are the ones that started (none crashed or was restarted), each query pool
    is at its size (and, with ``pools_started``, at least one started), no query process is orphaned, and the log
    records no dead process."""
    summary = (f"{STATS.sent} requests ({STATS.unsendable} unsendable), statuses "
               f"{json.dumps(dict(sorted(STATS.by_status.items())))}, slowest {STATS.slowest:.2f} s, "
               f"{len(STATS.deadlines)} queries stopped at the deadline")
    print(summary)
    assert STATS.server_errors == [], STATS.server_errors[:5]
    assert STATS.sent >= min_sent, summary
    assert len(STATS.deadlines) <= STATS.sent // 100, (summary, STATS.deadlines[:5])
    assert STATS.slowest < HANG, summary
    for server in SERVERS:
        workers = sorted(pid for pid, (ppid, *_r) in proc_table().items() if ppid == server.pid)
        assert workers == server.http_workers, "an HTTP worker was restarted"
        deadline = time.monotonic() + 5
        while True:
            pools = query_workers(server.pid)
            # a pool starts on its HTTP worker's first query: none yet is fine, fewer than its size is not
            if all(len(v) in (0, QUERY_WORKERS) for v in pools.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert all(len(v) in (0, QUERY_WORKERS) for v in pools.values()), pools
        assert any(pools.values()) or not pools_started, "no query pool ever started"
        log = server.log_text()
        for sign in ("WORKER TIMEOUT", "Traceback", "overflowed its stack", "Segmentation", "died while answering",
                     "exited while starting"):
            assert sign not in log, sign
    assert not [pid for pid, (ppid, comm, state, _) in proc_table().items() if comm == "gaistd-query" and ppid == 1]


@pytest.fixture(scope="module", autouse=True)
def totals():
    """The totals are checked after whichever tests of this module ran (one test, a ``-k`` subset or all): every
    response and every server as check_totals says. Only what needs the whole module (10,000 requests, a query pool
    started on each server) is left to the test below."""
    yield
    if STATS.sent:
        check_totals(min_sent=1, pools_started=False)


def test_more_than_10000_requests_no_5xx_no_hang_no_dead_process():
    """Over the whole module: at least 10,000 requests sent, none answered 5xx (but for queries stopped at the
    deadline, at most 1 in 100), none slower than the deadline plus slack; on each server the HTTP workers are the
    ones that started (none crashed or was restarted), each query pool is at its size, no query process is orphaned,
    and the log records no dead process."""
    if STATS.sent == 0:
        pytest.skip("run the whole module: this test checks what the others sent (any subset: the totals fixture)")
    check_totals(min_sent=10000, pools_started=True)
