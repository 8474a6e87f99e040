"""The write path: a SPARQL Update or a Graph Store write becomes a new build, validated and reasoned, swapped in whole.

A write never changes a store in place. Under the build lock (the lock file ``gaistd build`` takes, so writers and
builds are serialised across every process of every server on the build directory):

1. **Compute** (``transform``, in a query worker through ``QueryPool.change``): the current store is copied into an
   in-memory store, the update or graph operation is applied to the copy, and every graph comes back as N-Triples with
   what changed. The worker has the query deadline and memory limit and no network; request bodies are parsed there
   (RDF/XML with a DTD and JSON-LD with a remote context are refused before any parser sees them).
2. **Check**, in a bounded process (``bounded.call``: a fresh interpreter with a deadline, ``WRITE_TIMEOUT``, and a
   data-memory limit, ``WRITE_MEMORY_LIMIT``; past either the write is refused with 503 naming the limit): the gate
   (``gate``: no schema triples, no owl:sameAs between two resources of ours, no ill-typed literal; 422 naming the
   triple), then the steps of ``run.check``: the asserted data against the SHACL shapes and the duplicate checks,
   reasoning with the fast engine only (a graph it does not handle is refused, never handed to owlrl), and the
   shapes again on what reasoning typed (``validate.validate_closure``). A violation refuses the write
   (``WriteRejected`` with the report): nothing changed.
3. **Record and publish**: the meta graph and the manifest record the write (who, by token name; when; what), and a
   new store is written aside and made current with one rename (``store.write_store``, which fsyncs before and after).

The steps are those of every build (``run.run``, with the shapes and checks found by ``load.write_inputs``); only
where they run differs.

Readers keep their open store until they see ``current`` change (``web.sparql.Backend.refresh``). A process killed at
any point leaves ``current`` on the old build or on the new one, never between. ``gaistd build`` refuses to replace a
store holding accepted writes without ``--force``; ``gaistd export -g data`` gives the data graph back as a file.

What a write sees: the asserted graphs only. Its **default graph is the data graph** (``graph/data``): ``INSERT DATA
{ … }`` without ``GRAPH`` adds data, ``DELETE WHERE { … }`` matches asserted data, and the Graph Store's ``?default`` is
the data graph; ``CLEAR ALL`` clears what a write may change. The read-only graphs (ontology, inferred, meta) are not
part of it: the inferred and meta graphs are recomputed by every write, and an update or a Graph Store request naming
one is refused (403). Other named graphs are writable only when ``WRITABLE_GRAPHS`` lists them (``*``: any). A
query's default graph stays the union of all graphs.

Step 1 (``transform``) lives in ``gaistd_kg.query.change``: it runs in query workers and imports pyoxigraph only.
pySHACL and the reasoners are imported in the bounded process of step 2, not in the web process.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

from gaistd_kg.iris import BASE, GRAPH, GRAPH_BASE

from . import bounded
from .findings import ValidationResult
from .load import parse_files, write_inputs
from .steps import DATASET, BuildBusy, ValidationFailed, count_triples, lock, run_reasoner, write_artefacts

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


@dataclass
class Limits:
    """The bounds of a write: seconds from the request's turn at the lock to its validation and reasoning done (the
    change, in a query worker, counts), and MiB of data memory of the process that validates and reasons."""

    timeout: float = 50.0  # below the worker timeout of `gaistd serve` (60 s): the client hears 503, not a kill
    memory_mb: int = 2048


def commit(build_dir: Path, pool, change: Mapping, who: str, what: str, *, shapes_dir: Path,
           checks_dir: Path, lock_wait: float = 30.0, timeout: float | None = None,
           limits: Limits | None = None) -> WriteResult:
    """Apply ``change`` to the current build and publish the result as a new build; see the module docstring.

    ``pool`` is a callable returning a QueryPool on the *current* build (called under the lock, so it is the build
    the change applies to); ``timeout`` bounds the change there. ``shapes_dir`` and ``checks_dir``: the shapes and
    the duplicate checks every write must meet (empty folders: none). ``limits`` bound validation and reasoning.
    Raises WriteRejected, WriteBusy, WriteLimit, NoBuild and the QueryErrors of ``transform``.
    """
    from .run import run  # pySHACL and the reasoners load in the bounded process, not here

    work = Write(Path(build_dir), pool, change, who, what, write_inputs(shapes_dir, checks_dir), timeout)
    limits = limits or Limits()
    start = time.monotonic()

    def checker(w: Write, say) -> tuple[ValidationResult, Write]:
        left = max(limits.timeout - (time.monotonic() - start), 0.1)  # the deadline counts the change too
        try:
            reply = bounded.call(checked, w, timeout=left, memory_mb=limits.memory_mb, what="the write",
                                 budget=limits.timeout)
        except bounded.LimitExceeded as exc:
            raise WriteLimit(exc.limit, f"{exc}; nothing was changed") from None
        if reply[0] == "rejected":
            raise WriteRejected(reply[1], reply[2])
        return reply[1], reply[2]

    try:
        return run(work, wait=lock_wait, busy=WriteBusy, checker=checker)
    except ValidationFailed as exc:
        raise WriteRejected("the data after this write does not conform to the shapes", exc.result.text()) from None


class WriteLimit(RuntimeError):
    """Validating or reasoning the write ran past WRITE_TIMEOUT or WRITE_MEMORY_LIMIT (``limit`` says which)."""

    def __init__(self, limit: str, message: str):
        super().__init__(message)
        self.limit = limit


def checked(work: "Write") -> tuple:
    """In the bounded process: validate, reason, validate the closure (``run.check``). Refusals come back as values
    (``("rejected", message, report)``): exceptions do not cross the process boundary."""
    from .reason import InconsistencyError
    from .run import check

    try:
        result = check(work)
    except WriteRejected as exc:
        return ("rejected", str(exc), exc.report)
    except InconsistencyError as exc:
        return ("rejected", "the data after this write contradicts the ontology", str(exc))
    result.report_graph = None  # the findings say it all; the report graph stays here
    return ("ok", result, work)


class Write:
    """A write as the steps of ``run.run``: load is the change (in a query worker), validate/reason/validate the
    closure run in a bounded process (``checked``), publish writes the new build. Between the two processes the
    graphs travel as N-Triples; the rdflib graphs are made where they are used and not pickled."""

    def __init__(self, build_dir: Path, pool, change: Mapping, who: str, what: str, inputs, timeout: float | None):
        self.build_dir, self.pool, self.change, self.who, self.what = build_dir, pool, dict(change), who, what
        self.inputs, self.timeout = inputs, timeout
        self.timings: dict[str, float] = {}
        self.result: ValidationResult | None = None
        self._graphs: dict = {}

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("pool", "_graphs")} | {"pool": None, "_graphs": {}}

    def prepare(self, say) -> None:
        from gaistd_kg.store import current_manifest, remove_staging

        remove_staging(self.build_dir)  # left by a process killed mid-write or mid-build: the lock says none is live
        previous = current_manifest(self.build_dir)
        if previous is None:
            raise NoBuild("no built store to write to: run `gaistd build` first")
        self.previous = previous

    def load(self, say) -> WriteResult | None:
        changed = self.pool().change(self.change, self.timeout)  # a query.change.Changed
        self.pool = None
        if not changed.diff:
            return WriteResult(build_id=self.previous["build_id"], existed=changed.existed, timings=self.timings)
        self.graphs, self.diff, self.existed = dict(changed.graphs), changed.diff, changed.existed
        return None

    def _rdf(self, name: str):
        if name not in self._graphs:
            if name == "ontology":
                self._graphs[name] = _rdflib(self.graphs.get(GRAPH_BASE + "ontology", b""))
            elif name == "data":
                self._graphs[name] = _rdflib(*(b for g, b in self.graphs.items() if g not in READ_ONLY))
            elif name == "shapes":
                self._graphs[name] = parse_files(self.inputs.shapes)
            elif name == "inferred":
                self._graphs[name] = _rdflib(self.graphs[GRAPH_BASE + "inferred"])
        return self._graphs[name]

    def validate(self, say):
        from .validate import validate

        gate(self._rdf("data"))
        return validate(self._rdf("data"), self._rdf("shapes"), self._rdf("ontology"), checks=self.inputs.checks_dir)

    def reason(self, say) -> None:
        try:
            reasoned = run_reasoner("fast", self._rdf("ontology"), self._rdf("data"), fallback=False)
        except NotImplementedError as exc:
            raise WriteRejected("the data after this write needs more than the fast reasoner", str(exc)) from None
        self._graphs["inferred"] = reasoned.inferred
        self.graphs[GRAPH_BASE + "inferred"] = reasoned.inferred.serialize(format="nt", encoding="utf-8")

    def validate_closure(self, say):
        from gaistd_kg.store import store_from_graphs

        from .validate import validate_closure

        store = store_from_graphs({"data": self._rdf("data"), "inferred": self._rdf("inferred"),
                                   "ontology": self._rdf("ontology")})
        return validate_closure(store, self._rdf("shapes"), self._rdf("ontology"))

    def publish(self, say) -> WriteResult:
        from gaistd_kg.store import current_path, write_store

        previous, graphs = self.previous, self.graphs
        now = time.time()
        record = _record(previous, self.diff, self.who, self.what, now)
        build_id = hashlib.sha256(f"{previous['build_id']}/{record['id']}".encode()).hexdigest()[:20]
        graphs[GRAPH_BASE + "meta"] = _meta(graphs.get(GRAPH_BASE + "meta", b""), previous, build_id, record, graphs)
        keep = {k: v for k, v in previous.items() if k not in ("build_id", "built_at", "triples")}
        manifest = {**keep, "built_at": now, "base_build": previous.get("base_build", previous["build_id"]),
                    "writes": [*previous.get("writes", []), record]}
        # the four graphs of a build by their short names, as `gaistd build` writes them (manifest "triples" keys)
        named = {g[len(GRAPH_BASE):] if g in OWN_GRAPHS else g: b for g, b in graphs.items() if b.strip()}
        before = current_path(self.build_dir)
        write_store(self.build_dir, build_id, named, manifest,
                    artefacts=lambda store, folder: write_artefacts(store, folder, previous=before))
        return WriteResult(build_id=build_id, diff=self.diff, existed=self.existed, timings=self.timings)

    def discard(self) -> None:
        pass


# --- the gate: what a write may not bring into the asserted graphs ------------------------------------------------

# Annotations say nothing the reasoner uses; every other rdfs:/owl: statement would change the schema the data is
# reasoned with, and could take the graph outside what the fast reasoner handles (owlrl without a bound).
ANNOTATIONS = {"http://www.w3.org/2000/01/rdf-schema#" + n for n in ("label", "comment", "seeAlso", "isDefinedBy")}
ANNOTATIONS |= {"http://www.w3.org/2002/07/owl#" + n for n in ("versionInfo", "deprecated")}
SCHEMA_NAMESPACES = ("http://www.w3.org/2000/01/rdf-schema#", "http://www.w3.org/2002/07/owl#")
RDF_PROPERTY = "http://www.w3.org/1999/02/22-rdf-syntax-ns#Property"
HARMLESS_TYPES = {"http://www.w3.org/2002/07/owl#NamedIndividual", "http://www.w3.org/2002/07/owl#Thing"}


def gate(data) -> None:
    """Refuse (WriteRejected naming the triple) what the asserted graphs of a write may not hold: a schema triple
    (a predicate of rdfs: or owl: other than an annotation; a type from rdfs:/owl: such as owl:Class or
    owl:TransitiveProperty, or rdf:Property), owl:sameAs other than between one resource of ours and an outside IRI,
    and a literal whose lexical form is not valid for its datatype. So the fast reasoner always applies, and what it
    accepted never trips a later write."""
    from rdflib import Literal, URIRef
    from rdflib.namespace import OWL, RDF

    def bad(triple, why: str) -> WriteRejected:
        s, p, o = triple
        return WriteRejected(f"the write is refused: {why}", f"{s.n3()} {p.n3()} {o.n3()} .")

    for t in data:
        s, p, o = t
        if isinstance(o, Literal) and o.ill_typed:
            assert o.datatype is not None  # only a typed literal is ill-typed
            raise bad(t, f"the literal {o.n3()} is not a valid {o.datatype.n3()} (an ill-typed literal)")
        if p == OWL.sameAs:
            if isinstance(o, URIRef) and (str(s).startswith(BASE) != str(o).startswith(BASE)):
                continue
            raise bad(t, "owl:sameAs is accepted only between one resource of ours and an IRI elsewhere (a "
                         "Wikidata entity)")
        if str(p) in ANNOTATIONS:
            continue
        if str(p).startswith(SCHEMA_NAMESPACES):
            raise bad(t, "a schema triple (rdfs:/owl: statements belong in the ontology, not in the data graph)")
        if p == RDF.type and isinstance(o, URIRef) and str(o) not in HARMLESS_TYPES and (
                str(o).startswith(SCHEMA_NAMESPACES) or str(o) == RDF_PROPERTY):
            raise bad(t, f"a schema triple (typing a resource as {o.n3()} declares a class or a property: that "
                         "belongs in the ontology, not in the data graph)")


def _rdflib(*parts: bytes):
    from rdflib import Graph

    g = Graph()
    for nt in parts:
        if nt.strip():
            g.parse(data=nt, format="nt")
    return g


def _record(previous: Mapping, diff: Mapping, who: str, what: str, now: float) -> dict:
    digest = hashlib.sha256(what.encode("utf-8")).hexdigest()
    return {
        "id": f"{int(now * 1000)}-{digest[:8]}",
        "at": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds"),
        "by": who,
        "on_build": previous["build_id"],
        "operation": what if len(what) <= TEXT_IN_RECORD else None,
        "sha256": digest,
        "chars": len(what),
        "graphs": {g: {"added": a, "removed": r} for g, (a, r) in sorted(diff.items())},
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
