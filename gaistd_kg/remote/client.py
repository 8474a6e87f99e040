"""Queries against a remote SPARQL store that ``gaistd push`` filled: same safety rules, same answers as local.

Layout in the remote store (written by ``gaistd_kg.remote.push``):

* each push writes the four named graphs under fresh, never-modified names,
  ``https://w3id.org/gaistd/graph/<version>/<name>`` (``<version>`` = ``<build-id>-<UTC time>``);
* the pointer graph ``https://w3id.org/gaistd/graph/current`` says which version is current, one triple per graph,
  ``<…/graph/data> dcterms:hasVersion <…/graph/<version>/data>``, plus the build id and the time of the push
  (``<…/dataset> dcterms:identifier "<build-id>" ; dcterms:modified "…"^^xsd:dateTime``);
* the previous version stays until the push after next, so a reader that resolved the pointer just before a switch
  still finds its graphs.

A reader resolves the pointer once per query and then reads only that version's graphs, which nothing modifies: every
answer comes from one version, never a mix. Queries keep naming our graphs as everywhere else
(``GRAPH <https://w3id.org/gaistd/graph/data>``): the graph IRIs of the query (IRI tokens and prefixed names, never
text inside strings) are mapped to the version's names, the protocol dataset is the version's four graphs (default
graph = their union, as on our own server), and graph IRIs in the answer are mapped back. An IRI written inside a
string literal (``STR(?g) = "…/graph/data"``) is not mapped.

Safety rules, as for local queries (``gaistd_kg.query``): ``check_query`` (no SPARQL Update, SERVICE only to
allow-listed endpoints), the query must parse as standard SPARQL (pyoxigraph, on an empty store: vendor syntax such as
Virtuoso's ``DEFINE`` never reaches the remote), ``FROM``/``FROM NAMED`` may name only our graphs, calls to functions
outside the XSD / XPath namespaces are refused (a store's own built-ins, e.g. Virtuoso's ``bif:``, may read files or
fetch URLs), a deadline on the whole request (``QueryTimeout``), a cap on the bytes read and on the rows returned
(``Result.capped``). ``RemotePool.run`` has the signature and the ``Result`` of ``QueryPool.run``.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator, Mapping

import pyoxigraph as ox

from gaistd_kg import query as q
from gaistd_kg.query import sparqltext as st
from gaistd_kg.formats import GRAPH as GRAPH_KIND
from gaistd_kg.formats import TABULAR

GRAPH_BASE = "https://w3id.org/gaistd/graph/"
GRAPH_NAMES = ("ontology", "data", "inferred", "meta")
POINTER_GRAPH = GRAPH_BASE + "current"
DATASET = "https://w3id.org/gaistd/dataset"
DCTERMS = "http://purl.org/dc/terms/"
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
JSON_RESULTS = "application/sparql-results+json"
GRAPH_ACCEPT = "application/n-triples, text/turtle;q=0.9"
STANDARD_FUNCTIONS = ("http://www.w3.org/2001/XMLSchema#", "http://www.w3.org/2005/xpath-functions#",
                      "http://www.w3.org/2005/xpath-functions/math#")
DEFAULT_MAX_BYTES = 64 << 20


def versioned(version: str, name: str) -> str:
    if not VERSION_RE.match(version) or name not in GRAPH_NAMES:
        raise ValueError(f"not a version/graph name: {version!r}/{name!r}")
    return f"{GRAPH_BASE}{version}/{name}"


# --- HTTP ----------------------------------------------------------------------------------------------------------

class HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message = status, message


class _Credentials(urllib.request.HTTPPasswordMgr):
    """One user and password for whatever realm asks: a Client only talks to the URLs its owner gave it."""

    def __init__(self, user: str, password: str):
        super().__init__()
        self.creds = (user, password)

    def find_user_password(self, realm, authuri):
        return self.creds


class _BasicOnly(urllib.request.HTTPBasicAuthHandler):
    """Basic authentication that leaves a Digest challenge to the digest handler instead of raising."""

    def http_error_401(self, req, fp, code, msg, headers):
        if not any(c.strip().lower().startswith("basic") for c in headers.get_all("www-authenticate") or []):
            return None
        return super().http_error_401(req, fp, code, msg, headers)


@dataclass
class Client:
    """urllib with an overall deadline, a cap on the bytes read, and optional basic/digest credentials."""

    user: str | None = None
    password: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    _opener: urllib.request.OpenerDirector = field(init=False, repr=False)

    def __post_init__(self) -> None:
        handlers: list = []
        if self.user is not None:
            mgr = _Credentials(self.user, self.password or "")
            handlers += [_BasicOnly(mgr), urllib.request.HTTPDigestAuthHandler(mgr)]
        self._opener = urllib.request.build_opener(*handlers)

    def request(self, method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None,
                timeout: float = 60.0) -> tuple[int, str, bytes]:
        """(status, content type, body); raises HttpError (4xx/5xx), TimeoutError (deadline), OSError (network)."""
        deadline = time.monotonic() + timeout
        req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
        try:
            resp = self._opener.open(req, timeout=timeout)
        except urllib.error.HTTPError as exc:
            raise HttpError(exc.code, exc.read(4096).decode("utf-8", "replace").strip() or exc.reason) from None
        with resp:
            parts, size = [], 0
            while True:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no complete answer within {timeout:g} s")
                chunk = resp.read(1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_bytes:
                    raise q.QueryError(f"the remote answer is larger than {self.max_bytes} bytes; narrow the query")
                parts.append(chunk)
            return resp.status, resp.headers.get("Content-Type", ""), b"".join(parts)


# --- the pointer ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pointer:
    build_id: str | None
    version: str
    graphs: dict[str, str]      # canonical graph IRI -> this version's graph IRI
    modified: float = 0.0       # when it was pushed (POSIX time), 0 if the pointer does not say

    @property
    def back(self) -> dict[str, str]:
        return {v: k for k, v in self.graphs.items()}


POINTER_QUERY = (f"SELECT ?name ?version ?build ?modified WHERE {{ GRAPH <{POINTER_GRAPH}> {{ "
                 f"?name <{DCTERMS}hasVersion> ?version . "
                 f"OPTIONAL {{ <{DATASET}> <{DCTERMS}identifier> ?build }} "
                 f"OPTIONAL {{ <{DATASET}> <{DCTERMS}modified> ?modified }} }} }}")


# A Graph Store PUT of the pointer is one request, but a store may apply it as "drop, then insert" with the empty or
# half-written graph visible in between (Virtuoso does, for a few milliseconds). A reader that meets an empty or
# partial pointer therefore reads it again for a short while before concluding: it ends on the old version or the
# new one, never on the gap.
POINTER_SETTLE = 2.0      # seconds a reader waits for a pointer that is empty or not whole to become whole
POINTER_RETRY = 0.02


def read_pointer(client: Client, query_url: str, timeout: float = 30.0,
                 settle: float = POINTER_SETTLE) -> Pointer | None:
    """The version the pointer graph names, or None when the store holds no pointer (nothing pushed yet).

    Raises QueryUnavailable when the pointer stays not whole (a store that applied half a graph replacement).
    """
    deadline = time.monotonic() + settle
    while True:
        try:
            found = _read_pointer_once(client, query_url, timeout)
        except q.QueryUnavailable:
            if time.monotonic() >= deadline:
                raise
        else:
            if found is not None or time.monotonic() >= deadline:
                return found
        time.sleep(POINTER_RETRY)


def _read_pointer_once(client: Client, query_url: str, timeout: float) -> Pointer | None:
    body = http_get(client, query_url, POINTER_QUERY, [], JSON_RESULTS, timeout)[1]
    rows = json.loads(body)["results"]["bindings"]
    if not rows:
        return None
    graphs, builds = {}, {r["build"]["value"] for r in rows if "build" in r}
    for r in rows:
        graphs[r["name"]["value"]] = r["version"]["value"]
    versions = {v[len(GRAPH_BASE):].rsplit("/", 1)[0] for v in graphs.values() if v.startswith(GRAPH_BASE)}
    wanted = {GRAPH_BASE + n for n in GRAPH_NAMES}
    if set(graphs) != wanted or len(versions) != 1 or len(builds) > 1:
        raise q.QueryUnavailable("the remote store's pointer graph is incomplete or names several versions")
    version = versions.pop()
    if any(graphs[GRAPH_BASE + n] != versioned(version, n) for n in GRAPH_NAMES):
        raise q.QueryUnavailable("the remote store's pointer graph names graphs outside its version")
    modified = 0.0
    for r in rows:
        if "modified" in r:
            try:
                modified = datetime.fromisoformat(r["modified"]["value"].replace("Z", "+00:00")).timestamp()
            except ValueError:
                pass
    return Pointer(builds.pop() if builds else None, version, graphs, modified)


def http_get(client: Client, url: str, text: str, params: list[tuple[str, str]], accept: str,
         timeout: float) -> tuple[str, bytes]:
    # POST (form-encoded) rather than GET: long queries, and no query text in the remote's access log line
    data = urllib.parse.urlencode([("query", text), *params]).encode("ascii")
    _status, ctype, body = client.request("POST", url, data, {"Accept": accept,
                                                              "Content-Type": "application/x-www-form-urlencoded"},
                                          timeout)
    return ctype, body


# --- reading and mapping the query ------------------------------------------------------------------------------------

def _prologue(spans: list[tuple[str, str, int, int]]) -> tuple[dict[str, str], str]:
    prefixes: dict[str, str] = {}
    base = ""
    i = 0
    while i < len(spans):
        kind, tok = spans[i][0], spans[i][1]
        if kind == "word" and tok.upper() == "BASE" and i + 1 < len(spans) and spans[i + 1][0] == "iri":
            base = st._iri_text(spans[i + 1][1])
            i += 2
        elif (kind == "word" and tok.upper() == "PREFIX" and i + 2 < len(spans) and spans[i + 1][0] == "pname"
              and spans[i + 2][0] == "iri"):
            prefixes[spans[i + 1][1].rstrip(":")] = st._iri_text(spans[i + 2][1])
            i += 3
        else:
            break
    return prefixes, base


def _spans(text: str) -> list[tuple[str, str, int, int]]:
    return [span for span in st.spans(text) if span[0] not in ("ws", "comment")]


def prepare(text: str, mapping: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """(the query with our graph IRIs mapped to ``mapping``'s, the FROM/FROM NAMED IRIs it names).

    Raises QueryRefused for FROM naming a graph not ours and for a call to a non-standard function.
    """
    spans = _spans(text)
    prefixes, base = _prologue(spans)
    out, last, froms = [], 0, []
    for j, (kind, tok, start, end) in enumerate(spans):
        iri = st._resolve((kind, tok), prefixes, base) if kind in ("iri", "pname") else None
        prev = spans[j - 1][1].upper() if j else ""
        prev2 = spans[j - 2][1].upper() if j > 1 else ""
        if iri is not None and (prev == "FROM" or (prev == "NAMED" and prev2 == "FROM")):
            froms.append(iri)
            if iri not in mapping:
                raise q.QueryRefused("FROM", f"FROM <{iri}> is refused: on a remote store FROM may name only our "
                                             f"graphs ({', '.join('<' + g + '>' for g in sorted(mapping))})")
        nxt = spans[j + 1][1] if j + 1 < len(spans) else ""
        if iri is not None and nxt == "(" and not iri.startswith(STANDARD_FUNCTIONS) and prev not in ("PREFIX",
                                                                                                       "BASE"):
            raise q.QueryRefused("function", f"<{iri}>(…) is refused: on a remote store only standard SPARQL, "
                                             "XSD and XPath functions are called")
        if iri is not None and iri in mapping and not (prev in ("PREFIX", "BASE") or (j > 1 and prev2 == "PREFIX")):
            out.append(text[last:start])
            out.append("<" + ox.NamedNode(mapping[iri]).value + ">")
            last = end
    out.append(text[last:])
    return "".join(out), tuple(froms)


_BNODE_LABEL = re.compile(r"^[A-Za-z0-9_]+$")


def bnode_label(value: str) -> str:
    """A blank-node label a parser accepts, one-to-one with the store's own (Virtuoso answers ``nodeID://b10007``)."""
    return "x" + value.encode("utf-8").hex()


def _map_json(body: bytes, back: Mapping[str, str]) -> bytes:
    doc = json.loads(body)
    for row in doc.get("results", {}).get("bindings", []):
        for term in row.values():
            if term.get("type") == "uri" and term.get("value") in back:
                term["value"] = back[term["value"]]
            if term.get("type") == "typed-literal":
                term["type"] = "literal"
            if term.get("type") == "bnode" and not _BNODE_LABEL.match(term.get("value", "")):
                term["value"] = bnode_label(term.get("value", ""))
    return json.dumps(doc).encode("utf-8")


def _map_term(t, back: Mapping[str, str]):
    return ox.NamedNode(back[t.value]) if isinstance(t, ox.NamedNode) and t.value in back else t


# --- running ----------------------------------------------------------------------------------------------------------

_EMPTY: ox.Store | None = None


def _check_syntax(text: str, base_iri: str | None) -> None:
    global _EMPTY
    if _EMPTY is None:
        _EMPTY = ox.Store()
    try:
        _EMPTY.query(text, base_iri=base_iri)
    except (SyntaxError, ValueError) as exc:
        raise q.QuerySyntaxError(str(exc)) from None


@contextmanager
def _errors(timeout: float) -> Iterator[None]:
    """HTTP and network failures as the query errors a local query raises."""
    try:
        yield
    except TimeoutError:
        raise q.QueryTimeout(timeout) from None
    except HttpError as exc:
        if exc.status == 400:
            raise q.QuerySyntaxError(f"the remote store refused the query: {exc.message}") from None
        raise q.QueryUnavailable(f"the remote store answered {exc}") from None
    except (OSError, urllib.error.URLError) as exc:
        if "timed out" in str(exc):
            raise q.QueryTimeout(timeout) from None
        raise q.QueryUnavailable(f"the remote store cannot be reached: {exc}") from None


@dataclass
class RemoteStore:
    """A SPARQL endpoint (``query_url``) holding versions written by ``gaistd push``."""

    query_url: str
    client: Client = field(default_factory=Client)
    pointer_ttl: float = 0.0     # seconds a resolved pointer is reused; 0: resolve it for every query
    _pointer: tuple[float, Pointer] | None = field(default=None, init=False, repr=False)

    def pointer(self, timeout: float = 30.0) -> Pointer:
        now = time.monotonic()
        if self._pointer and now - self._pointer[0] < self.pointer_ttl:
            return self._pointer[1]
        p = read_pointer(self.client, self.query_url, timeout)
        if p is None:
            raise q.QueryUnavailable(f"{self.query_url} holds no pushed build (run `gaistd push` first)")
        self._pointer = (now, p)
        return p

    @property
    def last(self) -> Pointer | None:
        """The pointer as last resolved (by ``pointer``), or None before the first resolution."""
        return self._pointer[1] if self._pointer else None


def execute(remote: RemoteStore, text: str, fmt: str | None = None, dataset: q.Dataset | None = None,
            union: bool = True, row_limit: int = q.DEFAULT_ROW_LIMIT, base_iri: str | None = None,
            prefixes: Mapping[str, str] | None = None, form: str | None = None,
            timeout: float = q.DEFAULT_TIMEOUT) -> q.Result:
    """``query.execute`` for a remote store: one query, answered in format ``fmt`` within ``timeout`` seconds.

    As with ``query.execute``, callers check the query first (``query.check_query``; ``RemotePool.run`` does). ``union``
    is False when the query has its own FROM clause (then no protocol dataset is sent).
    """
    start = time.perf_counter()
    deadline = time.monotonic() + timeout
    _check_syntax(text, base_iri)
    with _errors(timeout):
        pointer = remote.pointer(timeout)
    mapped, _froms = prepare(text, pointer.graphs)
    if base_iri:
        mapped = f"BASE <{ox.NamedNode(base_iri).value}>\n{mapped}"
    params: list[tuple[str, str]] = []
    if dataset:
        if any(g not in pointer.graphs for g in (*dataset.default_graphs, *dataset.named_graphs)):
            raise q.QueryRefused("dataset", "on a remote store default-graph-uri / named-graph-uri may name only our "
                                            "graphs")
        params += [("default-graph-uri", pointer.graphs[g]) for g in dataset.default_graphs]
        params += [("named-graph-uri", pointer.graphs[g]) for g in dataset.named_graphs]
    elif union:
        params += [("default-graph-uri", g) for g in pointer.graphs.values()]
        params += [("named-graph-uri", g) for g in pointer.graphs.values()]
    form = form or q.inspect(text).form
    graph_form = form in ("CONSTRUCT", "DESCRIBE")
    with _errors(timeout):
        ctype, body = http_get(remote.client, remote.query_url, mapped, params,
                           GRAPH_ACCEPT if graph_form else JSON_RESULTS, max(deadline - time.monotonic(), 0.001))
    back = pointer.back
    if graph_form:
        assert form is not None  # CONSTRUCT or DESCRIBE
        rdf = ox.RdfFormat.N_TRIPLES if "n-triples" in ctype or "text/plain" in ctype else ox.RdfFormat.TURTLE
        triples = (ox.Triple(_map_term(t.subject, back), _map_term(t.predicate, back), _map_term(t.object, back))
                   for t in ox.parse(body, format=rdf))
        result = q.triples_result(triples, q.result_format(fmt, GRAPH_KIND), row_limit, prefixes or {}, form)
    else:
        answer = ox.parse_query_results(_map_json(body, back), format=ox.QueryResultsFormat.JSON)
        if isinstance(answer, ox.QueryBoolean):
            result = q.boolean_result(answer, q.result_format(fmt, TABULAR), row_limit)
        else:
            result = q.solutions_result(answer, q.result_format(fmt, TABULAR), row_limit)
    return q.Result(**{**result.__dict__, "elapsed": time.perf_counter() - start})


@dataclass(eq=False)
class RemotePool:
    """Drop-in for ``querypool.QueryPool`` when the store is remote: same ``run`` signature, same ``Result``.

    No worker processes: the deadline is the HTTP request's, the engine is the remote store's.
    """

    query_url: str
    timeout: float = q.DEFAULT_TIMEOUT
    row_limit: int = q.DEFAULT_ROW_LIMIT
    service_allowlist: tuple[str, ...] = ()
    prefixes: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    password: str | None = None
    pointer_ttl: float = 0.0
    max_bytes: int = DEFAULT_MAX_BYTES
    store: RemoteStore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.service_allowlist = tuple(self.service_allowlist)
        self.store = RemoteStore(self.query_url, Client(self.user, self.password, self.max_bytes), self.pointer_ttl)

    def start(self) -> "RemotePool":
        return self

    def close(self) -> None:
        pass

    def sandboxed(self) -> bool:
        return False

    def manifest(self) -> dict:
        """What the web layer reads from a local build's manifest.json, for the version now current remotely:
        ``build_id`` (the version, so ETags change with every push) and ``built_at`` (when it was pushed)."""
        p = self.store.pointer(self.timeout)
        return {"build_id": p.version, "source_build_id": p.build_id, "built_at": p.modified}

    def pids(self) -> list[int]:
        return []

    def run(self, text: str, fmt: str | None = None, dataset: q.Dataset | None = None, base_iri: str | None = None,
            row_limit: int | None = None, timeout: float | None = None, info: q.QueryInfo | None = None) -> q.Result:
        info = info or q.check_query(text, self.service_allowlist)
        return execute(self.store, text, fmt, dataset, not info.dataset_clause,
                       self.row_limit if row_limit is None else row_limit, base_iri, self.prefixes, info.form,
                       self.timeout if timeout is None else timeout)

