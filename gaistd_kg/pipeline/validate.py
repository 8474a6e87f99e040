"""pySHACL → a small result object with a report a data contributor can act on."""

from __future__ import annotations

import re
from pathlib import Path

from pyshacl import validate as shacl_validate
from rdflib import Graph, URIRef
from rdflib.namespace import RDF, SH

from .findings import Finding, ValidationResult
from .load import display, locate
from .patches import prepared_sparql
from gaistd_kg.iris import PREFIXES, short  # noqa: F401 - short: validate.short for callers


def validate(data: Graph, shapes: Graph, ontology: Graph | None = None,
             subject_files: dict[URIRef, list[Path]] | None = None, checks: Path | None = None) -> ValidationResult:
    """Validate ``data`` (with the ontology's class hierarchy available) against ``shapes``, then run the
    query-based checks. SHACL-SPARQL constraints of targeted shapes run in Oxigraph (see sparqlshapes)."""
    from .sparqlshapes import split
    from gaistd_kg.store import store_from_graphs

    core, constraints = split(shapes)
    with prepared_sparql():
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


# pySHACL lists the shapes of an sh:node constraint in the order its shapes graph yields them, which differs between
# processes (the streaming build validates chunks in worker processes): the list is sorted so a finding does not
# depend on where it was computed.
_SHAPE_LIST = re.compile(r"every Shape in \('(.*)'\)")


def _stable(message: str) -> str:
    m = _SHAPE_LIST.search(message)
    if not m:
        return message
    return message[:m.start(1)] + "', '".join(sorted(m.group(1).split("', '"))) + message[m.end(1):]


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
        messages = [_stable(str(m)) for m in report.objects(result, SH.resultMessage)]
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
