"""The write path: a SPARQL Update or a Graph Store write becomes a new build, validated and reasoned, swapped in whole.

A write never changes a store in place. Under the build lock (the lock file ``gaistd build`` takes, so writers and
builds are serialised across every process of every server on the build directory):

1. **Compute** (``transform``, in a query worker through ``QueryPool.change``): the current store is copied into an
   in-memory store, the update or graph operation is applied to the copy, and every graph comes back as N-Triples with
   what changed. The worker has the query deadline and memory limit and no network; request bodies are parsed there
   (RDF/XML with a DTD and JSON-LD with a remote context are refused before any parser sees them).
2. **Validate** the asserted data with the SHACL shapes and the duplicate checks (``validate.validate``). A violation
   refuses the write (``WriteRejected`` with the report): nothing changed.
3. **Reason**: the inferred graph is recomputed from the new data (``fastreason.reason_fast``; ``reason.reason`` when
   the fast engine does not handle the graph).
4. **Record and publish**: the meta graph and the manifest record the write (who, by token name; when; what), and a
   new store is written aside and made current with one rename (``store.write_store``, which fsyncs before and after).

Readers keep their open store until they see ``current`` change (``web.sparql.Backend.refresh``). A process killed at
any point leaves ``current`` on the old build or on the new one, never between. ``gaistd build`` refuses to replace a
store holding accepted writes without ``--force``; ``gaistd export -g data`` gives the data graph back as a file.

What a write sees: the asserted graphs only. Its **default graph is the data graph** (``graph/data``): ``INSERT DATA
{ … }`` without ``GRAPH`` adds data, ``DELETE WHERE { … }`` matches asserted data, and the Graph Store's ``?default`` is
the data graph; ``CLEAR ALL`` clears what a write may change. The read-only graphs (ontology, inferred, meta) are not
part of it: the inferred and meta graphs are recomputed by every write, and an update or a Graph Store request naming
one is refused (403). Other named graphs are writable only when ``WRITABLE_GRAPHS`` lists them (``*``: any). A
query's default graph stays the union of all graphs.

Step 1 (``transform``) lives in ``gaistd_kg.query.change``: it runs in query workers and imports pyoxigraph only. This
module runs in the web process and imports rdflib, pySHACL and the reasoners when first used.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping


from gaistd_kg.iris import BASE, GRAPH, GRAPH_BASE

from .steps import DATASET, BuildBusy, count_triples, lock, run_reasoner, write_artefacts

DATA_GRAPH = str(GRAPH["data"])
READ_ONLY = tuple(str(GRAPH[name]) for name in ("ontology", "inferred", "meta"))
OWN_GRAPHS = (DATA_GRAPH, *READ_ONLY)
TEXT_IN_RECORD = 4000      # an operation longer than this is recorded by digest and size only


# --- committing a change (web process side) ------------------------------------------------------------------------

class WriteRejected(ValueError):
    """The changed data violates the shapes (``report`` is the validation report) or the ontology."""

    def __init__(self, message: str, report: str):
        super().__init__(message)
        self.report = report


class WriteBusy(BuildBusy):
    """Another write or a build held the lock past the wait."""


class NoBuild(ValueError):
    """There is no built store to apply a write to."""


@dataclass
class WriteResult:
    build_id: str
    diff: dict[str, tuple[int, int]] = field(default_factory=dict)
    existed: bool = True
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def noop(self) -> bool:
        return not self.diff

    def summary(self) -> str:
        if self.noop:
            return f"nothing changed; build {self.build_id} is still current"
        parts = [f"<{g}> +{a} -{r}" for g, (a, r) in sorted(self.diff.items())]
        return f"accepted: {'; '.join(parts)} triples; now serving build {self.build_id}"


def build_lock(build_dir: Path, wait: float):
    """The build directory's lock (``<build_dir>/.lock``, as ``gaistd build`` takes it), waiting at most ``wait`` s."""
    return lock(Path(build_dir), wait, busy=WriteBusy)


