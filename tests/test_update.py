"""Writes over HTTP, against the real server process (gunicorn on loopback) on a real build of the shipped data.

The rules, one test each: writes are off by default; a write needs a bearer token (401 with WWW-Authenticate without
one; the log names the token, never shows it); the read-only graphs refuse writes (403); a write that breaks the
shapes is refused with the report (422) and changes nothing; an accepted write is validated, reasoned, recorded (who,
when, what) and survives a restart; `gaistd build` refuses to discard it; readers never see half a write; a process
killed with SIGKILL in the middle of a large write leaves all of it or none. Then the W3C SPARQL 1.1 Protocol update
tests and the W3C Graph Store Protocol tests, on an update-enabled server.

**Why the W3C tests run with a permissive shape set.** Their data (foaf:Person, vCards, kasei.us documents) is not
GAISTD data, and our shapes would rightly refuse it. Rather than a switch that turns validation off (which could be
left on in production by mistake), that server is configured with ``SHAPES_DIR`` and ``CHECKS_DIR`` pointing at empty
folders: every write still goes through validation, reasoning and the new-build swap, with a shape set that has
nothing to say about foaf. ``WRITABLE_GRAPHS=*`` lets the tests create their own graphs, and ``UPDATE_ADMINS`` gives their token the role that
may empty graphs whole (the Protocol tests begin with ``DROP ALL`` or ``CLEAR ALL``; any other token gets 403).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pyoxigraph as ox
import pytest

import w3c_runner
from conftest import REPO, W3C_DIR, copy_build, fixture_graphs, http_call, make_build, require_w3c
from gaistd_kg.pipeline.build import build
from gaistd_kg.iris import GRAPH, ROOT
from test_clients import proc_table

pytestmark = pytest.mark.server

TOKENS = {"editor": "ed-7f3a9c1e5b2d4f60a8e1", "robot": "rb-0c9d8e7f6a5b4c3d2e1f"}
AUTH = {"Authorization": f"Bearer {TOKENS['editor']}"}
DATA, ONTOLOGY, INFERRED, META = (str(GRAPH[n]) for n in ("data", "ontology", "inferred", "meta"))
PREFIXES = """PREFIX gaistd: <https://w3id.org/gaistd/ontology#>
PREFIX gdoc: <https://w3id.org/gaistd/id/document/>
PREFIX gorg: <https://w3id.org/gaistd/id/org/>
PREFIX gjur: <https://w3id.org/gaistd/id/jurisdiction/>
PREFIX grisk: <https://w3id.org/gaistd/id/risk/>
PREFIX gfw: <https://w3id.org/gaistd/id/framework/>
PREFIX gstatus: <https://w3id.org/gaistd/id/status/>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
"""
NEW_DOC = "https://w3id.org/gaistd/id/document/wdta-ai-str-99"
VALID_DOC = PREFIXES + """INSERT DATA {
gdoc:wdta-ai-str-99 a gaistd:InternationalStandard ;
    dcterms:identifier "WDTA AI-STR-99" ;
    gaistd:identifierNotation "WDTA AI-STR-99" ;
    gaistd:officialRecord <https://example.org/test-update-record> ;
    gaistd:scopeCategory <https://w3id.org/gaistd/id/scope/genai-specific> ;
    gaistd:statusSource <https://example.org/test-update> ;
    gaistd:issuedSource <https://example.org/test-update> ;
    dcterms:title "A standard written over HTTP by a test"@en ;
    gaistd:developedBy gorg:wdta ;
    dcterms:publisher gorg:wdta ;
    gaistd:jurisdiction gjur:international ;
    gaistd:status gstatus:published ;
    dcterms:issued "2025-09-06"^^xsd:date ;
    gaistd:inSubArea gfw:security-system ;
    gaistd:addressesRisk grisk:data-privacy-leakage ;
    gaistd:classificationRationale "Written by tests/test_update.py."@en ;
    dcterms:source <https://example.org/test-update> .
<https://example.org/test-update> a gaistd:EvidencePage ;
    gaistd:evidenceClass <https://w3id.org/gaistd/id/evidence-class/other> ;
    dcterms:publisher "tests/test_update.py"@en .
}"""
INVALID_DOC = PREFIXES + "INSERT DATA { gdoc:half-a-document a gaistd:InternationalStandard }"
DUPLICATE_ID = PREFIXES + """INSERT DATA { gdoc:wdta-ai-str-03 dcterms:identifier "WDTA AI-STR-04" }"""
# a document only by inference (the domain of developedBy): no record declares it, so no document shape would see it
GHOST = PREFIXES + "INSERT DATA { gdoc:ghost gaistd:developedBy gorg:cen }"
MARK = "https://example.org/test#mark"


# --- helpers --------------------------------------------------------------------------------------------------------

call = http_call  # (base, method, path, body, headers, timeout)


def update(base: str, text: str, headers: dict | None = AUTH, path: str = "/sparql/update"):
    return call(base, "POST", path, text, {"Content-Type": "application/sparql-update", **(headers or {})})


def ask(base: str, text: str) -> bool:
    status, _, body = call(base, "GET", "/sparql?" + urlencode({"query": text}),
                           headers={"Accept": "application/sparql-results+json"})
    assert status == 200, body
    return json.loads(body)["boolean"]


def count(base: str, where: str) -> int:
    status, _, body = call(base, "GET", "/sparql?" + urlencode({"query": f"SELECT (COUNT(*) AS ?n) {{ {where} }}"}),
                           headers={"Accept": "application/sparql-results+json"})
    assert status == 200, body
    return int(json.loads(body)["results"]["bindings"][0]["n"]["value"])


def current_build(build_dir: Path) -> str:
    return json.loads((build_dir / "current" / "manifest.json").read_text())["build_id"]


def marks(n: int, start: int = 0) -> str:
    """An update adding ``n`` triples that every shape accepts: a comment on an existing document each."""
    rows = "\n".join(f'gdoc:wdta-ai-str-03 <{MARK}> "mark {i}" .' for i in range(start, start + n))
    return PREFIXES + "INSERT DATA {\n" + rows + "\n}"


def tree(pid: int) -> list[int]:
    """``pid`` and every descendant, parents before their children (from ``test_clients.proc_table``)."""
    children: dict[int, list[int]] = {}
    for p, (ppid, *_rest) in proc_table().items():
        children.setdefault(ppid, []).append(p)
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


# --- fixtures -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped_build(real_build_dir) -> Path:
    """A build of the shipped data (ontology, shapes, data of this repository): the session's, never written to here
    (every test that writes copies it first, with copy_build)."""
    return real_build_dir


@pytest.fixture(scope="module")
def writable(shipped_build, tmp_path_factory, live_server_factory):
    """An update-enabled server on its own copy of the shipped build."""
    build_dir = copy_build(shipped_build, tmp_path_factory.mktemp("writable") / "build")
    server = live_server_factory(build_dir, config={"UPDATES_ENABLED": "true", "UPDATE_TOKENS": TOKENS,
                                                   "QUERY_WORKERS": 2})
    server.build_dir = build_dir
    return server


# --- who may write --------------------------------------------------------------------------------------------------

def test_writes_are_off_by_default(live_server):
    """Without UPDATES_ENABLED, /sparql/update and Graph Store writes are 403 naming the setting, even with a token;
    Graph Store reads still work."""
    status, _, body = update(live_server, "INSERT DATA { <http://a> <http://b> <http://c> }")
    assert status == 403 and b"UPDATES_ENABLED" in body
    status, _, body = call(live_server, "PUT", "/rdf-graph-store?default", "<http://a> <http://b> <http://c> .",
                           {"Content-Type": "text/turtle", **AUTH})
    assert status == 403 and b"UPDATES_ENABLED" in body
    status, headers, _ = call(live_server, "GET", "/rdf-graph-store?default", headers={"Accept": "text/turtle"})
    assert status == 200 and headers["content-type"].startswith("text/turtle")


@pytest.mark.parametrize("headers,error", [
    ({}, None),
    ({"Authorization": "Bearer not-a-token"}, 'error="invalid_token"'),
    ({"Authorization": f"Basic {TOKENS['editor']}"}, None),
    ({"Authorization": f"Bearer {TOKENS['editor']}x"}, 'error="invalid_token"'),
], ids=["none", "unknown", "wrong-scheme", "token-plus-one-char"])
def test_a_write_without_a_valid_token_is_401_with_www_authenticate(writable, headers, error):
    """Update and each Graph Store write method: 401, WWW-Authenticate: Bearer (with error=invalid_token when a token
    was given but is unknown), and the store unchanged."""
    before = current_build(writable.build_dir)
    answers = [update(writable.url, "INSERT DATA { <http://a> <http://b> <http://c> }", headers)]
    for method in ("PUT", "POST", "DELETE"):
        answers.append(call(writable.url, method, "/rdf-graph-store?default", "<http://a> <http://b> <http://c> .",
                            {"Content-Type": "text/turtle", **headers}))
    for status, got, body in answers:
        assert status == 401, body
        assert got["www-authenticate"].startswith("Bearer realm=")
        assert (error in got["www-authenticate"]) if error else "error=" not in got["www-authenticate"]
    assert current_build(writable.build_dir) == before


def test_the_log_names_the_token_and_never_shows_it(writable):
    """An accepted write is logged with the token's name; no token value ever reaches the log (nor a wrong one)."""
    update(writable.url, "INSERT DATA { <http://a> <http://b> <http://c> }", {"Authorization": "Bearer guessed-1234"})
    status, _, body = update(writable.url, marks(1, start=1000), {"Authorization": f"Bearer {TOKENS['robot']}"})
    assert status == 200, body
    log = writable.log_text()
    assert "by token 'robot'" in log
    assert not any(t in log for t in TOKENS.values()) and "guessed-1234" not in log


