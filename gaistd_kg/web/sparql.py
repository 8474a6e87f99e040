"""The SPARQL 1.1 Protocol endpoint at /sparql: query via GET, URL-encoded POST and direct POST; a service description.

This module only translates HTTP to ``gaistd_kg.query.engine`` and back. Status codes:

* 200 an answer; 304 an unchanged answer (If-None-Match / If-Modified-Since on GET; ETag = build + request);
* 400 a malformed request or query (the body carries pyoxigraph's message with line and column), two queries at
  once, a body or parameter that is not UTF-8, update text sent as a query, and a feature refused here, named in
  the body: SERVICE to an endpoint not allow-listed, a ``file:`` IRI in FROM or in the protocol dataset;
* 403 SPARQL Update (``update=`` or ``application/sparql-update``): never run at this endpoint (when updates are
  enabled they are served at ``/sparql/update``, see ``web/update.py``). 403 is HTTP's "understood, and refused", and
  keeps every W3C ``bad_update_*`` test at the 4XX it expects;
* 405 (with Allow) a method other than GET, HEAD, POST, OPTIONS; 406 no offered format acceptable (the body lists
  them); 415 a POST body that is neither form-encoded nor ``application/sparql-query``;
* 429 (with Retry-After) the client already has MAX_CONCURRENT_PER_CLIENT requests running (``web/security.py``);
* 503 the query ran past QUERY_TIMEOUT or needed more than QUERY_MEMORY_LIMIT (the body names the limit), or the
  server cannot answer now; with Retry-After when no slot was free (the queue was full, or stayed full until the
  deadline: admission in ``query/pool.py``).

A capped answer carries ``X-GAISTD-Result-Capped: true`` and ``X-GAISTD-Row-Limit: <N>``; inside the body, SPARQL
JSON/XML get a head ``link`` and Turtle-like formats a comment (see ``query.annotate_capped``).

Answers are not streamed from the engine: the status (200, or 503 at the deadline) and the capped header must be
known before the first byte, so the worker finishes (or is killed) first. ROW_LIMIT bounds what is buffered; the
response then goes out with a Content-Length (gzip'd when the client accepts it).

The store served is the build ``current`` points to: every request reads the link (one readlink), and when it has
changed (a write accepted, ``gaistd build`` while serving) the pool restarts on the new store; queries already running
on the old one finish there (``QueryPool.retire``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from email.utils import formatdate
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pyoxigraph as ox
from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from gaistd_kg import formats
from gaistd_kg import query
from gaistd_kg.query import pool as querypool
from gaistd_kg.query.textsearch import SEARCH_FUNCTION
from gaistd_kg.formats import GRAPH, TABULAR
from gaistd_kg.iris import GRAPH as NAMED_GRAPHS, PREFIXES, SD
from gaistd_kg.store import StoreMissing, current_link

from .security import client_address

bp = Blueprint("sparql", __name__)

ALLOW = "GET, HEAD, POST, OPTIONS"
EXTENSION = "gaistd.query_pool"
GZIP_MIN_BYTES = 512
CORS_EXPOSE = "ETag, Last-Modified, X-GAISTD-Result-Capped, X-GAISTD-Row-Limit, X-GAISTD-Build"
FORM = "application/x-www-form-urlencoded"
DIRECT_QUERY = "application/sparql-query"
DIRECT_UPDATE = "application/sparql-update"
KEPT_PARSE_BYTES = 16384   # query strings and form bodies up to this size keep their parse (the same queries return)
KEPT_HEADER_BYTES = 1024   # Accept and Accept-Encoding values up to this size keep what they negotiate
VOID_TRIPLES = "http://rdfs.org/ns/void#triples"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


GZ_SUFFIX = "\x00gzip"   # cache key of an answer's gzip-compressed body, beside the plain one


class ResultCache:
    """Answers of this process, keyed by query text, dataset, format and base IRI, for the build being served.

    Correct because the store changes only with a new build (or an accepted write, which is a new build), and the
    cache is emptied whenever the served build changes. Bounded by the bytes of the bodies kept, least recently used
    first out. Federated queries are never cached (another endpoint's answer may change).
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, query.Result] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> query.Result | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: str, result: query.Result) -> None:
        if len(result.body) > self.max_bytes // 4:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = result
            self._size += len(result.body)
            while self._size > self.max_bytes and self._items:
                _k, old = self._items.popitem(last=False)
                self._size -= len(old.body)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._size = 0


