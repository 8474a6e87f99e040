"""The pipeline: parse → validate (stop on sh:Violation) → reason → store, atomic and cached.

The build is a function of its input files: their digest names the build, and a build whose digest equals the
current store's is skipped. A failure at any step leaves the current store as it was.
"""

from __future__ import annotations

import fcntl
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, VOID, XSD

from gaistd_kg import __version__
from .load import Inputs, digest, find_inputs, load
from gaistd_kg.iris import BASE, GRAPH, ROOT, bind_prefixes
from .fastreason import reason_fast
from .reason import reason
from gaistd_kg.store import DEFAULT_BUILD_DIR, current_manifest, write_store
from .validate import ValidationResult, validate

Progress = Callable[[str], None]
DATASET = URIRef(BASE + "dataset")


class ValidationFailed(ValueError):
    def __init__(self, result: ValidationResult):
        self.result = result
        super().__init__(result.text())


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


@dataclass
class BuildResult:
    build_id: str
    skipped: bool
    path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    triples: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    engine: str = "memory"  # "memory" or "stream" (see streambuild)


@contextmanager
def _lock(build_dir: Path) -> Iterator[None]:
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


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


def _reason(reasoner: str, ontology: Graph, data: Graph, say: Progress):
    """owlrl is the reference; the fast engine computes the same triples (tests/test_fastreason.py) and hands back
    to owlrl for graphs it does not handle."""
    if reasoner == "owlrl":
        return reason(ontology, data)
    try:
        return reason_fast(ontology, data)
    except NotImplementedError as exc:
        say(f"{exc}; falling back to owlrl")
        return reason(ontology, data)


def build(root: Path = ROOT, build_dir: Path = DEFAULT_BUILD_DIR, force: bool = False,
          progress: Progress | None = None, reasoner: str = "fast", engine: str = "auto") -> BuildResult:
    """``engine``: ``memory`` (rdflib graphs), ``stream`` (the data stays in Oxigraph, see streambuild) or ``auto``
    (stream when the data files pass ``streambuild.STREAM_ABOVE`` bytes and the fast reasoner is used)."""
    from .streambuild import STREAM_ABOVE, build_streaming, data_bytes, streamable

    say = progress or (lambda _msg: None)
    root, build_dir = Path(root), Path(build_dir)
    inputs = find_inputs(root)
    build_id = digest(inputs.all(), root)
    with _lock(build_dir):
        current = current_manifest(build_dir)
        if current and current.get("build_id") == build_id and not force:
            say(f"up to date: build {build_id} ({len(inputs.all())} input files unchanged)")
            return BuildResult(build_id=build_id, skipped=True, triples=current.get("triples", {}))
        if current and current.get("writes") and not force:
            raise UnsavedWrites(build_dir, current["writes"])
        if engine == "auto":
            engine = "stream" if reasoner == "fast" and data_bytes(inputs) > STREAM_ABOVE else "memory"
        if engine == "stream":
            why = streamable(inputs) or ("the streaming build uses the fast reasoner" if reasoner != "fast" else None)
            if why:
                raise ValueError(f"cannot build with --engine stream: {why}")
            return build_streaming(inputs, build_dir, build_id, say)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        say(f"parsing {len(inputs.ontology)} ontology, {len(inputs.shapes)} shape and {len(inputs.data)} data files")
        loaded = load(inputs)
        timings["parse"] = time.perf_counter() - t0

        t = time.perf_counter()
        say(f"validating {len(loaded.data)} data triples against the SHACL shapes")
        result = validate(loaded.data, loaded.shapes, loaded.ontology, loaded.subject_files,
                          checks=root / "queries" / "checks")
        timings["validate"] = time.perf_counter() - t
        if not result.conforms:
            raise ValidationFailed(result)

        t = time.perf_counter()
        say(f"reasoning (OWL 2 RL closure, {reasoner} engine)")
        reasoned = _reason(reasoner, loaded.ontology, loaded.data, say)
        timings["reason"] = time.perf_counter() - t
        say(f"inferred {len(reasoned.inferred)} new triples")

        t = time.perf_counter()
        counts = {"ontology": len(loaded.ontology), "data": len(loaded.data), "inferred": len(reasoned.inferred)}
        meta = meta_graph(build_id, inputs, counts)
        say("writing the store")
        path = write_store(
            build_dir,
            build_id,
            {"ontology": loaded.ontology, "data": loaded.data, "inferred": reasoned.inferred, "meta": meta},
            {"inputs": [p.resolve().relative_to(root.resolve()).as_posix() for p in inputs.all()],
             "version": __version__, "built_at": time.time()},
        )
        timings["store"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t0
        say(f"built {build_id} in {timings['total']:.1f}s")
        return BuildResult(build_id=build_id, skipped=False, path=path, timings=timings,
                           triples={**counts, "meta": len(meta)},
                           warnings=[f.line() for f in result.findings if f.severity != "Violation"])
