"""How the app is served: gunicorn's settings (one table, for ``gaistd serve``, the README's command and the tests) and
the read deadlines that keep slow clients from holding the server.

gunicorn's ``gthread`` worker gives each connection a thread while it reads the request; a client that trickles its
headers or body (one byte every few seconds) keeps that thread for as long as it likes, and enough such sockets hold
every thread. ``install`` (the ``post_worker_init`` hook) changes that worker so that:

* the request line and headers are gathered in the worker's poller (its main loop, no thread), and a connection goes
  to a thread only once they are all in: a slow client's headers cost no thread at all (``gather``);
* they must arrive within ``HEADER_SECONDS`` (from the connection, or from the end of the previous answer on a kept-
  alive one), and amount to at most ``HEADER_BYTES``; past either, 408 (or 431) and the connection closes;
* the body must arrive within ``BODY_SECONDS`` once the headers are in (the app's body limit, MAX_CONTENT_LENGTH,
  1 MiB, needs 35 KB/s); past it the read fails with 408 and the connection closes;
* each write of the answer must complete within ``SEND_SECONDS``; a client that does not read is dropped;
* a request answered before its body was read (429, 413, …) closes its connection instead of draining the body;
* a thread that has answered a kept-alive connection reads its next request itself when the whole header block is
  already there or arrives within ``NEXT_WAIT`` (clients that send requests back to back: SPARQL clients, load
  tools), up to ``NEXT_IN_THREAD`` in a row; anything slower goes back to the poller as above;
* closing a connection gracefully (gunicorn does it on its main loop, where it would wait up to 2 s for a silent
  client) waits at most ``CLOSE_LINGER`` for the client's last bytes.

gunicorn caps ``limit_request_line`` at 8190 bytes whatever it is set to, and a GET query of 9 kB needs more: the
request line is limited here instead (``REQUEST_LINE_LIMIT``, 414 past it), with gunicorn's own check off (0).
"""

from __future__ import annotations

import errno
import os
import select
import selectors
import socket
import time
from collections import deque
from functools import partial

from gunicorn.workers.gthread import TConn
from gunicorn.workers.gthread import ThreadWorker as GThreadWorker

from .gworker import EXTRA_BYTES, ErrorPageHeaders, HeadedSocket
from werkzeug.exceptions import RequestTimeout

HEADER_SECONDS = 10.0        # request line and headers, from the first byte
BODY_SECONDS = 30.0          # the body, once the headers are in
SEND_SECONDS = 30.0          # one write of the answer
HEADER_BYTES = 64 << 10      # request line and headers together
REQUEST_LINE_LIMIT = 16384   # bytes of the request target (a GET query); 414 past it
CLOSE_LINGER = 0.05          # seconds a graceful close waits for the client's last bytes
THREADS = 32                 # per worker: one per request being read or answered (waiting ones cost no CPU)
NEXT_WAIT = 0.002            # seconds a thread that has answered waits for the next request on the connection
NEXT_IN_THREAD = 64          # requests of one connection answered in a row by one thread before the poller has it


def default_workers() -> int:
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


def settings(workers: int | None = None, threads: int | None = None) -> dict:
    """gunicorn's settings for serving (``bind`` apart): what ``gaistd serve``, ``gunicorn -c
    python:gaistd_kg.web.gunicorn_conf server:app`` and the test suite's server all run with."""
    return {
        "workers": workers or default_workers(),
        "worker_class": "gthread",
        "threads": threads or THREADS,
        "timeout": 60,            # a worker silent this long is restarted (queries have their own 10 s deadline)
        "graceful_timeout": 20,
        "keepalive": 5,           # an idle kept-alive connection waits in the poller (no thread), 5 s at most
        "limit_request_line": 0,  # checked by ``install`` (REQUEST_LINE_LIMIT): gunicorn's cap is 8190 bytes
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
        "accesslog": "-",
        "errorlog": "-",
        "preload_app": False,
        "proc_name": "gaistd-serve",
        "post_worker_init": install,
    }


