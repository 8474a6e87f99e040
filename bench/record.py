"""The record of a run: machine, versions and command, written as bench/results/<name>.md and .json."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, Sequence

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get("GAISTD_BENCH_RESULTS", REPO / "bench" / "results"))


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _first_line(cmd: Sequence[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:  # a failed probe (a package missing from the peer's venv) is no version
        return None
    text = out.stdout.strip()
    return text.splitlines()[0] if text else None


def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        mem_kib = int(next(line for line in Path("/proc/meminfo").read_text().splitlines()
                           if line.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration, ValueError):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kib / 1048576, 1),
            "kernel": platform.release(), "loadavg_at_start": os.getloadavg()}


def versions() -> dict:
    import importlib.metadata as md

    v = {"python": platform.python_version()}
    for pkg in ("pyoxigraph", "rdflib", "flask", "gunicorn", "owlrl", "pyshacl"):
        try:
            v[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            v[pkg] = None
    v["virtuoso"] = _first_line(["dpkg-query", "-W", "-f=${Version}", "virtuoso-opensource-7-bin"])
    v["wrk"] = _first_line(["dpkg-query", "-W", "-f=${Version}", "wrk"])
    from peers import peer_python

    py = peer_python()
    v["rdflib-endpoint"] = _first_line([str(py), "-c", "import importlib.metadata as m; "
                                        "print(m.version('rdflib-endpoint'), 'rdflib', m.version('rdflib'))"]) \
        if py.exists() else None
    return v


def git_state() -> dict:
    """The commit measured, and whether the code under gaistd_kg/ differed from it (others work in this tree)."""
    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            return ""

    dirty = [line[3:] for line in git("status", "--porcelain", "--", "gaistd_kg", "server.py").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "uncommitted_code": dirty}


def write_results(name: str, data: dict, markdown: str, argv: Sequence[str] | None = None,
                  results_dir: Path | None = None) -> Path:
    """bench/results/<name>.json and .md, each with machine, versions and the command that made it."""
    out_dir = Path(results_dir or RESULTS)
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = list(argv if argv is not None else sys.argv)
    command = " ".join([".venv/bin/python", os.path.relpath(argv[0], REPO) if os.path.isabs(argv[0]) else argv[0],
                        *argv[1:]])
    record = {"name": name, "command": command, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "machine": machine(), "versions": versions(), "git": git_state(), **data}
    (out_dir / f"{name}.json").write_text(json.dumps(record, indent=2, sort_keys=False, default=str) + "\n")
    m, v = record["machine"], record["versions"]
    head = (f"# {name}\n\nCommand: `{command}`  \nWhen: {record['when']}  \n"
            f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, Linux {m['kernel']}, "
            f"load average at start {', '.join(f'{x:.2f}' for x in m['loadavg_at_start'])} (shared machine: "
            "compare ratios measured in one run, not absolute numbers)  \n"
            "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val) + "  \n"
            f"Code: commit {record['git']['commit']}"
            + (f", with uncommitted changes in {', '.join(record['git']['uncommitted_code'])}"
               if record["git"]["uncommitted_code"] else "") + "\n\n")
    path = out_dir / f"{name}.md"
    path.write_text(head + markdown.rstrip() + "\n")
    say(f"wrote {os.path.relpath(path, REPO)} and {name}.json")
    return path


def md_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def cell(x: object) -> str:
        if isinstance(x, float):
            return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"
        return "" if x is None else str(x)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    if not n:
        return float("nan")
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