class Backend:
    """Per app: the build being served and its query pool, opened on first use in the process that uses them, and
    reopened when ``current`` points elsewhere."""

    def __init__(self, config):
        self.config = config
        self._lock = threading.Lock()
        self._pool: querypool.QueryPool | None = None
        self._link: str | None = None
        self.manifest: dict = {}
        self._graph_counts: dict[str, int] | None = None
        self.cache = ResultCache(int(config.get("RESULT_CACHE_BYTES", 64 << 20)))

    def pool(self) -> querypool.QueryPool:
        """The pool on the current build (a new one, and the old retired, when the link changed since last time).

        With STORE_URL set, the answers come from that remote SPARQL endpoint (a store loaded by ``gaistd push``)
        under the same rules, formats and caching; the version its pointer graph names stands for the build."""
        if self.config.get("STORE_URL"):
            return self._remote()
        build_dir = Path(self.config["BUILD_DIR"])
        link = current_link(build_dir)
        with self._lock:
            if self._pool is None or link != self._link:
                self._open(build_dir, link)
            assert self._pool is not None
            return self._pool

    def _remote(self):
        from gaistd_kg.remote import client as remote

        with self._lock:
            if self._pool is None:
                self._pool = remote.RemotePool(
                    str(self.config["STORE_URL"]), timeout=float(self.config["QUERY_TIMEOUT"]),
                    row_limit=int(self.config["ROW_LIMIT"]), service_allowlist=tuple(self.config["SERVICE_ALLOWLIST"]),
                    prefixes=PREFIXES, user=self.config.get("STORE_USER") or None,
                    password=self.config.get("STORE_PASSWORD") or None)
            pool = self._pool
        try:
            manifest = pool.manifest()
        except query.QueryError as exc:
            raise StoreMissing(f"the remote store cannot say which version it serves: {exc}") from None
        with self._lock:
            if manifest.get("build_id") != self.manifest.get("build_id"):
                self.manifest, self._graph_counts = manifest, None
                self.cache.clear()
        return pool

    def _open(self, build_dir: Path, link: str | None) -> None:
        path = (build_dir / link).resolve() if link else None
        if path is None or not (path / "manifest.json").is_file():
            raise StoreMissing("no built store is being served here yet: run `gaistd build` first")
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        pool = querypool.QueryPool(
            str(path / "oxigraph"), size=int(self.config["QUERY_WORKERS"]),
            timeout=float(self.config["QUERY_TIMEOUT"]), row_limit=int(self.config["ROW_LIMIT"]),
            service_allowlist=tuple(self.config["SERVICE_ALLOWLIST"]), prefixes=PREFIXES,
            memory_limit_mb=int(self.config.get("QUERY_MEMORY_LIMIT", querypool.DEFAULT_MEMORY_LIMIT_MB)),
            heavy_slots=int(self.config.get("QUERY_HEAVY_SLOTS") or 0),
            client_heavy=int(self.config.get("QUERY_CLIENT_HEAVY") or 0),
            queue_limit=int(self.config.get("QUERY_QUEUE") or 0)).start()
        old, self._pool, self._link = self._pool, pool, link
        self.manifest, self._graph_counts = manifest, None
        self.cache.clear()  # answers belong to the build they were computed on
        if old is not None:
            old.retire()

    @property
    def build_id(self) -> str:
        return str(self.manifest.get("build_id", ""))

    @property
    def built_at(self) -> float:
        return float(self.manifest.get("built_at", 0))

    def graph_counts(self) -> dict[str, int]:
        """Triples per named graph, and under "" those of the default graph (the union), counted once per build."""
        if self._graph_counts is None and not self.config.get("STORE_URL") and "union_triples" in self.manifest:
            # counted by the build (store.union_count): a count over a large store needs more than a query worker's
            # memory limit (the union's DISTINCT) or seconds per request
            built: dict[str, int] = {str(NAMED_GRAPHS[name]): n for name, n in self.manifest.get("triples", {}).items()
                                     if name in NAMED_GRAPHS}
            built[""] = int(self.manifest["union_triples"])
            self._graph_counts = built
        if self._graph_counts is None:
            pool = self.pool()
            counts: dict[str, int] = {}
            per_graph = pool.run("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g", "json",
                                 row_limit=100000)
            for b in json.loads(per_graph.body)["results"]["bindings"]:
                counts[b["g"]["value"]] = int(b["n"]["value"])
            union = pool.run("SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }", "json")
            counts[""] = int(json.loads(union.body)["results"]["bindings"][0]["n"]["value"])
            self._graph_counts = counts
        return self._graph_counts

    def remote_open(self):
        """With STORE_URL set: the version now current remotely, as an ``OpenStore`` whose ``store`` is a fresh
        ``RemoteView`` (the pages, dumps and report read it as they read the embedded store)."""
        from gaistd_kg.remote import view as remoteview
        from gaistd_kg.store import OpenStore

        pool = self._remote()
        pointer = pool.store.last
        if pointer is None:
            raise StoreMissing("the remote store holds no pushed build (run `gaistd push` first)")
        view = remoteview.RemoteView(pool.store, pointer, float(self.config["QUERY_TIMEOUT"]))
        return OpenStore(view, Path("remote") / pointer.version, {
            "build_id": pointer.version, "built_at": pointer.modified, "source_build_id": pointer.build_id})

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Backend(app.config)


