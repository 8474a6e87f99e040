"""Latency per competency question: p50 and p99 at 1 and at 8 concurrent clients, for every server, side by side.

    .venv/bin/python bench/latency.py [--duration 1] [--rounds 1] [--clients 1,8] [--servers ...] [--queries cq01,cq05]

For each query and client count the servers take turns (``--rounds`` interleaved turns each, so a burst of load from
elsewhere on a shared machine falls on all of them), with wrk on one GET URL; pyoxigraph runs in-process threads on
the same store (no HTTP: the floor). A cell lasts ``--duration`` seconds, longer for a server whose single answer is
slow (up to ``--max-cell``), so that it gets about ``--min-samples`` answers. After each turn the server is drained
(a trivial query waits behind whatever the turn left in flight), so one cell's backlog never delays the next.
Percentiles come from wrk's latency histograms merged over the rounds; ``n`` is the number of answers behind them
(with few answers, p99 is the maximum). Answers are checked against pyoxigraph first, as in throughput.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from answers import answers_markdown, check_answers  # noqa: E402
from loadgen import inprocess_load, percentile_from_hist, run_wrk  # noqa: E402
from peers import (ALL_SERVERS, InProcess, Server, add_common_args, cq_queries, data_from_args,  # noqa: E402
                   say, server_names, start_servers, stop_servers)
from record import md_table, median, write_results  # noqa: E402


def probe(srv, text: str, n: int = 3) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        srv.ask(text)
        times.append(time.perf_counter() - t0)
    return median(times)


def fmt_cell(v: dict) -> str:
    if not v["n"]:
        return f"no answer within {v['seconds']:.0f} s"
    return f"{v['p50_ms']:.2f} / {v['p99_ms']:.2f} (n={v['n']})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser, ALL_SERVERS)
    parser.add_argument("--duration", type=float, default=1.0,
                        help="seconds per cell at least (default 1; wrk runs whole seconds per turn)")
    parser.add_argument("--max-cell", type=float, default=4.0, help="seconds per cell at most (default 4)")
    parser.add_argument("--min-samples", type=int, default=20, help="answers a cell aims for (default 20)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved turns per cell (default 1)")
    parser.add_argument("--clients", default="1,8", help="client counts (default 1,8)")
    parser.add_argument("--queries", default="", help="comma-separated CQ names (default: all)")
    parser.add_argument("--name", default="latency")
    args = parser.parse_args(argv)
    data = data_from_args(args)
    queries = cq_queries()
    if args.queries:
        wanted = set(args.queries.split(","))
        queries = [(n, t) for n, t in queries if n in wanted]
    clients = [int(c) for c in args.clients.split(",")]
    started = start_servers(server_names(args), data, args.workers, args.query_workers)
    cells: dict[str, dict[str, dict[str, dict]]] = {}
    errors = 0
    try:
        reference = started.get("pyoxigraph") or InProcess(data.store_path)
        table = check_answers(reference, {n: s for n, s in started.items() if isinstance(s, Server)}, queries)
        single = {name: {q: probe(srv, t) for q, t in queries} for name, srv in started.items()}
        for qname, text in queries:
            for c in clients:
                runs: dict[str, list[dict]] = {name: [] for name in started}
                for _r in range(args.rounds):
                    for name, srv in started.items():
                        want = max(args.duration, min(args.max_cell, args.min_samples * single[name][qname] * c))
                        dur = want / args.rounds
                        if isinstance(srv, Server):
                            dur = max(1, round(dur))  # wrk runs whole seconds
                        if isinstance(srv, Server):
                            res = run_wrk(srv.host_port, [srv.path_for(text)], c, dur, threads=min(c, 2))
                            srv.drain()
                        else:
                            res = inprocess_load(srv.ask, [text], c, dur)
                        runs[name].append(res)
                for name, rs in runs.items():
                    hists = [r["hist_us"] for r in rs]
                    n = sum(r["requests"] for r in rs)
                    err = sum(r["error_count"] for r in rs)
                    errors += err
                    cells.setdefault(qname, {}).setdefault(str(c), {})[name] = {
                        "p50_ms": percentile_from_hist(hists, 50), "p99_ms": percentile_from_hist(hists, 99),
                        "n": n, "errors": err, "seconds": sum(r["seconds"] for r in rs),
                        "single_request_ms": single[name][qname] * 1000}
                say(f"  {qname} c={c}: " + ", ".join(f"{n} {fmt_cell(v)}" for n, v in cells[qname][str(c)].items()))
    finally:
        stop_servers(started)
    names = list(started)
    ratio_cols = [o for o in ("virtuoso", "rdflib-endpoint", "pyoxigraph") if "ours" in names and o in names]
    md = [f"p50 / p99 latency in ms per competency question: wrk on one GET URL (Accept: SPARQL JSON), cells of "
          f"{args.duration:g}–{args.max_cell:g} s in {args.rounds} interleaved turns; pyoxigraph = in-process threads on "
          f"the same store, no HTTP. n = answers behind the percentiles. ours = gunicorn -w {args.workers}, "
          f"{args.query_workers} query processes per worker. Ratio columns: p50 of ours / p50 of the other.\n"]
    for c in clients:
        rows = []
        for qname in cells:
            row = [qname] + [fmt_cell(cells[qname][str(c)][n]) for n in names]
            for o in ratio_cols:
                a, b = cells[qname][str(c)]["ours"], cells[qname][str(c)][o]
                row.append(f"{a['p50_ms'] / b['p50_ms']:.3g}" if a["n"] and b["n"] else "")
            rows.append(row)
        md.append(f"\n## {c} client{'s' if c > 1 else ''}\n\n"
                  + md_table(["query", *names, *(f"ours/{o}" for o in ratio_cols)], rows))
    md.append("\n" + answers_markdown(table))
    write_results(args.name, {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                              "build_id": data.build_id, "cells": cells, "answers": table, "errors": errors},
                  "".join(md), argv=[sys.argv[0], *(argv if argv is not None else sys.argv[1:])],
                  results_dir=args.results_dir)
    print("".join(md))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