# --- what may be written --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("graph", [ONTOLOGY, INFERRED, META], ids=["ontology", "inferred", "meta"])
def test_read_only_graphs_refuse_writes_with_403(writable, graph):
    """The ontology, inferred and meta graphs: INSERT DATA into them, DROP, DELETE WHERE, and Graph Store PUT, POST
    and DELETE are all 403 naming the graph as read-only; the store is unchanged."""
    before = current_build(writable.build_dir)
    attempts = [
        update(writable.url, f"INSERT DATA {{ GRAPH <{graph}> {{ <http://a> <http://b> <http://c> }} }}"),
        update(writable.url, f"DROP GRAPH <{graph}>"),
        update(writable.url, f"DELETE WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"),
    ]
    for method in ("PUT", "POST", "DELETE"):
        attempts.append(call(writable.url, method, "/rdf-graph-store?" + urlencode({"graph": graph}),
                             "<http://a> <http://b> <http://c> .", {"Content-Type": "text/turtle", **AUTH}))
    for status, _, body in attempts:
        assert status == 403 and b"read-only" in body and graph.encode() in body, body
    assert current_build(writable.build_dir) == before


def graph_counts(base: str) -> dict[str, int]:
    """Triples per named graph of the store, as /sparql counts them."""
    status, _, body = call(base, "GET", "/sparql?" + urlencode(
        {"query": "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"}),
        headers={"Accept": "application/sparql-results+json"})
    assert status == 200, body
    return {b["g"]["value"]: int(b["n"]["value"]) for b in json.loads(body)["results"]["bindings"]}