def close_app(app: Flask) -> None:
    backend = app.extensions.get(EXTENSION)
    if backend is not None:
        backend.close()


def get_backend() -> Backend:
    backend = current_app.extensions.get(EXTENSION)
    if backend is None:  # registered without init_app
        backend = current_app.extensions[EXTENSION] = Backend(current_app.config)
    return backend


# --- reading a protocol request ------------------------------------------------------------------------------------

class ProtocolError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Operation:
    kind: str | None                 # "query", "update" or None (no operation: the service description)
    text: str
    dataset: query.Dataset
    format: tuple[str, ...]          # the ``format`` / ``output`` values, comma lists split, in the order sent


def kept_while_short(limit: int, maxsize: int):
    """Keep the answers of a pure function of a few texts (LRU of ``maxsize``) while every text is at most ``limit``
    long; longer texts are answered afresh each time, and a raised error is never kept. Clients send the same queries
    and headers again, and reading them again cost more than answering a cached query."""
    def wrap(fn):
        kept = lru_cache(maxsize=maxsize)(fn)

        @wraps(fn)
        def call(*texts):
            return kept(*texts) if all(t is None or len(t) <= limit for t in texts) else fn(*texts)

        return call

    return wrap


def request_params(raw: bytes, where: str) -> list[tuple[str, str]]:
    """The name-value pairs of a query string or form body, in order (a new list: the caller may add to it)."""
    return list(_params(raw, where))


@kept_while_short(KEPT_PARSE_BYTES, 256)
def _params(raw: bytes, where: str) -> tuple[tuple[str, str], ...]:
    try:
        return tuple(parse_qsl(raw.decode("ascii", "strict") if raw else "", keep_blank_values=True,
                               encoding="utf-8", errors="strict"))
    except UnicodeDecodeError:
        raise ProtocolError(400, f"the {where} is not UTF-8 (the SPARQL Protocol requires UTF-8)") from None


def request_body_text(what: str) -> str:
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise ProtocolError(400, f"the {what} must be UTF-8, not {charset}")
    try:
        return request.get_data(cache=True).decode("utf-8", "strict")
    except UnicodeDecodeError:
        raise ProtocolError(400, f"the {what} is not valid UTF-8") from None


def absolute_iris(params: list[tuple[str, str]], name: str, other: str) -> tuple[str, ...]:
    """The values of parameter ``name``; every value of ``name`` and ``other`` must be an absolute IRI (else 400)."""
    for k, iri in params:
        if k in (name, other):
            try:
                ox.NamedNode(iri)
            except ValueError:
                raise ProtocolError(400, f"{name} / {other} must be absolute IRIs: {iri!r}") from None
    return tuple(v for k, v in params if k == name)


