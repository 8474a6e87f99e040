"""Writes over HTTP: SPARQL 1.1 Update at /sparql/update, the SPARQL 1.1 Graph Store HTTP Protocol at /rdf-graph-store.

Off by default. With ``UPDATES_ENABLED``:

* ``POST /sparql/update`` takes an update as ``application/sparql-update`` or a form ``update=…``, with the Protocol's
  ``using-graph-uri`` / ``using-named-graph-uri``.
* ``/rdf-graph-store?graph=<iri>`` or ``?default`` (indirect identification) and ``/rdf-graph-store/<path>`` (direct:
  the graph's IRI is the request URL) answer GET, HEAD, PUT, POST, DELETE; POST to ``/rdf-graph-store`` itself creates
  a graph and answers 201 with its IRI in ``Location``. ``?default`` is the data graph (see ``gaistd_kg.pipeline.writes``).
  GET and HEAD are reads and need no token, even while updates are disabled.

Every write needs ``Authorization: Bearer <token>`` with one of ``UPDATE_TOKENS`` (name → token); tokens are compared
in constant time (``hmac.compare_digest``, against every configured token), and the log names the token, never shows
it. Statuses: 401 (with ``WWW-Authenticate``) no or an unknown token; 403 updates disabled, a read-only graph
(ontology, inferred, meta) or a graph not writable here; 400 a refused feature (LOAD, SERVICE, a DTD in RDF/XML, a
remote JSON-LD context), a malformed update or body; 415 a body type not offered; 422 the data after the write
violates the shapes (on what it asserts or on what reasoning types) or the ontology, or brings a schema triple or an
ill-typed literal (the body is the validation report or the triple; nothing changed); 404 a graph that does not
exist (GET, HEAD, DELETE); 503 another write or build held the lock too long, or the change, its validation or its
reasoning ran past its deadline or memory limit (WRITE_TIMEOUT, WRITE_MEMORY_LIMIT; the body names the limit).
Success: 200 (update), 201 (a graph created), 204 (a graph replaced, merged or deleted), each with ``X-GAISTD-Build``.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, request

from gaistd_kg import formats
from gaistd_kg import query
from gaistd_kg.pipeline import writes
from gaistd_kg.pipeline.load import checks_folder
from gaistd_kg.iris import PREFIXES, ROOT
from .security import client_address, plain
from .sparql import (DIRECT_UPDATE, FORM, ProtocolError, absolute_iris, etag, get_backend, request_body_text,
                     request_params)

bp = Blueprint("update", __name__)
log = logging.getLogger("gaistd_kg.web")

GSP_METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE"]
REALM = 'Bearer realm="gaistd-kg writes"'
BODY_TYPES = {"text/turtle": "ttl", "application/x-turtle": "ttl", "application/n-triples": "nt",
              "application/rdf+xml": "rdf", "application/ld+json": "jsonld"}
REFUSED_403 = {"read-only graph", "graph not writable", "emptying the data graph"}


# --- who may write --------------------------------------------------------------------------------------------------

class Refusal(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers or {}


def authorised() -> str:
    """The name of the token the request carries; raises Refusal (403 disabled, 401 no or unknown token)."""
    if not current_app.config.get("UPDATES_ENABLED"):
        raise Refusal(403, "writes are disabled on this server (UPDATES_ENABLED is off)")
    header = request.headers.get("Authorization", "")
    scheme, _, supplied = header.partition(" ")
    if scheme.lower() != "bearer" or not supplied.strip():
        log.warning("write refused: no bearer token, from %s", client_address())
        raise Refusal(401, "a write needs a bearer token: Authorization: Bearer <token>",
                      {"WWW-Authenticate": REALM})
    given = supplied.strip().encode("utf-8", "replace")
    found = None
    for name, token in (current_app.config.get("UPDATE_TOKENS") or {}).items():
        if hmac.compare_digest(given, str(token).encode("utf-8")) and token:  # every token compared: no early exit
            found = name
    if found is None:
        log.warning("write refused: unknown bearer token, from %s", client_address())
        raise Refusal(401, "the bearer token is not one of this server's update tokens",
                      {"WWW-Authenticate": REALM + ', error="invalid_token"'})
    return found


# --- running a write ------------------------------------------------------------------------------------------------

KNOWN = (Refusal, ProtocolError, query.QueryError, writes.WriteRejected, writes.WriteBusy, writes.NoBuild,
         writes.WriteLimit)


def _dir(key: str, default: Path) -> Path:
    configured = current_app.config.get(key)
    return Path(configured) if configured else default


def _commit(change: dict, who: str, what: str) -> writes.WriteResult:
    cfg = current_app.config
    writable = cfg.get("WRITABLE_GRAPHS") or []
    change = {**change, "writable": "*" if "*" in writable else list(writable),
              "may_empty": who in (cfg.get("UPDATE_ADMINS") or ()),
              "service_allowlist": list(cfg.get("SERVICE_ALLOWLIST") or ())}
    result = writes.commit(Path(cfg["BUILD_DIR"]), get_backend().pool, change, who, what,
                           shapes_dir=_dir("SHAPES_DIR", ROOT / "shapes"),
                           checks_dir=_dir("CHECKS_DIR", checks_folder(ROOT)),
                           lock_wait=float(cfg.get("WRITE_LOCK_WAIT", 30.0)),
                           limits=writes.Limits(float(cfg.get("WRITE_TIMEOUT", 50.0)),
                                                int(cfg.get("WRITE_MEMORY_LIMIT", 2048))))
    log.info("write %s by token %r from %s: %s (%s)", "ignored (no change)" if result.noop else "accepted", who,
             client_address(), result.summary(), ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items()))
    return result


def error_response(exc: Exception) -> Response:
    """The status and message for each way a write can fail (see the module docstring)."""
    if isinstance(exc, Refusal):
        resp = plain(exc.status, str(exc))
        resp.headers.update(exc.headers)
        return resp
    if isinstance(exc, ProtocolError):
        return plain(exc.status, str(exc))
    if isinstance(exc, query.QueryRefused):
        return plain(403 if exc.feature in REFUSED_403 else 400, str(exc))
    if isinstance(exc, query.QuerySyntaxError):
        return plain(400, f"malformed: {exc}")
    if isinstance(exc, writes.WriteRejected):
        log.info("write rejected: %s", exc)
        return plain(422, f"{exc}; nothing was changed.\n\n{exc.report}")
    if isinstance(exc, writes.WriteLimit):
        log.warning("write stopped: %s", exc)
        return plain(503, str(exc))
    if isinstance(exc, writes.WriteBusy):
        resp = plain(503, str(exc))
        resp.headers["Retry-After"] = "5"
        return resp
    if isinstance(exc, (query.QueryTimeout, query.QueryMemoryExceeded)):
        return plain(503, str(exc).replace("query stopped", "write stopped"))
    if isinstance(exc, query.QueryUnavailable):
        return plain(503, str(exc))
    return plain(400, str(exc))


def _done(result: writes.WriteResult, status: int, body: str | None = None) -> Response:
    resp = Response(body, status=status, content_type="text/plain; charset=utf-8") if body else Response(status=status)
    resp.headers["X-GAISTD-Build"] = result.build_id
    return resp


# --- SPARQL Update ----------------------------------------------------------------------------------------------------

@bp.route("/sparql/update", methods=["GET", "POST"])
def update():
    try:
        who = authorised()  # before the text is read: nobody without a token learns anything from the parser
        text, using, using_named = _read_update()
        # no QUERY_MAX_BYTES here: the writer has a token, the body limit bounds the text, and reading it is linear
        query.check_update(text, current_app.config.get("SERVICE_ALLOWLIST") or (), None)
        query.with_using(text, using, using_named)  # a dataset conflict is refused before the lock is taken
        result = _commit({"op": "update", "text": text, "base_iri": request.base_url, "using": using,
                          "using_named": using_named, "max_bytes": None}, who, text)
    except KNOWN as exc:
        return error_response(exc)
    return _done(result, 200, f"update {result.summary()}")


def _read_update() -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The update text and its protocol dataset (SPARQL 1.1 Protocol 2.2), or ProtocolError."""
    params = request_params(request.query_string, "query string")
    if request.method != "POST":
        raise ProtocolError(400, "SPARQL Update must be sent with POST (SPARQL 1.1 Protocol, 2.2)")
    mime = request.mimetype
    if mime == FORM:
        charset = request.mimetype_params.get("charset", "utf-8").lower()
        if charset not in ("utf-8", "utf8"):
            raise ProtocolError(400, f"the form body must be UTF-8, not {charset}")
        params += request_params(request.get_data(cache=True), "form body")
        updates = [v for k, v in params if k == "update"]
    elif mime == DIRECT_UPDATE:
        updates = [request_body_text("update")] + [v for k, v in params if k == "update"]
    else:
        raise ProtocolError(415, f"POST an update as {FORM} (update=…) or as {DIRECT_UPDATE}, not "
                                 f"{mime or 'a body without Content-Type'}")
    if len(updates) != 1:
        raise ProtocolError(400, f"one request carries one update: found {len(updates)}")
    if any(k == "query" for k, _ in params):
        raise ProtocolError(400, "a request carries either a query or an update, not both")
    using = absolute_iris(params, "using-graph-uri", "using-named-graph-uri")
    using_named = tuple(v for k, v in params if k == "using-named-graph-uri")
    for iri in using + using_named:
        if iri.lower().startswith("file:"):
            raise ProtocolError(400, f"using-graph-uri <{iri}> is refused: this server never reads local files")
    return updates[0], using, using_named


