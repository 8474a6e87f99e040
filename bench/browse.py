"""Search and the catalogue under load, beside the competency-question mix, and the CQ mix against a baseline commit.

    .venv/bin/python bench/browse.py [--factor 1] [--clients 8] [--duration 5] [--rounds 2] [--baseline REV]

For one build (the shipped data, or ``--factor N`` copies of it made by bench/generate.py), ours runs under gunicorn
as in production, and wrk drives three mixes at ``--clients`` connections, in interleaved rounds so that load from
elsewhere on this shared machine falls on all of them:

* search: the queries of tests/fixtures/search/queries.tsv, as ``/search?q=…&format=json``;
* catalogue: ``/documents`` with a rotation of filters and sorts (HTML) and its CSV download;
* CQ: the competency questions, as in bench/latency.py (cache on, as shipped).

With ``--baseline REV`` the CQ mix also runs against the code of commit REV (a git worktree under bench/work/) on the
same build, in the same rounds, and the table gives the ratio: the acceptance line is that the new pages slow the CQ
mix by no more than 10 %. Percentiles come from wrk's merged latency histograms; ``n`` is the number of answers.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import cpu_seconds, percentile_from_hist, run_wrk  # noqa: E402
from peers import REPO, WORK, cq_queries, gaistd, prepare_data, say, start_ours, stop_process  # noqa: E402
from record import md_table, write_results  # noqa: E402

FIXTURE = REPO / "tests" / "fixtures" / "search" / "queries.tsv"
CATALOGUE = ["/documents", "/documents?jurisdiction=cn", "/documents?risk=disinformation&sort=identifier",
             "/documents?jurisdiction=eu&jurisdiction=us&kind=Law", "/documents?area=security&status=published",
             "/documents?scope=genai-specific&sort=title", "/documents?developer=iso-iec-jtc-1&page=2",
             "/documents?issued=2025&format=csv"]


def search_paths() -> list[str]:
    out = []
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            out.append("/search?" + urlencode({"q": line.split("\t")[0], "format": "json"}))
    return out


def cq_paths() -> list[str]:
    return ["/sparql?query=" + quote(text) for _name, text in cq_queries()]


def build_for(factor: int) -> Path:
    if factor <= 1:
        return prepare_data().build_dir
    root = WORK / "browse" / f"x{factor}"
    if not (root / "data" / "generated.nt").exists():
        subprocess.run([sys.executable, str(REPO / "bench" / "generate.py"), "--factor", str(factor), "--out",
                        str(root)], check=True)
    build_dir = WORK / "browse" / f"x{factor}-build"
    say(gaistd("build", build_dir=build_dir, root=root).stdout.strip())
    return build_dir


def baseline_tree(rev: str) -> Path:
    tree = WORK / f"baseline-{rev}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), rev], check=True,
                       capture_output=True)
    return tree


def quiet(srv, timeout: float = 120.0, window: float = 1.0, idle: float = 0.05) -> float:
    """Wait until the server's processes (workers and query processes) use under ``idle`` of a CPU over ``window``:
    queries a turn left running (at 100× a CQ can take seconds, past the end of its turn) must not fall on the next
    turn. Returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        pids = srv.pids()
        before = cpu_seconds(pids)
        time.sleep(window)
        if cpu_seconds(pids) - before < idle * window:
            break
    return time.monotonic() - t0


def gthread_settings() -> dict:
    """Our serving settings (gaistd_kg/web/serving.py) that an older commit can run with: the worker class, threads
    and keep-alive, gunicorn's largest request line, no hook of ours."""
    from gaistd_kg.web.serving import settings

    keep = ("worker_class", "threads", "keepalive", "timeout", "graceful_timeout", "limit_request_fields",
            "limit_request_field_size")
    return {**{k: v for k, v in settings().items() if k in keep}, "limit_request_line": 8190}