@pytest.mark.parametrize("text", [
    "DROP ALL", "CLEAR ALL", "DROP NAMED", "CLEAR NAMED", "DROP SILENT ALL", "clear\tnamed", "DROPALL",
    "DROP DEFAULT", "CLEAR DEFAULT", f"DROP GRAPH <{DATA}>", f"CLEAR SILENT GRAPH <{DATA}>", f"CLEAR GRAPH <{META}>",
    "DELETE WHERE { ?s ?p ?o }", "MOVE DEFAULT TO <http://example.org/elsewhere>",
    "INSERT DATA { <http://a> <http://b> <http://c> } ; DROP ALL",
])
def test_emptying_graphs_whole_is_403_and_changes_nothing(writable, text):
    """An update that drops or clears graphs whole (ALL and NAMED name the read-only graphs too) or empties the data
    graph is refused whole with 403, with a valid token: the build and every graph's triple count stay as they were
    (DROP ALL once answered 200, left the read-only graphs and emptied the data graph)."""
    before_build, before = current_build(writable.build_dir), graph_counts(writable.url)
    status, _, body = update(writable.url, text)
    assert status == 403 and (b"read-only" in body or b"data graph" in body), body
    assert current_build(writable.build_dir) == before_build
    assert graph_counts(writable.url) == before and before[DATA] > 0


