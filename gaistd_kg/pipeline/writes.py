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

The top half of this module (``transform``) runs in query workers and imports pyoxigraph only; the rest runs in the
web process and imports rdflib, pySHACL and the reasoners when first used.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Mapping

import pyoxigraph as ox

from gaistd_kg.query.engine import QueryError, QueryRefused, QuerySyntaxError, check_update, mentioned_iris, with_using

BASE = "https://w3id.org/gaistd/"
GRAPH_BASE = BASE + "graph/"
DATA_GRAPH = GRAPH_BASE + "data"
READ_ONLY = tuple(GRAPH_BASE + name for name in ("ontology", "inferred", "meta"))
OWN_GRAPHS = (DATA_GRAPH, *READ_ONLY)
BODY_FORMATS = {"ttl": ox.RdfFormat.TURTLE, "nt": ox.RdfFormat.N_TRIPLES, "rdf": ox.RdfFormat.RDF_XML,
                "jsonld": ox.RdfFormat.JSON_LD}
MAX_JSON_DEPTH = 64        # JSON-LD nested deeper than this is refused before parsing
DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.I)
TEXT_IN_RECORD = 4000      # an operation longer than this is recorded by digest and size only


# --- computing a change (query worker side: pyoxigraph only) -------------------------------------------------------

@dataclass
class Changed:
    """Every graph after the change (IRI → N-Triples) and what changed in each (IRI → (added, removed))."""

    graphs: dict[str, bytes]
    diff: dict[str, tuple[int, int]]
    existed: bool = True   # a graph-store operation's target graph existed before it