def read_operation() -> Operation:
    """The SPARQL Protocol operation a request carries (section 2.1 query, 2.2 update), or a ProtocolError."""
    params = request_params(request.query_string, "query string")
    direct: tuple[str, str] | None = None
    if request.method == "POST":
        mime = request.mimetype
        if mime == FORM:
            charset = request.mimetype_params.get("charset", "utf-8").lower()
            if charset not in ("utf-8", "utf8"):
                raise ProtocolError(400, f"the form body must be UTF-8, not {charset}")
            params += request_params(request.get_data(cache=True), "form body")
        elif mime == DIRECT_QUERY:
            direct = ("query", request_body_text("query"))
        elif mime == DIRECT_UPDATE:
            direct = ("update", request_body_text("update"))
        else:
            raise ProtocolError(415, f"POST a query as {FORM} (query=…) or as {DIRECT_QUERY}, not "
                                     f"{mime or 'a body without Content-Type'}")
    queries = [v for k, v in params if k == "query"]
    updates = [v for k, v in params if k == "update"]
    if direct:
        (queries if direct[0] == "query" else updates).append(direct[1])
    if len(queries) > 1 or len(updates) > 1:
        raise ProtocolError(400, "one request carries one operation: found "
                                 f"{len(queries)} query and {len(updates)} update parameters")
    if queries and updates:
        raise ProtocolError(400, "a request carries either a query or an update, not both")
    default = absolute_iris(params, "default-graph-uri", "named-graph-uri")
    named = tuple(v for k, v in params if k == "named-graph-uri")
    fmt = format_tokens(params)
    dataset = query.Dataset(default, named)
    if updates:
        if request.method != "POST":
            raise ProtocolError(400, "SPARQL Update must be sent with POST (SPARQL 1.1 Protocol, 2.2)")
        return Operation("update", updates[0], dataset, ())
    if queries:
        return Operation("query", queries[0], dataset, fmt)
    if request.method == "POST":
        raise ProtocolError(400, "no query: send query=… (form) or a body of type " + DIRECT_QUERY)
    return Operation(None, "", dataset, fmt)


def format_tokens(params: list[tuple[str, str]]) -> tuple[str, ...]:
    """The formats a request names, in order: every ``format`` and ``output`` value (Fuseki's and Virtuoso's name for
    it), each split at commas. SPARQLWrapper sends ``format=application/ld+json,application/x-json+ld`` beside
    ``format=json-ld`` for a CONSTRUCT as JSON-LD."""
    return tuple(t.strip() for k, v in params if k in ("format", "output") for t in v.split(",") if t.strip())


def choose_format(kind: str, tokens: tuple[str, ...] | str | None) -> formats.Format:
    """The first named format that can carry the answer, else the best of the offered types for the Accept header.

    A request naming formats of which none is one of ours gets 400; naming only formats of the other kind, 406."""
    offered = formats.of_kind(kind)
    tokens = (tokens,) if isinstance(tokens, str) else tuple(tokens or ())
    if tokens:
        for token in tokens:
            try:
                return formats.lookup(token, kind)
            except formats.UnknownFormat:
                continue
        errors, known = [], []
        for token in tokens:
            try:
                known.append(formats.lookup(token))
            except formats.UnknownFormat as exc:
                errors.append(str(exc))
        if not known:
            raise ProtocolError(400, errors[0])
        raise ProtocolError(406, f"format={','.join(tokens)} cannot carry this answer; offered: "
                                 + formats.describe(offered))
    best = _best_accepted(kind, request.headers.get("Accept"))
    if best is None:
        raise ProtocolError(406, "none of the accepted media types can carry this answer; offered: "
                                 + formats.describe(offered))
    return formats.lookup(best, kind)


@kept_while_short(KEPT_HEADER_BYTES, 128)
def _best_accepted(kind: str, accept: str | None) -> str | None:
    """The offered media type an Accept header prefers (the kind's default without one), None if it takes none."""
    parsed = parse_accept_header(accept, MIMEAccept)  # what request.accept_mimetypes is
    return parsed.best_match(formats.offered(kind)) if parsed.provided else formats.of_kind(kind)[0].media_type


# --- the route ------------------------------------------------------------------------------------------------------

# Any other method is answered by Werkzeug's routing: 405 with Allow: GET, HEAD, OPTIONS, POST.
@bp.route("/sparql", methods=["GET", "POST", "OPTIONS"], provide_automatic_options=False)
def endpoint():
    if request.method == "OPTIONS":
        return _preflight()
    try:
        op = read_operation()
        if op.kind == "update":
            return _error(403, "SPARQL Update is disabled on this server (a read-only query service)"
                          if not current_app.config.get("UPDATES_ENABLED") else
                          "SPARQL Update is not run at the query endpoint: POST it to /sparql/update with a bearer "
                          "token")
        if op.kind is None:
            return service_description(op.format)
        return _answer(op)
    except ProtocolError as exc:
        resp = _error(exc.status, str(exc))
        if exc.status == 406:
            resp.vary.add("Accept")  # the answer depended on Accept: a cache must not give it to another client
        return resp
    except StoreMissing as exc:
        return _error(503, str(exc))


