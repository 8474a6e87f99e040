"""What every benchmark shares: the data, the competency questions, the servers under test, one load tool, the record.

Servers (all on 127.0.0.1, all on the same data, the built store or its N-Quads export):

* ``ours``       gunicorn ``server:app`` with several workers on the built store (``start_ours``);
* ``virtuoso``   Virtuoso Open Source 7 from Debian, bulk-loaded with ``ld_dir``/``rdf_loader_run`` into our graph
                 IRIs and queried with our four graphs as ``default-graph-uri`` (``start_virtuoso``);
* ``rdflib-endpoint`` from PyPI, in its own venv under bench/work/ (``start_rdflib_endpoint``), as its CLI serves;
* ``pyoxigraph`` called in-process on the built store: the floor, no HTTP (``InProcess``).

Load comes from one tool for every HTTP server, ``wrk`` (``loadgen.py``); answers are compared as normalised SELECT
results (``answers.py``) before any timing; ``record.py`` writes bench/results/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
WORK = Path(os.environ.get("GAISTD_BENCH_WORK", BENCH / "work"))
VENV_PY = REPO / ".venv" / "bin" / "python"
GAISTD = REPO / ".venv" / "bin" / "gaistd"
PEER_VENV = BENCH / "work" / "venv"  # rdflib-endpoint and matplotlib live here, never in our dependencies
GRAPHS = tuple(f"https://w3id.org/gaistd/graph/{n}" for n in ("ontology", "data", "inferred", "meta"))
JSON_RESULTS = "application/sparql-results+json"
XSD = "http://www.w3.org/2001/XMLSchema#"


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- data -----------------------------------------------------------------------------------------------------------

def cq_queries(folder: Path = REPO / "queries") -> list[tuple[str, str]]:
    """(short name, text) of every competency question, in file order: the CQ mix."""
    return [(p.stem.split("-")[0], p.read_text(encoding="utf-8")) for p in sorted(folder.glob("cq*.rq"))]


def gaistd(*args: str, build_dir: Path | None = None, root: Path | None = None,
           check: bool = True, **kw) -> subprocess.CompletedProcess:
    cmd = [str(GAISTD)]
    if root is not None:
        cmd += ["--root", str(root)]
    if build_dir is not None:
        cmd += ["--build-dir", str(build_dir)]
    return subprocess.run([*cmd, *args], check=check, capture_output=True, text=True, **kw)


@dataclass
class Data:
    build_dir: Path     # <build_dir>/current is the store
    nquads: Path        # the full dataset (four named graphs) as N-Quads

    @property
    def store_path(self) -> Path:
        return (self.build_dir / "current").resolve() / "oxigraph"

    @property
    def build_id(self) -> str:
        return json.loads(((self.build_dir / "current").resolve() / "manifest.json").read_text())["build_id"]


def prepare_data(root: Path = REPO, work: Path | None = None, name: str = "shipped",
                 build_dir: Path | None = None) -> Data:
    """Build ``root`` into bench/work/<name>/build (cached: a build of unchanged inputs is skipped) and export it.

    With ``build_dir``, that existing build is used as it is (tests pass a fixture build). The bench never touches the
    project's own build/ directory, which tests and other people rebuild.
    """
    base = (work or WORK) / name
    nq = base / "load" / "full.nq"
    nq.parent.mkdir(parents=True, exist_ok=True)
    if build_dir is None:
        build_dir = base / "build"
        out = gaistd("build", build_dir=build_dir, root=root)
        say(f"  {out.stdout.strip()}")
    data = Data(Path(build_dir), nq)
    stamp = base / "load" / "build-id"
    if not nq.exists() or not stamp.exists() or stamp.read_text() != data.build_id:
        gaistd("export", "-g", "full", "-f", "nquads", "-o", str(nq), build_dir=data.build_dir)
        stamp.write_text(data.build_id)
    return data


def add_common_args(parser, servers: Sequence[str] | None = None) -> None:
    parser.add_argument("--build-dir", type=Path, default=None,
                        help="use this existing build (<dir>/current) instead of building the shipped data into "
                             "bench/work/shipped/build")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="write <name>.md/.json here (default bench/results)")
    if servers is not None:
        parser.add_argument("--servers", default=",".join(servers),
                            help=f"comma-separated, from {', '.join(ALL_SERVERS)} (default %(default)s)")
        parser.add_argument("--workers", type=int, default=4, help="gunicorn workers of ours (default 4)")
        parser.add_argument("--query-workers", type=int, default=2,
                            help="query processes per gunicorn worker (GAISTD_QUERY_WORKERS, default 2)")


def data_from_args(args) -> Data:
    if args.build_dir is not None:
        import hashlib

        key = hashlib.sha256(str(Path(args.build_dir).resolve()).encode()).hexdigest()[:10]
        return prepare_data(name=f"given-{key}", build_dir=args.build_dir)
    return prepare_data()


def server_names(args) -> list[str]:
    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    bad = [n for n in names if n not in ALL_SERVERS]
    if bad:
        raise SystemExit(f"unknown server {bad[0]!r}: use {', '.join(ALL_SERVERS)}")
    return names


# --- process helpers -------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc/*/stat), depth first."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            parent[int(d.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        kids = sorted(c for c, pp in parent.items() if pp == p)
        out += kids
        todo += kids
    return out


def proc_memory(pid: int) -> dict[str, int]:
    """RSS and PSS (shared pages split between the processes mapping them) in KiB; {} if the process is gone."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            k, _, rest = line.partition(":")
            if k in ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty"):
                out[k.lower()] = int(rest.split()[0])
    except (OSError, ValueError):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out["rss"] = int(line.split()[1])
        except OSError:
            pass
    return out


