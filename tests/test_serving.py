"""The serving settings (``gaistd_kg/web/serving.py``): one table for ``gaistd serve``, the README's command and the
tests, and the read deadlines gunicorn lacks, each on a real socket pair or against the real server."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import quote

import pytest

from conftest import http_call

from gaistd_kg.cli.serve import options
from gaistd_kg.web import gunicorn_conf, serving
from gaistd_kg.web.serving import BodyTimeout, DeadlineSocket


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield DeadlineSocket(a), b
    a.close()
    b.close()


def test_gaistd_serve_the_config_file_and_the_test_server_share_one_table():
    """``gaistd serve``'s options are serving.settings() plus the address, and the gunicorn config file the README and
    conftest.start_server name holds the same values."""
    opts = options("127.0.0.1", 8080)
    assert {k: v for k, v in opts.items() if k != "bind"} == serving.settings()
    assert all(getattr(gunicorn_conf, k) == v for k, v in serving.settings().items())
    assert opts["post_worker_init"] is serving.install and opts["threads"] == serving.THREADS


@pytest.mark.alone  # timed
def test_headers_trickled_past_their_deadline_get_408_and_the_connection_ends(pair, monkeypatch):
    """A client sending a header line now and then: once HEADER_SECONDS have passed since the first byte, the read
    answers 408 and ends the connection (reported to gunicorn as a reset, which it closes quietly)."""
    monkeypatch.setattr(serving, "HEADER_SECONDS", 0.5)
    sock, peer = pair
    sock.arm_headers()
    peer.sendall(b"GET / HTTP/1.1\r\n")
    assert sock.recv(8192) == b"GET / HTTP/1.1\r\n"
    start = time.monotonic()
    with pytest.raises(ConnectionResetError):
        sock.recv(8192)
    assert 0.3 < time.monotonic() - start < 2
    assert peer.recv(4096).startswith(b"HTTP/1.1 408 Request Timeout")


def test_headers_over_their_size_get_431(pair):
    """Request line and headers over HEADER_BYTES (and the read-ahead of body that may come with them): 431."""
    sock, peer = pair
    sock.arm_headers()
    def send() -> None:
        try:
            peer.sendall(b"X" * (serving.HEADER_BYTES + 70000))
        except OSError:
            pass  # the server end stopped reading and closed: what it should do

    sent = threading.Thread(target=send)
    sent.start()
    with pytest.raises(ConnectionResetError):
        while True:
            sock.recv(8192)
    assert peer.recv(4096).startswith(b"HTTP/1.1 431")
    sock.close()
    sent.join()


def test_a_body_trickled_past_its_deadline_is_a_408_for_the_app(pair, monkeypatch):
    """Once the headers are in, the body has BODY_SECONDS: past them the read raises BodyTimeout, an HTTP 408 the
    app answers (not a server error)."""
    monkeypatch.setattr(serving, "BODY_SECONDS", 0.5)
    sock, peer = pair
    sock.arm_body()
    peer.sendall(b"A")
    assert sock.recv(10) == b"A"
    with pytest.raises(BodyTimeout) as err:
        sock.recv(10)
    assert err.value.code == 408


@pytest.mark.alone  # timed
def test_a_client_that_reads_nothing_is_dropped_after_the_send_time(pair, monkeypatch):
    """An answer the client never reads: the write gives up after SEND_SECONDS as a broken pipe (gunicorn drops the
    connection quietly), never holding the thread."""
    monkeypatch.setattr(serving, "SEND_SECONDS", 0.5)
    sock, _peer = pair
    start = time.monotonic()
    with pytest.raises(BrokenPipeError):
        sock.sendall(b"x" * (64 << 20))
    assert time.monotonic() - start < 3


def test_without_a_deadline_reads_are_plain(pair):
    sock, peer = pair
    peer.sendall(b"abc")
    assert sock.recv(10) == b"abc"


@pytest.mark.server
def test_a_9_kb_get_query_is_served_and_a_request_line_over_16_kib_is_414(live_server):
    """GET queries of 9 kB, and of 15 kB once URL-encoded, are answered: gunicorn's own limit (8190 bytes at most) is
    off and the request line is held to REQUEST_LINE_LIMIT (16 KiB) instead; past it, 414 naming POST."""
    for text in ("ASK { ?s ?p ?o } #" + "x" * 9000, "ASK { ?s ?p ?o } #" + "é" * 1500 + "x" * 6000):
        target = "/sparql?query=" + quote(text)
        assert 9000 < len(target) < serving.REQUEST_LINE_LIMIT
        status, _, body = http_call(live_server, "GET", target, headers={"Accept": "text/csv"})
        assert status == 200, body[:200]
    status, headers, body = http_call(live_server, "GET", "/sparql?query=" + "x" * (serving.REQUEST_LINE_LIMIT + 1))
    assert status == 414 and b"POST" in body and headers["x-content-type-options"] == "nosniff"


def raw_request(base: str, data: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while not answer.startswith(b"HTTP/") or b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


@pytest.mark.server
def test_headers_over_64_kib_are_431_and_under_it_are_served(live_server):
    """Headers read by the poller: 50 KB of them are served, 70 KB answer 431 naming the limit."""
    def head(fields: int) -> bytes:
        return (b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"y" * 1000) for i in range(fields)) + b"\r\n")

    assert raw_request(live_server, head(50)).startswith(b"HTTP/1.1 200")
    refused = raw_request(live_server, head(70))
    assert refused.startswith(b"HTTP/1.1 431") and str(serving.HEADER_BYTES).encode() in refused, refused[:300]


def read_answers(sock: socket.socket, n: int) -> list[bytes]:
    """``n`` HTTP answers (with Content-Length bodies) read from one connection, in order."""
    buf, out = b"", []
    sock.settimeout(10)
    while len(out) < n:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end].decode("latin-1")
            length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")
                           if line.lower().startswith("content-length:")), 0)
            if len(buf) >= end + 4 + length:
                out.append(buf[:end + 4 + length])
                buf = buf[end + 4 + length:]
                continue
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(out)} answers"
        buf += chunk
    return out


@pytest.mark.server
def test_requests_back_to_back_pipelined_or_trickled_on_one_connection_are_all_answered_in_order(live_server):
    """On one kept-alive connection: requests sent each as soon as the last answer is in (read by the thread that
    answered, NEXT_WAIT), three sent at once (pipelined), and one whose header block comes in two parts 0.3 s apart
    (back to the poller, which gathers it) are all answered, each with its own answer, in order."""
    host, port = live_server.removeprefix("http://").split(":")

    def ask(n: int) -> bytes:
        return (f"GET /sparql?query={quote(f'SELECT ({n} AS ?n) {{}}')} HTTP/1.1\r\nHost: {host}\r\n"
                "Accept: text/csv\r\n\r\n").encode()

    with socket.create_connection((host, int(port)), timeout=10) as sock:
        for n in range(40):
            sock.sendall(ask(n))
            (answer,) = read_answers(sock, 1)
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(f"n\r\n{n}\r\n".encode()), answer[-40:]
        sock.sendall(ask(100) + ask(101) + ask(102))
        for n, answer in zip((100, 101, 102), read_answers(sock, 3)):
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(f"n\r\n{n}\r\n".encode())
        whole = ask(7)
        sock.sendall(whole[:30])
        time.sleep(0.3)
        sock.sendall(whole[30:])
        (answer,) = read_answers(sock, 1)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"n\r\n7\r\n")


def test_each_worker_warms_the_catalogue_before_it_serves(real_build_dir):
    """``install`` (gunicorn's post_worker_init) runs the app's warm-up: the catalogue table of the served build, its
    facet index and its sort orders are made before the first request; a warm-up that fails is logged, not fatal."""
    from types import SimpleNamespace

    from gaistd_kg.views import catalogue as cat
    from gaistd_kg.web import create_app

    app = create_app({"BUILD_DIR": str(real_build_dir), "TESTING": True})
    logged: list[str] = []
    worker = SimpleNamespace(handle=None, handle_request=None, wsgi=app, handle_error=None,
                             log=SimpleNamespace(exception=logged.append))
    assert "gaistd.catalogue" not in app.extensions
    serving.install(worker)
    table = app.extensions["gaistd.catalogue"][1]
    assert isinstance(table, cat.Table) and table._index is not None
    assert set(table.index.orders) == set(cat.SORTS) and not logged
    broken = create_app({"BUILD_DIR": str(real_build_dir), "TESTING": True})
    broken.extensions["gaistd.warm"] = lambda: 1 / 0
    serving.install(SimpleNamespace(handle=None, handle_request=None, wsgi=broken, handle_error=None,
                                    log=SimpleNamespace(exception=logged.append)))
    assert logged and "warm" in logged[0]
