"""gunicorn workers whose own error pages carry the app's security headers.

gunicorn answers some requests before the app sees them: 400 for a bad request line, 414 for a request line over
``limit_request_line``, 431 for headers over ``limit_request_field_size`` or ``limit_request_fields``, 500 when a
request failed outside the app. It writes those pages itself (``Worker.handle_error``), without the
Content-Security-Policy, ``X-Content-Type-Options: nosniff`` and the other headers every response of the app
carries (``web/security.py``). These workers add them: ``handle_error`` writes through a socket whose first
``sendall`` gets the headers inserted after the status line; gunicorn's page and logging are otherwise its own.

Use one by its dotted name (``-k gaistd_kg.web.gworker.ThreadWorker`` with ``--threads``, or ``SyncWorker``), or
as ``worker_class`` in a gunicorn configuration.
"""

from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker as _GThreadWorker
from gunicorn.workers.sync import SyncWorker as _GSyncWorker

from .security import DEFAULT_CSP, HEADERS

EXTRA = "".join(f"{k}: {v}\r\n" for k, v in {"Content-Security-Policy": DEFAULT_CSP, **HEADERS}.items())
EXTRA_BYTES = EXTRA.encode("latin-1")


class HeadedSocket:
    """A socket for one error page: the response's first write gets ``EXTRA`` after its status line; everything
    else goes to the socket as it is."""

    def __init__(self, sock):
        self._sock = sock
        self._done = False

    def sendall(self, data: bytes, *args):
        if not self._done:
            self._done = True
            head, sep, rest = bytes(data).partition(b"\r\n")
            if sep and head.startswith(b"HTTP/"):
                data = head + sep + EXTRA_BYTES + rest
        return self._sock.sendall(data, *args)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class ErrorPageHeaders:
    """Mixin for a gunicorn worker class: its error pages carry the app's security headers."""

    def handle_error(self, req, client, addr, exc):
        return super().handle_error(req, HeadedSocket(client), addr, exc)


class SyncWorker(ErrorPageHeaders, _GSyncWorker):
    """gunicorn's sync worker, with headers on its error pages."""


class ThreadWorker(ErrorPageHeaders, _GThreadWorker):
    """gunicorn's gthread worker, with headers on its error pages."""