def _answer(op: Operation) -> Response:
    backend = get_backend()
    allow = tuple(current_app.config["SERVICE_ALLOWLIST"])
    try:
        query.check_size(op.text, current_app.config.get("QUERY_MAX_BYTES"))  # before any reading of the text
        prepared = query.with_known_prefixes(op.text)
    except query.QuerySyntaxError as exc:
        return _error(400, f"malformed query: {exc}")
    except query.QueryRefused as exc:
        return _error(400, str(exc))
    try:
        info = query.check_query(prepared.text, allow, current_app.config.get("QUERY_MAX_BYTES"))
        query.check_dataset(op.dataset.default_graphs, "default-graph-uri")
        query.check_dataset(op.dataset.named_graphs, "named-graph-uri")
    except query.QueryRefused as exc:
        if exc.feature == "update":  # update text in a query operation: not a legal query string (Protocol 2.1.4)
            return _error(400, f"{exc}; this endpoint answers queries (SELECT, ASK, CONSTRUCT, DESCRIBE)")
        return _error(400, str(exc))
    fmt = choose_format(info.kind or TABULAR, op.format)
    pool = backend.pool()
    key = json.dumps([op.text, op.dataset.default_graphs, op.dataset.named_graphs, fmt.name, request.base_url])
    gz = _wants_gzip()
    tag = etag(backend.build_id, backend.built_at, key, gz)
    if request.method in ("GET", "HEAD") and _not_modified(tag, backend.built_at):
        return _not_modified_response(tag, backend)
    # A federated query has its own deadline: the remote endpoint's answer time is not ours to promise.
    limits: dict[str, Any] = ({"timeout": min(float(current_app.config["SERVICE_TIMEOUT"]),
                                              float(current_app.config["QUERY_TIMEOUT"])),
                               "timeout_setting": "SERVICE_TIMEOUT"} if info.services else {})
    cached = None if info.services else backend.cache.get(key)
    if isinstance(pool, querypool.QueryPool):
        limits["client"] = client_address()
    try:
        try:
            result = cached or pool.run(prepared.text, fmt.name, op.dataset or None, base_iri=request.base_url, info=info,
                                        **limits)
        except query.QueryUnavailable:
            if backend.pool() is pool:
                raise
            # a new build was published while this pool started (its store may be pruned already): ask the new one
            result = backend.pool().run(prepared.text, fmt.name, op.dataset or None, base_iri=request.base_url, info=info,
                                        **limits)
    except query.QuerySyntaxError as exc:
        return _error(400, f"malformed query: {prepared.syntax_error(exc)}")
    except (query.QueryTimeout, query.QueryMemoryExceeded) as exc:
        return _error(503, str(exc))
    except query.QueryBusy as exc:
        resp = _error(503, str(exc))
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    except query.QueryUnavailable as exc:
        return _error(503, str(exc))
    except query.QueryError as exc:
        return _error(500, str(exc))
    cacheable = not info.services and (result is cached or backend.pool() is pool)
    if cached is None and cacheable:
        backend.cache.put(key, result)
    body = result.body
    if gz and len(body) >= GZIP_MIN_BYTES:
        # the compressed answer is cached beside the plain one: a cache hit is not compressed again
        packed = backend.cache.get(key + GZ_SUFFIX)
        if packed is None:
            packed = replace(result, body=gzip.compress(body, compresslevel=5, mtime=0))
            if cacheable:
                backend.cache.put(key + GZ_SUFFIX, packed)
        resp = _compressed_response(packed.body, formats.BY_NAME[result.format].content_type)
    else:
        resp = _body_response(body, formats.BY_NAME[result.format].content_type, False)
    resp.headers["X-GAISTD-Cache"] = "hit" if cached is not None else "miss"
    _cache_headers(resp, tag, backend)
    if result.capped:
        resp.headers["X-GAISTD-Result-Capped"] = "true"
    resp.headers["X-GAISTD-Row-Limit"] = str(result.limit)
    return resp


# --- service description --------------------------------------------------------------------------------------------

