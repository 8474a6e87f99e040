"""Shared fixtures: a small fixture build on disk, the app made from it, and the real server process on loopback.

The fixture build holds a few triples in each named graph (ontology, data, inferred, meta), including one document IRI
with labels in two languages, so pages, dumps and the endpoint all have something to show. ``live_server`` runs the
real thing (gunicorn, two workers, ``server:app``) as a separate process; ``live_server_factory`` starts one on any
build directory and any ``GAISTD_*`` settings (the W3C runner uses it with the protocol test data).
"""

from __future__ import annotations

import fcntl
import http.client
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, TypeVar
from urllib.parse import urlsplit

import pytest
from rdflib import Graph

from gaistd_kg import store as store_mod

REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")
SHARED = REPO.parent / "shared"
# The W3C SPARQL 1.1 test suites (protocol, graph store protocol): one setting, GAISTD_W3C_DIR, defaulting to the shared
# folder next to the repository. Missing: the tests that need them skip saying where they looked, except under
# CI=true, where they fail (CI provides them).
W3C_DIR = Path(os.environ.get("GAISTD_W3C_DIR") or SHARED / "w3c-sparql11")


def require_w3c(path: Path, module_level: bool = False) -> Path:
    """``path`` (under W3C_DIR) if it exists; otherwise fail under CI=true, else skip, naming the setting."""
    if path.exists():
        return path
    message = (f"W3C test suite file not found: {path} (set GAISTD_W3C_DIR to the folder holding protocol/ and "
               "graph-store-protocol/; default: ../shared/w3c-sparql11 next to the repository)")
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=module_level)
    return path

FIXTURE_BUILD_ID = "fixture-0001"
FIXTURE_BUILT_AT = 1767225600.0  # 2026-01-01T00:00:00Z, fixed so ETag/Last-Modified are predictable
DOC_IRI = "https://w3id.org/gaistd/id/document/gb-t-45654-2025"
ORG_IRI = "https://w3id.org/gaistd/id/org/tc260"

_PREFIXES = """\
@prefix gaistd:  <https://w3id.org/gaistd/ontology#> .
@prefix gdoc:    <https://w3id.org/gaistd/id/document/> .
@prefix gorg:    <https://w3id.org/gaistd/id/org/> .
@prefix gjur:    <https://w3id.org/gaistd/id/jurisdiction/> .
@prefix gstatus: <https://w3id.org/gaistd/id/status/> .
@prefix gsrc:    <https://w3id.org/gaistd/id/source/> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix owl:     <http://www.w3.org/2002/07/owl#> .
@prefix rdfs:    <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos:    <http://www.w3.org/2004/02/skos/core#> .
@prefix void:    <http://rdfs.org/ns/void#> .
@prefix xsd:     <http://www.w3.org/2001/XMLSchema#> .
"""

FIXTURE_TURTLE: dict[str, str] = {
    "ontology": """
<https://w3id.org/gaistd/ontology> a owl:Ontology ; rdfs:label "GAISTD ontology"@en .
gaistd:Document a owl:Class ; rdfs:label "document"@en, "文件"@zh .
gaistd:Standard a owl:Class ; rdfs:subClassOf gaistd:Document ; rdfs:label "standard"@en, "标准"@zh .
gaistd:NationalStandard a owl:Class ; rdfs:subClassOf gaistd:Standard ; rdfs:label "national standard"@en, "国家标准"@zh .
gaistd:developedBy a owl:ObjectProperty ; rdfs:label "developed by"@en .
""",
    "data": """
gdoc:gb-t-45654-2025 a gaistd:NationalStandard ;
    dcterms:identifier "GB/T 45654-2025" ;
    dcterms:title "Cybersecurity technology - Basic security requirements for generative artificial intelligence service"@en,
                  "网络安全技术 生成式人工智能服务安全基本要求"@zh ;
    rdfs:label "GB/T 45654-2025"@en, "GB/T 45654-2025"@zh ;
    gaistd:developedBy gorg:tc260 ;
    gaistd:jurisdiction gjur:cn ;
    gaistd:status gstatus:published ;
    dcterms:issued "2025-04-25"^^xsd:date ;
    dcterms:source gsrc:zheng-2025 .
gorg:tc260 skos:prefLabel "TC260"@en, "全国网络安全标准化技术委员会"@zh .
""",
    "inferred": """
gdoc:gb-t-45654-2025 a gaistd:Standard, gaistd:Document .
""",
    "meta": """
<https://w3id.org/gaistd/graph/data> a void:Dataset ; dcterms:title "GAISTD-KG data"@en ; void:triples 12 .
""",
}


