"""Nothing reaches out: no request makes the server contact another host or read a local file.

The real server (gunicorn, its HTTP worker, its query worker) runs under ``strace -f``, which records every
``open``/``openat``/``connect`` of every process it starts. A canary TCP listener on 127.0.0.1 and a canary file wait.
Every attack is sent (queries by GET, form POST and direct POST; updates; Graph Store uploads): SERVICE in each
spelling, FROM / FROM NAMED and the protocol dataset naming the listener or the file, LOAD, JSON-LD remote contexts,
RDF/XML external entities and DTDs. Then: the listener saw no connection, strace saw no ``connect`` to its port, and
no system call of any process named the canary file. Each refusal is a 4XX whose body names what was refused.

Two controls show the evidence can fail: the same strace sees the server open a static file it serves, and, on a
server where an operator allow-lists the listener as a SERVICE endpoint, sees the connection (which then ends at
SERVICE_TIMEOUT, as configured).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from conftest import fixture_graphs, make_build

pytestmark = pytest.mark.server

TOKEN = "tok-outbound-5e1f0a7c9b"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TRACED = ("open", "openat", "openat2", "connect")


def require_strace() -> str:
    found = shutil.which("strace")
    if found is None:
        message = "strace is needed for the system-call evidence: apt-get install strace"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


class Listener:
    """A TCP listener on loopback that records every connection and never answers (a SERVICE call to it hangs)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections: list[tuple[str, int]] = []
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, addr = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections.append(addr)
            self.held.append(conn)

    def close(self):
        self._stop.set()
        self._thread.join()
        for c in self.held:
            c.close()
        self.sock.close()