def _refuse_unsafe_body(body: bytes, fmt: str) -> None:
    """RDF/XML may declare entities (Oxigraph expands internal ones: a billion-laughs document is a memory bomb);
    JSON-LD may name remote contexts. Neither is needed to send data, so both are refused before parsing."""
    if fmt == "rdf" and b"\x00" in body:  # UTF-16 would hide a declaration from the check below
        raise QueryRefused("RDF/XML encoding", "RDF/XML must be sent as UTF-8")
    if fmt == "rdf" and DTD.search(body):
        raise QueryRefused("RDF/XML DTD", "RDF/XML with a document type declaration (<!DOCTYPE or <!ENTITY) is "
                                          "refused: entities can expand without bound or name files and URLs")
    if fmt == "jsonld":
        try:
            doc = json.loads(body)
        except RecursionError:
            raise QueryRefused("JSON-LD nesting", "JSON-LD nested too deeply is refused "
                                                  f"(at most {MAX_JSON_DEPTH} levels)") from None
        except ValueError as exc:
            raise QuerySyntaxError(f"the body is not JSON: {exc}") from None
        stack = [(doc, 0)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_JSON_DEPTH:
                raise QueryRefused("JSON-LD nesting", f"JSON-LD nested deeper than {MAX_JSON_DEPTH} levels is refused")
            if isinstance(node, dict):
                ctx = node.get("@context")
                for c in ctx if isinstance(ctx, list) else [ctx]:
                    if isinstance(c, str) or (isinstance(c, dict) and "@import" in c):
                        where = c if isinstance(c, str) else c["@import"]
                        raise QueryRefused("JSON-LD remote context", f"JSON-LD @context {where!r} is refused: this "
                                           "server never fetches contexts; put the context in the document")
                stack.extend((v, depth + 1) for v in node.values())
            elif isinstance(node, list):
                stack.extend((v, depth + 1) for v in node)


def parse_body(body: bytes, fmt: str, base_iri: str | None) -> list[ox.Triple]:
    """The triples of a request body in one of ``BODY_FORMATS`` (fresh blank nodes), or QuerySyntaxError."""
    _refuse_unsafe_body(body, fmt)
    try:
        return [q.triple for q in ox.parse(body, BODY_FORMATS[fmt], base_iri=base_iri, rename_blank_nodes=True,
                                           without_named_graphs=True)]
    except (SyntaxError, ValueError) as exc:
        raise QuerySyntaxError(f"the body is not valid {fmt}: {exc}") from None


def _copy(store: ox.Store, data: ox.NamedNode) -> ox.Store:
    """An in-memory copy of the writable part of ``store``: every graph but the read-only ones, with the data graph
    as the default graph (the store's own default graph, empty in our builds, is folded into it)."""
    work = ox.Store()
    default = ox.DefaultGraph()
    hidden = {ox.NamedNode(g) for g in READ_ONLY}
    work.extend(ox.Quad(q.subject, q.predicate, q.object, default) if q.graph_name in (data, default) else q
                for q in store if q.graph_name not in hidden)
    return work


def _graph_name(graph: str | None) -> ox.NamedNode | ox.DefaultGraph:
    return ox.DefaultGraph() if graph in (None, DATA_GRAPH) else ox.NamedNode(graph)


def transform(store: ox.Store, change: Mapping) -> Changed:
    """Apply one change to a copy of ``store``; return every graph after it and the per-graph difference.

    ``change``: ``{"op": "update", "text", "base_iri", "using", "using_named", "service_allowlist"}`` or
    ``{"op": "put"|"post"|"delete", "graph": IRI or None (the data graph), "parts": [(bytes, format)], "base_iri"}``,
    with ``"writable"``: IRIs of writable graphs besides the data graph, or ``"*"`` for every graph not read-only.
    Raises QueryRefused (a refused feature, a read-only or unwritable graph), QuerySyntaxError, QueryError.
    """
    data = ox.NamedNode(change.get("data_graph", DATA_GRAPH))
    work = _copy(store, data)
    before = set(work)
    op = change["op"]
    existed = True
    if op == "update":
        check_update(change["text"], change.get("service_allowlist", ()))
        named = sorted(mentioned_iris(change["text"]) & set(READ_ONLY))
        if named:
            raise QueryRefused("read-only graph", f"graph <{named[0]}> is read-only, and not part of what an update "
                                                  "sees: updates read and change the asserted graphs; the inferred "
                                                  "and meta graphs are recomputed by each write")
        text = with_using(change["text"], change.get("using", ()), change.get("using_named", ()))
        try:
            work.update(text, base_iri=change.get("base_iri"))
        except SyntaxError as exc:
            raise QuerySyntaxError(str(exc)) from None
        except (ValueError, OSError, RuntimeError) as exc:
            raise QueryError(f"update failed: {exc}") from None
    else:
        target = _graph_name(change.get("graph"))
        existed = isinstance(target, ox.DefaultGraph) or any(True for _ in work.quads_for_pattern(None, None, None,
                                                                                                  target))
        triples = [t for body, fmt in change.get("parts", ()) for t in parse_body(body, fmt, change.get("base_iri"))]
        if op in ("put", "delete"):
            work.remove_graph(target) if not isinstance(target, ox.DefaultGraph) else work.clear_graph(target)
        if op in ("put", "post"):
            work.extend(ox.Quad(t.subject, t.predicate, t.object, target) for t in triples)
    after = set(work)
    diff: dict[str, list[int]] = {}
    for q, i in [(q, 0) for q in after - before] + [(q, 1) for q in before - after]:
        name = data.value if isinstance(q.graph_name, ox.DefaultGraph) else q.graph_name.value
        diff.setdefault(name, [0, 0])[i] += 1
    _check_writable(diff, change.get("writable", ()), data.value)
    graphs: dict[str, list[ox.Triple]] = {}
    for g in READ_ONLY:  # as they are: the commit needs the ontology, and extends the meta graph
        triples = [q.triple for q in store.quads_for_pattern(None, None, None, ox.NamedNode(g))]
        if triples:
            graphs[g] = triples
    for q in after:
        graphs.setdefault(data.value if isinstance(q.graph_name, ox.DefaultGraph) else q.graph_name.value,
                          []).append(q.triple)
    return Changed(graphs={g: ox.serialize(ts, format=ox.RdfFormat.N_TRIPLES) for g, ts in graphs.items()},
                   diff={g: (a, r) for g, (a, r) in diff.items()}, existed=existed)


def _check_writable(diff: Mapping[str, object], writable, data: str) -> None:
    for iri in sorted(diff):
        if iri in READ_ONLY:
            raise QueryRefused("read-only graph", f"graph <{iri}> is read-only: the ontology comes from the source "
                                                  "files, the inferred and meta graphs from each build")
        if iri != data and writable != "*" and iri not in writable:
            raise QueryRefused("graph not writable", f"graph <{iri}> is not writable on this server: writes go to "
                                                     f"the data graph <{data}> (WRITABLE_GRAPHS lists any others)")


# --- committing a change (web process side) ------------------------------------------------------------------------

class WriteRejected(ValueError):
    """The changed data violates the shapes (``report`` is the validation report) or the ontology."""

    def __init__(self, message: str, report: str):
        super().__init__(message)
        self.report = report


class WriteBusy(RuntimeError):
    """Another write or a build held the lock past the wait."""


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


@contextmanager
def build_lock(build_dir: Path, wait: float) -> Iterator[None]:
    """The build directory's lock (``<build_dir>/.lock``, as ``gaistd build`` takes it), waiting at most ``wait`` s."""
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".lock", "w") as fh:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WriteBusy(f"another write or a build is in progress (waited {wait:g} s); try again") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def commit(build_dir: Path, pool, change: Mapping, who: str, what: str, *, shapes_dir: Path | None,
           checks_dir: Path | None, lock_wait: float = 30.0, timeout: float | None = None) -> WriteResult:
    """Apply ``change`` to the current build and publish the result as a new build; see the module docstring.

    ``pool`` is a callable returning a QueryPool on the *current* build (called under the lock, so it is the build
    the change applies to). ``shapes_dir`` None means: no SHACL shapes (tests of the protocol machinery only);
    ``checks_dir`` None: no duplicate checks. Raises WriteRejected, WriteBusy, and the QueryErrors of ``transform``.
    """
    from gaistd_kg.store import current_manifest, write_store

    build_dir = Path(build_dir)
    timings: dict[str, float] = {}
    with build_lock(build_dir, lock_wait):
        previous = current_manifest(build_dir)
        if previous is None:
            raise QueryError("no built store to write to: run `gaistd build` first")
        t = time.perf_counter()
        changed: Changed = pool().change(change, timeout)
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
        write_store(build_dir, build_id, named, manifest)
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
    from rdflib import Graph

    from .checks import run_checks
    from .load import parse_files
    from .validate import validate

    if shapes_dir is None:
        findings = run_checks(data, ontology, folder=checks_dir) if checks_dir else []
        if findings:
            raise WriteRejected("the write would break the duplicate checks", "\n".join(f.line() for f in findings))
        return
    shapes = parse_files(sorted(p for p in Path(shapes_dir).glob("*.ttl"))) if Path(shapes_dir).is_dir() else Graph()
    result = validate(data, shapes, ontology, **({"checks": checks_dir} if checks_dir else {}))
    if not result.conforms:
        raise WriteRejected("the data after this write does not conform to the shapes", result.text())


