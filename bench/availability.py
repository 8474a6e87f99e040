"""Availability under attack: the latency of a light query from another client while one client attacks, side by
side with no attack.

    .venv/bin/python bench/availability.py [--seconds 8] [--workers 2] [--slow 4,96]

The server is the README's production command (``gunicorn -c python:gaistd_kg.web.gunicorn_conf server:app``, here
``-w 2``) on a build of 300 triples, where a cross-product ``COUNT(*)`` (27 million rows) runs to the deadline
(``--timeout``, QUERY_TIMEOUT). For ``--seconds`` per scenario a prober at 127.0.0.2 sends a light query (``ASK``, a
new text each time, so never a cached answer) every 0.2 s, while:

* ``none``: nothing else;
* ``heavy``: one client (127.0.0.1) keeps six cross-product COUNT(*) queries in flight (issue 15, finding 2);
* ``queue``: sixteen clients (127.0.0.3 …) keep one each in flight: the queue bound is reached;
* ``slow-headers N``: N sockets send one header line every 5 s, reconnecting when cut off (finding 3);
* ``slow-body N``: N sockets send complete headers, then one body byte every 5 s.

Reported per scenario: the prober's answers (200 / other), p50, p90 and max latency, and the ratio of p50 and max to
the no-attack run.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import REPO, VENV_PY, free_port, logdir, say, stop_process, wait_http  # noqa: E402
from record import md_table, median, write_results  # noqa: E402

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
CONF = "python:gaistd_kg.web.gunicorn_conf"


def make_heavy_build(folder: Path) -> Path:
    from gaistd_kg.store import write_store

    data = b"".join(b"<http://example.org/s%d> <http://example.org/p%d> <http://example.org/o%d> .\n" % (i, i % 7, i)
                    for i in range(300))
    write_store(folder, "availability-bench", {"data": data}, {"built_at": time.time()})
    return folder


def start(build_dir: Path, workers: int, timeout: float) -> tuple[subprocess.Popen, int, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAISTD_")}
    env.update({"GAISTD_BUILD_DIR": str(build_dir), "GAISTD_QUERY_TIMEOUT": str(timeout),
                "GAISTD_ROW_LIMIT": "100000000", "PYTHONPATH": str(REPO)})
    cmd = [str(VENV_PY), "-m", "gunicorn", "-c", CONF, "-w", str(workers), "-b", f"127.0.0.1:{port}",
           "--chdir", str(REPO), "--log-level", "warning", "--access-logfile", "/dev/null", "server:app"]
    log = logdir() / f"availability-{port}.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/sparql", proc, 60, log)
    return proc, port, " ".join(cmd[1:])


def get(port: int, text: str, source: str, timeout: float = 60) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    t0 = time.monotonic()
    try:
        conn.request("GET", "/sparql?" + urlencode({"query": text}), headers={"Accept": "application/sparql-results+json"})
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.monotonic() - t0
    except OSError:
        return 0, time.monotonic() - t0
    finally:
        conn.close()


def keep_querying(port: int, source: str, stop: threading.Event, statuses: list) -> None:
    while not stop.is_set():
        statuses.append(get(port, COUNT, source)[0])


def keep_trickling(port: int, body: bool, stop: threading.Event, cut: list) -> None:
    """One slow socket: a header line (or, after complete headers, a body byte) every 5 s; reconnect when cut off."""
    head = [b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n"] + [
        b"X-Slow-%d: x\r\n" % i for i in range(100)]
    if body:
        head = [b"POST /sparql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/sparql-query\r\n"
                b"Content-Length: 4096\r\n\r\n"] + [b" "] * 4096
    while not stop.is_set():
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            time.sleep(0.5)
            continue
        t0 = time.monotonic()
        try:
            for piece in head:
                sock.sendall(piece)
                if stop.wait(5):
                    break
                sock.setblocking(False)
                try:
                    sock.recv(1024)  # an answer (408) or the end: the server cut this socket off
                    cut.append(time.monotonic() - t0)
                    break
                except BlockingIOError:
                    pass
                finally:
                    sock.setblocking(True)
        except OSError:
            cut.append(time.monotonic() - t0)
        finally:
            sock.close()


def scenario(port: int, name: str, seconds: float, attackers: list) -> dict:
    stop = threading.Event()
    threads = [threading.Thread(target=f, args=(*a, stop, out), daemon=True) for f, a, out in attackers]
    for t in threads:
        t.start()
    time.sleep(1.0 if attackers else 0.2)  # the attack is under way (heavy queries past their light budget)
    probes: list[tuple[int, float]] = []
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        probes.append(get(port, f"ASK {{ ?s ?p ?o }} # probe {name} {n} {time.monotonic_ns()}", "127.0.0.2"))
        n += 1
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(70)
    lat = sorted(e for _s, e in probes)
    ok = sum(1 for s, _e in probes if s == 200)
    attack: dict[str, int] = {}
    for _f, _a, out in attackers:
        for x in out:
            key = str(x) if isinstance(x, int) else "cut"
            attack[key] = attack.get(key, 0) + 1
    row = {"scenario": name, "probes": len(probes), "ok": ok, "p50_ms": median(lat) * 1000,
           "p90_ms": lat[int(0.9 * (len(lat) - 1))] * 1000, "max_ms": lat[-1] * 1000, "attack": attack}
    say(f"  {name}: {ok}/{len(probes)} answered 200, p50 {row['p50_ms']:.1f} ms, max {row['max_ms']:.0f} ms; "
        f"attack {attack}")
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="probing time per scenario (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, as the tests)")
    parser.add_argument("--timeout", type=float, default=3.0, help="QUERY_TIMEOUT of the server (default 3 s)")
    parser.add_argument("--slow", default="4,96", help="numbers of slow sockets to try (default 4,96)")
    parser.add_argument("--results-dir", default=None)
    parser.add_argument("--name", default="availability")
    args = parser.parse_args(argv)
    slow = [int(x) for x in args.slow.split(",") if x]
    with tempfile.TemporaryDirectory(prefix="gaistd-availability-") as tmp:
        build = make_heavy_build(Path(tmp) / "build")
        proc, port, command = start(build, args.workers, args.timeout)
        try:
            for i in range(4 * args.workers):  # every worker has its query processes started before any probe
                get(port, f"ASK {{}} # warm-up {i}", "127.0.0.2")
            rows = [scenario(port, "none", args.seconds, [])]
            heavy: list = []
            rows.append(scenario(port, "heavy (1 client, 6 COUNT(*))", args.seconds,
                                 [(keep_querying, (port, "127.0.0.1"), heavy) for _ in range(6)]))
            queue: list = []
            rows.append(scenario(port, "queue (16 clients, 1 COUNT(*) each)", args.seconds,
                                 [(keep_querying, (port, f"127.0.0.{i}"), queue) for i in range(3, 19)]))
            for n in slow:
                for body in (False, True):
                    cut: list = []
                    rows.append(scenario(port, f"slow-{'body' if body else 'headers'} ({n} sockets)", args.seconds,
                                         [(keep_trickling, (port, body), cut) for _ in range(n)]))
        finally:
            stop_process(proc)
    base = rows[0]
    for r in rows:
        r["p50_ratio"] = r["p50_ms"] / base["p50_ms"] if base["p50_ms"] else None
        r["max_ratio"] = r["max_ms"] / base["max_ms"] if base["max_ms"] else None
    md = ("Light query (ASK, a new text each time) from 127.0.0.2 every 0.2 s for "
          f"{args.seconds:g} s per scenario, server `{command}` with QUERY_TIMEOUT {args.timeout:g} s, on 300 triples "
          "(a cross-product COUNT(*) runs to the deadline). Ratios are to the no-attack run.\n\n"
          + md_table(["scenario", "200 / probes", "p50 ms", "p90 ms", "max ms", "p50 ratio", "max ratio",
                      "attack answers"],
                     [[r["scenario"], f"{r['ok']}/{r['probes']}", r["p50_ms"], r["p90_ms"], r["max_ms"],
                       r["p50_ratio"], r["max_ratio"], ", ".join(f"{k}: {v}" for k, v in sorted(r["attack"].items()))]
                      for r in rows]))
    write_results(args.name, {"server": command, "seconds": args.seconds, "rows": rows}, md,
                  argv=[sys.argv[0], *(argv if argv is not None else sys.argv[1:])],
                  results_dir=Path(args.results_dir) if args.results_dir else None)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