# --- Graph Store HTTP Protocol ----------------------------------------------------------------------------------------

@bp.route("/rdf-graph-store", methods=GSP_METHODS)
def graph_store():
    """Indirect identification: ``?graph=<iri>`` or ``?default``; POST with neither creates a graph."""
    graphs, default = request.args.getlist("graph"), "default" in request.args
    if len(graphs) > 1 or (graphs and default):
        return plain(400, "name one graph: ?graph=<iri> or ?default")
    if not graphs and not default:
        if request.method == "POST":
            return _gsp(request.url_root + "rdf-graph-store/" + uuid.uuid4().hex, created=True)
        return plain(400, "name a graph: ?graph=<iri> (percent-encoded) or ?default")
    graph = graphs[0] if graphs else None
    if graph is not None:
        try:
            ox.NamedNode(graph)
        except ValueError:
            return plain(400, f"?graph= must be an absolute IRI: {graph!r}")
    return _gsp(graph)


@bp.route("/rdf-graph-store/<path:rest>", methods=GSP_METHODS)
def graph_store_direct(rest: str):
    """Direct identification: the request URL (without query) is the graph's IRI."""
    if request.args:
        return plain(400, "a graph named by its URL takes no ?graph or ?default")
    try:
        ox.NamedNode(request.base_url)
    except ValueError:
        return plain(400, f"this URL is not an IRI a graph can have: {request.base_url!r}")
    return _gsp(request.base_url)