def service_description(tokens: tuple[str, ...]) -> Response:
    """GET /sparql without a query: a SPARQL 1.1 Service Description, or for a browser the query UI."""
    offered = [f.media_type for f in formats.of_kind(GRAPH)] + ["text/html"]
    accept = request.accept_mimetypes
    if not tokens and accept.provided and accept.best_match(offered) == "text/html":
        ui = current_app.view_functions.get("ui.index")
        if ui is not None:
            return current_app.make_response(ui())  # type: ignore[arg-type]  # Flask types views as maybe async; ours is not
        return Response(_MINIMAL_FORM, content_type="text/html; charset=utf-8")
    fmt = choose_format(GRAPH, tokens)
    backend = get_backend()
    backend.pool()
    gz = _wants_gzip()
    tag = etag(backend.build_id, backend.built_at, "sd", fmt.name, request.base_url,
               list(current_app.config["SERVICE_ALLOWLIST"]), gz)
    if _not_modified(tag, backend.built_at):
        return _not_modified_response(tag, backend)
    try:
        counts = backend.graph_counts()
    except query.QueryError as exc:
        return _error(503, f"cannot count the graphs for the service description now: {exc}")
    body = ox.serialize(description_triples(request.base_url, counts, current_app.config["SERVICE_ALLOWLIST"]),
                        format=fmt.rdf_ox, prefixes={"sd": str(SD), "void": "http://rdfs.org/ns/void#",
                                                     "formats": "http://www.w3.org/ns/formats/", "sh": SH_NS})
    assert body is not None  # serialize returns bytes when no output is given
    resp = _body_response(body, fmt.content_type, gz)
    _cache_headers(resp, tag, backend)
    return resp


def description_triples(endpoint_url: str, counts: dict[str, int], allowlist) -> list[ox.Triple]:
    """The sd: description of this endpoint: language, result formats, features, and the dataset with its sizes."""
    def n(iri: str) -> ox.NamedNode:
        return ox.NamedNode(iri)

    sd = str(SD)
    svc = n(endpoint_url)
    t = [ox.Triple(svc, n(RDF_TYPE), n(sd + "Service")),
         ox.Triple(svc, n(sd + "endpoint"), svc),
         ox.Triple(svc, n(sd + "supportedLanguage"), n(sd + "SPARQL11Query")),
         ox.Triple(svc, n(sd + "feature"), n(sd + "UnionDefaultGraph"))]
    if allowlist:
        t.append(ox.Triple(svc, n(sd + "feature"), n(sd + "BasicFederatedQuery")))
    t += [ox.Triple(svc, n(sd + "resultFormat"), n(f.iri)) for f in formats.FORMATS if f.iri]
    t.append(ox.Triple(svc, n(sd + "extensionFunction"), n(SEARCH_FUNCTION)))  # query/textsearch.py
    t.append(ox.Triple(n(SEARCH_FUNCTION), n(RDF_TYPE), n(sd + "Function")))
    # The prefixes a query may use without declaring them (query/prefixes.py), as SHACL's prefix declarations.
    for prefix, ns in PREFIXES.items():
        decl = ox.BlankNode()
        t += [ox.Triple(svc, n(SH_NS + "declare"), decl),
              ox.Triple(decl, n(SH_NS + "prefix"), ox.Literal(prefix)),
              ox.Triple(decl, n(SH_NS + "namespace"), ox.Literal(ns, datatype=n(_XSD_ANYURI)))]
    dataset, default = ox.BlankNode(), ox.BlankNode()
    t += [ox.Triple(svc, n(sd + "defaultDataset"), dataset),
          ox.Triple(dataset, n(RDF_TYPE), n(sd + "Dataset")),
          ox.Triple(dataset, n(sd + "defaultGraph"), default),
          ox.Triple(default, n(RDF_TYPE), n(sd + "Graph")),
          ox.Triple(default, n(VOID_TRIPLES), ox.Literal(str(counts.get("", 0)), datatype=n(_XSD_INTEGER)))]
    for name in sorted(k for k in counts if k):
        ng, g = ox.BlankNode(), ox.BlankNode()
        t += [ox.Triple(dataset, n(sd + "namedGraph"), ng),
              ox.Triple(ng, n(RDF_TYPE), n(sd + "NamedGraph")),
              ox.Triple(ng, n(sd + "name"), n(name)),
              ox.Triple(ng, n(sd + "graph"), g),
              ox.Triple(g, n(RDF_TYPE), n(sd + "Graph")),
              ox.Triple(g, n(VOID_TRIPLES), ox.Literal(str(counts[name]), datatype=n(_XSD_INTEGER)))]
    return t


_XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"
_XSD_ANYURI = "http://www.w3.org/2001/XMLSchema#anyURI"
SH_NS = PREFIXES["sh"]

_MINIMAL_FORM = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>GAISTD-KG SPARQL endpoint</title></head><body>
<h1>SPARQL endpoint</h1>
<form method="post" action="">
<p><textarea name="query" rows="12" cols="80">SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 25</textarea></p>
<p><label>Format <select name="format"><option>html</option><option>json</option><option>xml</option>
<option>csv</option><option>tsv</option><option>ttl</option><option>jsonld</option></select></label>
<button type="submit">Run</button></p>
</form>
</body></html>
"""


# --- HTTP details ----------------------------------------------------------------------------------------------------

def _wants_gzip() -> bool:
    return _accepts_gzip(request.headers.get("Accept-Encoding"))


@kept_while_short(KEPT_HEADER_BYTES, 64)
def _accepts_gzip(value: str | None) -> bool:
    return parse_accept_header(value)["gzip"] > 0  # what request.accept_encodings["gzip"] is


def etag(build_id: str, built_at: float, *parts: object) -> str:
    """The one ETag rule of the app: the build (identifier and time: a write or a new build changes it) and a digest
    of what else the body depends on (request, format, language, encoding)."""
    digest = hashlib.sha256(json.dumps([str(p) for p in parts]).encode("utf-8")).hexdigest()[:20]
    return f"{build_id}-{int(built_at or 0)}-{digest}"


def _not_modified(etag: str, built_at: float) -> bool:
    if request.if_none_match:
        return request.if_none_match.contains_weak(etag)
    since = request.if_modified_since
    return since is not None and bool(built_at) and int(built_at) <= since.timestamp()


def _not_modified_response(etag: str, backend: Backend) -> Response:
    resp = Response(status=304)
    _cache_headers(resp, etag, backend)
    return resp


def revalidation_headers(resp: Response, etag: str, built_at: float) -> Response:
    """ETag, Last-Modified (the build's time) and ``Cache-Control: public, no-cache``: a cache keeps the answer but
    asks again, and a new build changes it. Shared by the endpoint and the resource pages."""
    resp.set_etag(etag)
    if built_at:
        resp.headers["Last-Modified"] = http_date(built_at)
    resp.headers["Cache-Control"] = "public, no-cache"
    return resp


@lru_cache(maxsize=16)
def http_date(when: float) -> str:
    """A build's time as an HTTP date (the same few builds on every request: kept)."""
    return formatdate(when, usegmt=True)


def _cache_headers(resp: Response, etag: str, backend: Backend) -> None:
    revalidation_headers(resp, etag, backend.built_at)
    resp.headers["X-GAISTD-Build"] = backend.build_id
    if "Vary" in resp.headers:
        resp.vary.update(("Accept", "Accept-Encoding"))
    else:  # a new answer: the header written at once, not parsed into a set and written back
        resp.headers["Vary"] = "Accept, Accept-Encoding"


def _compressed_response(packed: bytes, content_type: str) -> Response:
    resp = Response(packed, content_type=content_type)
    resp.headers["Content-Encoding"] = "gzip"
    return resp


def _body_response(body: bytes, content_type: str, gz: bool) -> Response:
    if gz and len(body) >= GZIP_MIN_BYTES:
        return _compressed_response(gzip.compress(body, compresslevel=5, mtime=0), content_type)
    return Response(body, content_type=content_type)


def _error(status: int, message: str) -> Response:
    return Response(message.rstrip() + "\n", status=status, content_type="text/plain; charset=utf-8")


def _preflight() -> Response:
    resp = Response(status=204)
    resp.headers["Allow"] = ALLOW
    resp.headers["Access-Control-Allow-Methods"] = ALLOW
    resp.headers["Access-Control-Allow-Headers"] = request.headers.get(
        "Access-Control-Request-Headers", "Accept, Content-Type, If-None-Match, If-Modified-Since")
    resp.headers["Access-Control-Max-Age"] = "86400"
    return resp


@bp.after_request
def _cors(resp: Response) -> Response:
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE
    return resp

