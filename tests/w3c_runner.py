"""Replay the W3C SPARQL 1.1 Protocol test manifest (HTTP-in-RDF) against a live endpoint.

``load_manifest`` reads ``protocol/manifest.ttl`` with rdflib into ``ProtocolTest`` records (requests with method, path,
headers, body in its declared character encoding, and the expected statuses, result format and boolean).
``run_test`` sends each request with http.client to the endpoint (``/sparql/`` rewritten to our path) and returns a
``Outcome``. Results are collected in ``RESULTS`` for the end-of-run summary table (see conftest.py).

On a server with updates disabled, a test that expects an update to succeed is checked for *our* refusal instead: the
first request must be refused with 403 (and the test is reported as "refused: updates disabled"); the requests after
it, which read what the update would have written, are not sent. With ``update_path`` (updates enabled), every
request of an update test that is not a query goes to that path, with the ``headers`` given (the bearer token), and
the test must pass as the manifest says.

The Graph Store Protocol manifests (``load_gsp_manifest``, ``run_gsp_test``) are replayed the same way: ``/gsp`` is
rewritten to the server's graph store path, expected statuses are exact codes (``hts:Created``) or classes
(``hts:StatusCode2xx``), an expected body must be isomorphic to the response's graph, and ``$LOCATION$`` takes the
``Location`` of the response that declares it (``mf:expectedLocation``).
"""

from __future__ import annotations

import http.client
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from rdflib import Graph, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
HTS = Namespace("http://www.w3.org/2011/http-statusCodes#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")

UPDATE_REFUSAL = 403  # what /sparql answers a well-formed update while UPDATES_ENABLED is off