def _gsp(graph: str | None, created: bool = False) -> Response:
    if request.method in ("GET", "HEAD"):
        return _read_graph(graph)
    try:
        who = authorised()
        _check_target(graph)
        parts = [] if request.method == "DELETE" else _bodies()
        what = f"Graph Store {request.method} <{graph or writes.DATA_GRAPH}>"
        if parts:
            what += "\n" + "\n".join(b.decode("utf-8", "replace") for b, _ in parts)
        result = _commit({"op": request.method.lower(), "graph": graph, "parts": parts,
                          "base_iri": graph or request.base_url}, who, what)
    except KNOWN as exc:
        return error_response(exc)
    if request.method == "DELETE":
        return _done(result, 204) if result.existed else plain(404, f"no graph <{graph}> in the store")
    status = 201 if not result.existed else 204
    resp = _done(result, status)
    if created:
        resp.headers["Location"] = graph
    return resp


def _check_target(graph: str | None) -> None:
    if graph is None or graph == writes.DATA_GRAPH:
        return
    writable = current_app.config.get("WRITABLE_GRAPHS") or []
    if graph in writes.READ_ONLY:
        raise query.QueryRefused("read-only graph", f"graph <{graph}> is read-only: the ontology comes from the "
                                                    "source files, the inferred and meta graphs from each build")
    if "*" not in writable and graph not in writable:
        raise query.QueryRefused("graph not writable", f"graph <{graph}> is not writable on this server: writes go "
                                                       f"to the data graph <{writes.DATA_GRAPH}> (?default)")