def proc_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def tree_memory(pid: int) -> dict[str, int]:
    """Summed RSS and PSS (KiB) of ``pid`` and all its descendants."""
    total = {"rss": 0, "pss": 0, "processes": 0}
    for p in [pid, *children_of(pid)]:
        m = proc_memory(p)
        if m:
            total["rss"] += m.get("rss", 0)
            total["pss"] += m.get("pss", m.get("rss", 0))
            total["processes"] += 1
    return total


def stop_process(proc: subprocess.Popen, grace: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def wait_http(url: str, proc: subprocess.Popen | None, timeout: float, log: Path | None = None) -> float:
    """Poll ``url`` until it answers (any HTTP status); returns the seconds waited."""
    t0 = time.monotonic()
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited with {proc.returncode}\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                resp.read()
            return time.monotonic() - t0
        except urllib.error.HTTPError:
            return time.monotonic() - t0
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"{url} did not answer within {timeout:g}s\n{_tail(log)}") from None
            time.sleep(0.05)


def _tail(log: Path | None, n: int = 30) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-n:])


# --- servers ----------------------------------------------------------------------------------------------------------

@dataclass
class Server:
    """A SPARQL endpoint under test: ``endpoint`` URL plus protocol parameters every query carries."""

    name: str
    endpoint: str
    params: list[tuple[str, str]] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    log: Path | None = None
    info: dict = field(default_factory=dict)
    cleanup: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def host_port(self) -> str:
        return urllib.parse.urlsplit(self.endpoint).netloc

    def path_for(self, text: str) -> str:
        """The GET path (with query string) that asks this server ``text``: what wrk sends."""
        split = urllib.parse.urlsplit(self.endpoint)
        qs = urllib.parse.urlencode([("query", text), *self.params])
        return f"{split.path or '/'}?{qs}"

    def url_for(self, text: str) -> str:
        split = urllib.parse.urlsplit(self.endpoint)
        return f"{split.scheme}://{split.netloc}{self.path_for(text)}"

    def ask(self, text: str, timeout: float = 60.0) -> bytes:
        req = urllib.request.Request(self.url_for(text), headers={"Accept": JSON_RESULTS})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read()

    def drain(self, timeout: float = 300.0) -> float:
        """Wait until requests left in flight by a load run are answered: a trivial query queues behind them."""
        t0 = time.monotonic()
        self.ask("ASK {}", timeout=timeout)
        return time.monotonic() - t0

    def pids(self) -> list[int]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        return [self.proc.pid, *children_of(self.proc.pid)]

    def memory(self) -> dict[str, int]:
        return tree_memory(self.proc.pid) if self.proc is not None and self.proc.poll() is None else {}

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        for fn in self.cleanup:
            fn()
        self.cleanup = []

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_ours(build_dir: Path, workers: int = 4, query_workers: int = 2, port: int | None = None,
               log: Path | None = None, timeout: float = 60.0, env: dict | None = None) -> Server:
    """gunicorn with ``server:app`` on the build in ``build_dir``, as README's production command runs it (the
    settings of ``gaistd_kg/web/serving.py``: gthread workers, read deadlines), with ``workers`` workers."""
    # One load generator is one client address: the per-client limits (requests in flight, the admission queue) are
    # for real clients and are measured by tests/test_availability.py and bench/availability.py, not here.
    one_address = {"GAISTD_MAX_CONCURRENT_PER_CLIENT": "1024", "GAISTD_QUERY_QUEUE": "256"}
    settings = {"GAISTD_BUILD_DIR": str(build_dir), "GAISTD_QUERY_WORKERS": str(query_workers), **one_address,
                **(env or {})}
    srv = start_gunicorn("ours", "server:app", REPO, workers, port, log, timeout, settings,
                         config="python:gaistd_kg.web.gunicorn_conf")
    srv.info["query_workers"] = query_workers
    return srv