def _reason(ontology, data) -> bytes:
    from .fastreason import reason_fast
    from .reason import InconsistencyError, reason

    try:
        try:
            reasoned = reason_fast(ontology, data)
        except NotImplementedError:
            reasoned = reason(ontology, data)
    except InconsistencyError as exc:
        raise WriteRejected("the data after this write contradicts the ontology", str(exc)) from None
    return reasoned.inferred.serialize(format="nt", encoding="utf-8")


def _record(previous: Mapping, changed: Changed, who: str, what: str, now: float) -> dict:
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
    from rdflib.namespace import DCTERMS, PROV, RDF, VOID, XSD

    g = _rdflib(nt)
    dataset = URIRef(BASE + "dataset")
    g.set((dataset, DCTERMS.identifier, Literal(build_id)))
    for iri, body in graphs.items():
        if iri in (GRAPH_BASE + "meta",) or not iri.startswith(GRAPH_BASE):
            continue
        n = body.count(b"\n")
        g.set((URIRef(iri), VOID.triples, Literal(n, datatype=XSD.integer)))
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


def current_link(build_dir: Path) -> str | None:
    """What ``current`` points at: a readlink, cheap enough to call on every request."""
    try:
        return os.readlink(Path(build_dir) / "current")
    except OSError:
        return None