def test_graph_store_delete_of_the_data_graph_is_403(writable):
    """DELETE of ?default (the data graph) would empty it whole: 403, nothing changed."""
    before_build, before = current_build(writable.build_dir), graph_counts(writable.url)
    status, _, body = call(writable.url, "DELETE", "/rdf-graph-store?default", headers=AUTH)
    assert status == 403 and b"data graph" in body, body
    assert current_build(writable.build_dir) == before_build and graph_counts(writable.url) == before


def test_other_graphs_are_not_writable_unless_listed(writable):
    """A graph other than the data graph is refused (403) unless WRITABLE_GRAPHS lists it."""
    status, _, body = update(writable.url, "INSERT DATA { GRAPH <http://example.org/g> { <http://a> <http://b> 1 } }")
    assert status == 403 and b"not writable" in body and b"WRITABLE_GRAPHS" in body


@pytest.mark.parametrize("text,reason", [
    (INVALID_DOC, b"gaistdsh:"),
    (DUPLICATE_ID, b"queries/checks/duplicate-identifier-violation.rq"),
    (GHOST, b"queries/checks/untyped-resource-violation.rq"),
], ids=["shape-violation", "duplicate-identifier", "document-by-inference"])
def test_an_invalid_write_is_422_with_the_report_and_changes_nothing(writable, text, reason):
    """Data that would violate a shape (or a duplicate check) is refused with 422; the body is the validation report
    naming the resource and the rule; the build and the data are as before."""
    before_build = current_build(writable.build_dir)
    before = count(writable.url, f"GRAPH <{DATA}> {{ ?s ?p ?o }}")
    status, _, body = update(writable.url, text)
    assert status == 422 and b"Violation" in body and reason in body and b"nothing was changed" in body, body
    assert current_build(writable.build_dir) == before_build
    assert count(writable.url, f"GRAPH <{DATA}> {{ ?s ?p ?o }}") == before


def test_an_accepted_write_is_validated_reasoned_and_recorded(writable):
    """A valid new document: 200; it is queryable at once; the inferred graph holds its risk roll-up (it addresses
    data-privacy leakage, so privacy); the manifest and the meta graph record who (token name), when and what."""
    status, headers, body = update(writable.url, VALID_DOC)
    assert status == 200 and b"+20 -0" in body, body  # the 12 triples of the record, 5 of its provenance, 3 of its page
    assert headers["x-gaistd-build"] == current_build(writable.build_dir)
    assert ask(writable.url, f"ASK {{ GRAPH <{DATA}> {{ <{NEW_DOC}> a ?type }} }}")
    assert ask(writable.url, f"ASK {{ GRAPH <{INFERRED}> {{ <{NEW_DOC}> "
                             "<https://w3id.org/gaistd/ontology#addressesRisk> "
                             "<https://w3id.org/gaistd/id/risk/privacy> } }")
    manifest = json.loads((writable.build_dir / "current" / "manifest.json").read_text())
    last = manifest["writes"][-1]
    assert last["by"] == "editor" and last["graphs"] == {DATA: {"added": 20, "removed": 0}}
    assert "wdta-ai-str-99" in last["operation"] and last["at"].endswith("+00:00")
    assert manifest["triples"]["data"] > 0 and manifest["base_build"] != manifest["build_id"]
    assert ask(writable.url, f"""ASK {{ GRAPH <{META}> {{
        <https://w3id.org/gaistd/dataset> <http://www.w3.org/ns/prov#wasGeneratedBy> ?w .
        ?w <http://purl.org/dc/terms/creator> "editor" ; <http://www.w3.org/ns/prov#endedAtTime> ?t ;
           <http://www.w3.org/1999/02/22-rdf-syntax-ns#value> ?what FILTER (CONTAINS(?what, "wdta-ai-str-99")) }} }}""")


