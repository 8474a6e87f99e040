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
from pathlib import Path
from typing import Callable

import pyoxigraph as ox
from rdflib import URIRef

from .load import Inputs, LoadError, parse_files
from gaistd_kg.formats import INPUT_SUFFIXES
from gaistd_kg.iris import GRAPH
from gaistd_kg.store import count_quads, current_path, load_graphs, new_staging, publish, union_count

from .fastreason import reason_store
from .steps import BuildResult, FromFiles, meta_graph, write_artefacts
from .validate import validate_closure, validate_store

STREAM_ABOVE = 48 * 1024 * 1024  # bytes of data files
VALIDATION_WORKERS = max(1, min(os.cpu_count() or 1, 4))  # processes validating chunks side by side
OX_FORMATS = {suffix: f.rdf_ox for suffix, f in INPUT_SUFFIXES.items() if suffix in (".ttl", ".nt", ".rdf", ".owl")}


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


class StreamBuild(FromFiles):
    """The build with the data in a staging store on disk: the steps of ``run`` (see the module docstring)."""

    engine = "stream"

    def __init__(self, inputs: Inputs, build_dir: Path, force: bool, refuse: str | None = None, chunk: int = 5000):
        super().__init__(inputs, build_dir, force)
        self.refuse, self.chunk = refuse, chunk
        self.staging: Path | None = None
        self.store: ox.Store | None = None

    def _staged(self) -> tuple[ox.Store, Path]:
        """The staging store and its folder, which ``load`` made."""
        assert self.store is not None and self.staging is not None, "load() comes first"
        return self.store, self.staging

    def prepare(self, say: Callable[[str], None]):
        done = super().prepare(say)
        if done is None and self.refuse:
            raise ValueError(f"cannot build with --engine stream: {self.refuse}")
        return done

    def load(self, say: Callable[[str], None]) -> None:
        inputs = self.inputs
        self.staging = new_staging(self.build_dir, self.build_id)
        self.store = store = ox.Store(str(self.staging / "oxigraph"))
        say(f"parsing {len(inputs.ontology)} ontology and {len(inputs.shapes)} shape files; bulk-loading "
            f"{len(inputs.data)} data files into the store")
        self.ontology = parse_files(inputs.ontology)
        self.shapes = parse_files(inputs.shapes)
        load_graphs(store, {"ontology": self.ontology})
        load_data(store, inputs.data)
        self.counts = {"ontology": count_quads(store, "ontology"), "data": count_quads(store, "data")}
        self.subject_files = SubjectFiles(inputs.data)
        store.flush()  # validation workers open it read-only

    def validate(self, say: Callable[[str], None]):
        say(f"validating {self.counts['data']} data triples against the SHACL shapes, {self.chunk} resources at a "
            "time")
        store, staging = self._staged()
        return validate_store(store, self.shapes, self.ontology, self.subject_files,
                              checks=self.inputs.checks_dir, chunk=self.chunk, say=say,
                              path=str(staging / "oxigraph"), workers=VALIDATION_WORKERS)

    def reason(self, say: Callable[[str], None]) -> None:
        say("reasoning (OWL 2 RL closure, fast engine, store to store)")
        store, staging = self._staged()
        self.counts["inferred"] = reason_store(store, self.ontology, staging / "reasoning", say=say)
        say(f"inferred {self.counts['inferred']} new triples")

    def validate_closure(self, say: Callable[[str], None]):
        return validate_closure(self._staged()[0], self.shapes, self.ontology, self.subject_files)

    def publish(self, say: Callable[[str], None]) -> BuildResult:
        (store, staging), counts = self._staged(), self.counts
        meta = meta_graph(self.build_id, self.inputs, counts)
        load_graphs(store, {"meta": meta})
        counts["meta"] = len(meta)
        say("writing the store")
        union = union_count(store, counts)
        write_artefacts(store, staging, previous=current_path(self.build_dir))
        store.optimize()
        store.flush()
        self.store = None
        del store
        gc.collect()
        path = publish(self.build_dir, self.build_id, staging, {**self.manifest(), "union_triples": union},
                       counts)
        say(f"built {self.build_id} in {sum(v for k, v in self.timings.items() if k != 'total'):.1f}s")
        return BuildResult(build_id=self.build_id, skipped=False, path=path, timings=self.timings, triples=counts,
                           warnings=self.warnings(), engine="stream")

    def discard(self) -> None:
        self.store = None
        gc.collect()
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
