"""SHACL-SPARQL constraints (sh:sparql with sh:select) evaluated in Oxigraph, once per constraint.

pySHACL runs a SPARQL constraint once per focus node through rdflib's engine: fine for a few hundred documents,
minutes at a hundred times that. For a node shape with ``sh:targetClass``, the same results come from one query in
which ``$this`` is bound by the target pattern instead of pre-bound: ``$this`` and ``?this`` are one variable in
SPARQL, so adding ``?this a/rdfs:subClassOf* <TargetClass> .`` at the head of the WHERE group binds it before every
FILTER, BIND and NOT EXISTS of that group, exactly as pre-binding would. Constraints this cannot express (no target
class, no WHERE group, a shape reached only through sh:node) stay with pySHACL.

The results go into pySHACL's report graph as ordinary sh:ValidationResult nodes (focus node, value, path,
severity, sh:SPARQLConstraintComponent, source shape, message with ``{?var}`` filled in), so a report reads the same
whichever engine produced a result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, SH, XSD
from rdflib.term import Node

SUBCLASS = "<http://www.w3.org/2000/01/rdf-schema#subClassOf>"
_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{[?$]([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Constraint:
    shape: Node
    node: Node                    # the sh:sparql node
    targets: tuple[URIRef, ...]
    select: str
    messages: tuple[Node, ...]
    severity: Node
    prefixes: dict[str, str]


def _prefixes(shapes: Graph, constraint) -> dict[str, str]:
    out: dict[str, str] = {}
    for holder in shapes.objects(constraint, SH.prefixes):
        for decl in shapes.objects(holder, SH.declare):
            prefix, ns = shapes.value(decl, SH.prefix), shapes.value(decl, SH.namespace)
            if prefix is not None and ns is not None:
                out[str(prefix)] = str(ns)
    return out


def split(shapes: Graph) -> tuple[Graph, list[Constraint]]:
    """The shapes without the constraints this module evaluates, and those constraints."""
    taken: list[Constraint] = []
    for shape, node in shapes.subject_objects(SH.sparql):
        targets = tuple(t for t in shapes.objects(shape, SH.targetClass) if isinstance(t, URIRef))
        select = shapes.value(node, SH.select)
        if (not targets or select is None or not _WHERE.search(str(select))
                or (None, SH.node, shape) in shapes or shapes.value(node, SH.deactivated) == Literal(True)):
            continue
        taken.append(Constraint(
            shape=shape, node=node, targets=targets, select=str(select),
            messages=tuple(shapes.objects(node, SH.message)),
            severity=shapes.value(node, SH.severity) or shapes.value(shape, SH.severity) or SH.Violation,
            prefixes=_prefixes(shapes, node),
        ))
    rest = Graph()
    dropped = {(c.shape, c.node) for c in taken}
    for s, p, o in shapes:
        if p == SH.sparql and (s, o) in dropped:
            continue
        rest.add((s, p, o))
    return rest, taken


def _targeted(select: str, target: URIRef) -> str:
    m = _WHERE.search(select)
    assert m is not None  # ``split`` took only selects with a WHERE group
    return f"{select[:m.end()]} ?this a/{SUBCLASS}* <{target}> . {select[m.end():]}"


def to_rdflib(term):
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    dt = term.datatype.value
    return Literal(term.value, datatype=None if dt == str(XSD.string) else URIRef(dt))


def to_oxigraph(term):
    """rdflib → pyoxigraph (the inverse of ``to_rdflib``), for a pattern position: None stays a wildcard; False means
    "matches nothing"."""
    if term is None:
        return None
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype))) if term.datatype else ox.Literal(str(term))
    return False


def _fill(message: Node, row: dict) -> Literal:
    def value(m):
        term = row.get(m.group(1))
        return "" if term is None else str(term)
    return Literal(_PLACEHOLDER.sub(value, str(message)), lang=message.language if isinstance(message, Literal) else None)


def evaluate(store: ox.Store, constraints: list[Constraint], report: Graph) -> int:
    """Run each constraint once over the store (default graph = union) and add its results to ``report``."""
    head = report.value(None, RDF.type, SH.ValidationReport)
    assert head is not None, "pySHACL's report has its sh:ValidationReport node"
    added = 0
    for c in constraints:
        seen = set()
        for target in c.targets:
            answer = store.query(_targeted(c.select, target), prefixes=c.prefixes, use_default_graph_as_union=True)
            assert isinstance(answer, ox.QuerySolutions)  # a SELECT
            names = [v.value for v in answer.variables]
            for solution in answer:
                row = {n: to_rdflib(solution[n]) for n in names}
                focus = row.get("this")
                key = (focus, row.get("value"), row.get("path"))
                if focus is None or key in seen:
                    continue
                seen.add(key)
                result = BNode()
                report.add((head, SH.result, result))
                report.add((result, RDF.type, SH.ValidationResult))
                report.add((result, SH.focusNode, focus))
                value = row.get("value")
                report.add((result, SH.value, value if value is not None else focus))
                if row.get("path") is not None:
                    report.add((result, SH.resultPath, row["path"]))
                report.add((result, SH.resultSeverity, c.severity))
                report.add((result, SH.sourceConstraintComponent, SH.SPARQLConstraintComponent))
                report.add((result, SH.sourceShape, c.shape))
                report.add((result, SH.sourceConstraint, c.node))
                for m in c.messages:
                    report.add((result, SH.resultMessage, _fill(m, row)))
                added += 1
    if added:
        report.set((head, SH.conforms, Literal(False)))
    return added
