"""``gaistd serve`` serves for real: gunicorn with the production settings, no development-server warning; ``--dev``
is Flask's server with its reloader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import REPO, free_port

from gaistd_kg.cli.serve import options


def _start(build_dir, port: int, log, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAISTD_")}
    cmd = [sys.executable, "-m", "gaistd_kg.cli", "--build-dir", str(build_dir), "serve", "--port", str(port), *extra]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _answers(url: str, proc: subprocess.Popen, timeout: float = 60) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"gaistd serve exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.read()
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.server
def test_serve_runs_gunicorn_and_prints_no_development_server_warning(fixture_build_dir, tmp_path):
    """The README's main command answers SPARQL through gunicorn's gthread workers; nothing it prints says
    "development server"."""
    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc = _start(fixture_build_dir, port, log, "--workers", "1")
    try:
        body = _answers(f"http://127.0.0.1:{port}/sparql?query=ASK%7B%7D", proc)
        assert b"true" in body
    finally:
        _stop(proc)
    out = log_path.read_text(errors="replace")
    assert "development server" not in out.lower(), out
    assert "Booting worker" in out and "gthread" in out, out


def test_the_production_settings():
    """gthread workers (two per CPU, at least two), an access log, no app built in the master."""
    opts = options("127.0.0.1", 8080)
    assert opts["worker_class"] == "gthread" and opts["workers"] >= 2 and opts["accesslog"] == "-"
    assert opts["preload_app"] is False and opts["bind"] == "127.0.0.1:8080"