def start_gunicorn(name: str, app: str, chdir: Path, workers: int = 4, port: int | None = None,
                   log: Path | None = None, timeout: float = 60.0, env: dict | None = None,
                   config: str | None = None) -> Server:
    """gunicorn (sync workers unless the gunicorn ``config`` says otherwise) serving the WSGI ``app`` (``module:name``
    in ``chdir``) on loopback, its SPARQL endpoint at ``/sparql``, with the environment of this process minus any
    ``GAISTD_*`` setting, plus ``env``."""
    port = port or free_port()
    log = log or Path(tempfile.mkstemp(prefix="gunicorn-", suffix=".log", dir=logdir())[1])
    e = {k: v for k, v in os.environ.items() if not k.startswith("GAISTD_")}
    e.update(env or {})
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), e.get("PYTHONPATH", "")]))
    cmd = [str(VENV_PY), "-m", "gunicorn", *(["-c", config] if config else []), "-w", str(workers),
           "-b", f"127.0.0.1:{port}", "--chdir", str(chdir), "--log-level", "warning", app]
    with open(log, "wb") as fh:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=REPO, env=e, stdout=fh, stderr=subprocess.STDOUT)
    srv = Server(name, f"http://127.0.0.1:{port}/sparql", proc=proc, log=log,
                 info={"command": " ".join(cmd[1:]), "workers": workers})
    try:
        wait_http(srv.endpoint, proc, timeout, log)
    except Exception:
        srv.stop()
        raise
    srv.info["ready_s"] = time.monotonic() - t0
    return srv


def logdir() -> Path:
    d = WORK / "logs"
    d.mkdir(parents=True, exist_ok=True)
    return d


VIRTUOSO_INI = """\
[Database]
DatabaseFile = {d}/virtuoso.db
ErrorLogFile = {d}/virtuoso.log
LockFile = {d}/virtuoso.lck
TransactionFile = {d}/virtuoso.trx
xa_persistent_file = {d}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {d}/virtuoso-temp.db
TransactionFile = {d}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DirsAllowed = ., {load_dir}
NumberOfBuffers = {buffers}
MaxDirtyBuffers = {dirty}
ServerThreads = 20
CheckpointInterval = 60
O_DIRECT = 0
CaseMode = 2
MaxStaticCursorRows = 5000
CheckpointAuditTrail = 0
AllowOSCalls = 0
SchedulerInterval = 10
ThreadCleanupInterval = 0
ThreadThreshold = 10
ResourcesCleanupInterval = 0
FreeTextBatchSize = 100000
SingleCPU = 0
PrefixResultNames = 0
RFC1123Date = 0
DisableMtWrite = 0

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {d}
ServerThreads = {http_threads}
MaxClientConnections = {http_threads}
EnabledDavVSP = 0
HTTPProxyEnabled = 0
Charset = UTF-8
KeepAliveTimeout = 10
MaxKeepAlives = {http_threads}

[SPARQL]
ResultSetMaxRows = 100000
MaxQueryExecutionTime = 60
MaxQueryCostEstimationTime = 400
DefaultQuery = SELECT * WHERE {{ ?s ?p ?o }} LIMIT 10
DeferInferenceRulesInit = 0
"""


