"""What our server adds to each query: time per request over HTTP minus pyoxigraph's in-process time, per query.

    .venv/bin/python bench/overhead.py [--repeat 60] [--workers 4]

For every competency question (and ``ASK {}``, the fixed cost of a request), one client alternates, ``--repeat``
times: pyoxigraph in this process (evaluate, serialise SPARQL JSON: the floor); the same query through
``gaistd_kg.query.pool.QueryPool`` in this process (adds the safety check, the worker process and the pipe); a GET to
ours with the result cache off (``GAISTD_RESULT_CACHE_BYTES=0``: every request runs the query) and one to ours as
shipped (result cache on: after the first request a worker answers from its cache), both gunicorn on loopback (adds
HTTP, Flask, the protocol and the new connection a sync worker needs); and a GET to ``bench/floorapp.py`` under the
same gunicorn (the cost of HTTP, gunicorn and this client alone). Medians per column; overhead = HTTP − in-process;
"ours above the floor" = uncached HTTP − floor − in-process, the part that is our code. Alternating the columns
keeps a change of machine load from landing on one of them.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import (JSON_RESULTS, REPO, InProcess, add_common_args, cq_queries, data_from_args, say,  # noqa: E402
                   start_gunicorn, start_ours)
from record import md_table, median, write_results  # noqa: E402

sys.path.insert(0, str(REPO))


def http_get(host: str, port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request("GET", path, headers={"Accept": JSON_RESULTS})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {body[:200]!r}")
        return body
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    parser.add_argument("--repeat", type=int, default=60, help="alternations per query (default 60)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--query-workers", type=int, default=2)
    parser.add_argument("--name", default="overhead")
    args = parser.parse_args(argv)
    data = data_from_args(args)
    from gaistd_kg.query.pool import QueryPool

    queries = [("ASK {}", "ASK {}"), *cq_queries()]
    inproc = InProcess(data.store_path)
    pool = QueryPool(str(data.store_path), size=1).start()
    srv = start_ours(data.build_dir, workers=args.workers, query_workers=args.query_workers,
                     env={"GAISTD_RESULT_CACHE_BYTES": "0"})
    cached = start_ours(data.build_dir, workers=args.workers, query_workers=args.query_workers)
    floor = start_gunicorn("floor", "floorapp:app", Path(__file__).resolve().parent, workers=args.workers)
    split, csplit, fsplit = (urllib.parse.urlsplit(s.endpoint) for s in (srv, cached, floor))
    rows, record = [], {}
    try:
        for qname, text in queries:
            path = srv.path_for(text)
            for _ in range(3 * args.workers):  # warm: every worker has the store open and the answer cached
                inproc.ask(text), pool.run(text, "json"), http_get(split.hostname, split.port, path)
                http_get(csplit.hostname, csplit.port, path), http_get(fsplit.hostname, fsplit.port, path)
            cols: list[list[float]] = [[], [], [], [], []]
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                inproc.ask(text)
                t1 = time.perf_counter()
                pool.run(text, "json")
                t2 = time.perf_counter()
                http_get(split.hostname, split.port, path)
                t3 = time.perf_counter()
                http_get(csplit.hostname, csplit.port, path)
                t4 = time.perf_counter()
                http_get(fsplit.hostname, fsplit.port, path)
                t5 = time.perf_counter()
                for col, dt in zip(cols, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                    col.append(dt)
            ma, mb, mc, mcached, mfloor = (median(col) * 1000 for col in cols)
            record[qname] = {"inprocess_ms": ma, "pool_ms": mb, "http_ms": mc, "http_cached_ms": mcached,
                             "http_floor_ms": mfloor, "overhead_ms": mc - ma, "overhead_cached_ms": mcached - ma,
                             "ours_above_floor_ms": mc - mfloor - ma, "pool_overhead_ms": mb - ma,
                             "http_over_pool_ms": mc - mb, "ratio": mc / ma}
            rows.append([qname, ma, mb, mc, mcached, mfloor, mc - ma, mcached - ma, mc - mfloor - ma, mb - ma])
            say(f"  {qname}: in-process {ma:.2f} ms, pool {mb:.2f} ms, HTTP {mc:.2f} ms (cached {mcached:.2f}, "
                f"floor {mfloor:.2f})")
    finally:
        for s in (srv, cached, floor):
            s.stop()
        pool.close()
    overheads = [r["overhead_ms"] for q, r in record.items() if q != "ASK {}"]
    cached_overheads = [r["overhead_cached_ms"] for q, r in record.items() if q != "ASK {}"]
    above = [r["ours_above_floor_ms"] for q, r in record.items() if q != "ASK {}"]
    md = (f"Median ms per request, one client, {args.repeat} alternations per query. in-process = pyoxigraph "
          "query + SPARQL JSON serialisation in the bench process; pool = gaistd_kg.query.pool.QueryPool.run (check, "
          "worker process, pipe); HTTP = GET to gunicorn "
          f"-w {args.workers} on loopback (new connection per request, as a sync worker closes it), result cache off; "
          "cached = the same server as shipped (result cache on, warmed); floor = bench/floorapp.py (a fixed answer, "
          "no code of ours) under the same gunicorn and client.\n\n"
          + md_table(["query", "in-process", "pool", "HTTP", "HTTP cached", "HTTP floor",
                      "overhead = HTTP − in-process", "overhead cached", "ours above the floor = HTTP − floor − "
                      "in-process", "pool − in-process"], rows)
          + f"\nMedian over the CQs: overhead {median(overheads):.2f} ms per request uncached, "
          f"{median(cached_overheads):.2f} ms cached; HTTP, gunicorn and the client alone (floor) "
          f"{record['ASK {}']['http_floor_ms']:.2f} ms; our code above that floor {median(above):.2f} ms "
          f"(ASK {{}}: overhead {record['ASK {}']['overhead_ms']:.2f} ms).\n")
    write_results(args.name, {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                              "build_id": data.build_id, "queries": record,
                              "median_overhead_ms": median(overheads),
                              "median_overhead_cached_ms": median(cached_overheads),
                              "median_above_floor_ms": median(above)},
                  md, argv=[sys.argv[0], *(argv if argv is not None else sys.argv[1:])], results_dir=args.results_dir)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
