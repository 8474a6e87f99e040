"""The built Oxigraph store on disk: written aside, swapped in atomically, opened read-only for serving.

Layout under the build directory::

    stores/<build-id>/oxigraph/      the RocksDB files of one build
    stores/<build-id>/manifest.json  build id, time, input digests, triple counts
    current -> stores/<build-id>     the build that is served; replaced with one rename

A reader resolves ``current`` once, when it opens; a later build never changes a store that is open.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import pyoxigraph as ox
from rdflib import Graph

from .iris import GRAPH

DEFAULT_BUILD_DIR = Path(os.environ.get("GAISTD_BUILD_DIR", Path(__file__).resolve().parent.parent / "build"))
KEEP_PREVIOUS = 1  # builds kept besides the current one, so a reader that opened it just before a swap keeps working


class StoreMissing(RuntimeError):
    """No built store exists yet; the message says which command makes one."""


@dataclass(frozen=True)
class OpenStore:
    store: ox.Store
    path: Path
    manifest: dict

    @property
    def build_id(self) -> str:
        return self.manifest["build_id"]

    @property
    def built_at(self) -> float:
        return float(self.manifest["built_at"])


def graph_to_ntriples(graph: Graph) -> bytes:
    return graph.serialize(format="nt", encoding="utf-8")


def load_graphs(store: ox.Store, graphs: Mapping[str, Graph | bytes]) -> None:
    """Bulk-load rdflib graphs (or N-Triples bytes) into the named graphs of ``GRAPH`` (or full IRIs)."""
    for name, graph in graphs.items():
        target = ox.NamedNode(str(GRAPH.get(name, name)))
        data = graph if isinstance(graph, bytes) else graph_to_ntriples(graph)
        if data.strip():
            store.bulk_load(data, format=ox.RdfFormat.N_TRIPLES, to_graph=target)


def write_store(build_dir: Path, build_id: str, graphs: Mapping[str, Graph | bytes], manifest: dict,
                artefacts: Callable[[ox.Store, Path], object] | None = None) -> Path:
    """Write a complete store aside, then make it current with one atomic rename. Returns its directory.
    ``artefacts(store, staging folder)`` writes what is served beside the store before the rename."""
    staging = new_staging(build_dir, build_id)
    store = ox.Store(str(staging / "oxigraph"))
    try:
        load_graphs(store, graphs)
        counts = {name: count_quads(store, name) for name in graphs}
        manifest = {**manifest, "union_triples": union_count(store, counts)}
        if artefacts is not None:
            artefacts(store, staging)
        store.optimize()
        store.flush()
    finally:
        del store
    return publish(build_dir, build_id, staging, manifest, counts)


def new_staging(build_dir: Path, build_id: str) -> Path:
    """An empty folder beside the served builds, where a build writes its store before :func:`publish`."""
    stores = Path(build_dir) / "stores"
    stores.mkdir(parents=True, exist_ok=True)
    staging = stores / f".{build_id}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def remove_staging(build_dir: Path) -> list[Path]:
    """Remove every staging folder (``stores/.<build>.<pid>.tmp``) under ``build_dir``: what a build or a write
    killed before its rename left. Only for a caller holding the build lock (every staging folder is made under it,
    so none is in use then); returns what it removed."""
    stores = Path(build_dir) / "stores"
    removed = []
    for p in sorted(stores.glob(".*.tmp")) if stores.is_dir() else ():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def publish(build_dir: Path, build_id: str, staging: Path, manifest: dict, counts: dict[str, int]) -> Path:
    """Make the closed store in ``staging`` (its ``oxigraph`` folder) the current build: manifest, fsync, rename."""
    build_dir = Path(build_dir)
    stores = build_dir / "stores"
    final = stores / build_id
    full = {**manifest, "build_id": build_id, "built_at": manifest.get("built_at", time.time()), "triples": counts}
    (staging / "manifest.json").write_text(json.dumps(full, indent=2, sort_keys=True), encoding="utf-8")
    _fsync_tree(staging)  # the files reach the disk before any name points at them
    if final.exists():
        shutil.rmtree(final)
    os.rename(staging, final)
    _fsync_dir(stores)
    _swap_current(build_dir, final)
    _fsync_dir(build_dir)  # the new `current` survives a power cut once this returns
    _prune(stores, keep={final.name})
    return final


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def _swap_current(build_dir: Path, target: Path) -> None:
    link = build_dir / "current"
    tmp = build_dir / f".current.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(target, build_dir), tmp)
    os.replace(tmp, link)


def _prune(stores: Path, keep: set[str]) -> None:
    builds = sorted((p for p in stores.iterdir() if p.is_dir() and not p.name.startswith(".")),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    kept = 0
    for p in builds:
        if p.name in keep:
            continue
        if kept < KEEP_PREVIOUS:
            kept += 1
            continue
        shutil.rmtree(p, ignore_errors=True)
    for p in stores.iterdir():  # staging left by a build that was killed
        if p.name.startswith(".") and p.name.endswith(".tmp") and time.time() - p.stat().st_mtime > 3600:
            shutil.rmtree(p, ignore_errors=True)


def union_count(store: ox.Store, counts: Mapping[str, int]) -> int:
    """Distinct triples over all the named graphs (the default graph the service description describes), without a
    DISTINCT over all of them, which needs memory in proportion to the store. A build's inferred graph holds nothing
    of the data or the ontology (``reason.clean``, after every build and every accepted write), so a triple in two
    graphs is in the ontology or the meta graph: only those two small graphs are read, each of their triples counted
    once however many graphs hold it."""
    duplicates, seen = 0, set()
    for name in ("ontology", "meta"):
        for q in store.quads_for_pattern(None, None, None, ox.NamedNode(str(GRAPH.get(name, name)))):
            key = (q.subject, q.predicate, q.object)
            if key not in seen:
                seen.add(key)
                duplicates += sum(1 for _ in store.quads_for_pattern(*key, None)) - 1
    return sum(counts.values()) - duplicates


def count_quads(store: ox.Store, name: str) -> int:
    return sum(1 for _ in store.quads_for_pattern(None, None, None, ox.NamedNode(str(GRAPH.get(name, name)))))


def current_path(build_dir: Path = DEFAULT_BUILD_DIR) -> Path | None:
    link = Path(build_dir) / "current"
    if not link.exists():
        return None
    return link.resolve()


def current_manifest(build_dir: Path = DEFAULT_BUILD_DIR) -> dict | None:
    path = current_path(build_dir)
    if path is None:
        return None
    try:
        return json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def open_store(build_dir: Path = DEFAULT_BUILD_DIR, read_only: bool = True) -> OpenStore:
    """Open the current build. Read-only opens share the files on disk between processes (gunicorn workers)."""
    path = current_path(build_dir)
    if path is None:
        raise StoreMissing(f"no built store in {build_dir}: run `gaistd build` first")
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    db = str(path / "oxigraph")
    store = ox.Store.read_only(db) if read_only else ox.Store(db)
    return OpenStore(store=store, path=path, manifest=manifest)


def store_from_graphs(graphs: Mapping[str, Graph | bytes], path: Path | None = None) -> ox.Store:
    """An Oxigraph store (in memory, or on disk at ``path``) holding the given named graphs: for tests and tools."""
    store = ox.Store(str(path)) if path else ox.Store()
    load_graphs(store, graphs)
    return store


def graph_names(store: ox.Store) -> Iterable[str]:
    return sorted(g.value for g in store.named_graphs() if isinstance(g, ox.NamedNode))


def current_link(build_dir: Path) -> str | None:
    """What ``current`` points at: a readlink, cheap enough to call on every request."""
    try:
        return os.readlink(Path(build_dir) / "current")
    except OSError:
        return None