def virtuoso_available() -> str | None:
    """None if virtuoso-t and isql-vt are on PATH, else why not."""
    missing = [b for b in ("virtuoso-t", "isql-vt") if shutil.which(b) is None]
    return f"{', '.join(missing)} not found (apt-get install virtuoso-opensource-7-bin)" if missing else None


def isql(sql_port: int, sql: str, timeout: float = 600.0) -> str:
    """Run SQL through isql-vt as dba; raises on an error line (isql itself exits 0 on SQL errors)."""
    out = subprocess.run(["isql-vt", f"127.0.0.1:{sql_port}", "dba", "dba", f"exec={sql}"],
                         capture_output=True, text=True, timeout=timeout)
    text = out.stdout + out.stderr
    if out.returncode != 0 or re.search(r"^\*\*\* Error", text, re.M):
        raise RuntimeError(f"isql-vt failed ({out.returncode}) on {sql[:200]!r}:\n{text[-2000:]}")
    return text


def start_virtuoso(load_dir: Path, pattern: str = "*.nq", workdir: Path | None = None, http_threads: int = 16,
                   buffers: int = 85000, timeout: float = 120.0, load: bool = True) -> Server:
    """Virtuoso 7 with its own virtuoso.ini in a temp dir, ports on 127.0.0.1, our files bulk-loaded.

    N-Quads keep each triple's graph, so the loader puts our triples into graph IRIs equal to ours; queries name
    our four graphs as default-graph-uri, so the default graph is their union as on our server.
    """
    why = virtuoso_available()
    if why:
        raise RuntimeError(why)
    d = Path(tempfile.mkdtemp(prefix="virtuoso-", dir=workdir or WORK))
    sql_port, http_port = free_port(), free_port()
    (d / "virtuoso.ini").write_text(VIRTUOSO_INI.format(
        d=d, sql_port=sql_port, http_port=http_port, load_dir=Path(load_dir).resolve(), buffers=buffers,
        dirty=buffers * 3 // 4, http_threads=http_threads))
    log = d / "stdout.log"
    t0 = time.monotonic()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(["virtuoso-t", "+foreground", "+configfile", str(d / "virtuoso.ini")], cwd=d,
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    srv = Server("virtuoso", f"http://127.0.0.1:{http_port}/sparql", params=[("default-graph-uri", g) for g in GRAPHS],
                 proc=proc, log=d / "virtuoso.log", info={"dir": str(d), "sql_port": sql_port})
    srv.cleanup.append(lambda: shutil.rmtree(d, ignore_errors=True))
    try:
        wait_http(f"http://127.0.0.1:{http_port}/sparql?query=ASK%7B%7D", proc, timeout, d / "virtuoso.log")
        srv.info["ready_s"] = time.monotonic() - t0
        if load:
            t1 = time.monotonic()
            isql(sql_port, f"ld_dir('{Path(load_dir).resolve()}', '{pattern}', '{GRAPHS[1]}'); "
                           "rdf_loader_run(); checkpoint;")
            state = isql(sql_port, "SELECT COUNT(*) FROM DB.DBA.load_list WHERE ll_error IS NOT NULL;")
            if not re.search(r"^\s*0\s*$", state, re.M):
                raise RuntimeError("Virtuoso's loader reported errors:\n"
                                   + isql(sql_port, "SELECT ll_file, ll_error FROM DB.DBA.load_list;"))
            srv.info["load_s"] = time.monotonic() - t1
    except Exception:
        srv.stop()
        raise
    return srv


def peer_python() -> Path:
    return PEER_VENV / "bin" / "python"


def ensure_peer_venv(packages: Sequence[str] = ("rdflib-endpoint[cli]",)) -> Path:
    """bench/work/venv with ``packages`` (pip, from PyPI); our own .venv is never touched."""
    py = peer_python()
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    probe = {"rdflib-endpoint[cli]": "import rdflib_endpoint, click, uvicorn", "matplotlib": "import matplotlib"}
    need = [p for p in packages if subprocess.run([str(py), "-c", probe.get(p, f"import {p}")],
                                                  capture_output=True).returncode != 0]
    if need:
        say(f"  installing {' '.join(need)} into {PEER_VENV}")
        subprocess.run([str(py), "-m", "pip", "install", "-q", *need], check=True)
    return py


def start_rdflib_endpoint(files: Sequence[Path], timeout: float = 300.0) -> Server:
    """``rdflib-endpoint serve FILES`` (its CLI: one uvicorn process, rdflib Dataset with default_union=True)."""
    py = ensure_peer_venv()
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="rdflib-endpoint-", suffix=".log", dir=logdir())[1])
    cmd = [str(py.parent / "rdflib-endpoint"), "serve", *map(str, files), "--host", "127.0.0.1", "--port", str(port)]
    t0 = time.monotonic()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    srv = Server("rdflib-endpoint", f"http://127.0.0.1:{port}/", proc=proc, log=log, info={"command": " ".join(cmd)})
    try:
        wait_http(srv.url_for("ASK {}"), proc, timeout, log)
    except Exception:
        srv.stop()
        raise
    srv.info["ready_s"] = time.monotonic() - t0
    return srv


class InProcess:
    """pyoxigraph in this process on the built store, read-only: the floor every HTTP server is compared to."""

    name = "pyoxigraph"

    def __init__(self, store_path: Path):
        import pyoxigraph as ox

        self.ox = ox
        self.store = ox.Store.read_only(str(store_path))

    def ask(self, text: str) -> bytes:
        answer = self.store.query(text, use_default_graph_as_union=True)
        return answer.serialize(format=self.ox.QueryResultsFormat.JSON)


HTTP_SERVERS = ("ours", "ours-uncached", "virtuoso", "rdflib-endpoint")
ALL_SERVERS = (*HTTP_SERVERS, "pyoxigraph")


def start_servers(names: Sequence[str], data: Data, workers: int = 4, query_workers: int = 2) -> dict:
    """Start the named servers on ``data``; returns {name: Server or InProcess}. Stop them with ``stop_servers``."""
    started: dict = {}
    try:
        for name in names:
            say(f"  starting {name}")
            if name in ("ours", "ours-uncached"):
                # one load generator is one client address: let it have as many requests in flight as it opens
                env = {"GAISTD_MAX_CONCURRENT_PER_CLIENT": "1024"}
                if name == "ours-uncached":
                    env["GAISTD_RESULT_CACHE_BYTES"] = "0"
                started[name] = start_ours(data.build_dir, workers=workers, query_workers=query_workers, env=env)
                started[name].name = name
            elif name == "virtuoso":
                started[name] = start_virtuoso(data.nquads.parent)
            elif name == "rdflib-endpoint":
                started[name] = start_rdflib_endpoint([data.nquads])
            elif name == "pyoxigraph":
                started[name] = InProcess(data.store_path)
            else:
                raise ValueError(f"unknown server {name!r}: use {', '.join(ALL_SERVERS)}")
            info = getattr(started[name], "info", {})
            if info:
                say(f"    {name}: " + ", ".join(f"{k} {v:.2f}s" for k, v in info.items() if k.endswith("_s")))
    except Exception:
        stop_servers(started)
        raise
    return started


def stop_servers(started: dict) -> None:
    for srv in started.values():
        if isinstance(srv, Server):
            srv.stop()
