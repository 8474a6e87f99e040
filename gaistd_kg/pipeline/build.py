"""The pipeline: parse → validate (stop on sh:Violation) → reason → store, atomic and cached.

The build is a function of its input files: their digest names the build, and a build whose digest equals the
current store's is skipped. A failure at any step leaves the current store as it was.
"""

from __future__ import annotations

import time
from pathlib import Path

from gaistd_kg import __version__
from gaistd_kg.iris import ROOT
from gaistd_kg.store import DEFAULT_BUILD_DIR, current_manifest, current_path, write_store

from .load import digest, find_inputs, load
from .steps import (DATASET, BuildResult, Progress, ValidationFailed, lock, meta_graph,  # noqa: F401 - re-exported
                    run_reasoner, write_artefacts)
from .streambuild import STREAM_ABOVE, build_streaming, data_bytes, streamable
from .validate import validate


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


def build(root: Path = ROOT, build_dir: Path = DEFAULT_BUILD_DIR, force: bool = False,
          progress: Progress | None = None, reasoner: str = "fast", engine: str = "auto") -> BuildResult:
    """``engine``: ``memory`` (rdflib graphs), ``stream`` (the data stays in Oxigraph, see streambuild) or ``auto``
    (stream when the data files pass ``streambuild.STREAM_ABOVE`` bytes and the fast reasoner is used)."""
    say = progress or (lambda _msg: None)
    root, build_dir = Path(root), Path(build_dir)
    inputs = find_inputs(root)
    build_id = digest(inputs.all(), root)
    with lock(build_dir):
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
                          checks=inputs.checks_dir)
        timings["validate"] = time.perf_counter() - t
        if not result.conforms:
            raise ValidationFailed(result)

        t = time.perf_counter()
        say(f"reasoning (OWL 2 RL closure, {reasoner} engine)")
        reasoned = run_reasoner(reasoner, loaded.ontology, loaded.data, say)
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
            artefacts=lambda store, folder: write_artefacts(store, folder, previous=current_path(build_dir)),
        )
        timings["store"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t0
        say(f"built {build_id} in {timings['total']:.1f}s")
        return BuildResult(build_id=build_id, skipped=False, path=path, timings=timings,
                           triples={**counts, "meta": len(meta)},
                           warnings=[f.line() for f in result.findings if f.severity != "Violation"])
