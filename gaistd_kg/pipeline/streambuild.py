"""The build for data too large for rdflib graphs: the same four steps, with the data kept in Oxigraph on disk.

``build.build`` takes this path when the data files pass ``STREAM_ABOVE`` bytes (or when asked with
``--engine stream``). Only the ontology and the shapes, small and fixed, become rdflib graphs; the data does not:

* parse: each data file is bulk-loaded by Oxigraph's parser straight into the staging store's ``data`` graph (a
  syntax error names the file and line, as rdflib's does on the other path);
* validate: pySHACL chunk by chunk (``chunkshacl``), the SHACL-SPARQL constraints and the duplicate checks as queries
  over the staging store, exactly as on the other path;
* reason: the fast engine's rules run store to store (``fastreason.reason_store``) into the ``inferred`` graph;
* store: the staging store, with ``ontology`` and ``meta`` added, is the build: published by the same rename.

Both paths give the same store, graph for graph (``tests/test_streambuild.py``, on the shipped data and a generated
10× graph); peak memory here grows with a chunk's neighbourhood and the T-box, not with the data.
"""

from __future__ import annotations

import gc
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import pyoxigraph as ox
from rdflib import URIRef

from gaistd_kg import __version__
from .load import Inputs, LoadError, parse_files
from gaistd_kg.formats import INPUT_SUFFIXES
from gaistd_kg.iris import GRAPH
from gaistd_kg.store import count_quads, current_path, load_graphs, new_staging, publish, union_count

from .fastreason import reason_store
from .steps import BuildResult, ValidationFailed, meta_graph, write_artefacts
from .validate import validate_store

STREAM_ABOVE = 48 * 1024 * 1024  # bytes of data files
VALIDATION_WORKERS = max(1, min(os.cpu_count() or 1, 4))  # processes validating chunks side by side
OX_FORMATS = {suffix: f.ox for suffix, f in INPUT_SUFFIXES.items() if suffix in (".ttl", ".nt", ".rdf", ".owl")}


class SubjectFiles(dict):
    """``subject_files`` (resource → the data files describing it, for file:line in findings) computed only when a
    finding asks: one pass of Oxigraph's parser over the data files, so a build that conforms never pays for it."""

    def __init__(self, files: list[Path]):
        super().__init__()
        self.files = list(files)
        self.filled = False

    def _fill(self) -> None:
        if self.filled:
            return
        self.filled = True
        for path in self.files:
            seen = set()
            for t in ox.parse(path=str(path), format=OX_FORMATS[path.suffix], base_iri=path.resolve().as_uri()):
                if isinstance(t.subject, ox.NamedNode) and t.subject.value not in seen:
                    seen.add(t.subject.value)
                    super().setdefault(URIRef(t.subject.value), []).append(path)

    def __bool__(self) -> bool:
        return bool(self.files)

    def __contains__(self, key) -> bool:
        self._fill()
        return super().__contains__(key)

    def __getitem__(self, key):
        self._fill()
        return super().__getitem__(key)


def data_bytes(inputs: Inputs) -> int:
    return sum(p.stat().st_size for p in inputs.data)


def streamable(inputs: Inputs) -> str | None:
    """None when every data file can be parsed on this path; otherwise why not."""
    for p in inputs.data:
        if p.suffix not in OX_FORMATS:
            return f"{p.name}: {p.suffix} files are read by the in-memory build only"
    return None


def load_data(store: ox.Store, files: list[Path]) -> None:
    """Bulk-load each data file into the ``data`` graph; a syntax error raises LoadError with file and line."""
    target = ox.NamedNode(str(GRAPH["data"]))
    for path in files:
        try:
            store.bulk_load(path=str(path), format=OX_FORMATS[path.suffix], base_iri=path.resolve().as_uri(),
                            to_graph=target)
        except SyntaxError as exc:
            message = " ".join(str(exc.msg if hasattr(exc, "msg") else exc).split())
            raise LoadError(path, exc.lineno, f"syntax error: {message}") from None
        except UnicodeDecodeError as exc:
            raise LoadError(path, None, f"not valid UTF-8 ({exc.reason})") from None
        except OSError as exc:
            raise LoadError(path, None, f"cannot read: {exc}") from None


def build_streaming(inputs: Inputs, build_dir: Path, build_id: str, say: Callable[[str], None],
                    chunk: int = 5000):
    """Parse → validate → reason → store without rdflib graphs of the data. Returns a ``steps.BuildResult``; raises
    what ``build.build`` raises, leaving the current store as it was."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    staging = new_staging(build_dir, build_id)
    try:
        store = ox.Store(str(staging / "oxigraph"))
        say(f"parsing {len(inputs.ontology)} ontology and {len(inputs.shapes)} shape files; bulk-loading "
            f"{len(inputs.data)} data files into the store")
        ontology = parse_files(inputs.ontology)
        shapes = parse_files(inputs.shapes)
        load_graphs(store, {"ontology": ontology})
        load_data(store, inputs.data)
        counts = {"ontology": count_quads(store, "ontology"), "data": count_quads(store, "data")}
        store.flush()  # validation workers open it read-only
        timings["parse"] = time.perf_counter() - t0

        t = time.perf_counter()
        say(f"validating {counts['data']} data triples against the SHACL shapes, {chunk} resources at a time")
        result = validate_store(store, shapes, ontology, SubjectFiles(inputs.data),
                                checks=inputs.checks_dir, chunk=chunk, say=say,
                                path=str(staging / "oxigraph"), workers=VALIDATION_WORKERS)
        timings["validate"] = time.perf_counter() - t
        if not result.conforms:
            raise ValidationFailed(result)

        t = time.perf_counter()
        say("reasoning (OWL 2 RL closure, fast engine, store to store)")
        counts["inferred"] = reason_store(store, ontology, staging / "reasoning", say=say)
        timings["reason"] = time.perf_counter() - t
        say(f"inferred {counts['inferred']} new triples")

        t = time.perf_counter()
        meta = meta_graph(build_id, inputs, counts)
        load_graphs(store, {"meta": meta})
        counts["meta"] = len(meta)
        say("writing the store")
        union = union_count(store, counts)
        write_artefacts(store, staging, previous=current_path(build_dir))
        store.optimize()
        store.flush()
        del store
        gc.collect()
        path = publish(build_dir, build_id, staging, {
            "inputs": [p.resolve().relative_to(inputs.root.resolve()).as_posix() for p in inputs.all()],
            "version": __version__, "built_at": time.time(), "union_triples": union}, counts)
    except BaseException:
        gc.collect()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    timings["store"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    say(f"built {build_id} in {timings['total']:.1f}s")
    return BuildResult(build_id=build_id, skipped=False, path=path, timings=timings, triples=counts,
                       warnings=[f.line() for f in result.findings if f.severity != "Violation"], engine="stream")
