"""Smoke tests: every script of bench/ runs on tiny settings and writes its record. No timing is asserted here:
benchmarks are measured by running them (bench/run_all.py), never judged by the test suite.

The scripts run as separate processes, as a person runs them, on the fixture build (``--build-dir``), writing into a
temporary results folder. Virtuoso takes part when Debian's package is installed; rdflib-endpoint when the bench venv
(bench/work/venv) already has it: the suite never installs from PyPI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

BENCH = REPO / "bench"
sys.path.insert(0, str(BENCH))
import loadgen  # noqa: E402
import peers  # noqa: E402

pytestmark = [pytest.mark.server, pytest.mark.slow]


def servers() -> str:
    names = ["ours", "pyoxigraph"]
    if peers.virtuoso_available() is None:
        names.append("virtuoso")
    py = peers.peer_python()
    if py.exists() and subprocess.run([str(py), "-c", "import rdflib_endpoint, uvicorn, click"],
                                      capture_output=True).returncode == 0:
        names.append("rdflib-endpoint")
    return ",".join(names)


def run(script: str, *args: str, tmp: Path, timeout: float = 240) -> dict:
    out_dir = tmp / "results"
    env = {**os.environ, "GAISTD_BENCH_WORK": str(tmp / "work")}
    proc = subprocess.run([sys.executable, str(BENCH / f"{script}.py"), *args, "--results-dir", str(out_dir)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    assert proc.returncode == 0, f"{script} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return {"stdout": proc.stdout, "stderr": proc.stderr, "dir": out_dir}


def record(out_dir: Path, name: str) -> dict:
    rec = json.loads((out_dir / f"{name}.json").read_text())
    md = (out_dir / f"{name}.md").read_text()
    for key in ("machine", "versions", "command", "git"):
        assert key in rec
    assert "Command: `.venv/bin/python bench/" in md and "Machine:" in md and "Versions:" in md
    return rec


@pytest.mark.skipif(loadgen.wrk_available() is not None, reason="wrk is not installed (apt-get install wrk)")
def test_throughput_compares_every_server_on_the_fixture_build(fixture_build_dir, tmp_path):
    names = servers()
    r = run("throughput", "--build-dir", str(fixture_build_dir), "--servers", names, "--duration", "1",
            "--rounds", "1", "--workers", "2", "--conditional", tmp=tmp_path)
    rec = record(r["dir"], "throughput")
    assert set(names.split(",")) <= set(rec["servers"])
    assert "ours, conditional GET (304)" in rec["servers"]
    assert all(v["errors"] == 0 for v in rec["servers"].values())
    assert "ours/pyoxigraph" in rec["ratios"]


@pytest.mark.skipif(loadgen.wrk_available() is not None, reason="wrk is not installed (apt-get install wrk)")
def test_latency_reports_p50_p99_per_query_and_client_count(fixture_build_dir, tmp_path):
    r = run("latency", "--build-dir", str(fixture_build_dir), "--servers", "ours,pyoxigraph", "--queries",
            "cq01,cq09", "--duration", "1", "--max-cell", "1", "--workers", "2", tmp=tmp_path)
    rec = record(r["dir"], "latency")
    assert set(rec["cells"]) == {"cq01", "cq09"}
    assert set(rec["cells"]["cq01"]) == {"1", "8"}
    assert {"p50_ms", "p99_ms", "n"} <= set(rec["cells"]["cq01"]["1"]["ours"])


def test_overhead_has_a_row_per_query(fixture_build_dir, tmp_path):
    r = run("overhead", "--build-dir", str(fixture_build_dir), "--repeat", "2", "--workers", "2", tmp=tmp_path)
    rec = record(r["dir"], "overhead")
    assert "ASK {}" in rec["queries"] and "cq01" in rec["queries"]
    assert {"http_ms", "http_cached_ms", "http_floor_ms", "ours_above_floor_ms"} <= set(rec["queries"]["cq01"])


@pytest.mark.skipif(loadgen.wrk_available() is not None, reason="wrk is not installed (apt-get install wrk)")
def test_startup_shows_query_processes_sharing_the_store_files(fixture_build_dir, tmp_path):
    r = run("startup", "--build-dir", str(fixture_build_dir), "--runs", "1", "--workers", "2", tmp=tmp_path)
    rec = record(r["dir"], "startup")
    holders = [p for p in rec["processes"] if p["store_fds"]]
    assert len(holders) >= 2 and all(p["role"] == "query process" for p in holders)
    assert rec["shared_files"]


def test_build_times_full_and_cached(tmp_path):
    r = run("build", "--runs", "1", "--build-dir", str(tmp_path / "build"), tmp=tmp_path)
    rec = record(r["dir"], "build")
    assert set(rec["runs"]) == {"full (--force)", "cached (inputs unchanged)"}


@pytest.mark.skipif(loadgen.wrk_available() is not None, reason="wrk is not installed (apt-get install wrk)")
def test_soak_counts_errors_and_memory(fixture_build_dir, tmp_path):
    r = run("soak", "--build-dir", str(fixture_build_dir), "--duration", "2", "--warmup", "1", "--sample-every", "1",
            "--connections", "16", "--workers", "2", tmp=tmp_path)
    rec = record(r["dir"], "soak")
    assert rec["result"]["error_count"] == 0 and "rss" in rec["growth"]


def test_generated_graph_is_valid_and_scale_records_each_size(generated_x2, tmp_path):
    """generate.py at 2× (the session's generated_x2, which checks that it exits 0) builds (so it passes the shapes
    and checks); scale.py records 1× and 2×."""
    built = subprocess.run([str(Path(sys.executable).parent / "gaistd"), "--root", str(generated_x2),
                            "--build-dir", str(tmp_path / "x2-build"), "build", "-q"],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    r = run("scale", "--factors", "1,2", "--budget", "200", "--repeat", "1", "--http-repeat", "1",
            "--work", str(tmp_path / "scale"), tmp=tmp_path, timeout=400)
    rec = record(r["dir"], "scale")
    assert [s["factor"] for s in rec["sizes"]] == [1, 2]
    assert all(s["build"]["outcome"] == "built" for s in rec["sizes"])


def test_run_all_writes_a_summary(fixture_build_dir, tmp_path):
    r = run("run_all", "--only", "overhead", "--quick", "--build-dir", str(fixture_build_dir), tmp=tmp_path)
    rec = record(r["dir"], "summary")
    assert rec["runs"]["overhead"]["rc"] == 0 and not rec["failed"]


def test_textread_times_every_attack_text_at_each_size(tmp_path):
    r = run("textread", "--sizes", "1024,4096", "--repeat", "1", tmp=tmp_path)
    rec = record(r["dir"], "textread")
    assert {row["text"] for row in rec["rows"]} >= {"unterminated string of escaped quotes", "name run without a colon"}
    assert all(row["cpu_seconds"] >= 0 for row in rec["rows"]) and len(rec["rows"]) == 10


def test_availability_reports_each_attack_beside_no_attack(tmp_path):
    """availability.py probes a light query under no attack, heavy queries, a full queue and slow sockets, and
    reports each scenario's latencies with their ratio to the no-attack run."""
    r = run("availability", "--seconds", "1", "--slow", "2", tmp=tmp_path)
    rec = record(r["dir"], "availability")
    names = [row["scenario"] for row in rec["rows"]]
    assert names[0] == "none" and len(names) == 5 and names[-1].startswith("slow-body")
    assert all(row["probes"] and row["p50_ratio"] for row in rec["rows"])
