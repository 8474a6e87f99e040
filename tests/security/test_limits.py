"""Bounded work, against the real server process: body size, requests per client, memory per query, hostile files.

Each limit is attacked on loopback and must answer with a status and a message naming the limit, quickly, without
the server doing (or reading) the work, and with the pool of query processes back at its size afterwards.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from conftest import http_call, make_build
from test_clients import proc_table, query_workers

pytestmark = pytest.mark.server

TOKEN = "tok-limits-0a9b8c7d6e5f"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMIT = 1 << 20
CROSS = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # 27 million rows on 300 triples
WORKERS = 3


call = http_call  # (base, method, path, body, headers, timeout)


def query(base: str, text: str, headers: dict | None = None):
    return call(base, "GET", "/sparql?" + urlencode({"query": text}),
                headers={"Accept": "application/sparql-results+json", **(headers or {})})


def rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, in kB."""
    table = proc_table()
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += [c for c, (ppid, *_r) in table.items() if ppid == p]
    total = 0
    for p in pids:
        try:
            total += int(next(line for line in Path(f"/proc/{p}/status").read_text().splitlines()
                              if line.startswith("VmRSS")).split()[1])
        except (OSError, StopIteration):
            pass
    return total


def pool_sizes(server) -> list[int]:
    return [len(v) for v in query_workers(server.pid).values()]


def wait_for_pools(server, size: int, seconds: float = 5) -> list[int]:
    deadline = time.monotonic() + seconds
    while True:
        sizes = pool_sizes(server)
        if (sizes and all(n == size for n in sizes)) or time.monotonic() > deadline:
            return sizes
        time.sleep(0.1)


@pytest.fixture(scope="module")
def slow_build(tmp_path_factory) -> Path:
    data = b"".join(b"<http://example.org/s%d> <http://example.org/p%d> <http://example.org/o%d> .\n" % (i, i % 7, i)
                    for i in range(300))
    return make_build(tmp_path_factory.mktemp("limits-build"), {"data": data}, build_id="limits-0001")


@pytest.fixture(scope="module")
def server(slow_build, live_server_factory):
    """One HTTP worker process with 8 threads (so one client can have several requests in flight), 3 query workers,
    QUERY_TIMEOUT 2 s, QUERY_MEMORY_LIMIT 256 MiB, at most 2 requests per client, writes enabled."""
    return live_server_factory(slow_build, workers=1, extra_args=("--threads", "8"), config={
        "QUERY_WORKERS": WORKERS, "QUERY_TIMEOUT": 2, "QUERY_MEMORY_LIMIT": 256, "MAX_CONCURRENT_PER_CLIENT": 2,
        "ROW_LIMIT": 100_000_000, "UPDATES_ENABLED": "true", "UPDATE_TOKENS": {"limits": TOKEN},
        "QUERY_MAX_BYTES": LIMIT})  # a query text may fill the whole body here (the default is a quarter of it)


# --- request size -----------------------------------------------------------------------------------------------------

def stream_until_answer(base: str, head: bytes, chunk: bytes, most: int = 64 << 20, seconds: float = 10):
    """Send ``head``, then ``chunk`` repeatedly while reading; stop at the first complete answer.
    Returns (seconds until the answer, bytes of body sent, the answer)."""
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname, url.port))
    sock.setblocking(False)
    start = time.monotonic()
    _send_all(sock, head)
    sent, answer = 0, b""
    try:
        while sent < most and time.monotonic() - start < seconds:
            try:
                sent += sock.send(chunk)
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                break  # the server stopped reading: read what it said
            try:
                data = sock.recv(1 << 16)
                if data:
                    answer += data
            except BlockingIOError:
                pass
            if b"\r\n\r\n" in answer and answer.rstrip().endswith(b")"):
                break
        sock.setblocking(True)
        sock.settimeout(2)
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b")"):
            try:
                data = sock.recv(1 << 16)
            except OSError:
                break
            if not data:
                break
            answer += data
        return time.monotonic() - start, sent, answer
    finally:
        sock.close()


def _send_all(sock: socket.socket, data: bytes) -> None:
    while data:
        try:
            n = sock.send(data)
            data = data[n:]
        except BlockingIOError:
            time.sleep(0.001)


@pytest.mark.alone  # timed
@pytest.mark.parametrize("method,path,media", [
    ("POST", "/sparql", "application/sparql-query"),
    ("POST", "/sparql/update", "application/sparql-update"),
    ("PUT", "/rdf-graph-store?default", "text/turtle"),
], ids=["query", "update", "graph-store"])
def test_a_1_gb_body_is_refused_at_once_naming_the_limit(server, method, path, media):
    """Content-Length: 1 GB, then a stream of bytes: the 413 naming MAX_CONTENT_LENGTH arrives within a second, after
    at most a few MB were sent (never the gigabyte), and the server answers the next request."""
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {media}\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Length: {1 << 30}\r\n\r\n").encode()
    elapsed, sent, answer = stream_until_answer(server.url, head, b"x" * (1 << 16))
    print(f"{method} {path}: 413 after {elapsed * 1000:.0f} ms, {sent >> 10} KiB of the body sent")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert f"the limit is {LIMIT} bytes (MAX_CONTENT_LENGTH)".encode() in answer
    assert elapsed < 1.0 and sent < 16 << 20, (elapsed, sent)
    assert query(server.url, "ASK {}")[0] == 200


