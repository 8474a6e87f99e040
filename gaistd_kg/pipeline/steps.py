"""What every path through the pipeline shares: the in-memory build (``build``), the streaming build
(``streambuild``) and accepted writes (``writes``) run as steps of ``run.run``, which takes the build folder's one
lock (``lock``); they choose the reasoner one way (``run_reasoner``), describe the build in one meta graph
(``meta_graph``, ``count_triples``) and find their inputs with ``load.find_inputs`` or ``load.write_inputs`` (shapes
and checks included). ``FromFiles`` is what the two builds from files share.
"""

from __future__ import annotations

import fcntl
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, VOID, XSD

from gaistd_kg import __version__
from gaistd_kg.iris import BASE, GRAPH, bind_prefixes
from gaistd_kg.store import current_manifest

from .findings import ValidationResult
from .load import Inputs, digest

Progress = Callable[[str], None]
DATASET = URIRef(BASE + "dataset")
REASONERS = ("fast", "owlrl")


class BuildBusy(RuntimeError):
    """Another build or write held the build folder's lock past the wait."""


class ValidationFailed(ValueError):
    def __init__(self, result: ValidationResult):
        self.result = result
        super().__init__(result.text())


@dataclass
class BuildResult:
    build_id: str
    skipped: bool
    path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    triples: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    engine: str = "memory"  # "memory" or "stream" (see streambuild)


class UnsavedWrites(RuntimeError):
    """The served store holds writes accepted over HTTP that the input files do not have; a build would drop them."""

    def __init__(self, build_dir: Path, writes: list[dict]):
        self.writes = writes
        last = writes[-1]
        super().__init__(
            f"the current store holds {len(writes)} accepted write(s) that are not in the input files (the last by "
            f"{last.get('by')} at {last.get('at')}); a build from the files would discard them.\n"
            f"Save them first: gaistd --build-dir {build_dir} export -g data -f turtle -o accepted-data.ttl, then move "
            "the new facts into data/ (the manifest.json of the build lists each write); or run `gaistd build "
            "--force` to discard them.")


class FromFiles:
    """What both builds from files share: the digest names the build; an unchanged one is skipped, and a store
    holding accepted writes is not replaced without ``force``."""

    def __init__(self, inputs: Inputs, build_dir: Path, force: bool):
        self.inputs, self.build_dir, self.force = inputs, Path(build_dir), force
        self.build_id = digest(inputs.all(), inputs.root)
        self.timings: dict[str, float] = {}
        self.result: ValidationResult | None = None

    def prepare(self, say: Progress) -> BuildResult | None:
        current = current_manifest(self.build_dir)
        if current and current.get("build_id") == self.build_id and not self.force:
            say(f"up to date: build {self.build_id} ({len(self.inputs.all())} input files unchanged)")
            return BuildResult(build_id=self.build_id, skipped=True, triples=current.get("triples", {}))
        if current and current.get("writes") and not self.force:
            raise UnsavedWrites(self.build_dir, current["writes"])
        return None

    def manifest(self) -> dict:
        root = self.inputs.root.resolve()
        return {"inputs": [p.resolve().relative_to(root).as_posix() for p in self.inputs.all()],
                "version": __version__, "built_at": time.time()}

    def warnings(self) -> list[str]:
        return [f.line() for f in self.result.findings if f.severity != "Violation"] if self.result else []

    def discard(self) -> None:
        pass


