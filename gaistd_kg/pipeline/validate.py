"""pySHACL → a small result object with a report a data contributor can act on."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from pyshacl import validate as shacl_validate
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, SH
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.processor import SPARQLProcessor

from .load import display, locate
from gaistd_kg.iris import PREFIXES


@dataclass(frozen=True)
class Finding:
    severity: str          # "Violation", "Warning" or "Info"
    focus: str             # the resource, as a prefixed name where possible
    path: str | None       # the property, as a prefixed name
    message: str
    shape: str | None
    component: str | None  # the SHACL constraint component, e.g. sh:MinCountConstraintComponent
    value: str | None
    where: str | None = None  # file:line of the resource, when known

    def line(self) -> str:
        loc = f"{self.where}: " if self.where else ""
        prop = f" {self.path}" if self.path else ""
        val = f" (value: {self.value})" if self.value else ""
        shape = f" [{self.shape}]" if self.shape else ""
        return f"{loc}{self.severity}: {self.focus}{prop}: {self.message}{val}{shape}"


@dataclass
class ValidationResult:
    conforms: bool
    findings: list[Finding] = field(default_factory=list)
    report_graph: Graph | None = None

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "Violation"]

    def text(self) -> str:
        if not self.findings:
            return "Conforms: the data satisfies every shape."
        counts = {}
        for f in self.findings:
            counts[f.severity] = counts.get(f.severity, 0) + 1
        head = ", ".join(f"{n} {sev.lower()}{'s' if n > 1 else ''}" for sev, n in sorted(counts.items()))
        lines = [f"{'Does not conform' if not self.conforms else 'Conforms'}: {head}."]
        lines += [f.line() for f in sorted(self.findings, key=lambda f: (f.where or "", f.focus, f.path or ""))]
        return "\n".join(lines)


def short(term) -> str:
    if term is None:
        return ""
    if isinstance(term, URIRef):
        s = str(term)
        for prefix, ns in sorted(PREFIXES.items(), key=lambda kv: -len(kv[1])):
            if s.startswith(ns) and s[len(ns):] and "/" not in s[len(ns):] and "#" not in s[len(ns):]:
                return f"{prefix}:{s[len(ns):]}"
        return f"<{s}>"
    if isinstance(term, Literal):
        if term.datatype is not None:
            return f'"{term}"^^{short(term.datatype)}'
        return term.n3()
    return str(term)


@contextmanager
def _prepared_sparql() -> Iterator[None]:
    """Parse each SHACL-SPARQL constraint once, not once per focus node.

    pySHACL hands rdflib the constraint's text for every focus node; rdflib re-parses it each time, and parsing is
    ~90% of validation time. A prepared query (rdflib's own prepareQuery) is reusable by design, so text queries are
    translated once per validation and reused. Scoped to one validation and restored after it.
    """
    original = SPARQLProcessor.query
    cache: dict = {}

    def query(self, strOrQuery, initBindings={}, initNs=None, base=None, DEBUG=False):  # noqa: B006 - rdflib's signature
        if isinstance(strOrQuery, str):
            key = (strOrQuery, base, tuple(sorted((initNs or {}).items())))
            if key not in cache:
                cache[key] = translateQuery(parseQuery(strOrQuery), base, initNs)
            strOrQuery = cache[key]
        return original(self, strOrQuery, initBindings, initNs, base, DEBUG)

    SPARQLProcessor.query = query
    try:
        yield
    finally:
        SPARQLProcessor.query = original


def validate(data: Graph, shapes: Graph, ontology: Graph | None = None,
             subject_files: dict[URIRef, list[Path]] | None = None, checks: Path | None = None) -> ValidationResult:
    """Validate ``data`` (with the ontology's class hierarchy available) against ``shapes``, then run the
    query-based checks. SHACL-SPARQL constraints of targeted shapes run in Oxigraph (see sparqlshapes)."""
    from .sparqlshapes import split
    from gaistd_kg.store import store_from_graphs

    core, constraints = split(shapes)
    with _prepared_sparql():
        conforms, report, _ = shacl_validate(
            data,
            shacl_graph=core,
            ont_graph=ontology,
            inference="none",
            advanced=True,
            allow_warnings=True,
            abort_on_first=False,
        )
    ontology = ontology if ontology is not None else Graph()
    store = store_from_graphs({"data": data, "ontology": ontology})
    return _complete(store, constraints, bool(conforms), report, shapes, subject_files, checks)


def _complete(store, constraints, conforms: bool, report: Graph, shapes: Graph, subject_files,
              checks: Path | None) -> ValidationResult:
    """pySHACL's report plus the SHACL-SPARQL constraints and the query-based checks, run on ``store`` (data and
    ontology graphs), as findings."""
    from .checks import run_checks
    from .sparqlshapes import evaluate

    if evaluate(store, constraints, report):
        conforms = False
    findings = report_findings(report, shapes, subject_files)
    extra = run_checks(None, None, subject_files, store=store, **({"folder": checks} if checks is not None else {}))
    findings += extra
    return ValidationResult(conforms=conforms and not extra, findings=findings, report_graph=report)


def report_findings(report: Graph, shapes: Graph, subject_files=None) -> list[Finding]:
    """pySHACL's report graph → findings, each located at file:line when ``subject_files`` knows its focus."""
    findings = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        where = None
        if subject_files and isinstance(focus, URIRef) and focus in subject_files:
            hit = locate(focus, subject_files[focus], PREFIXES)
            where = f"{display(hit[0])}:{hit[1]}" if hit else display(subject_files[focus][0])
        shape = report.value(result, SH.sourceShape)
        owner = shapes.value(None, SH.property, shape) if shape is not None else None
        messages = [str(m) for m in report.objects(result, SH.resultMessage)]
        findings.append(Finding(
            severity=short(report.value(result, SH.resultSeverity)).split(":")[-1],
            focus=short(focus),
            path=short(report.value(result, SH.resultPath)) or None,
            message="; ".join(sorted(messages)) or "constraint not met",
            shape=short(owner if owner is not None and not isinstance(shape, URIRef) else shape) or None,
            component=short(report.value(result, SH.sourceConstraintComponent)) or None,
            value=short(report.value(result, SH.value)) or None,
            where=where,
        ))
    return findings


def validate_store(store, shapes: Graph, ontology: Graph, subject_files=None, checks: Path | None = None,
                   chunk: int = 5000, say=lambda _m: None, path: str | None = None,
                   workers: int = 1) -> ValidationResult:
    """:func:`validate` for data already in ``store`` (named graphs data and ontology, nothing else): the same
    findings, with pySHACL run chunk by chunk (see chunkshacl) so the data never has to fit in one rdflib graph."""
    import pyoxigraph as ox

    from .chunkshacl import validate_chunked
    from gaistd_kg.iris import GRAPH
    from .sparqlshapes import split

    core, constraints = split(shapes)
    conforms, report = validate_chunked(store, ox.NamedNode(str(GRAPH["data"])), core, ontology, size=chunk, say=say,
                                        path=path, workers=workers)
    return _complete(store, constraints, bool(conforms), report, shapes, subject_files, checks)
