"""Throughput of the CQ mix over HTTP: every server, the same load tool (wrk), the same queries, side by side.

    .venv/bin/python bench/throughput.py [--duration 15] [--rounds 3] [--connections 8] [--servers ...]

Each server gets ``--duration`` seconds of load in total, split into ``--rounds`` interleaved rounds (ours, Virtuoso,
rdflib-endpoint, pyoxigraph, then again), so a burst of load from elsewhere on a shared machine hits every server
alike. Before any timing, every server must give the same answers as pyoxigraph (bench/answers.py). Reported: req/s per
server, the ratios ours/Virtuoso, ours/rdflib-endpoint and ours/pyoxigraph (the in-process floor, no HTTP), and the
requests per CPU-second the server processes spent (a second view that is less sensitive to other load on the box).

"ours" runs with its per-process result cache (keyed by query, dataset and format, emptied on a new build);
"ours-uncached" is the same server with GAISTD_RESULT_CACHE_BYTES=0, so every request reaches the engine. ``--conditional`` adds a series where every
request carries the ETag of its answer (If-None-Match) and gets 304 Not Modified: that is HTTP revalidation, which
skips the engine, not a result cache, and is reported under its own name.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from answers import answers_markdown, check_answers  # noqa: E402
from loadgen import cpu_seconds, inprocess_load, run_wrk  # noqa: E402
from peers import (ALL_SERVERS, JSON_RESULTS, Server, add_common_args, cq_queries, data_from_args,  # noqa: E402
                   say, server_names, start_servers, stop_servers)
from record import md_table, write_results  # noqa: E402


def etag_paths(srv: Server, texts: list[str]) -> list[tuple[str, dict[str, str]]]:
    out = []
    for text in texts:
        req = urllib.request.Request(srv.url_for(text), headers={"Accept": JSON_RESULTS})
        with urllib.request.urlopen(req, timeout=60) as resp:
            etag = resp.headers.get("ETag")
            resp.read()
        if not etag:
            raise RuntimeError("ours sent no ETag: --conditional has nothing to revalidate")
        out.append((srv.path_for(text), {"If-None-Match": etag}))
    return out


def measure(started: dict, texts: list[str], args) -> dict[str, dict]:
    series: dict[str, list[dict]] = {}
    plan: list[tuple[str, object]] = []
    for name, srv in started.items():
        plan.append((name, srv))
        if name == "ours" and args.conditional:
            plan.append(("ours, conditional GET (304)", srv))
    cond = etag_paths(started["ours"], texts) if "ours" in started and args.conditional else None
    per_round = args.duration / args.rounds
    for r in range(args.rounds):
        for label, srv in plan:
            if isinstance(srv, Server):
                paths = cond if label.startswith("ours, conditional") else [srv.path_for(t) for t in texts]
                pids = srv.pids()
                cpu0 = cpu_seconds(pids)
                res = run_wrk(srv.host_port, paths, args.connections, per_round, threads=args.wrk_threads)
                res["server_cpu_s"] = cpu_seconds(pids) - cpu0
                srv.drain()  # what the run left in flight is answered before the next server's turn
            else:
                res = inprocess_load(srv.ask, texts, args.connections, per_round)
            say(f"  round {r + 1}/{args.rounds} {label}: {res['rps']:.1f} req/s, {res['error_count']} errors")
            series.setdefault(label, []).append(res)
    out = {}
    for label, runs in series.items():
        reqs = sum(x["requests"] for x in runs)
        secs = sum(x["seconds"] for x in runs)
        cpu = sum(x.get("server_cpu_s", 0.0) for x in runs)
        out[label] = {"requests": reqs, "seconds": secs, "rps": reqs / secs if secs else 0.0,
                      "rps_per_round": [x["rps"] for x in runs], "errors": sum(x["error_count"] for x in runs),
                      "server_cpu_s": cpu if cpu else None, "req_per_cpu_s": reqs / cpu if cpu else None}
    return out


def ratios(result: dict) -> dict[str, float]:
    ours = result.get("ours", {}).get("rps")
    out = {}
    uncached = result.get("ours-uncached", {}).get("rps")
    for other in ("virtuoso", "rdflib-endpoint", "pyoxigraph"):
        if ours and result.get(other, {}).get("rps"):
            out[f"ours/{other}"] = ours / result[other]["rps"]
        if uncached and result.get(other, {}).get("rps"):
            out[f"ours-uncached/{other}"] = uncached / result[other]["rps"]
    if ours and "ours, conditional GET (304)" in result:
        out["ours conditional/ours"] = result["ours, conditional GET (304)"]["rps"] / ours
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser, ALL_SERVERS)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load per server in all (default 15)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--conditional", action="store_true",
                        help="add ours with If-None-Match (304 revalidation; not a result cache)")
    parser.add_argument("--name", default="throughput", help="results file name (default throughput)")
    args = parser.parse_args(argv)
    data = data_from_args(args)
    queries = cq_queries()
    texts = [t for _n, t in queries]
    names = server_names(args)
    started = start_servers(names, data, args.workers, args.query_workers)
    try:
        from peers import InProcess

        reference = started.get("pyoxigraph") or InProcess(data.store_path)
        table = check_answers(reference, {n: s for n, s in started.items() if isinstance(s, Server)}, queries)
        result = measure(started, texts, args)
    finally:
        stop_servers(started)
    rs = ratios(result)
    rows = [[label, f"{r['rps']:.1f}", " / ".join(f"{x:.1f}" for x in r["rps_per_round"]), r["errors"],
             f"{r['req_per_cpu_s']:.1f}" if r["req_per_cpu_s"] else "in-process"]
            for label, r in result.items()]
    md = (f"CQ mix ({len(texts)} queries in rotation, GET, Accept: {JSON_RESULTS}), {args.connections} concurrent "
          f"clients, wrk -t{args.wrk_threads}, {args.duration:g} s per server in {args.rounds} interleaved rounds. "
          f"ours = gunicorn -c (README config) -w {args.workers} (gthread) with {args.query_workers} query processes per worker; "
          "pyoxigraph = in-process threads on the same store, no HTTP (the floor). "
          "ours answers repeated queries from its per-process result cache (emptied on a new build); "
          "ours-uncached is the same server with GAISTD_RESULT_CACHE_BYTES=0.\n\n"
          + md_table(["server", "req/s", "req/s per round", "errors", "requests per server CPU-second"], rows)
          + "\nRatios (req/s): " + ", ".join(f"{k} = {v:.3g}" for k, v in rs.items()) + "\n\n"
          + answers_markdown(table))
    write_results(args.name, {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                              "build_id": data.build_id, "servers": result, "ratios": rs, "answers": table},
                  md, argv=[sys.argv[0], *(argv if argv is not None else sys.argv[1:])],
                  results_dir=args.results_dir)
    errors = sum(r["errors"] for r in result.values())
    print(md)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