@contextmanager
def lock(build_dir: Path, wait: float | None = None, busy: type[BuildBusy] = BuildBusy) -> Iterator[None]:
    """The build folder's lock (``<build_dir>/.lock``): builds and writes are serialised across every process on the
    folder. ``wait`` None waits as long as it takes; otherwise ``busy`` is raised after ``wait`` seconds."""
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".lock", "w") as fh:
        if wait is None:
            fcntl.flock(fh, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise busy(f"another write or a build is in progress (waited {wait:g} s); try again") from None
                    time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def remove_stale_staging(build_dir: Path) -> list[Path]:
    """Staging folders left by a killed build or write, removed if the build lock is free now (a live holder's
    folder is in use: then nothing is removed, the next write or start-up does it). A build folder that does not
    exist yet, or that this process may not write, is left alone."""
    if not (Path(build_dir) / "stores").is_dir():
        return []
    from gaistd_kg.store import remove_staging

    try:
        with lock(build_dir, wait=0):
            return remove_staging(build_dir)
    except (BuildBusy, OSError):
        return []


def meta_graph(build_id: str, inputs: Inputs, counts: dict[str, int]) -> Graph:
    """What the build was made from: deterministic (no wall-clock time), so equal inputs give an equal store."""
    g = bind_prefixes(Graph())
    activity = URIRef(f"{BASE}build/{build_id}")
    g.add((DATASET, RDF.type, VOID.Dataset))
    g.add((DATASET, DCTERMS.identifier, Literal(build_id)))
    g.add((DATASET, PROV.wasGeneratedBy, activity))
    g.add((activity, RDF.type, PROV.Activity))
    g.add((activity, DCTERMS.description, Literal(f"gaistd build (gaistd-kg {__version__})", lang="en")))
    for path in inputs.all():
        rel = path.resolve().relative_to(inputs.root.resolve()).as_posix()
        g.add((activity, PROV.used, Literal(rel)))
    for name, n in counts.items():
        graph = GRAPH[name]
        g.add((DATASET, VOID.subset, graph))
        g.add((graph, RDF.type, VOID.Dataset))
        g.add((graph, VOID.triples, Literal(n, datatype=XSD.integer)))
    return g


def count_triples(g: Graph, counts: dict[str, int]) -> Graph:
    """Record in the meta graph ``g`` how many triples each named graph holds (``void:triples``)."""
    for name, n in counts.items():
        graph = GRAPH[name] if name in GRAPH else URIRef(name)
        g.set((graph, VOID.triples, Literal(n, datatype=XSD.integer)))
    return g


ARTEFACTS = "artefacts"  # <store dir>/artefacts: what requests need, written by the build


def write_artefacts(store, folder: Path, previous: Path | None = None) -> Path:
    """Write, next to a store being published, what serving it would otherwise compute per request: the search index
    (views/search.py: SQLite FTS5, published in the same rename as the store, so an answer never mixes builds) and the
    ontology documentation (pyLODE). ``previous`` (the current build's folder) lends its page when the ontology graph is the
    same, as it always is after a write. The dataset statistics of the VoID description are the manifest's counts.
    Every dump and every named graph in every RDF format, plain and gzip (views/export.py ``write_dumps``), and the
    counts of links to other datasets that the VoID linksets state (views/links.py), and the catalogue's table
    (views/catalogue.py)."""
    import hashlib
    import shutil

    import pyoxigraph as ox

    from gaistd_kg.views import catalogue, describe, export, links, search

    out = Path(folder) / ARTEFACTS
    out.mkdir(parents=True, exist_ok=True)
    search.build_index(store, out / search.INDEX_FILE)
    export.write_dumps(store, out)
    links.write_counts(store, out / links.COUNTS_FILE)
    catalogue.write_table(store, out / catalogue.TABLE_FILE)
    ontology_graph = ox.NamedNode(str(GRAPH["ontology"]))
    if not any(True for _ in store.quads_for_pattern(None, ox.NamedNode(str(RDF.type)), ox.NamedNode(str(OWL.Ontology)),
                                                     ontology_graph)):
        return out  # no ontology to document (a store of other data): /ontology is a 404 there
    graph = ox.Dataset(store.quads_for_pattern(None, None, None, ontology_graph))
    graph.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)  # blank nodes named by content, not by load order
    digest = hashlib.sha256("\n".join(sorted(str(q) for q in graph)).encode("utf-8")).hexdigest()
    (out / "ontology.sha256").write_text(digest, encoding="ascii")
    old = Path(previous) / ARTEFACTS if previous is not None else None
    if (old is not None and (old / "ontology.html").exists() and (old / "ontology.sha256").exists()
            and (old / "ontology.sha256").read_text(encoding="ascii") == digest):
        shutil.copyfile(old / "ontology.html", out / "ontology.html")
    else:
        (out / "ontology.html").write_text(describe.ontology_html(store), encoding="utf-8")
    return out


def run_reasoner(reasoner: str, ontology: Graph, data: Graph, say: Progress = lambda _m: None,
                 fallback: bool = True):
    """owlrl is the reference; the fast engine computes the same triples (tests/test_fastreason.py) and hands back
    to owlrl for graphs it does not handle (with ``fallback``; without, its NotImplementedError says why: writes
    refuse such graphs rather than reason them without a bound)."""
    from .fastreason import reason_fast  # rdflib's reasoners load when a build or a write first reasons
    from .reason import reason

    if reasoner not in REASONERS:
        raise ValueError(f"unknown reasoner {reasoner!r}: one of {', '.join(REASONERS)}")
    if reasoner == "owlrl":
        return reason(ontology, data)
    try:
        return reason_fast(ontology, data)
    except NotImplementedError as exc:
        if not fallback:
            raise
        say(f"{exc}; falling back to owlrl")
        return reason(ontology, data)
