"""What every response and every request of the app is held to: headers, limits, and error bodies without internals.

* **Headers.** Every response carries the one Content-Security-Policy (``csp()``: no inline script anywhere; a page
  that inlines styles sets its own variant, by hash), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy`` and
  ``X-Frame-Options: DENY``, applied here to every blueprint.
* **Request size.** A body over ``MAX_CONTENT_LENGTH`` is refused with 413 naming the limit: from the
  ``Content-Length`` header alone, before any of it is read; a chunked body (no length) is read up to the limit here,
  and refused when it goes past it (Werkzeug alone would silently cut it at the limit: half an upload could be
  accepted). So that the client sees the 413 while it is still sending, the connection is closed gracefully: the
  answer is sent, then at most ``LINGER_BYTES`` or ``LINGER_SECONDS`` of the body are read and dropped.
* **Concurrent requests per client.** At most ``MAX_CONCURRENT_PER_CLIENT`` requests to the SPARQL and write
  endpoints run at once for one client address; past that, 429 with ``Retry-After``. The slots are lock files
  (``<RUN_DIR>/clients/<hash>.<n>``, ``flock``), so the count holds across every gunicorn worker process and a slot
  is released by the kernel even when its process dies. The address is the TCP peer; ``X-Forwarded-For`` is read only
  when the peer is one of ``TRUSTED_PROXIES`` (then the right-most address that is not a trusted proxy counts).
* **Errors.** An unexpected exception is logged with its traceback and answered with a plain 500 naming an incident
  id, never a traceback; and no error body (any status ≥ 400) carries a path of the server's file system: the build,
  cache and run folders, the code and the Python installation are replaced by ``…``.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import ipaddress
import logging
import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from gaistd_kg.iris import ROOT

log = logging.getLogger("gaistd_kg.web")

LIMITED_ENDPOINTS = frozenset({"sparql.endpoint", "update.update", "update.graph_store", "update.graph_store_direct"})
RETRY_AFTER = 1  # seconds: most queries end well within it
LINGER_BYTES = 8 << 20   # after a 413, read and drop at most this much of the refused body …
LINGER_SECONDS = 2.0     # … for at most this long, so the client can read the answer before the connection closes
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}
# The one Content-Security-Policy of the app: scripts only from our own files, everywhere. Inline styles only where a
# page needs them (csp()): pyLODE's stylesheet by hash, and YASGUI (which sets style attributes from script).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'{styles}; img-src 'self' data:; font-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def csp(style_hashes: tuple[str, ...] = (), inline_styles: bool = False) -> str:
    """The Content-Security-Policy, with inline styles allowed by hash (``style_hashes``) or, for the query UI,
    ``inline_styles``; a style cannot run code, and data never reaches a page unescaped."""
    styles = " 'unsafe-inline'" if inline_styles else "".join(f" '{h}'" for h in style_hashes)
    return CSP.format(styles=styles)


DEFAULT_CSP = csp()


def init_app(app: Flask) -> None:
    if not log.handlers and not logging.getLogger().handlers:  # under gunicorn: its stderr, which is its error log
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False  # a library calling logging.basicConfig later must not print every line twice
    app.before_request(_check_request)
    app.teardown_request(_release_slot)
    app.after_request(_harden)
    app.after_request(_cors)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(Exception, _internal_error)


# --- request size ---------------------------------------------------------------------------------------------------

def _limit_text() -> str:
    return f"the limit is {current_app.config['MAX_CONTENT_LENGTH']} bytes (MAX_CONTENT_LENGTH)"


def _too_large(_exc: RequestEntityTooLarge) -> Response:
    resp = plain(413, f"request body too large: {_limit_text()}")
    sock = request.environ.get("gunicorn.socket")
    if sock is not None:
        resp.call_on_close(lambda: _linger(sock))
    return resp


def _linger(sock: socket.socket) -> None:
    """After the 413 is out: no more from us (FIN), drop a bounded part of what the client still sends, then stop
    reading. Closing at once would reset the connection and the client would never read the answer."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(0.2)
        deadline, total = time.monotonic() + LINGER_SECONDS, 0
        while total < LINGER_BYTES and time.monotonic() < deadline:
            try:
                data = sock.recv(1 << 16)
            except TimeoutError:
                continue
            if not data:
                break
            total += len(data)
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass


def _read_chunked(limit: int) -> Response | None:
    """A body without Content-Length (chunked): read it here, up to the limit; past it, 413. What was read becomes the
    request's body, with its length, for everything after."""
    env = request.environ
    raw = env["wsgi.input"]
    buf = bytearray()
    while len(buf) <= limit:
        data = raw.read(min(1 << 16, limit + 1 - len(buf)))
        if not data:
            break
        buf += data
    if len(buf) > limit:
        return _too_large(RequestEntityTooLarge())
    env["wsgi.input"] = io.BytesIO(bytes(buf))
    env["CONTENT_LENGTH"] = str(len(buf))
    env.pop("HTTP_TRANSFER_ENCODING", None)  # the body is de-chunked now: Werkzeug reads it by its length
    env.pop("wsgi.input_terminated", None)
    return None


def _check_request():
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length is not None and request.content_length > limit:
        return _too_large(RequestEntityTooLarge())
    if limit and request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        refused = _read_chunked(limit)
        if refused is not None:
            return refused
    if request.endpoint in LIMITED_ENDPOINTS and request.method != "OPTIONS":
        cap = int(current_app.config.get("MAX_CONCURRENT_PER_CLIENT") or 0)
        if cap > 0:
            client = client_address()
            fd = _slots().acquire(client, cap)
            if fd is None:
                log.warning("429: client %s already has %d requests running", client, cap)
                resp = plain(429, f"too many requests at once from {client}: at most {cap} may run together "
                                  "(MAX_CONCURRENT_PER_CLIENT); retry when one has finished")
                resp.headers["Retry-After"] = str(RETRY_AFTER)
                return resp
            g.gaistd_slot = fd
    return None


# --- the client's address --------------------------------------------------------------------------------------------

def _networks(entries) -> list:
    nets = []
    for e in entries or ():
        try:
            nets.append(ipaddress.ip_network(str(e).strip(), strict=False))
        except ValueError:
            log.error("TRUSTED_PROXIES: %r is not an address or network; ignored", e)
    return nets


def _in(addr: str, nets) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in n for n in nets)


def client_address() -> str:
    """The address the per-client limits count: the TCP peer, or behind a trusted proxy its X-Forwarded-For."""
    peer = request.remote_addr or ""
    nets = _networks(current_app.config.get("TRUSTED_PROXIES"))
    if not nets or not _in(peer, nets):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("X-Forwarded-For")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, nets):
            return hop
    return hops[0] if hops else peer


# --- per-client slots ------------------------------------------------------------------------------------------------

