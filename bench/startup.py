"""Startup of our server on a built store, and how its processes share that store.

    .venv/bin/python bench/startup.py [--runs 3] [--workers 4]

Time to first answer: from starting gunicorn (``-w N server:app``) to the first 200 answer to a competency question
(CQ1), polled every 20 ms; median of ``--runs`` cold starts of the process (the store's pages stay in the OS cache).
Sharing: after a burst of concurrent requests has started every worker's query processes, each process of the tree
is listed with its role, resident memory (RSS), proportional share (PSS: pages shared with others are split between
them), and the store files it holds open (/proc/<pid>/fd) or maps (/proc/<pid>/maps). Every query process opens the
same RocksDB files read-only: same device and inode, one copy on disk and one in the page cache.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import run_wrk  # noqa: E402
from peers import (JSON_RESULTS, REPO, VENV_PY, Server, add_common_args, children_of, cq_queries,  # noqa: E402
                   data_from_args, free_port, logdir, proc_memory, proc_name, say, stop_process)
from record import md_table, median, write_results  # noqa: E402


def start_and_time(build_dir: Path, workers: int, query_workers: int, text: str,
                   timeout: float = 120.0) -> tuple[Server, float]:
    """Start gunicorn; (server, seconds from the start to the first 200 answer to ``text``)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAISTD_")}
    env.update({"GAISTD_BUILD_DIR": str(build_dir), "GAISTD_QUERY_WORKERS": str(query_workers),
                "PYTHONPATH": str(REPO)})
    cmd = [str(VENV_PY), "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--chdir", str(REPO),
           "--log-level", "warning", "server:app"]
    srv = Server("ours", f"http://127.0.0.1:{port}/sparql")
    url = srv.url_for(text)
    log = logdir() / f"startup-{port}.log"
    t0 = time.monotonic()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)
    srv.proc, srv.log = proc, log
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            req = urllib.request.Request(url, headers={"Accept": JSON_RESULTS})
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                resp.read()
                if resp.status == 200:
                    return srv, time.monotonic() - t0
        except OSError:  # not listening yet (URLError), or an error status while starting (HTTPError)
            pass
        if time.monotonic() - t0 > timeout:
            stop_process(proc)
            raise RuntimeError(f"no answer within {timeout:g}s")
        time.sleep(0.02)


def store_files(pid: int, store: Path) -> dict:
    """Store files a process holds open (fd) or maps, as {"fd": {name: (dev, inode)}, "maps": [names]}."""
    prefix = str(store.resolve())
    fds: dict[str, tuple[int, int]] = {}
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith(prefix):
                st = os.stat(f"/proc/{pid}/fd/{fd}")
                fds[os.path.relpath(target, prefix)] = (st.st_dev, st.st_ino)
    except OSError:
        pass
    maps = set()
    try:
        for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith(prefix):
                maps.add(os.path.relpath(parts[5], prefix))
    except OSError:
        pass
    return {"fd": fds, "maps": sorted(maps)}


def role(pid: int, master: int) -> str:
    if pid == master:
        return "gunicorn master"
    name = proc_name(pid)
    if name == "gaistd-query":
        return "query process"
    return "HTTP worker" if name.startswith(("gunicorn", "python")) else name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    parser.add_argument("--runs", type=int, default=3, help="cold starts of the process (default 3)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--query-workers", type=int, default=2)
    parser.add_argument("--name", default="startup")
    args = parser.parse_args(argv)
    data = data_from_args(args)
    text = cq_queries()[0][1]
    store = data.store_path
    import pyoxigraph as ox

    t0 = time.perf_counter()
    ox.Store.read_only(str(store))
    open_s = time.perf_counter() - t0
    times = []
    srv = None
    for i in range(args.runs):
        srv, first = start_and_time(data.build_dir, args.workers, args.query_workers, text)
        times.append(first)
        say(f"  run {i + 1}: first answer after {first:.2f} s")
        if i < args.runs - 1:
            srv.stop()
    assert srv is not None
    try:
        run_wrk(srv.host_port, [srv.path_for(t) for _n, t in cq_queries()], connections=args.workers * 2,
                duration=2, threads=2)
        master = srv.proc.pid
        procs = []
        for pid in [master, *children_of(master)]:
            mem = proc_memory(pid)
            files = store_files(pid, store)
            procs.append({"pid": pid, "role": role(pid, master), "rss_kib": mem.get("rss"), "pss_kib": mem.get("pss"),
                          "store_fds": len(files["fd"]), "store_maps": len(files["maps"]), "files": files})
    finally:
        srv.stop()
    holders = [p for p in procs if p["store_fds"] or p["store_maps"]]
    common = None
    for p in holders:
        ids = set(p["files"]["fd"].items())
        common = ids if common is None else common & ids
    disk = sum(f.stat().st_size for f in store.iterdir() if f.is_file())
    rows = [[p["pid"], p["role"], p["rss_kib"] and p["rss_kib"] / 1024, p["pss_kib"] and p["pss_kib"] / 1024,
             p["store_fds"], p["store_maps"]] for p in procs]
    qp = [p for p in procs if p["role"] == "query process"]
    sst = sorted(n for n, _ in (common or set()) if n.endswith(".sst"))
    md = (f"gunicorn -c (README config) -w {args.workers} (gthread), {args.query_workers} query processes per worker, on a built store of "
          f"{disk / 1048576:.1f} MiB on disk.\n\n"
          f"Time to first answered query (CQ1), from process start: median {median(times):.2f} s over {args.runs} "
          f"starts ({', '.join(f'{t:.2f}' for t in times)} s). It includes the first HTTP worker starting its query "
          "processes (each worker starts its own on its first request). For scale: pyoxigraph opens the store "
          "read-only in this process in "
          f"{open_s * 1000:.1f} ms.\n\n"
          "Processes after a burst of concurrent requests (memory in MiB):\n\n"
          + md_table(["pid", "role", "RSS", "PSS", "store files open (fd)", "store files mapped"], rows)
          + f"\n{len(holders)} processes hold the store open, all {len(qp)} of them query processes; the files every "
          f"one of them holds are the same {len(common or ())} files (same device and inode), "
          f"{len(sst)} of them SST data files. Sum of RSS of the query processes "
          f"{sum(p['rss_kib'] or 0 for p in qp) / 1024:.1f} MiB, sum of PSS {sum(p['pss_kib'] or 0 for p in qp) / 1024:.1f} "
          "MiB (PSS counts shared pages once across the processes that share them).\n")
    write_results(args.name, {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                              "build_id": data.build_id, "first_answer_s": times,
                              "median_first_answer_s": median(times), "store_open_ms": open_s * 1000,
                              "store_bytes": disk, "processes": procs,
                              "shared_files": sorted(n for n, _ in (common or set()))},
                  md, argv=[sys.argv[0], *(argv if argv is not None else sys.argv[1:])], results_dir=args.results_dir)
    print(md)
    return 0 if holders and common else 1


if __name__ == "__main__":
    sys.exit(main())