class BodyTimeout(RequestTimeout):
    """The body did not arrive within BODY_SECONDS: the app answers 408 (an HTTP error, not a server fault)."""

    description = f"the request body did not arrive within {BODY_SECONDS:g} s"


# the app's own security headers (CSP, nosniff, frame options: gworker.EXTRA_BYTES), as on every other answer
_HEADER_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   + EXTRA_BYTES.replace(b"%", b"%%") + b"Content-Length: %d\r\n\r\n%s")
_HEADERS_TOO_LARGE = _HEADER_TIMEOUT.replace(b"408 Request Timeout", b"431 Request Header Fields Too Large")
_URI_TOO_LONG = _HEADER_TIMEOUT.replace(b"408 Request Timeout", b"414 URI Too Long")


def _page(template: bytes, message: str) -> bytes:
    body = message.encode() + b"\n"
    return template % (len(body), body)


class DeadlineSocket:
    """A connection's socket whose reads are held to a deadline (headers, then body) and whose writes to a time."""

    def __init__(self, sock):
        self._sock = sock
        self._deadline: float | None = None
        self._header_bytes: int | None = None  # counted while the headers are read; None: in the body (or done)
        self._expired = False
        self._prefix = b""  # what the poller read ahead (``gather``): given to the parser before the socket's bytes
        self._oversize = False  # the read-ahead headers are over HEADER_BYTES: 431
        self._closing = False  # we have sent our last byte (shutdown): reads only drain what is already there

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def arm_headers(self) -> None:
        self._deadline, self._header_bytes, self._expired = time.monotonic() + HEADER_SECONDS, 0, False
        self._oversize = False

    def gather(self) -> bool | None:
        """Read what has arrived (the socket is non-blocking, in the poller) into the read-ahead. True: the headers
        are complete (or over HEADER_BYTES: the thread answers 431); False: more to come; None: the client left."""
        try:
            data = self._sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return None
        if not data:
            return None
        self._prefix += data
        end = self._prefix.find(b"\r\n\r\n")
        if end < 0 and len(self._prefix) <= HEADER_BYTES:
            return False
        self._oversize = end < 0 or end + 4 > HEADER_BYTES
        return True

    def expired(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def timeout_page(self) -> None:
        """408 without waiting (the connection is about to be closed by the poller)."""
        self._refuse(_page(_HEADER_TIMEOUT, f"the request headers did not arrive within {HEADER_SECONDS:g} s"))

    def take_prefix(self) -> bytes:
        prefix, self._prefix = self._prefix, b""
        return prefix

    def arm_body(self) -> None:
        self._deadline, self._header_bytes = time.monotonic() + BODY_SECONDS, None

    def disarm(self) -> None:
        self._deadline, self._header_bytes = None, None

    def _refuse(self, page: bytes) -> OSError:
        """Answer once (without waiting on the client) and end the connection: reported to gunicorn as a reset, which
        it closes without logging a traceback."""
        if not self._expired:
            self._expired = True
            try:
                self._sock.setblocking(False)
                self._sock.send(page)
            except OSError:
                pass
        return ConnectionResetError(errno.ECONNRESET, "request refused by its read deadline or size")

    def shutdown(self, how: int) -> None:
        if how != socket.SHUT_RD:
            self._closing = True
        self._sock.shutdown(how)

    def recv(self, size: int, *flags) -> bytes:
        if self._closing:
            timeout = self._sock.gettimeout()
            if timeout is None or timeout > CLOSE_LINGER:
                self._sock.settimeout(CLOSE_LINGER)
            return self._sock.recv(size, *flags)
        if self._oversize:
            raise self._refuse(_page(_HEADERS_TOO_LARGE, f"request line and headers over {HEADER_BYTES} bytes"))
        if self._prefix:
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            if self._header_bytes is not None:
                self._header_bytes += len(data)
                if self._header_bytes > HEADER_BYTES + 65536:  # the read-ahead may hold some of the body
                    raise self._refuse(_page(_HEADERS_TOO_LARGE, f"request line and headers over {HEADER_BYTES} "
                                                                 "bytes"))
            return data
        if self._deadline is None:
            return self._sock.recv(size, *flags)
        if self._expired:
            raise ConnectionResetError(errno.ECONNRESET, "request refused by its read deadline or size")
        remaining = self._deadline - time.monotonic()
        timeout = self._sock.gettimeout()
        try:
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            data = self._sock.recv(size, *flags)
        except TimeoutError:
            if self._header_bytes is None:
                self._expired = True
                raise BodyTimeout() from None
            raise self._refuse(_page(_HEADER_TIMEOUT, f"the request headers did not arrive within "
                                                      f"{HEADER_SECONDS:g} s")) from None
        finally:
            if not self._expired:
                self._sock.settimeout(timeout)
        if self._header_bytes is not None:
            self._header_bytes += len(data)
            if self._header_bytes > HEADER_BYTES + 65536:  # a read (or the read-ahead) may hold some of the body
                raise self._refuse(_page(_HEADERS_TOO_LARGE, f"request line and headers over {HEADER_BYTES} bytes"))
        return data

    def _bounded(self, method, *args, **kwargs):
        timeout = self._sock.gettimeout()
        if timeout == 0.0:  # gunicorn's own non-blocking writes (error pages)
            return method(*args, **kwargs)
        self._sock.settimeout(SEND_SECONDS)
        try:
            return method(*args, **kwargs)
        except TimeoutError:
            # the client stopped reading: gunicorn drops such a connection quietly as a broken pipe
            raise BrokenPipeError(errno.EPIPE, f"the client read nothing for {SEND_SECONDS:g} s") from None
        finally:
            try:
                self._sock.settimeout(timeout)
            except OSError:
                pass

    def sendall(self, data, *flags):
        return self._bounded(self._sock.sendall, data, *flags)

    def sendfile(self, file, offset=0, count=None):
        return self._bounded(self._sock.sendfile, file, offset, count)


def install(worker) -> None:
    """gunicorn's ``post_worker_init`` hook: hold this gthread worker's connections to the read deadlines and the
    request-line limit. Only this worker object is changed (its bound methods), never gunicorn's classes."""
    handle, handle_request, app = worker.handle, worker.handle_request, worker.wsgi
    warm = getattr(app, "extensions", {}).get("gaistd.warm")
    if warm is not None:
        try:
            warm()  # before this worker takes a connection
        except Exception:  # the pages that need it fail (and say why) on request; the rest is served
            worker.log.exception("could not warm the catalogue for this worker; it is read on the first request")
    handle_error = worker.handle_error

    def headed_error(req, client, addr, exc):
        """gunicorn's own error pages (400, 414, 431, 500 …) with the app's CSP, nosniff and frame headers."""
        return handle_error(req, HeadedSocket(client), addr, exc)

    if not isinstance(worker, ErrorPageHeaders):  # a gworker class adds them itself
        worker.handle_error = headed_error
    if not isinstance(worker, GThreadWorker):
        return  # the read deadlines below are the gthread worker's (another worker class keeps gunicorn's own)
    gathering: deque = deque()  # connections whose headers the poller is reading, oldest deadline first

    def gather(conn) -> None:
        """Wait in the poller, without a thread, until ``conn``'s headers are all in (then to a thread)."""
        if not isinstance(conn.sock, DeadlineSocket):
            conn.sock = DeadlineSocket(conn.sock)  # before the parser is made on it (conn.init, in handle)
        conn.sock.setblocking(False)
        conn.sock.arm_headers()
        gathering.append(conn)
        worker.poller.register(conn.sock, selectors.EVENT_READ, partial(readable, conn))

    def drop(conn) -> None:
        gathering.remove(conn)
        try:
            worker.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def readable(conn, _sock) -> None:
        done = conn.sock.gather()
        if done is False:
            return
        drop(conn)
        if done is None:
            worker.nr_conns -= 1
            conn.close()
            return
        conn.data_ready = conn.gathered = True
        worker.enqueue_req(conn)

    def accept(listener) -> None:
        try:
            sock, addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        worker.nr_conns += 1
        gather(TConn(worker.cfg, sock, addr, listener.getsockname()))

    def on_client_socket_readable(conn, client) -> None:  # a kept-alive connection with a new request coming
        worker.poller.unregister(client)
        worker.keepalived_conns.remove(conn)
        gather(conn)

    def murder_pending() -> None:
        murder()
        while gathering and gathering[0].sock.expired():
            conn = gathering[0]
            drop(conn)
            conn.sock.timeout_page()
            worker.nr_conns -= 1
            conn.close()

    def next_ready(conn) -> bool:
        """Whether the next request on this kept-alive connection is already here, headers complete, or arrives so
        within NEXT_WAIT: then the thread that answered the last one reads it at once, instead of handing the
        connection to the poller, which would hand it back to a thread (two thread switches and the main loop's
        work on every request of a client that sends its requests back to back)."""
        if conn.parser.unreader.buf.getvalue():
            return True  # read ahead while the last body was drained: pipelined, read here as gunicorn would
        raw = conn.sock._sock
        try:
            if not select.select([raw], [], [], NEXT_WAIT)[0]:
                return False
            waiting = raw.recv(HEADER_BYTES, socket.MSG_PEEK)
        except OSError:
            return False
        return b"\r\n\r\n" in waiting  # incomplete headers (or a closed connection) go to the poller, as before

    def deadline_handle(conn):
        keep = deadline_handle_one(conn)
        for _ in range(NEXT_IN_THREAD - 1):
            if keep is not True or not worker.alive or not next_ready(conn):
                break
            keep = deadline_handle_one(conn)
        return keep

    def deadline_handle_one(conn):
        if not isinstance(conn.sock, DeadlineSocket):
            conn.sock = DeadlineSocket(conn.sock)
        if not getattr(conn, "gathered", False):
            conn.sock.arm_headers()  # a request read in the thread (pipelined after the previous one): same deadline
        conn.gathered = False
        keep = handle(conn)
        if keep is True and conn.sock._prefix:
            # read ahead by the poller and not used by this request: the next one, pipelined. Handed to the parser,
            # where gunicorn looks for it before waiting on the socket again.
            conn.parser.unreader.unread(conn.sock.take_prefix())
        return keep

    def deadline_handle_request(req, conn):
        if len(req.uri or "") > REQUEST_LINE_LIMIT:
            conn.sock.disarm()
            conn.sock.sendall(_page(_URI_TOO_LONG, f"the request target is over {REQUEST_LINE_LIMIT} bytes; send a "
                                                   "long query with POST"))
            return False
        conn.sock.arm_body()
        return handle_request(req, conn)

    def deadline_app(environ, start_response):
        sock = environ.get("gunicorn.socket")

        def start(status, headers, exc_info=None):
            if isinstance(sock, DeadlineSocket):
                sock.disarm()  # the app has read what it needed
            unread = getattr(getattr(environ.get("wsgi.input"), "reader", None), "length", 0)
            response = getattr(start_response, "__self__", None)  # gunicorn's Response, whose method this is
            if isinstance(unread, int) and unread > 0 and hasattr(response, "force_close"):
                # answered before its body was read (429, 413 …): "Connection: close" and no reuse, rather than
                # gunicorn draining a slow body on this thread (up to 5 s) for a connection it then keeps
                response.force_close()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    murder = worker.murder_pending
    worker.accept = accept
    worker.on_client_socket_readable = on_client_socket_readable
    worker.murder_pending = murder_pending
    worker.handle = deadline_handle
    worker.handle_request = deadline_handle_request
    worker.wsgi = deadline_app