def cell(results: list[dict]) -> dict:
    hists = [r["hist_us"] for r in results]
    n = sum(r["requests"] for r in results)
    secs = sum(r["seconds"] for r in results)
    cpu = sum(r["server_cpu_s"] for r in results)
    return {"n": n, "rps": n / secs if secs else 0.0, "p50_ms": percentile_from_hist(hists, 50),
            "p99_ms": percentile_from_hist(hists, 99), "errors": sum(r["error_count"] for r in results),
            "cpu_ms": 1000 * cpu / n if n else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factor", type=int, default=1, help="copies of the shipped data (default 1)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per turn (default 5)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds of rest before each turn, so that answers still in flight from the turn before "
                             "(the catalogue's slowest take seconds) do not fall on the next (default 3)")
    parser.add_argument("--baseline", default="", help="a commit whose CQ figures are measured beside ours")
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.add_argument("--name", default="")
    args = parser.parse_args(argv)
    build_dir = build_for(args.factor)
    # one load generator is one client address: as bench/throughput.py does, let it have as many requests in flight
    # as it opens (the per-client caps are for real clients, tests/test_availability.py measures them)
    many = {"GAISTD_MAX_CONCURRENT_PER_CLIENT": "1024"}
    servers = {"ours": start_ours(build_dir, workers=args.workers, env=many)}
    if args.baseline:
        tree = baseline_tree(args.baseline)
        from peers import start_gunicorn

        # gunicorn's default request line (4094 bytes) refuses two of the CQs sent by GET (414, at once): the
        # baseline gets gunicorn's largest, 8190, so that both servers answer the same mix and no instant refusal
        # counts as throughput (a run with errors on either side gives no ratio, below)
        servers["baseline"] = start_gunicorn("baseline", "server:app", tree, args.workers, None, None, 60.0,
                                             {"GAISTD_BUILD_DIR": str(build_dir), "GAISTD_QUERY_WORKERS": "2", **many,
                                              "GUNICORN_CMD_ARGS": "--limit-request-line 8190"})
        # and the same commit under our serving settings (gthread workers, 32 threads, keep-alive; not the read
        # deadlines, which that commit does not have): what the code since REV costs apart from the serving model
        conf = WORK / "baseline-gthread.conf.py"
        conf.write_text("".join(f"{k} = {v!r}\n" for k, v in gthread_settings().items()), encoding="utf-8")
        servers["baseline-gthread"] = start_gunicorn("baseline-gthread", "server:app", tree, args.workers, None,
                                                     None, 60.0, {"GAISTD_BUILD_DIR": str(build_dir),
                                                                  "GAISTD_QUERY_WORKERS": "2", **many},
                                                     config=str(conf))
    mixes = {"search": search_paths(), "catalogue": CATALOGUE, "cq": cq_paths()}
    runs: dict[tuple[str, str], list[dict]] = {}
    cold: dict[str, list[float]] = {}  # slowest answer of each warming pass: what first visitors of a worker wait
    try:
        for srv in servers.values():
            # warm every worker: each keeps its own answers and opens the search index and the catalogue table on
            # first use, and a kept-alive connection stays with one worker (a single connection would warm one)
            for mix, paths in mixes.items():
                if srv.name != "ours" and mix != "cq":
                    continue
                for attempt in range(1, 11):  # until a whole pass finds every answer made (or ten passes)
                    r = run_wrk(srv.host_port, paths, max(args.clients, 4 * args.workers), 2)
                    quiet(srv, timeout=600)
                    cold.setdefault(f"{mix}/{srv.name}", []).append(r["latency_ms"]["max"])
                    if r["requests"] >= len(paths) * args.workers and r["latency_ms"]["max"] < 100:
                        break
        for r in range(args.rounds):
            for mix, paths in mixes.items():
                for name, srv in servers.items():
                    if name != "ours" and mix != "cq":
                        continue
                    say(f"round {r + 1}: {mix} on {name}")
                    time.sleep(args.settle)
                    for other in servers.values():
                        waited = quiet(other)
                        if waited > 2 * 1.0:
                            say(f"  waited {waited:.1f} s for {other.name} to be idle")
                    pids = srv.pids()
                    before = cpu_seconds(pids)
                    turn = run_wrk(srv.host_port, paths, args.clients, args.duration)
                    # the server's CPU per answer (its processes' user and system time over the turn): what the code
                    # costs, steadier than throughput, which also depends on how the kernel spreads connections
                    turn["server_cpu_s"] = cpu_seconds(pids) - before
                    runs.setdefault((mix, name), []).append(turn)
    finally:
        for srv in servers.values():
            stop_process(srv.proc)
    cells = {f"{mix}/{name}": cell(rs) for (mix, name), rs in runs.items()}
    rows = [[key, c["n"], c["rps"], c["p50_ms"], c["p99_ms"], c["cpu_ms"], c["errors"]] for key, c in cells.items()]
    md = (f"Build: {args.factor}× the shipped data; {args.clients} clients; {args.rounds} rounds of "
          f"{args.duration:g} s per mix and server, interleaved.\n\n"
          + md_table(["mix/server", "answers", "req/s", "p50 ms", "p99 ms", "server CPU ms per answer", "errors"],
                     rows))
    md += ("\nMeasured warm: before the rounds each mix was sent to each server (16+ connections, so that every worker "
           "gets it) until a whole pass had no answer over 100 ms, waiting after each pass for the server to be idle. "
           "The slowest answer of each warming pass (ms), the first being what a worker's first visitors wait: "
           + "; ".join(f"{k} " + ", ".join(f"{v:.0f}" for v in vs) for k, vs in cold.items()) + ".\n")
    for name, how in (("baseline", "as it shipped (sync workers)"), ("baseline-gthread", "under our serving settings")):
        if f"cq/{name}" not in cells:
            continue
        ours, base = cells["cq/ours"], cells[f"cq/{name}"]
        if ours["errors"] or base["errors"]:
            md += (f"\nCQ mix against {name}: no ratio, errors on ours ({ours['errors']}) or on it "
                   f"({base['errors']}): the two did not answer the same work.\n")
        else:
            md += (f"\nCQ mix, ours / {args.baseline} {how}: throughput {ours['rps'] / base['rps']:.3f}×, "
                   f"p50 {ours['p50_ms'] / base['p50_ms']:.3f}×, p99 {ours['p99_ms'] / base['p99_ms']:.3f}×, "
                   f"server CPU per answer {ours['cpu_ms'] / base['cpu_ms']:.3f}× (acceptance: throughput ≥ 0.9×).\n")
    name = args.name or f"browse-x{args.factor}"
    write_results(name, {"cells": cells, "factor": args.factor, "clients": args.clients,
                         "baseline": args.baseline, "warming_max_ms": cold}, md, results_dir=args.results_dir)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
