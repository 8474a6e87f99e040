"""The build from files: parse → validate (stop on sh:Violation) → reason → validate the closure → store, atomic
and cached (the steps of ``run``).

The build is a function of its input files: their digest names the build, and a build whose digest equals the
current store's is skipped. A failure at any step leaves the current store as it was.
"""

from __future__ import annotations

from pathlib import Path

from gaistd_kg.iris import ROOT
from gaistd_kg.store import DEFAULT_BUILD_DIR, current_path, write_store

from .load import Inputs, find_inputs, load
from .run import run
from .steps import (DATASET, BuildResult, FromFiles, Progress, UnsavedWrites,  # noqa: F401 - re-exported
                    ValidationFailed, lock, meta_graph, run_reasoner, write_artefacts)
from .streambuild import STREAM_ABOVE, StreamBuild, data_bytes, streamable
from .validate import validate, validate_closure


def build(root: Path = ROOT, build_dir: Path = DEFAULT_BUILD_DIR, force: bool = False,
          progress: Progress | None = None, reasoner: str = "fast", engine: str = "auto") -> BuildResult:
    """``engine``: ``memory`` (rdflib graphs), ``stream`` (the data stays in Oxigraph, see streambuild) or ``auto``
    (stream when the data files pass ``streambuild.STREAM_ABOVE`` bytes and the fast reasoner is used). Both are
    the one pipeline of ``run``, on their own representation of the data."""
    say = progress or (lambda _msg: None)
    root, build_dir = Path(root), Path(build_dir)
    inputs = find_inputs(root)
    if engine == "auto":
        engine = "stream" if reasoner == "fast" and data_bytes(inputs) > STREAM_ABOVE else "memory"
    if engine == "stream":
        why = streamable(inputs) or ("the streaming build uses the fast reasoner" if reasoner != "fast" else None)
        return run(StreamBuild(inputs, build_dir, force, refuse=why), say)
    return run(MemoryBuild(inputs, build_dir, force, reasoner), say)


class MemoryBuild(FromFiles):
    """The build with the data in rdflib graphs."""

    def __init__(self, inputs: Inputs, build_dir: Path, force: bool, reasoner: str):
        super().__init__(inputs, build_dir, force)
        self.reasoner = reasoner

    def load(self, say: Progress) -> None:
        i = self.inputs
        say(f"parsing {len(i.ontology)} ontology, {len(i.shapes)} shape and {len(i.data)} data files")
        self.loaded = load(i)

    def validate(self, say: Progress):
        say(f"validating {len(self.loaded.data)} data triples against the SHACL shapes")
        return validate(self.loaded.data, self.loaded.shapes, self.loaded.ontology, self.loaded.subject_files,
                        checks=self.inputs.checks_dir)

    def reason(self, say: Progress) -> None:
        say(f"reasoning (OWL 2 RL closure, {self.reasoner} engine)")
        self.inferred = run_reasoner(self.reasoner, self.loaded.ontology, self.loaded.data, say).inferred
        say(f"inferred {len(self.inferred)} new triples")

    def validate_closure(self, say: Progress):
        from gaistd_kg.store import store_from_graphs

        loaded = self.loaded
        store = store_from_graphs({"data": loaded.data, "inferred": self.inferred, "ontology": loaded.ontology})
        return validate_closure(store, loaded.shapes, loaded.ontology, loaded.subject_files)

    def publish(self, say: Progress) -> BuildResult:
        loaded = self.loaded
        counts = {"ontology": len(loaded.ontology), "data": len(loaded.data), "inferred": len(self.inferred)}
        meta = meta_graph(self.build_id, self.inputs, counts)
        say("writing the store")
        path = write_store(
            self.build_dir, self.build_id,
            {"ontology": loaded.ontology, "data": loaded.data, "inferred": self.inferred, "meta": meta},
            self.manifest(),
            artefacts=lambda store, folder: write_artefacts(store, folder, previous=current_path(self.build_dir)),
        )
        say(f"built {self.build_id} in {sum(v for k, v in self.timings.items() if k != 'total'):.1f}s")
        return BuildResult(build_id=self.build_id, skipped=False, path=path, timings=self.timings,
                           triples={**counts, "meta": len(meta)}, warnings=self.warnings())
