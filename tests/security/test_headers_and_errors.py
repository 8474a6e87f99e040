"""Every HTML response carries the security headers; no error body shows a stack trace or a path of the server.

The real server is crawled from its front page (every link to this server, breadth first, bounded), plus the pages a
crawl cannot reach (error pages, SPARQL results as HTML, the service description for a browser). Internal errors are
forced on a real server by damaging its build on disk: a manifest that is not JSON (500), a store folder that is gone
(500 on pages, 503 on the endpoint), no build at all (503).
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import pytest

from conftest import REPO, fixture_graphs, http_call, make_build

pytestmark = pytest.mark.server

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
REQUIRED = {"x-content-type-options": "nosniff", "referrer-policy": "strict-origin-when-cross-origin"}


def call(base: str, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    return http_call(base, method, path, body, headers)


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def check_headers(path: str, status: int, headers: dict) -> list[str]:
    problems = []
    csp = headers.get("content-security-policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    if not csp:
        problems.append(f"{path} ({status}): no Content-Security-Policy")
    elif "'unsafe-inline'" in directives.get("script-src", directives.get("default-src", ["'unsafe-inline'"])):
        problems.append(f"{path} ({status}): the CSP allows inline script: {csp}")
    elif "frame-ancestors" not in directives or "object-src" not in directives:
        problems.append(f"{path} ({status}): the CSP leaves framing or plugins open: {csp}")
    for k, v in REQUIRED.items():
        if headers.get(k) != v:
            problems.append(f"{path} ({status}): {k} is {headers.get(k)!r}, expected {v!r}")
    return problems


def test_every_html_response_carries_the_security_headers(live_server):
    """A crawl of every page linked from the front page (up to 150), and the error and result pages: each HTML
    response has a Content-Security-Policy without inline script, X-Content-Type-Options: nosniff and a
    Referrer-Policy."""
    origin = urlsplit(live_server).netloc
    seen: set[str] = set()
    todo = ["/", "/ontology", "/dumps/", "/report", "/.well-known/void", "/graph/data", "/graph/inferred"]
    extra = [
        ("GET", "/sparql", {"Accept": BROWSER}),
        ("GET", "/sparql?" + urlencode({"query": "SELECT * { ?s ?p ?o } LIMIT 3", "format": "html"}), {}),
        ("GET", "/sparql?" + urlencode({"query": "ASK {}"}), {"Accept": "text/html"}),
        ("GET", "/id/document/no-such-thing", {"Accept": BROWSER}),
        ("GET", "/id/document/%3Cscript%3E", {"Accept": BROWSER}),
        ("DELETE", "/sparql", {"Accept": BROWSER}),
        ("GET", "/no/such/page", {"Accept": BROWSER}),
        ("POST", "/id/document/gb-t-45654-2025", {"Accept": BROWSER}),
    ]
    problems: list[str] = []
    html_pages = 0
    while todo and len(seen) < 150:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        status, headers, body = call(live_server, "GET", path, {"Accept": BROWSER})
        if not headers.get("content-type", "").startswith("text/html"):
            continue
        html_pages += 1
        problems += check_headers(path, status, headers)
        parser = Links()
        parser.feed(body.decode("utf-8", "replace"))
        for href in parser.hrefs:
            target = urlsplit(urljoin(live_server + path, href))
            if target.netloc == origin and not target.path.startswith("/static/"):
                todo.append(target.path + (f"?{target.query}" if target.query else ""))
    for method, path, headers in extra:
        status, got, _ = call(live_server, method, path, headers)
        assert got.get("content-type", "").startswith("text/html"), (method, path, status, got.get("content-type"))
        html_pages += 1
        problems += check_headers(f"{method} {path}", status, got)
    assert problems == []
    assert html_pages >= 25, f"the crawl reached only {html_pages} HTML pages"


def test_non_html_responses_carry_nosniff_too(live_server):
    """JSON, Turtle and plain-text errors also say nosniff (a browser must not guess HTML from them)."""
    for path in ("/sparql?query=ASK%20%7B%7D", "/id/document/gb-t-45654-2025.ttl", "/sparql?query=nonsense"):
        _, headers, _ = call(live_server, "GET", path)
        assert headers["x-content-type-options"] == "nosniff", path


# --- forced internal errors -----------------------------------------------------------------------------------------

LEAKS = (b"Traceback", b'File "', b".py", b"site-packages", str(REPO).encode(), b"/tmp/", b"/root")


def leaks(body: bytes, build_dir: Path) -> list[bytes]:
    return [m for m in (*LEAKS, str(build_dir).encode(), str(build_dir.resolve()).encode()) if m in body]


@pytest.fixture
def damaged(tmp_path, live_server_factory):
    """A server whose build is damaged after it started, so each request meets the damage."""
    build_dir = make_build(tmp_path / "build", fixture_graphs())
    server = live_server_factory(build_dir, workers=1, config={"QUERY_WORKERS": 1})
    server.build_dir = build_dir
    return server


def test_an_internal_error_shows_an_incident_id_never_a_trace_or_a_path(damaged):
    """The manifest of the current build is replaced by garbage: pages and the endpoint answer 500 with an incident
    id and nothing else (no traceback, no file or folder of the server); the log has the traceback under that id."""
    manifest = damaged.build_dir / "current" / "manifest.json"
    manifest.write_text("{ this is not json")
    other = damaged.build_dir / "stores" / "other"
    shutil.copytree(damaged.build_dir / "current", other)  # a new `current`, so the endpoint reopens and meets it
    (damaged.build_dir / "current").unlink()
    (damaged.build_dir / "current").symlink_to(Path("stores") / "other")
    answers = [call(damaged.url, "GET", p, {"Accept": a}) for p, a in (
        ("/id/document/gb-t-45654-2025", BROWSER), ("/sparql?query=ASK%20%7B%7D", "application/json"),
        ("/dumps/full.ttl", "*/*"))]
    log = damaged.log_text()
    for status, headers, body in answers:
        assert status == 500, (status, body[:300])
        assert leaks(body, damaged.build_dir) == [], body
        incident = re.search(rb"incident ([0-9a-f]{12})", body)
        assert incident and f"incident {incident.group(1).decode()}" in log
    assert "Traceback" in log and "JSONDecodeError" in log


def test_a_store_gone_from_disk_is_an_error_without_paths(damaged):
    """The store folder of the current build is deleted under the running server: the endpoint says 503 (a query
    worker cannot open the store), the pages 500; neither body names a path; the details are in the log."""
    status, _, _ = call(damaged.url, "GET", "/sparql?query=ASK%20%7B%7D")
    assert status == 200  # the pool is open on the store
    store = (damaged.build_dir / "current").resolve()
    copy = damaged.build_dir / "stores" / "moved"
    shutil.copytree(store, copy)
    shutil.rmtree(copy / "oxigraph")
    (damaged.build_dir / "current").unlink()
    (damaged.build_dir / "current").symlink_to(Path("stores") / "moved")
    answers = [call(damaged.url, "GET", "/sparql?query=ASK%20%7B%7D"),
               call(damaged.url, "GET", "/id/document/gb-t-45654-2025", {"Accept": BROWSER})]
    assert [a[0] for a in answers] in ([503, 500], [503, 503])
    for _, _, body in answers:
        assert leaks(body, damaged.build_dir) == [], body
    assert b"cannot open the store" in answers[0][2]
    assert str(copy) in damaged.log_text()


def test_no_build_at_all_is_503_without_paths(tmp_path, live_server_factory):
    """A server started before any build: 503 saying to run `gaistd build`, on the endpoint and on the pages, with the
    build folder's path nowhere in the body."""
    empty = tmp_path / "empty-build"
    empty.mkdir()
    server = live_server_factory(empty, workers=1)
    for path, accept in (("/sparql?query=ASK%20%7B%7D", "*/*"), ("/id/document/x", BROWSER),
                         ("/dumps/full.ttl", "*/*")):
        status, _, body = call(server.url, "GET", path, {"Accept": accept})
        assert status == 503 and b"gaistd build" in body, (path, status, body[:200])
        assert leaks(body, empty) == [], body


def test_the_openapi_description_is_served_and_names_every_route(live_server):
    """/openapi.json is an OpenAPI 3 document whose paths cover the app's routes (what the fuzzer generates from)."""
    status, headers, body = call(live_server, "GET", "/openapi.json")
    doc = json.loads(body)
    assert status == 200 and doc["openapi"].startswith("3.")
    for path in ("/sparql", "/sparql/update", "/rdf-graph-store", "/rdf-graph-store/{path}", "/id/{kind}/{slug}",
                 "/graph/{name}", "/dumps/{name}.{ext}", "/.well-known/void"):
        assert path in doc["paths"], path