def fixture_graphs() -> dict[str, Graph]:
    """The fixture build's named graphs, parsed from the Turtle above."""
    return {name: Graph().parse(data=_PREFIXES + text, format="turtle") for name, text in FIXTURE_TURTLE.items()}


def offline_document_loader(url: str, options: dict | None = None) -> dict:
    """A PyLD document loader that never goes to the network: our two contexts (``/terms.jsonld``, ``/context.jsonld``
    at any host) come from this checkout, the ones the app serves; any other URL is an error, so a document that
    needs a remote context fails the test instead of fetching it."""
    from gaistd_kg.views import export, jsonld as ld

    path = urlsplit(url).path
    if path.endswith("/terms.jsonld"):
        document = ld.terms_context()
    elif path.endswith("/context.jsonld"):
        document = export.context()
    else:
        raise AssertionError(f"PyLD tried to load {url}: a document should need no remote context")
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url, "document": document}


def pyld_graph(doc: dict) -> Graph:
    """The triples PyLD reads from a JSON-LD document (already parsed), with the offline loader above."""
    from pyld import jsonld

    nquads = jsonld.to_rdf(doc, {"format": "application/n-quads", "documentLoader": offline_document_loader})
    return Graph().parse(data=nquads, format="nt")


def make_build(build_dir: Path, graphs: Mapping[str, Graph | bytes], build_id: str = FIXTURE_BUILD_ID,
               built_at: float = FIXTURE_BUILT_AT) -> Path:
    """Write a build (via store.write_store) and return the build directory."""
    store_mod.write_store(Path(build_dir), build_id, graphs, {"built_at": built_at, "fixture": True})
    return Path(build_dir)


@pytest.fixture(scope="session")
def fixture_build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small build on disk: <dir>/current -> stores/fixture-0001 with the four named graphs."""
    return make_build(tmp_path_factory.mktemp("fixture-build"), fixture_graphs())


@pytest.fixture
def app(fixture_build_dir: Path):
    from gaistd_kg.web import create_app

    app = create_app({"BUILD_DIR": str(fixture_build_dir), "TESTING": True})
    yield app
    _close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


def _close_app(app) -> None:
    """Shut the app's query pool down, if the endpoint made one, so no worker process outlives a test."""
    pool = app.extensions.get("gaistd.query_pool")
    if pool is not None:
        pool.close()


# --- the real server process --------------------------------------------------------------------------------------