def test_gaistd_build_refuses_to_discard_accepted_writes(writable, tmp_path):
    """On a copy of the store holding accepted writes, `gaistd build` stops (exit 2) naming how to save them;
    `gaistd export -g data` gives them back; `gaistd build --force` replaces the store."""
    if not ask(writable.url, f"ASK {{ <{NEW_DOC}> ?p ?o }}"):
        assert update(writable.url, VALID_DOC)[0] == 200
    copy = copy_build(writable.build_dir, tmp_path / "build")
    cli = [sys.executable, "-m", "gaistd_kg.cli", "--root", str(ROOT), "--build-dir", str(copy)]
    refused = subprocess.run([*cli, "build"], capture_output=True, text=True, cwd=REPO)
    assert refused.returncode == 2 and "export -g data" in refused.stderr and "--force" in refused.stderr
    exported = subprocess.run([*cli, "export", "-g", "data", "-f", "ntriples"], capture_output=True, text=True,
                              cwd=REPO)
    assert exported.returncode == 0 and f"<{NEW_DOC}>" in exported.stdout
    forced = subprocess.run([*cli, "build", "--force", "-q"], capture_output=True, text=True, cwd=REPO)
    assert forced.returncode == 0, forced.stderr
    assert "writes" not in json.loads((copy / "current" / "manifest.json").read_text())


def test_a_graph_store_write_goes_through_the_same_checks(writable):
    """PUT/POST/DELETE on ?default run the same path: a POST of a valid triple is 204 and visible, a POST breaking
    a shape is 422 and changes nothing."""
    status, _, body = call(writable.url, "POST", "/rdf-graph-store?default",
                           f'<https://w3id.org/gaistd/id/document/wdta-ai-str-03> <{MARK}> "via the graph store" .',
                           {"Content-Type": "text/turtle", **AUTH})
    assert status == 204, body
    assert ask(writable.url, f'ASK {{ ?d <{MARK}> "via the graph store" }}')
    status, _, body = call(writable.url, "POST", "/rdf-graph-store?default",
                           "<https://w3id.org/gaistd/id/document/x> a <https://w3id.org/gaistd/ontology#Standard> .",
                           {"Content-Type": "text/turtle", **AUTH})
    assert status == 422 and b"Violation" in body


# --- atomic, durable, isolated --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_readers_never_see_half_a_write(writable):
    """While three writes of 40 triples each are accepted one after another, readers counting those triples see
    only whole writes: every count is 0, 40, 80 or 120 more than before, never in between; every read answers."""
    where = f'GRAPH <{DATA}> {{ ?d <{MARK}> ?m FILTER (STRSTARTS(?m, "batch")) }}'
    base = count(writable.url, where)
    seen: list[int] = []
    errors: list[bytes] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            status, _, body = call(writable.url, "GET", "/sparql?" + urlencode(
                {"query": f"SELECT (COUNT(*) AS ?n) {{ {where} }}"}), headers={"Accept": "application/json"})
            if status != 200:
                errors.append(body)
                continue
            seen.append(int(json.loads(body)["results"]["bindings"][0]["n"]["value"]) - base)
            time.sleep(0.01)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for k in range(3):
            rows = "\n".join(f'gdoc:wdta-ai-str-04 <{MARK}> "batch {k} row {i}" .' for i in range(40))
            status, _, body = update(writable.url, PREFIXES + "INSERT DATA {\n" + rows + "\n}")
            assert status == 200, body
        time.sleep(0.3)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert errors == []
    assert set(seen) <= {0, 40, 80, 120} and seen[-1] == 120, sorted(set(seen))
    assert len(set(seen)) >= 2, "the readers ran while the writes were published"


def test_an_accepted_write_survives_a_restart(shipped_build, tmp_path, live_server_factory):
    """Stop the server after a write, start a new one on the same build directory: the write is there."""
    build_dir = copy_build(shipped_build, tmp_path / "build")
    config = {"UPDATES_ENABLED": "true", "UPDATE_TOKENS": TOKENS, "QUERY_WORKERS": 1}
    first = live_server_factory(build_dir, config=config, workers=1)
    assert update(first.url, marks(3, start=500))[0] == 200
    first.stop()
    second = live_server_factory(build_dir, config=config, workers=1)
    assert count(second.url, f'?d <{MARK}> ?m FILTER (STRSTARTS(?m, "mark 50"))') == 3