def test_a_chunked_body_past_the_limit_is_refused_not_cut(server):
    """A chunked upload (no Content-Length) of 1.5 MB of valid Turtle: 413, and none of it is stored (Werkzeug
    alone would read the first megabyte and the server would store half an upload). A small chunked upload works."""
    line = b"<http://example.org/chunked> <http://example.org/n> %d .\n"
    body = b"".join(line % i for i in range(30000))
    assert len(body) > 1.4 * LIMIT

    def chunked(data: bytes) -> bytes:
        return b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 8192]), data[i:i + 8192])
                        for i in range(0, len(data), 8192)) + b"0\r\n\r\n"

    head = (b"POST /rdf-graph-store?default HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/turtle\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    _, _, answer = stream_until_answer(server.url, head + chunked(body), b"", most=0)
    assert answer.startswith(b"HTTP/1.1 413") and b"MAX_CONTENT_LENGTH" in answer, answer[:300]
    assert not json.loads(query(server.url, "ASK { <http://example.org/chunked> ?p ?o }")[2])["boolean"]
    _, _, answer = stream_until_answer(server.url, head + chunked(b"".join(line % i for i in range(3))), b"", most=0)
    assert answer.startswith(b"HTTP/1.1 204"), answer[:300]
    assert json.loads(query(server.url, "ASK { <http://example.org/chunked> ?p 2 }")[2])["boolean"]


def test_a_body_of_exactly_the_limit_is_read(server):
    """The limit is inclusive: a query padded to exactly MAX_CONTENT_LENGTH bytes is answered."""
    text = "ASK {}" + " " * (LIMIT - 6)
    status, _, body = call(server.url, "POST", "/sparql", text, {"Content-Type": "application/sparql-query",
                                                                  "Accept": "application/sparql-results+json"})
    assert status == 200 and json.loads(body)["boolean"] is True


# --- requests per client ----------------------------------------------------------------------------------------------

def run_slow(base: str, results: list, headers: dict | None = None) -> threading.Thread:
    t = threading.Thread(target=lambda: results.append(query(base, CROSS, headers)[0]))
    t.start()
    return t


def test_requests_past_the_per_client_cap_get_429_with_retry_after(server):
    """Two slow queries from 127.0.0.1 fill MAX_CONCURRENT_PER_CLIENT=2: the third request is 429 with Retry-After
    and a message naming the setting, with or without a forged X-Forwarded-For (no proxy is trusted here). When the
    slow ones end (503 at the deadline), the client is served again."""
    slow: list[int] = []
    threads = [run_slow(server.url, slow) for _ in range(2)]
    time.sleep(0.5)
    status, headers, body = query(server.url, "ASK {}")
    forged = query(server.url, "ASK {}", {"X-Forwarded-For": "10.9.9.9"})
    for t in threads:
        t.join()
    assert status == 429 and headers["retry-after"] == "1" and b"MAX_CONCURRENT_PER_CLIENT" in body
    assert forged[0] == 429
    assert slow == [503, 503]
    assert query(server.url, "ASK {}")[0] == 200


def test_behind_a_trusted_proxy_the_forwarded_address_counts(slow_build, live_server_factory):
    """With TRUSTED_PROXIES=127.0.0.1 and a cap of 1: the right-most X-Forwarded-For address that is not a trusted
    proxy is the client. 10.0.0.1 with a slow query running gets 429; 10.0.0.2 is served; a client prepending a forged
    address ("10.0.0.2, 10.0.0.1" as the proxy appends) is still 10.0.0.1."""
    proxied = live_server_factory(slow_build, workers=1, extra_args=("--threads", "8"), config={
        "QUERY_WORKERS": 3, "QUERY_TIMEOUT": 2, "MAX_CONCURRENT_PER_CLIENT": 1, "ROW_LIMIT": 100_000_000,
        "TRUSTED_PROXIES": ["127.0.0.1/32"]})
    slow: list[int] = []
    t = run_slow(proxied.url, slow, {"X-Forwarded-For": "10.0.0.1"})
    time.sleep(0.5)
    same = query(proxied.url, "ASK {}", {"X-Forwarded-For": "10.0.0.1"})
    other = query(proxied.url, "ASK {}", {"X-Forwarded-For": "10.0.0.2"})
    forged = query(proxied.url, "ASK {}", {"X-Forwarded-For": "10.0.0.2, 10.0.0.1"})
    t.join()
    assert (same[0], other[0], forged[0]) == (429, 200, 429)
    assert b"10.0.0.1" in same[2]


# --- memory and depth -------------------------------------------------------------------------------------------------

def test_a_query_needing_too_much_memory_is_stopped_naming_the_limit(server):
    """Sorting 27 million rows needs gigabytes: the query worker hits QUERY_MEMORY_LIMIT (256 MiB) well before the
    deadline, the answer is 503 naming the limit, and the pool is back at its size, answering."""
    assert query(server.url, "ASK {}")[0] == 200
    assert wait_for_pools(server, WORKERS) == [WORKERS]
    start = time.monotonic()
    status, _, body = query(server.url, CROSS + " ORDER BY ?c ?f ?i")
    elapsed = time.monotonic() - start
    print(f"memory: {status} after {elapsed * 1000:.0f} ms: {body.decode().strip()}")
    assert status == 503 and b"QUERY_MEMORY_LIMIT" in body and b"256 MiB" in body, body
    assert elapsed < 2.0
    assert wait_for_pools(server, WORKERS) == [WORKERS]
    assert query(server.url, "ASK { ?s ?p ?o }")[0] == 200


@pytest.mark.parametrize("text,status,says", [
    ("SELECT * " + "{" * 5000 + "}" * 5000, 400, b"nested 5000 levels"),
    ("SELECT * { FILTER(" + "!" * 20000 + "true) }", 400, b"nested"),
    # a lexer reads "<((((1>" as an IRI, Oxigraph as "less than" and 100,000 parentheses
    ("SELECT * { BIND(1 AS ?a) FILTER(?a<" + "(" * 100000 + "1>0" + ")" * 100000 + ") }", 400, b"nested 100002"),
    ("SELECT * { FILTER(" + "+".join(["1"] * 20000) + " > 0) }", 503, b"QUERY_TIMEOUT"),
    ("SELECT * { " + " UNION ".join(["{}"] * 20000) + " }", 503, b"QUERY_TIMEOUT"),
], ids=["nested-groups", "unary-run", "nesting-hidden-in-an-iri", "operator-chain", "union-chain"])
def test_deep_or_long_queries_never_crash_a_worker(server, text, status, says):
    """Oxigraph recurses per level: 5,000 nested groups or 20,000 chained operators overflow an 8 MB stack. Nesting is
    refused up front (400); chains run on the engine thread's large stack until the deadline (503). No worker dies."""
    status_got, _, body = call(server.url, "POST", "/sparql", text, {"Content-Type": "application/sparql-query"})
    assert status_got == status and says in body, body[:200]
    assert b"died" not in body
    assert wait_for_pools(server, WORKERS) == [WORKERS]
    assert "overflowed its stack" not in server.log_text()


# --- hostile files ----------------------------------------------------------------------------------------------------

def billion_laughs(levels: int = 10) -> str:
    ents = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, levels)]
    return ('<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n' + "\n".join(ents) + "\n]>\n"
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">'
            f'<rdf:Description rdf:about="http://example.org/lol"><ex:p>&lol{levels - 1};</ex:p>'
            "</rdf:Description></rdf:RDF>")