def commit(build_dir: Path, pool, change: Mapping, who: str, what: str, *, shapes_dir: Path | None,
           checks_dir: Path | None, lock_wait: float = 30.0, timeout: float | None = None) -> WriteResult:
    """Apply ``change`` to the current build and publish the result as a new build; see the module docstring.

    ``pool`` is a callable returning a QueryPool on the *current* build (called under the lock, so it is the build
    the change applies to). ``shapes_dir`` None means: no SHACL shapes (tests of the protocol machinery only);
    ``checks_dir`` None: no duplicate checks. Raises WriteRejected, WriteBusy, and the QueryErrors of ``transform``.
    """
    from gaistd_kg.store import current_manifest, current_path, remove_staging, write_store

    build_dir = Path(build_dir)
    timings: dict[str, float] = {}
    with build_lock(build_dir, lock_wait):
        remove_staging(build_dir)  # left by a process killed mid-write or mid-build: the lock says none is live
        previous = current_manifest(build_dir)
        if previous is None:
            raise NoBuild("no built store to write to: run `gaistd build` first")
        t = time.perf_counter()
        changed = pool().change(change, timeout)  # a query.change.Changed
        timings["change"] = time.perf_counter() - t
        if not changed.diff:
            return WriteResult(build_id=previous["build_id"], existed=changed.existed, timings=timings)
        graphs = dict(changed.graphs)
        asserted = [g for g in graphs if g not in READ_ONLY]
        t = time.perf_counter()
        ontology, data = _rdflib(graphs.get(GRAPH_BASE + "ontology", b"")), _rdflib(*(graphs[g] for g in asserted))
        _validate(data, ontology, shapes_dir, checks_dir)
        timings["validate"] = time.perf_counter() - t
        t = time.perf_counter()
        graphs[GRAPH_BASE + "inferred"] = _reason(ontology, data)
        timings["reason"] = time.perf_counter() - t
        t = time.perf_counter()
        now = time.time()
        record = _record(previous, changed, who, what, now)
        build_id = hashlib.sha256(f"{previous['build_id']}/{record['id']}".encode()).hexdigest()[:20]
        graphs[GRAPH_BASE + "meta"] = _meta(graphs.get(GRAPH_BASE + "meta", b""), previous, build_id, record, graphs)
        keep = {k: v for k, v in previous.items() if k not in ("build_id", "built_at", "triples")}
        manifest = {**keep, "built_at": now, "base_build": previous.get("base_build", previous["build_id"]),
                    "writes": [*previous.get("writes", []), record]}
        # the four graphs of a build by their short names, as `gaistd build` writes them (manifest "triples" keys)
        named = {g[len(GRAPH_BASE):] if g in OWN_GRAPHS else g: b for g, b in graphs.items() if b.strip()}
        before = current_path(build_dir)
        write_store(build_dir, build_id, named, manifest,
                    artefacts=lambda store, folder: write_artefacts(store, folder, previous=before))
        timings["store"] = time.perf_counter() - t
    return WriteResult(build_id=build_id, diff=changed.diff, existed=changed.existed, timings=timings)


def _rdflib(*parts: bytes):
    from rdflib import Graph

    g = Graph()
    for nt in parts:
        if nt.strip():
            g.parse(data=nt, format="nt")
    return g


def _validate(data, ontology, shapes_dir: Path | None, checks_dir: Path | None) -> None:
    from .checks import run_checks
    from .load import parse_files, shape_files
    from .validate import validate

    if shapes_dir is None:
        findings = run_checks(data, ontology, folder=checks_dir) if checks_dir else []
        if findings:
            raise WriteRejected("the write would break the duplicate checks", "\n".join(f.line() for f in findings))
        return
    if not Path(shapes_dir).is_dir():
        raise FileNotFoundError(f"SHAPES_DIR {shapes_dir} is not a folder: writes are validated against its shapes "
                                "(set GAISTD_SHAPES_DIR or GAISTD_ROOT)")
    shapes = parse_files(shape_files(shapes_dir))
    result = validate(data, shapes, ontology, **({"checks": checks_dir} if checks_dir else {}))
    if not result.conforms:
        raise WriteRejected("the data after this write does not conform to the shapes", result.text())


def _reason(ontology, data) -> bytes:
    from .reason import InconsistencyError

    try:
        reasoned = run_reasoner("fast", ontology, data)
    except InconsistencyError as exc:
        raise WriteRejected("the data after this write contradicts the ontology", str(exc)) from None
    return reasoned.inferred.serialize(format="nt", encoding="utf-8")


def _record(previous: Mapping, changed, who: str, what: str, now: float) -> dict:
    digest = hashlib.sha256(what.encode("utf-8")).hexdigest()
    return {
        "id": f"{int(now * 1000)}-{digest[:8]}",
        "at": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds"),
        "by": who,
        "on_build": previous["build_id"],
        "operation": what if len(what) <= TEXT_IN_RECORD else None,
        "sha256": digest,
        "chars": len(what),
        "graphs": {g: {"added": a, "removed": r} for g, (a, r) in sorted(changed.diff.items())},
    }


def _meta(nt: bytes, previous: Mapping, build_id: str, record: Mapping, graphs: Mapping[str, bytes]) -> bytes:
    """The meta graph of the new build: the old one, with the new identifier and sizes, and the write as a
    prov:Activity that generated the dataset (who by token name, when, what)."""
    from rdflib import Literal, URIRef
    from rdflib.namespace import DCTERMS, PROV, RDF, XSD

    g = _rdflib(nt)
    dataset = DATASET
    g.set((dataset, DCTERMS.identifier, Literal(build_id)))
    count_triples(g, {iri: body.count(b"\n") for iri, body in graphs.items()
                      if iri != GRAPH_BASE + "meta" and iri.startswith(GRAPH_BASE)})
    act = URIRef(f"{BASE}write/{record['id']}")
    g.add((dataset, PROV.wasGeneratedBy, act))
    g.add((act, RDF.type, PROV.Activity))
    g.add((act, PROV.endedAtTime, Literal(record["at"], datatype=XSD.dateTime)))
    g.add((act, DCTERMS.creator, Literal(record["by"])))
    g.add((act, PROV.used, URIRef(f"{BASE}build/{previous['build_id']}")))
    changes = "; ".join(f"<{k}> +{v['added']} -{v['removed']}" for k, v in record["graphs"].items())
    g.add((act, DCTERMS.description, Literal(f"write by {record['by']}: {changes}", lang="en")))
    if record["operation"] is not None:
        g.add((act, RDF.value, Literal(record["operation"])))
    g.add((act, DCTERMS.identifier, Literal(record["sha256"])))
    return g.serialize(format="nt", encoding="utf-8")


def accepted_writes(manifest: Mapping | None) -> list[dict]:
    """The writes a build holds that its input files do not (empty for a build made from files)."""
    return list((manifest or {}).get("writes", []))
