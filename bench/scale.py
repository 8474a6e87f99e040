"""Scale: build time, store size, peak memory and CQ latency at 1×, 10×, 100×, 1000× the shipped data.

    .venv/bin/python bench/scale.py [--factors 1,10,100,1000] [--budget 600] [--mem-limit-gb 12]

For each factor, in order: bench/generate.py writes a project folder shaped like ours (bench/work/scale/x<N>), then
``gaistd --root … build --force`` builds it as a separate process (wall time, stage times as printed, peak RSS from
``wait4``, its store's size on disk), then each competency question is timed on the result: pyoxigraph in-process
(median of ``--repeat``) and over HTTP on our server (gunicorn, result cache off, one client, median). A build that
passes ``--budget`` seconds is stopped, one that passes ``--mem-limit-gb`` of address space fails: that size is
recorded as not fitting, and the larger ones are not tried. Whatever ``gaistd build`` does at the time (owlrl or a
faster reasoner) is what is measured. Writes bench/results/scale.md/.json and a log-log plot,
bench/results/scale.png (matplotlib from the bench venv under bench/work/, never from our dependencies).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate  # noqa: E402
from peers import GAISTD, REPO, WORK, InProcess, cq_queries, ensure_peer_venv, say, start_ours  # noqa: E402
from record import RESULTS, md_table, median, write_results  # noqa: E402


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def build(root: Path, budget: float, mem_gb: float) -> dict:
    build_dir = root / "build"
    cmd = [str(GAISTD), "--root", str(root), "--build-dir", str(build_dir), "build", "--force"]

    def limit() -> None:
        if mem_gb:
            cap = int(mem_gb * 1024 ** 3)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    t0 = time.perf_counter()
    log = root / "build.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, preexec_fn=limit)
        status = None
        while True:
            pid, st, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status = os.waitstatus_to_exitcode(st)
                proc.returncode = status
                break
            if time.perf_counter() - t0 > budget:
                proc.kill()
                _pid, _st, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                break
            time.sleep(0.2)
    wall = time.perf_counter() - t0
    text = log.read_text(errors="replace")
    out = {"wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024, "rc": proc.returncode}
    if status is None:
        out["outcome"] = f"stopped at the budget of {budget:g} s"
        out["last_step"] = (text.strip().splitlines() or [""])[-1].strip()
        return out
    if status != 0:
        tail = " / ".join(line.strip() for line in text.strip().splitlines()[-2:])
        out["outcome"] = ("failed: out of memory (address-space limit " f"{mem_gb:g} GiB)" if "MemoryError" in text
                          or "memory allocation" in text.lower() else f"failed (exit {status})")
        out["tail"] = tail
        return out
    last = [line for line in text.splitlines() if line.startswith("built ")]
    out["outcome"] = "built"
    stages = re.findall(r"\b([a-z]+) ([0-9.]+)s\b", last[-1]) if last else []
    out["stages_s"] = {k: float(v) for k, v in stages if k != "in"}
    counts = re.findall(r"(\w+) (\d+) triples", last[-1]) if last else []
    out["triples"] = {k: int(v) for k, v in counts}
    engine = re.search(r"; (\w+) engine\)", last[-1]) if last else None
    out["engine"] = engine.group(1) if engine else None
    current = (build_dir / "current").resolve()
    out["store_bytes"] = dir_size(current / "oxigraph")
    return out


def latency(root: Path, repeat: int, http_repeat: int) -> dict[str, dict]:
    store = (root / "build" / "current").resolve() / "oxigraph"
    inproc = InProcess(store)
    out: dict[str, dict] = {}
    # result cache off: with it, every HTTP run after the first would be a cache hit, not the query
    srv = start_ours(root / "build", workers=2, query_workers=1, timeout=120, env={"GAISTD_RESULT_CACHE_BYTES": "0"})
    try:
        for qname, text in cq_queries():
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                inproc.ask(text)
                times.append(time.perf_counter() - t0)
            http = []
            err = None
            for _ in range(http_repeat):
                t0 = time.perf_counter()
                try:
                    srv.ask(text, timeout=120)
                except OSError as exc:  # e.g. 503 past the server's QUERY_TIMEOUT
                    err = str(exc)
                    break
                http.append(time.perf_counter() - t0)
            out[qname] = {"inprocess_ms": median(times) * 1000,
                          "http_ms": median(http) * 1000 if http else None, "http_error": err}
    finally:
        srv.stop()
    return out


def plot(record: dict, path: Path) -> str | None:
    """scale.png via the bench venv's matplotlib; returns why not, or None."""
    try:
        py = ensure_peer_venv(("matplotlib",))
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"no plot: matplotlib not available in the bench venv ({exc})"
    data = path.with_suffix(".plot.json")
    data.write_text(json.dumps(record))
    script = r"""
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rec = json.load(open(sys.argv[1]))
rows = [r for r in rec["sizes"] if r["build"]["outcome"] == "built"]
x = [sum(r["build"]["triples"].values()) for r in rows]
fig, (a, m, b) = plt.subplots(1, 3, figsize=(17, 5))
a.loglog(x, [r["build"]["wall_s"] for r in rows], "o-", label="build (wall)")
for st in ("parse", "validate", "reason", "store"):
    ys = [r["build"]["stages_s"].get(st) for r in rows]
    if all(y for y in ys):
        a.loglog(x, ys, ".--", label=st)
m.loglog(x, [r["build"]["peak_rss_mib"] for r in rows], "s-", label="peak RSS of the build")
m.loglog(x, [r["build"]["store_bytes"] / 1048576 for r in rows], "d-", label="store on disk")
m.set_xlabel("triples in the store"); m.set_ylabel("MiB"); m.set_title("memory and disk")
m.legend(fontsize=8); m.grid(True, which="both", alpha=.3)
for r in rec["sizes"]:
    if r["build"]["outcome"] != "built":
        for ax in (a, m):
            ax.axvline(r.get("asserted_triples", 1), color="red", alpha=.4)
        a.text(r.get("asserted_triples", 1), a.get_ylim()[0] * 1.5, "x%d: %s" % (r["factor"], r["build"]["outcome"]),
               rotation=90, color="red", fontsize=8)
a.set_xlabel("triples in the store (asserted, for a size that did not build)"); a.set_ylabel("seconds"); a.set_title("build")
a.legend(fontsize=8); a.grid(True, which="both", alpha=.3)
qs = sorted({q for r in rows for q in r["latency"]})
for q in qs:
    b.loglog(x, [max(r["latency"][q]["inprocess_ms"], 1e-3) for r in rows], ".-", label=q)
b.set_xlabel("triples in the store"); b.set_ylabel("median ms (pyoxigraph in-process)")
b.set_title("competency questions"); b.legend(fontsize=7, ncol=2); b.grid(True, which="both", alpha=.3)
fig.tight_layout(); fig.savefig(sys.argv[2], dpi=110)
"""
    proc = subprocess.run([str(py), "-c", script, str(data), str(path)], capture_output=True, text=True)
    data.unlink()
    return None if proc.returncode == 0 else f"no plot: {proc.stderr[-500:]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factors", default="1,10,100,1000")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds a build may take (default 600)")
    parser.add_argument("--mem-limit-gb", type=float, default=12.0, help="address-space limit of a build (GiB)")
    parser.add_argument("--repeat", type=int, default=7, help="in-process runs per CQ (median)")
    parser.add_argument("--http-repeat", type=int, default=3, help="HTTP runs per CQ (median)")
    parser.add_argument("--work", type=Path, default=WORK / "scale")
    parser.add_argument("--keep", action="store_true", help="keep the generated folders and stores")
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.add_argument("--name", default="scale")
    args = parser.parse_args(argv)
    sizes = []
    for factor in (int(f) for f in args.factors.split(",")):
        root = args.work / f"x{factor}"
        say(f"x{factor}: generating")
        gen = generate(REPO, root, factor)
        say(f"x{factor}: {gen['total_triples']} asserted triples; building (budget {args.budget:g} s)")
        b = build(root, args.budget, args.mem_limit_gb)
        row = {"factor": factor, "asserted_triples": gen["total_triples"], "generate_s": gen["seconds"], "build": b}
        say(f"x{factor}: {b['outcome']} in {b['wall_s']:.1f} s, peak {b['peak_rss_mib']:.0f} MiB")
        if b["outcome"] == "built":
            row["latency"] = latency(root, args.repeat, args.http_repeat)
        sizes.append(row)
        if not args.keep and factor != 1:
            shutil.rmtree(root, ignore_errors=True)
        if b["outcome"] != "built":
            break
    record = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "sizes": sizes}
    out_dir = Path(args.results_dir or RESULTS)
    out_dir.mkdir(parents=True, exist_ok=True)
    why = plot(record, out_dir / f"{args.name}.png")
    rows = []
    for r in sizes:
        b = r["build"]
        st = b.get("stages_s", {})
        rows.append([f"{r['factor']}×", r["asserted_triples"], sum(b.get("triples", {}).values()) or "",
                     b["outcome"], b.get("engine") or "", b["wall_s"], st.get("parse"), st.get("validate"), st.get("reason"),
                     st.get("store"), b["peak_rss_mib"],
                     f"{b['store_bytes'] / 1048576:.1f}" if "store_bytes" in b else ""])
    built = [r for r in sizes if "latency" in r]
    qs = list(built[0]["latency"]) if built else []
    lat_rows = [[q] + [f"{r['latency'][q]['inprocess_ms']:.2f} / "
                       + (f"{r['latency'][q]['http_ms']:.2f}" if r["latency"][q]["http_ms"] is not None
                          else "error") for r in built] for q in qs]
    md = ("Generated graphs shaped like ours (bench/generate.py: growing kinds copied with fresh IRIs, links sampled "
          "across copies), each built by `gaistd --root <folder> build --force` in its own process. Build budget "
          f"{args.budget:g} s, address-space limit {args.mem_limit_gb:g} GiB per build. Seconds; memory in MiB.\n\n"
          + md_table(["size", "asserted triples", "triples in store", "outcome", "engine", "build wall s", "parse", "validate",
                      "reason", "store", "peak RSS", "store MiB"], rows)
          + ("\nMedian ms per competency question, pyoxigraph in-process / over HTTP (ours with its result cache "
             "off, one client):\n\n"
             + md_table(["query", *(f"{r['factor']}×" for r in built)], lat_rows) if built else "")
          + (f"\n{why}\n" if why else f"\n![scale](./{args.name}.png)\n"))
    stopped = [r for r in sizes if r["build"]["outcome"] != "built"]
    if stopped:
        b = stopped[0]["build"]
        md += (f"\nStops fitting at {stopped[0]['factor']}× ({stopped[0]['asserted_triples']} asserted triples): "
               f"{b['outcome']}" + (f"; last output: `{b.get('last_step') or b.get('tail', '')}`" if
                                    b.get("last_step") or b.get("tail") else "") + ".\n")
    write_results(args.name, record, md, argv=[sys.argv[0], *(argv if argv is not None else sys.argv[1:])],
                  results_dir=args.results_dir)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