def test_a_build_while_serving_is_served_without_a_restart(tmp_path, live_server_factory):
    """`gaistd build` into the directory a running server serves: every HTTP worker's next request (endpoint and pages)
    sees the new build, with no restart: each checks where `current` points on every request."""
    build_dir = make_build(tmp_path / "build", fixture_graphs())
    server = live_server_factory(build_dir, workers=2, config={"QUERY_WORKERS": 1})
    shipped = "https://w3id.org/gaistd/id/document/wdta-ai-str-03"
    for _ in range(4):  # both HTTP workers open their pool on the fixture build
        assert not ask(server.url, f"ASK {{ <{shipped}> ?p ?o }}")
    build(ROOT, build_dir)
    answers = {ask(server.url, f"ASK {{ <{shipped}> ?p ?o }}") for _ in range(6)}
    pages = {call(server.url, "GET", "/id/document/wdta-ai-str-03", headers={"Accept": "text/html"})[0]
             for _ in range(4)}
    assert answers == {True} and pages == {200}


@pytest.mark.slow
def test_sigkill_in_the_middle_of_a_large_write_leaves_all_or_none(shipped_build, tmp_path, live_server_factory):
    """A 20,000-triple update; the whole server (gunicorn master, HTTP workers, query workers) is killed with SIGKILL
    at three moments: while the change is computed and validated, while the new store is being written (its staging
    folder exists), and just after it is published. Each time the store on disk holds all of the update or none of
    it, and a new server serves it."""
    n = 20000
    build_dir = copy_build(shipped_build, tmp_path / "build")
    config = {"UPDATES_ENABLED": "true", "UPDATE_TOKENS": TOKENS, "QUERY_WORKERS": 1, "QUERY_TIMEOUT": 60,
              "MAX_CONTENT_LENGTH": 16 << 20}
    stores = build_dir / "stores"
    outcomes = []
    for moment in ("computing", "writing-store", "published"):
        server = live_server_factory(build_dir, config=config, workers=1)
        before = current_build(build_dir)
        staged_before = {p.name for p in stores.iterdir()}
        text = marks(n, start=100000 * (len(outcomes) + 1))
        sender = threading.Thread(target=lambda: _swallow(update, server.url, text), daemon=True)
        sender.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            staging = [p for p in stores.iterdir() if p.name.endswith(".tmp") and p.name not in staged_before]
            if moment == "computing" and time.monotonic() > deadline - 59.5:
                break
            if moment == "writing-store" and staging:
                break
            if moment == "published" and current_build(build_dir) != before:
                break
            time.sleep(0.002)
        else:
            pytest.fail(f"{moment}: the moment never came")
        for pid in reversed(tree(server.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        server.proc.wait(timeout=10)
        sender.join(timeout=10)
        store = ox.Store.read_only(str(build_dir / "current" / "oxigraph"))
        got = sum(1 for _ in store.quads_for_pattern(None, ox.NamedNode(MARK), None, ox.NamedNode(DATA)))
        del store
        outcomes.append((moment, got))
    print("SIGKILL moments and the update's triples found on disk afterwards:", outcomes)
    total = [got for _m, got in outcomes]
    # all or none each time: the count only ever moves by whole updates
    assert all(g % n == 0 for g in total), outcomes
    assert outcomes[-1][1] >= n, f"the update published before the last kill is on disk: {outcomes}"
    survivor = live_server_factory(build_dir, config=config, workers=1)
    assert count(survivor.url, f"GRAPH <{DATA}> {{ ?d <{MARK}> ?m }}") == total[-1]


def _swallow(fn, *args):
    try:
        fn(*args)
    except OSError:
        pass  # the server was killed under the request


# --- the write gate: what reasoning makes, the schema, literals, limits (issue 15, findings 4 and 7) -------------------

def test_a_document_only_by_inference_is_422_from_the_document_shape(writable):
    """The ghost (a document only through the domain of gaistd:developedBy) is refused by the document shape on the
    reasoning closure, not only by the untyped-resource check: the report names gdoc:ghost, the shape and what a
    document record lacks; nothing changes."""
    before_build = current_build(writable.build_dir)
    status, _, body = update(writable.url, GHOST)
    assert status == 422 and b"nothing was changed" in body, body
    lines = [line for line in body.decode().splitlines() if "gdoc:ghost" in line and "NormativeDocumentShape" in line]
    assert {p for p in ("dcterms:source", "gaistd:jurisdiction", "gaistd:status") if any(p in x for x in lines)} == \
        {"dcterms:source", "gaistd:jurisdiction", "gaistd:status"}, body
    assert current_build(writable.build_dir) == before_build
    assert not ask(writable.url, PREFIXES + "ASK { gdoc:ghost ?p ?o }")


@pytest.mark.parametrize("text,triple", [
    (PREFIXES + "PREFIX owl: <http://www.w3.org/2002/07/owl#> PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "
     "INSERT DATA { skos:broader a owl:TransitiveProperty }",
     b"<http://www.w3.org/2004/02/skos/core#broader> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
     b"<http://www.w3.org/2002/07/owl#TransitiveProperty>"),
    (PREFIXES + "INSERT DATA { gaistd:Law rdfs:subClassOf gaistd:Risk }",
     b"<https://w3id.org/gaistd/ontology#Law> <http://www.w3.org/2000/01/rdf-schema#subClassOf> "
     b"<https://w3id.org/gaistd/ontology#Risk>"),
    (PREFIXES + "PREFIX owl: <http://www.w3.org/2002/07/owl#> INSERT DATA { gaistd:Tool a owl:Class }",
     b"<https://w3id.org/gaistd/ontology#Tool> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
     b"<http://www.w3.org/2002/07/owl#Class>"),
    (PREFIXES + "PREFIX owl: <http://www.w3.org/2002/07/owl#> "
     "INSERT DATA { gdoc:wdta-ai-str-03 owl:sameAs gdoc:wdta-ai-str-01 }",
     b"<https://w3id.org/gaistd/id/document/wdta-ai-str-03> <http://www.w3.org/2002/07/owl#sameAs> "
     b"<https://w3id.org/gaistd/id/document/wdta-ai-str-01>"),
    (PREFIXES + 'INSERT DATA { gdoc:wdta-ai-str-03 <https://example.org/test#when> "not a date"^^xsd:date }',
     b'"not a date"^^<http://www.w3.org/2001/XMLSchema#date>'),
], ids=["transitive-property", "subclass", "class", "same-as-between-ours", "ill-typed-literal"])
def test_schema_triples_and_ill_typed_literals_are_422_naming_the_triple(writable, text, triple):
    """A write may not change the schema the data is reasoned with (rdfs:/owl: statements other than annotations,
    typing something as a class or a property, owl:sameAs between two of our resources) nor bring a literal that is
    not valid for its datatype: 422 naming the triple, so the fast reasoner always applies and no accepted literal
    trips a later write; nothing changes."""
    before_build = current_build(writable.build_dir)
    before = count(writable.url, f"GRAPH <{DATA}> {{ ?s ?p ?o }}")
    status, _, body = update(writable.url, text)
    assert status == 422 and b"nothing was changed" in body and triple in body, body
    assert current_build(writable.build_dir) == before_build
    assert count(writable.url, f"GRAPH <{DATA}> {{ ?s ?p ?o }}") == before


def test_annotations_and_links_to_wikidata_are_not_schema_changes(writable):
    """rdfs:label, rdfs:comment, rdfs:seeAlso and owl:sameAs from one of ours to a Wikidata entity are data, as in
    the shipped files: accepted."""
    status, _, body = update(writable.url, PREFIXES + """PREFIX owl: <http://www.w3.org/2002/07/owl#>
        INSERT DATA { gdoc:wdta-ai-str-03 rdfs:comment "annotated by a test"@en ;
                        rdfs:seeAlso <https://example.org/test-see-also> ;
                        owl:sameAs <http://www.wikidata.org/entity/Q4115189> }""")
    assert status == 200 and b"+3 -0" in body, body


@pytest.mark.parametrize("setting,value", [("WRITE_TIMEOUT", 0.5), ("WRITE_MEMORY_LIMIT", 48)],
                         ids=["deadline", "memory"])
def test_a_write_past_its_deadline_or_memory_limit_is_503_and_changes_nothing(shipped_build, tmp_path,
                                                                              live_server_factory, setting, value):
    """Validation and reasoning of a write run in a process of their own, bounded like a query: past the deadline
    (WRITE_TIMEOUT) or the data-memory limit (WRITE_MEMORY_LIMIT) the write is refused with 503 naming the setting,
    and the build and the data are as before."""
    build_dir = copy_build(shipped_build, tmp_path / "build")
    server = live_server_factory(build_dir, config={"UPDATES_ENABLED": "true", "UPDATE_TOKENS": TOKENS,
                                                   setting: value})
    before_build = current_build(build_dir)
    before = count(server.url, f"GRAPH <{DATA}> {{ ?s ?p ?o }}")
    status, _, body = update(server.url, marks(1))
    assert status == 503 and setting.encode() in body and b"nothing was changed" in body, body
    assert current_build(build_dir) == before_build
    assert count(server.url, f"GRAPH <{DATA}> {{ ?s ?p ?o }}") == before


# --- the W3C test suites, on an update-enabled server ---------------------------------------------------------------

PROTOCOL = W3C_DIR / "protocol"
GSP_MANIFEST = W3C_DIR / "graph-store-protocol" / "manifest.ttl"
UPDATE_TESTS = [t for t in w3c_runner.load_manifest(PROTOCOL / "manifest.ttl") if t.is_update] \
    if (PROTOCOL / "manifest.ttl").exists() else []
GSP_TESTS = w3c_runner.load_gsp_manifest(GSP_MANIFEST) if GSP_MANIFEST.exists() else []
W3C_AUTH = (("Authorization", f"Bearer {TOKENS['robot']}"),)


@pytest.fixture(scope="module")
def w3c_writable(tmp_path_factory, live_server_factory):
    """An update-enabled server on the W3C protocol data, with a permissive shape set (see the module docstring)."""
    require_w3c(PROTOCOL / "manifest.ttl")
    require_w3c(GSP_MANIFEST)
    tests = w3c_runner.load_manifest(PROTOCOL / "manifest.ttl")
    build_dir = make_build(tmp_path_factory.mktemp("w3c-writable"), w3c_runner.graph_files(tests, PROTOCOL),
                           build_id="w3c-writable")
    permissive = tmp_path_factory.mktemp("no-shapes")
    return live_server_factory(build_dir, config={
        "UPDATES_ENABLED": "true", "UPDATE_TOKENS": TOKENS, "UPDATE_ADMINS": "robot", "WRITABLE_GRAPHS": "*",
        "SHAPES_DIR": str(permissive),
        "CHECKS_DIR": str(permissive), "QUERY_WORKERS": 2})


def test_the_manifests_hold_14_update_and_14_graph_store_tests():
    """The runner reads every entry (a reader that skipped some would pass vacuously); the manifests are where
    GAISTD_W3C_DIR says (missing: skipped here, failed under CI=true)."""
    require_w3c(PROTOCOL / "manifest.ttl")
    require_w3c(GSP_MANIFEST)
    assert len(UPDATE_TESTS) == 14 and len(GSP_TESTS) == 14
    assert len({t.id for t in GSP_TESTS}) == 14 and all(t.requests for t in GSP_TESTS)


@pytest.mark.parametrize("test", UPDATE_TESTS, ids=[t.id for t in UPDATE_TESTS])
def test_w3c_protocol_update(test, w3c_writable):
    """Each update test of the Protocol manifest, updates sent to /sparql/update with a token, queries to /sparql:
    status, result format and boolean as the manifest expects (the update tests expecting success now succeed)."""
    outcome = w3c_runner.run_test(test, w3c_writable.url, update_path="/sparql/update", headers=W3C_AUTH)
    assert outcome.passed, "\n".join(outcome.details)


@pytest.mark.parametrize("test", GSP_TESTS, ids=[t.id for t in GSP_TESTS])
def test_w3c_graph_store_protocol(test, w3c_writable):
    """Each Graph Store Protocol test, from an empty store (DROP ALL first: not part of the test)."""
    status, _, body = update(w3c_writable.url, "DROP ALL", dict(W3C_AUTH))
    assert status == 200, body
    outcome = w3c_runner.run_gsp_test(test, w3c_writable.url, headers=W3C_AUTH)
    assert outcome.passed, "\n".join(outcome.details)
