"""The smaller findings of issue 15 (finding 8), each with the status and message the documentation promises:
a relative FROM under a ``file:`` BASE (400 naming the IRI), a JSON-LD body with ``@context`` twice (400 at the
pre-check), ``/explain`` with a literal property, a bad language tag or an invalid date (400 naming the problem),
an update with RDF 1.2 quoted triples (400 naming the feature), and gunicorn's own error pages (400, 414, 431)
with the Content-Security-Policy and ``nosniff`` of every other response (through ``gaistd_kg.web.gworker``).
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from conftest import http_call

TOKEN = "tok-inputs-8f7e6d5c4b3a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DOC = "gdoc:gb-t-45654-2025"


def test_relative_from_under_a_file_base_is_400_naming_the_iri(client):
    """``BASE <file:///etc/> … FROM <passwd>`` names file:///etc/passwd: 400 naming it, as for a written-out one."""
    for text in ("BASE <file:///etc/> SELECT * FROM <passwd> { ?s ?p ?o }",
                 "BASE <file:///etc/> SELECT * FROM NAMED <passwd> { GRAPH ?g { ?s ?p ?o } }"):
        resp = client.get("/sparql", query_string={"query": text})
        assert resp.status_code == 400 and b"<file:///etc/passwd>" in resp.data, resp.data


@pytest.mark.parametrize("p, o, problem", [
    ('"lit"', "gdoc:x", b"property must be an IRI"),
    ("dcterms:issued", '"2024"@en_US!', b"language tag"),
    ("dcterms:issued", '"2024-13-45"^^xsd:date', b"not a valid xsd:date"),
    ("dcterms:issued", '"2025-02-29"^^xsd:date', b"not a valid xsd:date"),
])
def test_explain_with_an_unreadable_term_is_400_naming_it(client, p, o, problem):
    """/explain and /explain.json: a literal property, a bad language tag, an invalid date are 400 saying which."""
    for path in ("/explain", "/explain.json"):
        resp = client.get(path, query_string={"s": DOC, "p": p, "o": o})
        assert resp.status_code == 400 and problem in resp.data, (path, resp.status_code, resp.data)


def test_explain_with_a_literal_subject_is_400(client):
    resp = client.get("/explain.json", query_string={"s": '"x"', "p": "a", "o": "gaistd:Standard"})
    assert resp.status_code == 400 and b"subject" in resp.data, resp.data


def test_explain_with_a_valid_date_still_answers(client):
    """The check refuses only what is not a date: a real one (29 February of a leap year) is explained as before."""
    resp = client.get("/explain.json", query_string={"s": DOC, "p": "dcterms:issued", "o": '"2024-02-29"^^xsd:date'})
    assert resp.status_code == 200 and resp.json["holds"] is False


@pytest.fixture(scope="module")
def write_server(fixture_build_dir, tmp_path_factory, live_server_factory):
    """Writes on, on a copy of the fixture build, with an empty shape set (the findings are about the pre-checks)."""
    import shutil

    build = tmp_path_factory.mktemp("inputs") / "build"
    shutil.copytree(fixture_build_dir, build, symlinks=True, ignore=shutil.ignore_patterns("run", "cache", ".lock"))
    empty = tmp_path_factory.mktemp("no-shapes")
    return live_server_factory(build, config={"UPDATES_ENABLED": "true", "UPDATE_TOKENS": {"t": TOKEN},
                                              "SHAPES_DIR": str(empty), "CHECKS_DIR": str(empty)})


@pytest.mark.server
@pytest.mark.parametrize("body", [
    b'{"@context": "http://127.0.0.1:9/ctx.jsonld", "@context": {}, "@id": "http://example.org/a", '
    b'"http://example.org/p": 1}',
    b'{"@context": {}, "@context": {"@import": "http://127.0.0.1:9/ctx.jsonld"}, "@id": "http://example.org/a"}',
    b'{"@graph": [{"@context": {}, "@context": "http://127.0.0.1:9/c", "@id": "http://example.org/a"}]}',
])
def test_json_ld_with_context_twice_is_400_at_the_precheck(write_server, body):
    """A second ``@context`` in one object (the JSON parser keeps one, a JSON-LD parser may read the other) is
    refused before any parser sees the body: 400 naming the key."""
    status, _, text = http_call(write_server.url, "POST", "/rdf-graph-store?default", body,
                                {"Content-Type": "application/ld+json", **AUTH})
    assert status == 400 and b"'@context' twice" in text, text


@pytest.mark.server
@pytest.mark.parametrize("update", [
    "INSERT DATA { << <http://example.org/a> <http://example.org/b> <http://example.org/c> >> "
    "<http://example.org/said> <http://example.org/d> }",
    "INSERT DATA { <http://example.org/a> <http://example.org/b> "
    "<<( <http://example.org/a> <http://example.org/b> <http://example.org/c> )>> }",
])
def test_update_with_rdf12_quoted_triples_is_400_naming_the_feature(write_server, update):
    status, _, text = http_call(write_server.url, "POST", "/sparql/update", update,
                                {"Content-Type": "application/sparql-update", **AUTH})
    assert status == 400 and b"RDF 1.2" in text, (status, text)


def raw(base: str, request: bytes) -> tuple[int, dict[str, str]]:
    """Send bytes as they are; (status, headers lower-cased) of gunicorn's answer."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
    return int(head[0].split()[1]), {k.lower(): v for k, v in headers.items()}


BAD_REQUESTS = {
    400: b"NOT A REQUEST LINE\r\n\r\n",
    414: b"GET /" + b"a" * 17000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # past the 16 KiB request line
    431: b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
}


@pytest.mark.server
@pytest.mark.parametrize("worker, args", [
    ("SyncWorker", ("--limit-request-line", "4094")), ("ThreadWorker", ("--threads", "2")),
], ids=["sync", "gthread"])
def test_gunicorn_error_pages_carry_csp_and_nosniff(fixture_build_dir, live_server_factory, worker, args):
    """gunicorn's own 400 (bad request line), 414 (request line too long) and 431 (a header too large) carry the
    Content-Security-Policy, nosniff and X-Frame-Options of the app's own responses, with either worker class."""
    server = live_server_factory(fixture_build_dir, extra_args=("-k", f"gaistd_kg.web.gworker.{worker}", *args))
    for expected, request in BAD_REQUESTS.items():
        status, headers = raw(server.url, request)
        assert status == expected, (expected, status, headers)
        assert "default-src 'self'" in headers.get("content-security-policy", ""), headers
        assert headers.get("x-content-type-options") == "nosniff" and headers.get("x-frame-options") == "DENY"
    status, headers = raw(server.url, b"GET /sparql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200 and list(headers).count("content-security-policy") == 1
