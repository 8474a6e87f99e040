"""Build times: a full build (``gaistd build --force``) and a cached one (``gaistd build``, inputs unchanged).

    .venv/bin/python bench/build.py [--runs 3] [--root .]

Each build is a separate ``gaistd`` process (what a person runs), into bench/work/build-bench/ so the project's own
build/ is left alone. Reported per kind: wall time (median and each run), the stage times the command prints, and
the peak resident memory of the process (``ru_maxrss`` from ``wait4``). Full and cached runs alternate.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import GAISTD, REPO, WORK, say  # noqa: E402
from record import md_table, median, write_results  # noqa: E402


def run_build(args_list: list[str]) -> dict:
    """Run ``gaistd`` with ``args_list`` in a child, returning wall time and its own peak RSS via wait4."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(GAISTD), *args_list], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out.decode(errors="replace")
    stages = {k: float(v) for k, v in re.findall(r"\b([a-z]+) ([0-9.]+)s\b", text) if k != "in"}
    return {"wall_s": wall, "rc": proc.returncode, "peak_rss_mib": usage.ru_maxrss / 1024,
            "user_s": usage.ru_utime, "sys_s": usage.ru_stime, "stages_s": stages,
            "output": text.strip().splitlines()[-1] if text.strip() else "", "stderr": err.decode(errors="replace")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind (default 3)")
    parser.add_argument("--root", type=Path, default=REPO, help="project folder to build (default: this one)")
    parser.add_argument("--build-dir", type=Path, default=WORK / "build-bench")
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.add_argument("--name", default="build")
    args = parser.parse_args(argv)
    base = ["--root", str(args.root), "--build-dir", str(args.build_dir), "build"]
    runs: dict[str, list[dict]] = {"full (--force)": [], "cached (inputs unchanged)": []}
    for i in range(args.runs):
        for kind, extra in (("full (--force)", ["--force"]), ("cached (inputs unchanged)", [])):
            r = run_build([*base, *extra])
            if r["rc"] != 0:
                say(r["stderr"])
                raise SystemExit(f"gaistd build failed ({r['rc']})")
            runs[kind].append(r)
            say(f"  run {i + 1} {kind}: {r['wall_s']:.2f} s, peak {r['peak_rss_mib']:.0f} MiB")
    rows = []
    for kind, rs in runs.items():
        stages = {}
        for key in ("parse", "validate", "reason", "store"):
            vals = [r["stages_s"][key] for r in rs if key in r["stages_s"]]
            if vals:
                stages[key] = median(vals)
        rows.append([kind, median([r["wall_s"] for r in rs]), ", ".join(f"{r['wall_s']:.2f}" for r in rs),
                     ", ".join(f"{k} {v:.2f}" for k, v in stages.items()) or "(skipped)",
                     median([r["peak_rss_mib"] for r in rs])])
    full = median([r["wall_s"] for r in runs["full (--force)"]])
    cached = median([r["wall_s"] for r in runs["cached (inputs unchanged)"]])
    md = (f"`gaistd build --force` and `gaistd build` as separate processes on {os.path.relpath(args.root, REPO) or '.'}"
          f", {args.runs} runs each, alternating. Seconds; memory in MiB (peak RSS of the process).\n\n"
          + md_table(["build", "median wall s", "runs", "stages (median s, as printed)", "peak RSS"], rows)
          + f"\nCached / full: {cached / full:.3f}. Last full build said: "
          f"`{runs['full (--force)'][-1]['output']}`\n")
    write_results(args.name, {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                              "runs": {k: [{kk: vv for kk, vv in r.items() if kk != "stderr"} for r in rs]
                                       for k, rs in runs.items()},
                              "median_full_s": full, "median_cached_s": cached},
                  md, argv=[sys.argv[0], *(argv if argv is not None else sys.argv[1:])], results_dir=args.results_dir)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