@pytest.mark.parametrize("name,media,body,says", [
    ("billion-laughs", "application/rdf+xml", billion_laughs(), b"RDF/XML"),
    ("nested-json-ld", "application/ld+json", '{"@id": "http://example.org/a", "http://example.org/p": '
     + '{"http://example.org/p": ' * 40000 + "1" + "}" * 40001, b"JSON-LD"),
    ("nested-json-arrays", "application/ld+json", "[" * 400000 + "]" * 400000, b"JSON-LD"),
], ids=["billion-laughs", "nested-json-ld", "nested-json-arrays"])
def test_hostile_files_are_refused_quickly_with_bounded_memory(server, name, media, body, says):
    """A billion-laughs RDF/XML document (10^9 expansions of "lol") and JSON-LD nested 40,000 deep (or 400,000
    arrays) are refused (400, naming the format's problem) in well under a second, and the server's processes grow by
    less than 64 MB."""
    before = rss_kb(server.pid)
    start = time.monotonic()
    status, _, answer = call(server.url, "POST", "/rdf-graph-store?default", body, {"Content-Type": media, **AUTH})
    elapsed = time.monotonic() - start
    grown = rss_kb(server.pid) - before
    print(f"{name}: {status} in {elapsed * 1000:.0f} ms, server memory {grown:+d} kB")
    assert status == 400 and says in answer, answer[:200]
    assert elapsed < 1.0
    assert grown < 64 << 10
    assert not json.loads(query(server.url, "ASK { <http://example.org/lol> ?p ?o }")[2])["boolean"]


def test_deeply_nested_turtle_is_stored_or_refused_never_a_server_error(server):
    """Turtle nesting 20,000 blank nodes deep parses (Oxigraph's Turtle reader is iterative); what the write path does
    with it (validation, reasoning) ends in an answer, not a 500, and not a dead worker."""
    text = "<http://example.org/deep> <http://example.org/p> " + "[ <http://example.org/p> " * 20000 + "1" \
        + " ]" * 20000 + " ."
    status, _, body = call(server.url, "POST", "/rdf-graph-store?default", text,
                           {"Content-Type": "text/turtle", **AUTH})
    assert status in (204, 400, 422, 503) and b"incident" not in body, (status, body[:300])
    assert wait_for_pools(server, WORKERS) == [WORKERS]
