"""Soak: the CQ mix at 64 concurrent connections for minutes; zero errors, and the server's memory must stay flat.

    .venv/bin/python bench/soak.py [--duration 300] [--connections 64] [--max-requests 2000000] [--workers 4]

Our server (gunicorn on the built store) takes ``--warmup`` seconds of the mix first, so every worker and query process
has started and filled its caches; the memory of every process of its tree is then sampled every ``--sample-every``
seconds while wrk runs the mix for ``--duration`` seconds or ``--max-requests`` answers, whichever comes first.
Reported: requests, req/s, wrk's errors (connect, read, write, timeout, and statuses of 400 or more), and resident
memory (RSS, PSS) of the tree at the baseline and at the end, per role, with the growth. Targets: zero errors, growth
under 10%; the exit status is 1 when either is missed.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import run_wrk  # noqa: E402
from peers import (add_common_args, children_of, cq_queries, data_from_args, proc_memory, proc_name,  # noqa: E402
                   start_ours)
from record import md_table, write_results  # noqa: E402


def snapshot(master: int) -> dict[int, dict]:
    out = {}
    for pid in [master, *children_of(master)]:
        m = proc_memory(pid)
        if m:
            name = proc_name(pid)
            role = "master" if pid == master else ("query process" if name == "gaistd-query" else "HTTP worker")
            out[pid] = {"role": role, "rss": m.get("rss", 0), "pss": m.get("pss", m.get("rss", 0))}
    return out


def totals(snap: dict[int, dict]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for p in snap.values():
        t = out.setdefault(p["role"], {"rss": 0, "pss": 0, "processes": 0})
        t["rss"] += p["rss"]
        t["pss"] += p["pss"]
        t["processes"] += 1
    out["all"] = {k: sum(v[k] for r, v in out.items()) for k in ("rss", "pss", "processes")}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load (default 300)")
    parser.add_argument("--max-requests", type=int, default=2_000_000, help="stop after this many answers")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds of load before the baseline (default 20)")
    parser.add_argument("--sample-every", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--query-workers", type=int, default=2)
    parser.add_argument("--growth-target", type=float, default=0.10)
    parser.add_argument("--name", default="soak")
    args = parser.parse_args(argv)
    data = data_from_args(args)
    srv = start_ours(data.build_dir, workers=args.workers, query_workers=args.query_workers)
    paths = [srv.path_for(t) for _n, t in cq_queries()]
    samples: list[dict] = []
    try:
        warm = run_wrk(srv.host_port, paths, args.connections, args.warmup, threads=2)
        srv.drain()
        master = srv.proc.pid
        base = snapshot(master)
        base_pids = set(base)
        stop = threading.Event()

        def sampler() -> None:
            t0 = time.monotonic()
            while not stop.wait(args.sample_every):
                s = snapshot(master)
                samples.append({"t": time.monotonic() - t0, **{k: v for k, v in totals(s)["all"].items()}})

        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        res = run_wrk(srv.host_port, paths, args.connections, args.duration, threads=2,
                      max_requests=args.max_requests)
        stop.set()
        th.join()
        srv.drain()
        end = snapshot(master)
    finally:
        srv.stop()
    tb, te = totals(base), totals(end)
    growth = {k: (te["all"][k] - tb["all"][k]) / tb["all"][k] for k in ("rss", "pss")}
    replaced = sorted(base_pids ^ set(end))
    errors = res["error_count"] + warm["error_count"]
    ok = errors == 0 and growth["rss"] < args.growth_target
    rows = [[role, tb.get(role, {}).get("processes"), te.get(role, {}).get("processes"),
             tb.get(role, {}).get("rss", 0) / 1024, te.get(role, {}).get("rss", 0) / 1024,
             tb.get(role, {}).get("pss", 0) / 1024, te.get(role, {}).get("pss", 0) / 1024]
            for role in ("master", "HTTP worker", "query process", "all")]
    md = (f"Our server (gunicorn -w {args.workers}, {args.query_workers} query processes per worker) under the CQ mix "
          f"({len(paths)} queries) at {args.connections} concurrent connections (wrk -t2): {args.warmup:g} s warm-up, "
          f"then {res['seconds']:.0f} s (bound: {args.duration:g} s or {args.max_requests} answers).\n\n"
          f"Requests {res['requests']} ({res['rps']:.1f} req/s), errors {res['error_count']} "
          f"({', '.join(f'{k} {v}' for k, v in res['errors'].items())}); warm-up errors {warm['error_count']}. "
          f"Latency p50 {res['latency_ms']['p50']:.1f} ms, p99 {res['latency_ms']['p99']:.1f} ms, "
          f"max {res['latency_ms']['max']:.1f} ms.\n\n"
          "Resident memory in MiB, baseline (after warm-up) and end:\n\n"
          + md_table(["role", "processes at baseline", "processes at end", "RSS baseline", "RSS end", "PSS baseline",
                      "PSS end"], rows)
          + f"\nGrowth of the whole tree: RSS {growth['rss'] * 100:+.1f}%, PSS {growth['pss'] * 100:+.1f}% "
          f"(target < {args.growth_target * 100:.0f}%). Processes replaced during the run: "
          f"{len(replaced) and replaced or 'none'}. Verdict: {'met' if ok else 'MISSED'}.\n")
    write_results(args.name, {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                              "build_id": data.build_id, "result": {k: v for k, v in res.items() if k != "hist_us"},
                              "warmup_errors": warm["error_count"], "baseline": base, "end": end,
                              "totals": {"baseline": tb, "end": te}, "growth": growth, "samples": samples,
                              "replaced_pids": replaced, "ok": ok},
                  md, argv=[sys.argv[0], *(argv if argv is not None else sys.argv[1:])], results_dir=args.results_dir)
    print(md)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