GUNICORN_CONF = "python:gaistd_kg.web.gunicorn_conf"  # the production settings (gaistd_kg/web/serving.py)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str                      # base URL, no trailing slash: http://127.0.0.1:<port>
    proc: subprocess.Popen
    log: Path
    env: dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def pid(self) -> int:
        """The gunicorn master's pid; its children are the HTTP workers, theirs the query workers."""
        return self.proc.pid

    def log_text(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_server(build_dir: Path, log: Path, config: Mapping[str, object] | None = None, workers: int = 2,
                 extra_args: tuple[str, ...] = (), startup_timeout: float = 30.0,
                 prefix: tuple[str, ...] = ()) -> LiveServer:
    """Start ``python -m gunicorn -c python:gaistd_kg.web.gunicorn_conf -w <workers> -b 127.0.0.1:<port> server:app``
    on ``build_dir`` (the README's production command: its settings, deadlines and all); wait until it answers.

    ``config`` keys become ``GAISTD_<KEY>`` environment variables (lists joined by spaces, mappings as
    ``key=value`` words), as create_app reads them. ``prefix`` runs the server under another command (``strace -f …``).
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAISTD_")}
    env["GAISTD_BUILD_DIR"] = str(build_dir)
    for key, value in (config or {}).items():
        if isinstance(value, Mapping):
            value = [f"{k}={v}" for k, v in value.items()]
        env[f"GAISTD_{key}"] = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    cmd = [*prefix, sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONF, "-w", str(workers),
           "-b", f"127.0.0.1:{port}", "--chdir", str(REPO), *extra_args, "server:app"]
    logf = open(log, "wb")
    try:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=logf, stderr=subprocess.STDOUT)
    finally:
        logf.close()
    server = LiveServer(url=f"http://127.0.0.1:{port}", proc=proc, log=log, env=env)
    deadline = time.monotonic() + startup_timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log_text()}")
        try:
            with urllib.request.urlopen(server.url + "/sparql", timeout=2) as resp:
                resp.read()
            break
        except urllib.error.HTTPError:
            break  # it answered, even if with an error status
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"server did not answer within {startup_timeout}s:\n{server.log_text()}")
            time.sleep(0.1)
    return server


@pytest.fixture(scope="session")
def live_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LiveServer]]:
    """Start a real server on any build dir: ``live_server_factory(build_dir, config={...}, workers=2)``.

    Every server started is stopped at the end of the session (or earlier, with ``server.stop()``).
    """
    started: list[LiveServer] = []

    def factory(build_dir: Path, config: Mapping[str, object] | None = None, workers: int = 2,
                extra_args: tuple[str, ...] = (), prefix: tuple[str, ...] = ()) -> LiveServer:
        log = tmp_path_factory.mktemp("server-log") / "gunicorn.log"
        server = start_server(Path(build_dir), log, config=config, workers=workers, extra_args=extra_args,
                              prefix=prefix)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def live_server(live_server_factory, fixture_build_dir: Path) -> str:
    """Base URL (http://127.0.0.1:<port>) of the real server process serving the fixture build."""
    return live_server_factory(fixture_build_dir).url


@pytest.fixture(scope="session")
def real_server(live_server_factory, real_build_dir: Path) -> str:
    """Base URL of the real server process serving the shipped build (``real_build_dir``) with the default
    settings, one per session for every module that only reads from it."""
    return live_server_factory(real_build_dir).url


# --- W3C protocol summary --------------------------------------------------------------------------------------------

W3C_SUMMARY: list[str] = []  # under pytest-xdist, the table as the worker that replayed the manifest sent it


def _w3c_summary() -> list[str]:
    runner = sys.modules.get("w3c_runner")
    results = getattr(runner, "RESULTS", None)
    return runner.summary_lines(results) if results else W3C_SUMMARY


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker hands its W3C table to the controller, which prints it (``pytest_testnodedown``)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None and _w3c_summary():
        workeroutput["w3c_summary"] = _w3c_summary()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    W3C_SUMMARY.extend(getattr(node, "workeroutput", {}).get("w3c_summary", []))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """After a run that replayed the W3C Protocol manifest, print its table: one line per test, its verdict."""
    lines = _w3c_summary()
    if not lines:
        return
    terminalreporter.section("W3C SPARQL 1.1 Protocol tests")
    for line in lines:
        terminalreporter.write_line(line)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def require_chromium() -> Path:
    """Debian's Chromium for browser tests. Missing: fail under CI=true (CI installs it), else skip saying how."""
    import os
    import shutil

    if CHROMIUM.exists() and shutil.which(str(CHROMIUM)):
        return CHROMIUM
    message = (f"{CHROMIUM} is missing: install Debian's Chromium with `apt-get install -y chromium` "
               "(CI installs it; the browser tests never download a browser)")
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of the whole test run: pytest's base folder, or under pytest-xdist (``-n``) its parent,
    which every worker of the run shares (each worker's base folder is a ``popen-gw<N>`` inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], T]) -> tuple[Path, T]:
    """``make(<run folder>/<name>)`` once per test run, whichever worker asks first; the others wait for it (a lock
    file) and get the folder and what ``make`` returned (pickled beside it). A ``make`` that raises is tried again by
    the next one to ask, so each sees the failure. What is made here is read, never written to: copy it first."""
    root = run_dir(tmp_path_factory)
    out, done = root / name, root / f"{name}.result.pickle"
    with open(root / f"{name}.lock", "wb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if not done.exists():
            if out.exists():  # a failed attempt's leftovers
                shutil.rmtree(out)
            result = make(out)
            done.write_bytes(pickle.dumps(result))
    return out, pickle.loads(done.read_bytes())


def copy_build(src: Path, dst: Path) -> Path:
    """A build folder copied (its stores, ``current`` kept a link), without what a server or a write left in it."""
    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns("run", "cache", ".lock"))
    return Path(dst)


@pytest.fixture(scope="session")
def real_build(tmp_path_factory: pytest.TempPathFactory):
    """The shipped data (ontology/, shapes/, data/ of this repository) built once for the whole test run, every
    pytest-xdist worker included: (build folder, the build's BuildResult)."""
    from gaistd_kg.pipeline.build import build

    return made_once(tmp_path_factory, "real-build", lambda out: build(REPO, out))


@pytest.fixture(scope="session")
def real_build_dir(real_build) -> Path:
    """The folder of ``real_build``. Read it, never write to it (``copy_build`` it first)."""
    return real_build[0]


def _generate_x2(out: Path) -> None:
    gen = subprocess.run([sys.executable, str(REPO / "bench" / "generate.py"), "--factor", "2", "--out", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert gen.returncode == 0, gen.stderr


@pytest.fixture(scope="session")
def generated_x2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bench/generate.py's project folder at 2x the shipped data, generated once for the whole test run (the bench
    scripts' test builds it; the streaming build's test compares both build paths on it). Read it, never write to it."""
    return made_once(tmp_path_factory, "generated-x2", _generate_x2)[0]


def http_call(base: str, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None,
              timeout: float = 60):
    """One request with http.client (no redirects, no decoding): (status, headers lower-cased, body)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        conn.request(method, path, body=body.encode() if isinstance(body, str) else body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium (``require_chromium``), headless, one per test module, driven by Playwright; a module that
    needs another set-up defines its own ``browser``."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


BROWSER_TIMEOUT_MS = 20000


def new_page(browser, javascript: bool = True):
    """A tab in a fresh 1366×900 context whose console errors and page errors are kept in ``page.problems``; close it
    with ``page.context.close()``."""
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    page.problems = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    return page


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where browser tests write their screenshots: $GAISTD_SCREENSHOTS when set, else a temporary folder."""
    import os

    folder = Path(os.environ.get("GAISTD_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- tests that run alone under pytest-xdist -----------------------------------------------------------------------

def _turn_file(config: pytest.Config, name: str) -> Path:
    """A lock file of the run, in the folder its workers share (each worker's ``--basetemp`` is a folder inside it)."""
    return Path(config.option.basetemp).parent / f"alone.{name}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Under pytest-xdist (``-n``), a test marked ``alone`` (its assertions are timed: "answered within 2 s") runs
    while no other worker runs a test: it takes the run's lock file exclusively, every other test takes it shared,
    each for its whole protocol (set-up, call, tear-down, so the module fixtures it starts or stops are inside). A
    second lock file is the turnstile that keeps a waiting ``alone`` test from being passed by the other worker's
    next tests. Without ``-n``, nothing is taken."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    alone = item.get_closest_marker("alone") is not None
    with open(_turn_file(item.config, "turnstile"), "ab") as turnstile, open(_turn_file(item.config, "lock"), "ab") as lock:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- the order modules are handed to pytest-xdist workers ----------------------------------------------------------

# The modules that take longest on two cores (measured with --durations, slowest first). With ``--dist loadfile``
# each module is one unit of work, handed out in collection order to whichever worker is free: the long ones go
# first, so no worker starts one near the end while the other has finished. Every other module follows, in its own
# order. A module missing from this list only costs balance, never a test.
SLOW_FIRST = (
    "test_bench_scripts.py",   # ~6 min on one core (the 2x graph built, scale.py at 1x and 2x)
    "test_update.py",          # ~5 min
    "test_streambuild.py",     # ~4 min
    "test_availability.py",    # ~3 min, alone
    "test_fuzz.py",            # ~2.5 min
    "test_build.py",           # ~2 min
    "test_fastreason.py",      # ~1.6 min
    "test_limits.py",
    "test_evidence.py",
    "test_catalogue.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the modules of SLOW_FIRST first (a stable sort: tests keep their order in a module)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadfile`` hands modules out in the order above, not by how many tests each holds (xdist's default
    reorder, which would leave the long modules with few tests for last)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    config.option.loadscopereorder = False
    return LoadFileScheduling(config, log)