FORMAT_TYPES = {
    "boolean": {"application/sparql-results+json", "application/sparql-results+xml"},
    "tabular": {"application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                "text/tab-separated-values"},
    "RDF": {"application/rdf+xml", "text/turtle", "application/n-triples", "application/xhtml+xml"},
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    statuses: tuple[range, ...]
    format: str | None
    boolean: bool | None


@dataclass(frozen=True)
class ProtocolTest:
    id: str
    name: str
    graph_data: tuple[tuple[str, str], ...]  # (file name, graph IRI)
    requests: tuple[Request, ...]

    @property
    def is_update(self) -> bool:
        """An update test, as the manifest names them (update_*, bad_update_*, bad_multiple_updates)."""
        return "update" in self.id

    @property
    def expects_success(self) -> bool:
        return any(r.start == 200 for r in self.requests[0].statuses)


@dataclass
class Outcome:
    test: str
    passed: bool
    verdict: str                 # "passed", "failed", "refused: updates disabled"
    details: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # the status of each response received


RESULTS: list[Outcome] = []


def _status_range(node: URIRef) -> range:
    hundred = int(str(node).rsplit("StatusCode", 1)[1][0])
    return range(hundred * 100, hundred * 100 + 100)


def load_manifest(path: Path) -> list[ProtocolTest]:
    g = Graph().parse(path, format="turtle", publicID=path.resolve().as_uri())
    manifest = next(g.subjects(RDF.type, MF.Manifest))
    tests = []
    for entry in Collection(g, g.value(manifest, MF.entries)):
        action = g.value(entry, MF.action)
        requests = []
        for req in Collection(g, g.value(action, HT.requests)):
            headers = []
            hlist = g.value(req, HT.headers)
            for h in (Collection(g, hlist) if hlist else []):
                headers.append((str(g.value(h, HT.fieldName)), str(g.value(h, HT.fieldValue))))
            body = None
            b = g.value(req, HT.body)
            if b is not None:
                encoding = str(g.value(b, CNT.characterEncoding) or "UTF-8")
                body = str(g.value(b, CNT.chars)).encode(encoding)
            resp = g.value(req, HT.resp)
            boolean = g.value(resp, MF.expectedBoolean)
            fmt = g.value(resp, MF.expectedFormat)
            requests.append(Request(
                method=str(g.value(req, HT.methodName)), path=str(g.value(req, HT.absolutePath)),
                headers=tuple(headers), body=body,
                statuses=tuple(sorted((_status_range(s) for s in g.objects(resp, MF.expectedStatus)),
                                      key=lambda r: r.start)),
                format=str(fmt) if fmt is not None else None,
                boolean=boolean.toPython() if boolean is not None else None))
        graph_data = tuple(sorted((str(g.value(gd, UT.graph)).rsplit("/", 1)[-1], str(g.value(gd, RDFS.label)))
                                  for gd in g.objects(entry, UT.graphData)))
        tests.append(ProtocolTest(id=str(entry).rsplit("#", 1)[-1], name=str(g.value(entry, MF.name)),
                                  graph_data=graph_data, requests=tuple(requests)))
    return tests


def graph_files(tests: list[ProtocolTest], folder: Path) -> dict[str, bytes]:
    """Every graph any test loads: graph IRI -> N-Triples bytes (the tests agree on which file is which graph)."""
    out: dict[str, bytes] = {}
    for t in tests:
        for name, iri in t.graph_data:
            out[iri] = (folder / name).read_bytes()
    return out


def send(base_url: str, endpoint_path: str, req: Request, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    url = urlsplit(base_url)
    path = req.path.replace("/sparql/", endpoint_path, 1)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        conn.putrequest(req.method, path, skip_accept_encoding=True)
        for k, v in req.headers:
            conn.putheader(k, v)
        if req.body is not None:
            conn.putheader("Content-Length", str(len(req.body)))
        conn.endheaders(req.body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def parse_boolean(media_type: str, body: bytes) -> bool | None:
    if media_type == "application/sparql-results+json":
        return json.loads(body).get("boolean")
    if media_type == "application/sparql-results+xml":
        node = ET.fromstring(body).find("{http://www.w3.org/2005/sparql-results#}boolean")
        return None if node is None else node.text.strip() == "true"
    return None


def check(req: Request, status: int, headers: dict[str, str], body: bytes) -> list[str]:
    """What is wrong with one response (empty: nothing)."""
    problems = []
    if not any(status in r for r in req.statuses):
        expected = "/".join(f"{r.start // 100}xx" for r in req.statuses)
        problems.append(f"status {status}, expected {expected}: {body[:200]!r}")
        return problems
    media = headers.get("content-type", "").split(";")[0].strip()
    if req.format and media not in FORMAT_TYPES[req.format]:
        problems.append(f"content type {media!r} is not a {req.format} result format")
    if req.boolean is not None:
        got = parse_boolean(media, body)
        if got is not req.boolean:
            problems.append(f"boolean {got}, expected {req.boolean}")
    return problems


def _is_query(req: Request) -> bool:
    media = dict((k.lower(), v) for k, v in req.headers).get("content-type", "").split(";")[0].strip()
    return media == "application/sparql-query" or "query=" in req.path or (req.body or b"").startswith(b"query=")


def run_test(test: ProtocolTest, base_url: str, endpoint_path: str = "/sparql", update_path: str | None = None,
             headers: tuple[tuple[str, str], ...] = ()) -> Outcome:
    if update_path is not None:
        problems, statuses = [], []
        for i, req in enumerate(test.requests):
            path = endpoint_path if not test.is_update or _is_query(req) else update_path
            req = Request(req.method, req.path, req.headers + headers, req.body, req.statuses, req.format, req.boolean)
            status, got, body = send(base_url, path, req)
            statuses.append(status)
            problems += [f"request {i + 1}: {p}" for p in check(req, status, got, body)]
        return Outcome(test.id, not problems, "failed" if problems else "passed", problems, statuses)
    if test.is_update and test.expects_success:
        status, _, body = send(base_url, endpoint_path, test.requests[0])
        ok = status == UPDATE_REFUSAL
        details = [] if ok else [f"update answered {status}, expected our refusal {UPDATE_REFUSAL}: {body[:200]!r}"]
        return Outcome(test.id, ok, "refused: updates disabled" if ok else "failed", details, [status])
    problems: list[str] = []
    statuses = []
    for i, req in enumerate(test.requests):
        status, headers, body = send(base_url, endpoint_path, req)
        statuses.append(status)
        problems += [f"request {i + 1}: {p}" for p in check(req, status, headers, body)]
    verdict = "failed" if problems else ("passed (update refused)" if test.is_update else "passed")
    return Outcome(test.id, not problems, verdict, problems, statuses)


def summary_lines(results: list[Outcome]) -> list[str]:
    width = max((len(r.test) for r in results), default=10)
    lines = [f"{'test':<{width}}  {'status':<8}  verdict", f"{'-' * width}  {'-' * 8}  {'-' * 26}"]
    for r in results:
        statuses = ",".join(map(str, r.statuses))
        lines.append(f"{r.test:<{width}}  {statuses:<8}  {r.verdict}"
                     + (f"  ({'; '.join(r.details)})" if r.details else ""))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    lines.append(", ".join(f"{n} {v}" for v, n in sorted(counts.items())) + f"; {len(results)} in all")
    return lines


# --- Graph Store Protocol ---------------------------------------------------------------------------------------------

STATUS_NAMES = {"OK": 200, "Created": 201, "NoContent": 204, "NotFound": 404, "BadRequest": 400}


@dataclass(frozen=True)
class GspRequest:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    statuses: tuple[range, ...]
    content_type: str | None      # expected response Content-Type
    graph: str | None             # expected response body (Turtle), compared as a graph
    location: str | None          # the template variable the response's Location fills


@dataclass(frozen=True)
class GspTest:
    id: str
    name: str
    requests: tuple[GspRequest, ...]


def _gsp_status(node: URIRef) -> range:
    name = str(node).rsplit("#", 1)[-1]
    if name.startswith("StatusCode"):
        return _status_range(node)
    code = STATUS_NAMES[name]
    return range(code, code + 1)


def _headers(g: Graph, node) -> tuple[tuple[str, str], ...]:
    hlist = g.value(node, HT.headers)
    return tuple((str(g.value(h, HT.fieldName)), str(g.value(h, HT.fieldValue)))
                 for h in (Collection(g, hlist) if hlist else []))


def load_gsp_manifest(path: Path) -> list[GspTest]:
    """The Graph Store Protocol tests of ``manifest.ttl`` and the manifests it includes, in their order."""
    top = Graph().parse(path, format="turtle", publicID=path.resolve().as_uri())
    tests: list[GspTest] = []
    for include in Collection(top, top.value(next(top.subjects(RDF.type, MF.Manifest)), MF.include)):
        sub = path.parent / str(include).rsplit("/", 1)[-1]
        g = Graph().parse(sub, format="turtle", publicID=sub.resolve().as_uri())
        manifest = next(g.subjects(RDF.type, MF.Manifest))
        listed = list(Collection(g, g.value(manifest, MF.entries)))
        # a test defined but left out of mf:entries (head_non_existing_direct) is run too: 14 tests in all
        extra = sorted(set(g.subjects(RDF.type, MF.GraphStoreProtocolTest)) - set(listed))
        for entry in listed + extra:
            reqs = []
            for req in Collection(g, g.value(g.value(entry, MF.action), HT.requests)):
                resp = g.value(req, HT.resp)
                body = g.value(req, HT.body)
                rbody = g.value(resp, HT.body)
                expected_type = dict((k.lower(), v) for k, v in _headers(g, resp)).get("content-type")
                location = g.value(resp, MF.expectedLocation)
                reqs.append(GspRequest(
                    method=str(g.value(req, HT.methodName)), path=str(g.value(req, HT.absolutePath)),
                    headers=_headers(g, req), body=str(g.value(body, CNT.chars)).encode("utf-8") if body else None,
                    statuses=tuple(sorted((_gsp_status(s) for s in g.objects(resp, MF.expectedStatus)),
                                          key=lambda r: r.start)),
                    content_type=expected_type, graph=str(g.value(rbody, CNT.chars)) if rbody else None,
                    location=str(location) if location is not None else None))
            tests.append(GspTest(id=str(entry).rsplit("#", 1)[-1], name=str(g.value(entry, MF.name)),
                                 requests=tuple(reqs)))
    return tests


def gsp_graphs(test: GspTest, base_url: str, store_path: str) -> set[str]:
    """The graph IRIs a test names (indirectly as ?graph=, or directly as a path), for a clean start."""
    from urllib.parse import parse_qs

    out = set()
    for r in test.requests:
        path, _, qs = r.path.partition("?")
        out.update(v for v in parse_qs(qs).get("graph", []) if "$" not in v)
        if path.startswith("/gsp/"):
            out.add(base_url + store_path + path[len("/gsp"):])
    return out


def run_gsp_test(test: GspTest, base_url: str, store_path: str = "/rdf-graph-store",
                 headers: tuple[tuple[str, str], ...] = ()) -> Outcome:
    from rdflib.compare import isomorphic

    variables: dict[str, str] = {}
    problems: list[str] = []
    statuses = []
    for i, r in enumerate(test.requests):
        path, body = r.path, r.body
        for name, value in variables.items():
            path = path.replace(name, value)
            body = body.replace(name.encode(), value.encode()) if body is not None else None
        path = store_path + path[len("/gsp"):] if path.startswith("/gsp") else path
        req = Request(r.method, path, r.headers + headers, body, r.statuses, None, None)
        status, got, data = send(base_url, "", req)
        statuses.append(status)
        where = f"request {i + 1} ({r.method} {path})"
        if not any(status in s for s in r.statuses):
            expected = "/".join(str(s.start) if len(s) == 1 else f"{s.start // 100}xx" for s in r.statuses)
            problems.append(f"{where}: status {status}, expected {expected}: {data[:200]!r}")
            continue
        if r.content_type and got.get("content-type", "").replace(" ", "").lower() != \
                r.content_type.replace(" ", "").lower():
            problems.append(f"{where}: content type {got.get('content-type')!r}, expected {r.content_type!r}")
        if r.graph is not None and r.method != "HEAD":
            expected = Graph().parse(data=r.graph, format="turtle", publicID=base_url + "/")
            actual = Graph().parse(data=data, format="turtle", publicID=base_url + "/")
            if not isomorphic(expected, actual):
                problems.append(f"{where}: the graph is not the one expected: {data[:300]!r}")
        if r.location:
            if "location" not in got:
                problems.append(f"{where}: no Location header")
            else:
                variables[r.location] = got["location"]
    return Outcome(test.id, not problems, "failed" if problems else "passed", problems, statuses)