class ClientSlots:
    """``cap`` lock files per client under ``folder``; holding an exclusive flock on one is holding a slot."""

    PRUNE_EVERY = 600.0  # seconds between sweeps of slot files left by clients long gone
    HINTS = 4096         # clients whose last slot a process remembers (forgotten all at once past it)

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._swept = time.monotonic()
        self._after: dict[str, int] = {}  # per client key: where this process starts looking for a free slot

    def acquire(self, client: str, cap: int) -> int | None:
        """A slot of ``client``'s ``cap`` (its descriptor, to release), or None when all are held. The search starts
        after the slot this process took last for that client: the slots before it are most likely still held (a
        client's requests end roughly in the order they began), and each held slot tried costs three system calls."""
        key = hashlib.sha256(client.encode("utf-8", "replace")).hexdigest()[:24]
        start = self._after.get(key, 0) % cap
        for i in range(cap):
            n = (start + i) % cap
            fd = os.open(self.folder / f"{key}.{n}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            if len(self._after) >= self.HINTS:
                self._after.clear()
            self._after[key] = n + 1
            return fd
        return None

    @staticmethod
    def release(fd: int) -> None:
        os.close(fd)  # closing the descriptor drops the lock

    def sweep(self, older_than: float = 3600.0) -> None:
        if time.monotonic() - self._swept < self.PRUNE_EVERY:
            return
        self._swept = time.monotonic()
        cutoff = time.time() - older_than
        for path in self.folder.iterdir():
            try:
                if path.stat().st_mtime > cutoff:
                    continue
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                path.unlink()
            except OSError:
                pass
            finally:
                os.close(fd)


def run_dir() -> Path:
    configured = current_app.config.get("RUN_DIR")
    if configured:
        return Path(configured)
    candidate = Path(current_app.config["BUILD_DIR"]) / "run"
    try:
        candidate.mkdir(parents=True, exist_ok=True)
        if os.access(candidate, os.W_OK):
            return candidate
    except OSError:
        pass
    key = hashlib.sha256(str(current_app.config["BUILD_DIR"]).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"gaistd-run-{key}"


def _slots() -> ClientSlots:
    slots = current_app.extensions.get("gaistd.client_slots")
    if slots is None:
        slots = current_app.extensions["gaistd.client_slots"] = ClientSlots(run_dir() / "clients")
    slots.sweep()
    return slots


def _release_slot(_exc=None) -> None:
    fd = g.pop("gaistd_slot", None)
    if fd is not None:
        ClientSlots.release(fd)


# --- headers and error bodies ----------------------------------------------------------------------------------------

def _harden(resp: Response) -> Response:
    resp.headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
    for k, v in HEADERS.items():
        resp.headers.setdefault(k, v)
    if resp.status_code >= 400 and not resp.direct_passthrough:  # error bodies are small: buffer and check them
        body = resp.get_data()
        clean = scrub(body)
        if clean != body:
            resp.set_data(clean)
    return resp


# Every read route may be read by a browser application on any origin: no cookie or credential is ever used, so "*"
# exposes nothing a plain GET does not. Writes (the update blueprint) stay same-origin.
CORS_READ_METHODS = ("GET", "HEAD", "OPTIONS")
CORS_EXPOSED = "ETag, Link, Content-Location, Vary, X-GAISTD-Build"
CORS_REQUEST_HEADERS = "Accept, Accept-Language, If-None-Match, If-Modified-Since, Range"


def _cors(resp: Response) -> Response:
    if request.method not in CORS_READ_METHODS or request.blueprint == "update":
        return resp
    resp.headers.setdefault("Access-Control-Allow-Origin", "*")
    resp.headers.setdefault("Access-Control-Expose-Headers", CORS_EXPOSED)
    if request.method == "OPTIONS" and "Access-Control-Allow-Methods" not in resp.headers:  # a preflight
        resp.headers["Access-Control-Allow-Methods"] = ", ".join(CORS_READ_METHODS)
        resp.headers["Access-Control-Allow-Headers"] = request.headers.get("Access-Control-Request-Headers",
                                                                           CORS_REQUEST_HEADERS)
        resp.headers["Access-Control-Max-Age"] = "86400"
    return resp


def _server_paths() -> list[bytes]:
    cfg = current_app.config
    paths = {str(ROOT), sys.prefix, sys.base_prefix, str(Path(__file__).resolve().parent.parent),
             str(cfg.get("BUILD_DIR") or ""), str(cfg.get("CACHE_DIR") or ""), str(cfg.get("RUN_DIR") or ""),
             str(cfg.get("SHAPES_DIR") or ""), str(cfg.get("QUERIES_DIR") or ""), tempfile.gettempdir()}
    for p in list(paths):
        if p:
            paths.add(os.path.realpath(p))
    return sorted((p.encode() for p in paths if len(p) > 1), key=len, reverse=True)


def scrub(body: bytes) -> bytes:
    """``body`` with every server path (see ``_server_paths``) replaced by ``…``."""
    for p in _server_paths():
        body = body.replace(p, "…".encode())
    return body


def _internal_error(exc: Exception):
    if isinstance(exc, HTTPException):
        return exc
    from gaistd_kg.query.engine import QueryTimeout, QueryUnavailable

    if isinstance(exc, (QueryUnavailable, QueryTimeout)):
        # a page, dump or report read from a remote store (STORE_URL) that failed or answered too late: say so
        log.warning("%s %s: %s", request.method, request.path, exc)
        return plain(504 if isinstance(exc, QueryTimeout) else 503, f"the store did not answer: {exc}")
    incident = uuid.uuid4().hex[:12]
    log.exception("incident %s: %s %s", incident, request.method, request.path)
    return plain(500, f"internal server error (incident {incident}); the operator's log has the details")


def plain(status: int, message: str) -> Response:
    return Response(message.rstrip() + "\n", status=status, content_type="text/plain; charset=utf-8")


from flask import Blueprint  # noqa: E402 - the blueprint list wants one; this module adds hooks, no routes

bp = Blueprint("security", __name__)