def _body_format(mimetype: str, params: dict) -> str:
    fmt = BODY_TYPES.get(mimetype)
    if fmt is None:
        raise ProtocolError(415, f"send RDF as one of {', '.join(sorted(BODY_TYPES))} (or multipart/form-data of "
                                 f"those), not {mimetype or 'a body without Content-Type'}")
    charset = params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise ProtocolError(400, f"RDF bodies must be UTF-8, not {charset}")
    return fmt


def _bodies() -> list[tuple[bytes, str]]:
    if request.mimetype == "multipart/form-data":
        if request.method != "POST":
            raise ProtocolError(415, "multipart/form-data is accepted with POST only")
        parts = []
        for storage in request.files.values():
            parts.append((storage.read(), _body_format(storage.mimetype, storage.mimetype_params)))
        if not parts:
            raise ProtocolError(400, "the multipart body holds no file part")
        return parts
    return [(request.get_data(cache=True), _body_format(request.mimetype, request.mimetype_params))]


def _best(offered: list[str]) -> str | None:
    """Werkzeug's best match for the Accept header; a client writing ``text/turtle; charset=utf-8`` (as the W3C tests
    do) means text/turtle, so parameters are dropped when nothing matches with them."""
    accept = request.accept_mimetypes
    if not accept.provided:
        return offered[0]
    best = accept.best_match(offered)
    if best is None:
        from werkzeug.datastructures import MIMEAccept

        best = MIMEAccept([(v.split(";")[0].strip(), q) for v, q in accept]).best_match(offered)
    return best


def _read_graph(graph: str | None) -> Response:
    from .pages import current_store

    opened = current_store()
    target = ox.NamedNode(graph or writes.DATA_GRAPH)
    triples = [q.triple for q in opened.store.quads_for_pattern(None, None, None, target)]
    if not triples and graph not in (None, writes.DATA_GRAPH):
        return plain(404, f"no graph <{graph}> in the store")
    offered = formats.of_kind(formats.GRAPH)
    best = _best(formats.offered(formats.GRAPH))
    if best is None:
        return plain(406, "none of the accepted media types can carry a graph; offered: " + formats.describe(offered))
    fmt = formats.lookup(best, formats.GRAPH)
    body = ox.serialize(triples, format=fmt.rdf_ox, prefixes=query.used_prefixes(triples, PREFIXES) or None
                        if fmt.rdf_ox in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else None)
    resp = Response(body, content_type=fmt.content_type)
    resp.set_etag(etag(opened.build_id, opened.built_at, "graph-store", graph or "", fmt.name))
    resp.headers["X-GAISTD-Build"] = opened.build_id
    resp.vary.add("Accept")
    resp.make_conditional(request)  # in place; it returns ``resp`` itself, typed as werkzeug's base Response
    return resp
