"""Every benchmark, one after the other, then bench/results/summary.md/.json with the figures that matter.

    .venv/bin/python bench/run_all.py [--skip soak,scale] [--soak-duration 300] [--scale-factors 1,10,100,1000]
    .venv/bin/python bench/run_all.py --quick            # tiny settings: checks that everything runs (about 2 min)

Each script is run as its own process with its default settings (each under about 3 minutes, except soak: 5 minutes by
default, and scale: as long as its sizes fit the budget) and writes bench/results/<name>.md and .json with machine,
versions and command. The machine may be shared: compare the ratios measured within one run, not absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from record import RESULTS, write_results  # noqa: E402

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SCRIPTS = ("throughput", "latency", "overhead", "startup", "build", "soak", "scale")
QUICK = {
    "throughput": ["--duration", "2", "--rounds", "1"],
    "latency": ["--queries", "cq01,cq09", "--duration", "1", "--max-cell", "1"],
    "overhead": ["--repeat", "5"],
    "startup": ["--runs", "1"],
    "build": ["--runs", "1"],
    "soak": ["--duration", "5", "--warmup", "2", "--sample-every", "1"],
    "scale": ["--factors", "1,2", "--budget", "120", "--repeat", "2", "--http-repeat", "1"],
}


def summary(results: Path) -> str:
    def load(name: str) -> dict | None:
        p = results / f"{name}.json"
        return json.loads(p.read_text()) if p.exists() else None

    out = []
    t = load("throughput")
    if t:
        out.append("## Throughput (CQ mix, 8 clients)\n")
        out += [f"- {k}: {v['rps']:.1f} req/s ({v['errors']} errors)" for k, v in t["servers"].items()]
        out.append("- ratios: " + ", ".join(f"{k} = {v:.3g}" for k, v in t["ratios"].items()))
        out.append("- ours answers repeated queries from its per-process result cache (emptied on a new build); "
                   "ours-uncached is the same server with GAISTD_RESULT_CACHE_BYTES=0\n")
    lat = load("latency")
    if lat:
        out.append("## Latency p50 / p99 (ms), see latency.md for every server\n")
        for q, by_c in lat["cells"].items():
            out.append(f"- {q}: " + "; ".join(f"{c} client{'s' if c != '1' else ''}: ours "
                                               f"{v['ours']['p50_ms']:.2f} / {v['ours']['p99_ms']:.2f}"
                                               for c, v in by_c.items() if "ours" in v))
        out.append("")
    o = load("overhead")
    if o:
        extra = (f"; as shipped (result cache on) {o['median_overhead_cached_ms']:.2f} ms; our code above the HTTP "
                 f"floor (gunicorn + client alone) {o['median_above_floor_ms']:.2f} ms"
                 if "median_overhead_cached_ms" in o else "")
        out.append(f"## Overhead\n\n- median over the CQs: {o['median_overhead_ms']:.2f} ms per request uncached "
                   f"(HTTP − pyoxigraph in-process){extra}; per query in overhead.md\n")
    s = load("startup")
    if s:
        out.append(f"## Startup\n\n- first answered query {s['median_first_answer_s']:.2f} s after starting gunicorn; "
                   f"{len(s['shared_files'])} store files shared by every query process\n")
    b = load("build")
    if b:
        out.append(f"## Build\n\n- full {b['median_full_s']:.2f} s, cached {b['median_cached_s']:.2f} s\n")
    so = load("soak")
    if so:
        r = so["result"]
        out.append(f"## Soak\n\n- {r['requests']} requests at {r['connections']} connections, {r['error_count']} errors, "
                   f"RSS growth {so['growth']['rss'] * 100:+.1f}% ({'met' if so['ok'] else 'MISSED'})\n")
    sc = load("scale")
    if sc:
        out.append("## Scale\n")
        for r in sc["sizes"]:
            out.append(f"- {r['factor']}×: {r['asserted_triples']} asserted triples, {r['build']['outcome']}, "
                       f"{r['build']['wall_s']:.1f} s, peak {r['build']['peak_rss_mib']:.0f} MiB")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip", default="", help="comma-separated scripts to leave out")
    parser.add_argument("--only", default="", help="comma-separated scripts to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="tiny settings: a check that everything runs")
    parser.add_argument("--soak-duration", type=float, default=300.0)
    parser.add_argument("--scale-factors", default="1,10,100,1000")
    parser.add_argument("--scale-budget", type=float, default=600.0)
    parser.add_argument("--build-dir", type=Path, default=None, help="passed to the scripts that take it")
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.add_argument("--summary-only", action="store_true",
                        help="run nothing: write summary.md from the results already in the results folder")
    args = parser.parse_args(argv)
    names = [n for n in (args.only.split(",") if args.only else SCRIPTS) if n and n not in args.skip.split(",")]
    if args.summary_only:
        names = []
    results = Path(args.results_dir or RESULTS)
    ran, failed = {}, []
    for name in names:
        cmd = [sys.executable, str(BENCH / f"{name}.py")]
        if args.quick:
            cmd += QUICK[name]
        elif name == "soak":
            cmd += ["--duration", f"{args.soak_duration:g}"]
        elif name == "scale":
            cmd += ["--factors", args.scale_factors, "--budget", f"{args.scale_budget:g}"]
        if args.build_dir and name not in ("build", "scale"):
            cmd += ["--build-dir", str(args.build_dir)]
        cmd += ["--results-dir", str(results)]
        print(f"== {name}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        rc = subprocess.run(cmd).returncode
        shown = [os.path.relpath(c, REPO) if c.startswith(str(REPO)) else c for c in cmd[1:]]
        ran[name] = {"rc": rc, "seconds": time.monotonic() - t0, "command": ".venv/bin/python " + " ".join(shown)}
        if rc != 0:
            failed.append(name)
    md = summary(results) + ("\n## Runs\n\n" + "\n".join(f"- {n}: exit {r['rc']} in {r['seconds']:.0f} s: `{r['command']}`"
                                                           for n, r in ran.items()) if ran else
                             "\nEach section comes from bench/results/<name>.md, which names the command that made it.\n")
    write_results("summary", {"runs": ran, "failed": failed}, md,
                  argv=[sys.argv[0], *(argv if argv is not None else sys.argv[1:])], results_dir=results)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