def call(base: str, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None):
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request(method, path, body=body.encode() if isinstance(body, str) else body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def start_traced(factory, build_dir: Path, trace: Path, config: dict):
    strace = require_strace()
    return factory(build_dir, config=config, workers=1,
                   prefix=(strace, "-f", "-qq", "-e", "trace=" + ",".join(TRACED), "-o", str(trace)))


def stop_traced(server) -> None:
    """strace blocks fatal signals while it runs a command: stop gunicorn itself, and strace ends with it."""
    for line in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split():
        os.kill(int(line), signal.SIGTERM)
    server.proc.wait(timeout=30)


def attacks(listener: str, canary: str) -> list[tuple[str, str, str, dict, bytes | str | None, int, str]]:
    """(name, method, path, headers, body, expected status, text the answer must contain)."""
    file_iri = Path(canary).as_uri()
    out = []
    queries = {
        "service": (f"SELECT * {{ SERVICE <{listener}/sparql> {{ ?s ?p ?o }} }}", 400, "SERVICE"),
        "service-silent": (f"SELECT * {{ SERVICE SILENT <{listener}/sparql> {{ ?s ?p ?o }} }}", 400, "SERVICE"),
        "service-pname": (f"PREFIX : <{listener}/> SELECT * {{ SERVICE:x {{ ?s ?p ?o }} }}", 400, "SERVICE"),
        "service-base": (f"BASE <{listener}/> SELECT * {{ SERVICE <sparql> {{ ?s ?p ?o }} }}", 400, "SERVICE"),
        "service-variable": (f"SELECT * {{ BIND(<{listener}/> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}", 400, "SERVICE"),
        "service-file": (f"SELECT * {{ SERVICE <{file_iri}> {{ ?s ?p ?o }} }}", 400, "SERVICE"),
        "from-url": (f"SELECT * FROM <{listener}/g.ttl> {{ ?s ?p ?o }}", 200, '"bindings":[]'),
        "from-named-url": (f"SELECT * FROM NAMED <{listener}/g.ttl> {{ GRAPH ?g {{ ?s ?p ?o }} }}", 200,
                           '"bindings":[]'),
        "from-file": (f"SELECT * FROM <{file_iri}> {{ ?s ?p ?o }}", 400, "FROM <file:"),
        "from-named-file": (f"SELECT * FROM NAMED <{file_iri}> {{ ?s ?p ?o }}", 400, "FROM <file:"),
        "describe-url": (f"DESCRIBE <{listener}/thing>", 200, ""),
    }
    for name, (text, status, says) in queries.items():
        accept = {"Accept": "text/turtle" if text.startswith("DESCRIBE") else "application/sparql-results+json"}
        out.append((f"GET {name}", "GET", "/sparql?" + urlencode({"query": text}), accept, None, status, says))
        out.append((f"POST-form {name}", "POST", "/sparql", {**accept, "Content-Type":
                    "application/x-www-form-urlencoded"}, urlencode({"query": text}), status, says))
        out.append((f"POST-direct {name}", "POST", "/sparql", {**accept, "Content-Type": "application/sparql-query"},
                    text, status, says))
    for param in ("default-graph-uri", "named-graph-uri"):
        for target, status, says in ((f"{listener}/g", 200, '"boolean"'), (file_iri, 400, f"{param} <file:")):
            out.append((f"GET {param}={target[:4]}", "GET", "/sparql?" + urlencode({"query": "ASK {}",
                        param: target}), {"Accept": "application/sparql-results+json"}, None, status, says))
    updates = {
        "load": (f"LOAD <{listener}/data.ttl>", 400, "LOAD"),
        "load-silent-into": (f"LOAD SILENT <{listener}/d.ttl> INTO GRAPH <https://w3id.org/gaistd/graph/data>", 400,
                             "LOAD"),
        "load-file": (f"LOAD <{file_iri}>", 400, "LOAD"),
        "load-pname": (f"PREFIX l: <{listener}/> LOAD l:data", 400, "LOAD"),
        "load-glued": (f"PREFIX LOAD: <{listener}/> LOAD:x", 400, "LOAD"),
        "service-in-where": (f"INSERT {{ ?s ?p ?o }} WHERE {{ SERVICE <{listener}/s> {{ ?s ?p ?o }} }}", 400,
                             "SERVICE"),
    }
    for name, (text, status, says) in updates.items():
        out.append((f"update {name}", "POST", "/sparql/update", {**AUTH, "Content-Type": "application/sparql-update"},
                    text, status, says))
        out.append((f"update-form {name}", "POST", "/sparql/update", {
            **AUTH, "Content-Type": "application/x-www-form-urlencoded"}, urlencode({"update": text}), status, says))
    harmless = "INSERT { ?s ?p ?o } WHERE { ?s ?p ?o FILTER(false) }"
    out.append(("update using-graph-uri=file", "POST", "/sparql/update?" + urlencode({"using-graph-uri": file_iri}),
                {**AUTH, "Content-Type": "application/sparql-update"}, harmless, 400, "file:"))
    out.append(("update using-graph-uri=url", "POST", "/sparql/update?" + urlencode(
        {"using-graph-uri": f"{listener}/g"}), {**AUTH, "Content-Type": "application/sparql-update"}, harmless, 200,
        "nothing changed"))
    jsonld = {
        "context-url": {"@context": f"{listener}/context.jsonld", "@id": "http://example.org/a", "name": "x"},
        "context-list": {"@context": [f"{listener}/context.jsonld"], "@id": "http://example.org/a"},
        "context-import": {"@context": {"@import": f"{listener}/c.jsonld"}, "@id": "http://example.org/a"},
        "context-file": {"@context": file_iri, "@id": "http://example.org/a"},
        "context-nested": {"@graph": [{"@context": f"{listener}/c.jsonld", "@id": "http://example.org/a"}]},
        "context-scoped": {"@context": {"p": {"@id": "http://example.org/p", "@context": f"{listener}/c"}},
                           "@id": "http://example.org/a", "p": {"@id": "http://example.org/b"}},
    }
    for name, doc in jsonld.items():
        for method in ("PUT", "POST"):
            out.append((f"{method} json-ld {name}", method, "/rdf-graph-store?default",
                        {**AUTH, "Content-Type": "application/ld+json"}, json.dumps(doc), 400, "JSON-LD"))
    ns = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/"'
    rdfxml = {
        "entity-file": f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [ <!ENTITY x SYSTEM "{file_iri}"> ]>\n'
                       f'<rdf:RDF {ns}><rdf:Description rdf:about="http://example.org/a"><ex:p>&x;</ex:p>'
                       '</rdf:Description></rdf:RDF>',
        "entity-url": f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [ <!ENTITY x SYSTEM "{listener}/e"> ]>\n'
                      f'<rdf:RDF {ns}><rdf:Description rdf:about="http://example.org/a"><ex:p>&x;</ex:p>'
                      '</rdf:Description></rdf:RDF>',
        "external-dtd": f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF SYSTEM "{listener}/rdf.dtd">\n'
                        f'<rdf:RDF {ns}/>',
        "parameter-entity": f'<?xml version="1.0"?>\n<!DOCTYPE r [ <!ENTITY % p SYSTEM "{file_iri}"> %p; ]>\n'
                            f'<rdf:RDF {ns}/>',
        "lowercase-doctype": f'<?xml version="1.0"?>\n<!doctype rdf:RDF SYSTEM "{listener}/x.dtd">\n<rdf:RDF {ns}/>',
    }
    for name, doc in rdfxml.items():
        out.append((f"POST rdf/xml {name}", "POST", "/rdf-graph-store?default",
                    {**AUTH, "Content-Type": "application/rdf+xml"}, doc, 400, "RDF/XML"))
    out.append(("POST rdf/xml utf-16 entity", "POST", "/rdf-graph-store?default",
                {**AUTH, "Content-Type": "application/rdf+xml"}, rdfxml["entity-file"].encode("utf-16"), 400,
                "UTF-8"))
    boundary = "b0undary"
    multipart = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.jsonld\"\r\n"
                 "Content-Type: application/ld+json\r\n\r\n"
                 + json.dumps(jsonld["context-url"]) + f"\r\n--{boundary}--\r\n")
    out.append(("POST multipart json-ld context-url", "POST", "/rdf-graph-store?default",
                {**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"}, multipart, 400, "JSON-LD"))
    return out


@pytest.fixture(scope="module")
def canary(tmp_path_factory):
    folder = tmp_path_factory.mktemp("canary")
    path = folder / f"canary-{os.getpid()}-secret.ttl"
    path.write_text("<http://example.org/canary> <http://example.org/p> <http://example.org/o> .\n")
    listener = Listener()
    yield listener, path
    listener.close()


@pytest.fixture(scope="module")
def traced(canary, tmp_path_factory, live_server_factory):
    build_dir = make_build(tmp_path_factory.mktemp("traced-build"), fixture_graphs())
    trace = tmp_path_factory.mktemp("trace") / "strace.log"
    server = start_traced(live_server_factory, build_dir, trace, {
        "UPDATES_ENABLED": "true", "UPDATE_TOKENS": {"attacker-with-a-token": TOKEN}, "QUERY_WORKERS": 1})
    results = []
    listener, path = canary
    for name, method, where, headers, body, status, says in attacks(listener.url, str(path)):
        got, answer = call(server.url, method, where, body, headers)
        results.append((name, status, says, got, answer))
    control_status, _ = call(server.url, "GET", "/static/favicon.svg")
    time.sleep(0.5)  # anything late would still reach the listener
    stop_traced(server)
    return {"results": results, "trace": trace.read_text(errors="replace"), "control": control_status,
            "connections": list(listener.connections)}


def test_every_attack_is_refused_naming_what_was_blocked(traced):
    """Each attack gets its expected status; each refusal (4XX) says in its body which feature was refused."""
    wrong = [(name, status, got, answer[:160]) for name, status, says, got, answer in traced["results"]
             if got != status or says.encode() not in answer]
    counts: dict[int, int] = {}
    for _n, _s, _w, got, _a in traced["results"]:
        counts[got] = counts.get(got, 0) + 1
    print(f"{len(traced['results'])} attacks, answered {counts}")
    assert wrong == [], wrong
    assert len(traced["results"]) >= 70


def test_no_attack_reached_the_listener(traced, canary):
    """The listener accepted no connection, and no process of the server called connect() on its port."""
    listener, _ = canary
    assert traced["connections"] == []
    connects = [line for line in traced["trace"].splitlines() if "connect(" in line]
    print(f"listener connections: {len(traced['connections'])}; connect() calls traced: {len(connects)} "
          f"(to the listener: {sum(f'htons({listener.port})' in line for line in connects)}); "
          f"trace lines: {len(traced['trace'].splitlines())}")
    assert not [line for line in connects if f"htons({listener.port})" in line]


def test_no_attack_opened_the_canary_file(traced, canary):
    """No system call of any server process (gunicorn, its worker, the query worker) named the canary file, while
    the same trace shows the server opening a file it serves (the control)."""
    _, path = canary
    assert traced["control"] == 200
    assert re.search(r'open(at)?\(.*favicon\.svg', traced["trace"]), "strace records the server's file opens"
    assert path.name not in traced["trace"]


def test_the_trace_covers_the_query_worker(traced):
    """strace followed the fork+exec of the query worker (the process that runs the engine): the evidence covers it."""
    assert re.search(r"open(at)?\(.*gaistd_kg/query/pool\.py", traced["trace"])


@pytest.mark.alone  # timed
def test_an_allow_listed_service_is_called_and_bounded_by_service_timeout(canary, tmp_path_factory,
                                                                          live_server_factory):
    """Control for the listener and the trace: when an operator allow-lists the listener as a SERVICE endpoint, the
    query reaches it (one connection, a connect() in the trace), and since it never answers, the query ends at
    SERVICE_TIMEOUT with 503 naming that setting."""
    listener, _ = canary
    build_dir = make_build(tmp_path_factory.mktemp("allow-build"), fixture_graphs())
    trace = tmp_path_factory.mktemp("trace-allow") / "strace.log"
    before = len(listener.connections)
    server = start_traced(live_server_factory, build_dir, trace, {
        "SERVICE_ALLOWLIST": [f"{listener.url}/allowed"], "SERVICE_TIMEOUT": 1, "QUERY_WORKERS": 1})
    try:
        start = time.monotonic()
        status, body = call(server.url, "GET", "/sparql?" + urlencode(
            {"query": f"SELECT * {{ SERVICE <{listener.url}/allowed> {{ ?s ?p ?o }} }}"}))
        elapsed = time.monotonic() - start
    finally:
        stop_traced(server)
    assert status == 503 and b"SERVICE_TIMEOUT" in body and elapsed < 5
    assert len(listener.connections) == before + 1
    assert f"htons({listener.port})" in trace.read_text(errors="replace")
