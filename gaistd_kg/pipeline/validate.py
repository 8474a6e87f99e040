"""pySHACL → a small result object with a report a data contributor can act on."""

from __future__ import annotations

import re
from pathlib import Path

from pyshacl import validate as shacl_validate
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SH

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


# --- what reasoning makes: the shapes see inferred types --------------------------------------------------------------

CLOSURE_GRAPH = "urn:gaistd:closure"  # scratch graph: data ∪ inferred, while the closure is validated


def newly_targeted(store, shapes: Graph) -> list:
    """The resources a shape targets only once the inferred graph is added (pyoxigraph terms, sorted): typed with a
    shape's target class by inference (a property's domain or range, a defined class) and by no asserted type of that
    class or a subclass; or subject (object) of a target property only by inference. ``store`` holds the named graphs
    data, inferred and ontology. Validation of the asserted data never sees these; :func:`validate_closure` does."""
    import pyoxigraph as ox

    from gaistd_kg.iris import GRAPH

    data, inferred, ontology = (f"<{GRAPH[n]}>" for n in ("data", "inferred", "ontology"))
    by_class = f"""SELECT DISTINCT ?x ?t WHERE {{
        GRAPH {inferred} {{ ?x a ?t }}
        FILTER NOT EXISTS {{ GRAPH {data} {{ ?x a ?c }}
                             FILTER (?c = ?t || EXISTS {{ GRAPH {ontology} {{ ?c <{RDFS.subClassOf}>+ ?t }} }}) }}
    }}"""
    by_subject = f"""SELECT DISTINCT ?x ?p WHERE {{
        GRAPH {inferred} {{ ?x ?p ?y }} FILTER NOT EXISTS {{ GRAPH {data} {{ ?x ?p ?z }} }} }}"""
    by_object = f"""SELECT DISTINCT ?x ?p WHERE {{
        GRAPH {inferred} {{ ?y ?p ?x }} FILTER NOT EXISTS {{ GRAPH {data} {{ ?z ?p ?x }} }} }}"""
    classes = set(shapes.objects(None, SH.targetClass))
    classes |= {s for s in shapes.subjects(RDF.type, SH.NodeShape) if (s, RDF.type, RDFS.Class) in shapes
                or (s, RDF.type, OWL.Class) in shapes}
    asks = [(by_class, "t", c) for c in classes]
    asks += [(by_subject, "p", p) for p in set(shapes.objects(None, SH.targetSubjectsOf))]
    asks += [(by_object, "p", p) for p in set(shapes.objects(None, SH.targetObjectsOf))]
    found: dict[str, object] = {}
    for text, var, term in asks:
        if not isinstance(term, URIRef):
            continue
        for row in store.query(text, substitutions={ox.Variable(var): ox.NamedNode(str(term))}):
            if isinstance(row["x"], ox.NamedNode):
                found.setdefault(row["x"].value, row["x"])
    return [found[k] for k in sorted(found)]


def validate_closure(store, shapes: Graph, ontology: Graph, subject_files=None) -> ValidationResult:
    """The shapes' core constraints on data ∪ inferred, for the resources :func:`newly_targeted` finds (none in a
    graph where every resource states its class: then this costs two or three queries). A ghost such as
    ``gdoc:x gaistd:developedBy gorg:cen``, a document only through the property's domain, fails here with what a
    document record lacks. ``store`` holds the named graphs data, inferred and ontology (a staging store, or one
    made for the purpose); a scratch graph is added and removed."""
    import pyoxigraph as ox

    from gaistd_kg.iris import GRAPH

    from .chunkshacl import validate_chunked
    from .sparqlshapes import split

    new = newly_targeted(store, shapes)
    if not new:
        return ValidationResult(conforms=True)
    core, _ = split(shapes)
    closure = ox.NamedNode(CLOSURE_GRAPH)
    store.update(f"""INSERT {{ GRAPH <{CLOSURE_GRAPH}> {{ ?s ?p ?o }} }} WHERE {{
        {{ GRAPH <{GRAPH['data']}> {{ ?s ?p ?o }} }} UNION {{ GRAPH <{GRAPH['inferred']}> {{ ?s ?p ?o }} }} }}""")
    try:
        conforms, report = validate_chunked(store, closure, core, ontology, subjects=new)
    finally:
        store.remove_graph(closure)
    return ValidationResult(conforms=bool(conforms), findings=report_findings(report, shapes, subject_files),
                            report_graph=report)


def merged(first: ValidationResult, then: ValidationResult) -> ValidationResult:
    """Both results as one: the findings of ``then`` that ``first`` does not already have are added."""
    seen = set(first.findings)
    return ValidationResult(conforms=first.conforms and then.conforms,
                            findings=[*first.findings, *(f for f in then.findings if f not in seen)],
                            report_graph=first.report_graph)
