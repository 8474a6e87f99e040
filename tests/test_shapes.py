"""The SHACL shapes, pinned by fixtures that carry their own expected report.

Each ``tests/fixtures/shapes/*.ttl`` holds some data and, in the same file, the ``sh:ValidationReport`` that data must
produce (the pattern of pySHACL's ``test/resources/dash_tests``). ``<Shape>-NNN.ttl`` is invalid data for the node
shape ``gaistdsh:<Shape>``; ``<anything>-valid-NNN.ttl`` is data on which every shape must stay quiet. Both reports, the
one pySHACL produces and the one the fixture expects, are reduced to the same normal form (focus node, path, severity,
constraint component and the node shape the constraint belongs to) and compared as graphs, by isomorphism.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import graph_diff, isomorphic, to_isomorphic
from rdflib.namespace import RDF, SH
from rdflib.term import Node

from gaistd_kg.pipeline.load import find_inputs, parse_file, parse_files
from gaistd_kg.iris import GAISTDSH, ROOT, bind_prefixes
from gaistd_kg.pipeline.findings import ValidationResult
from gaistd_kg.pipeline.validate import short, validate

FIXTURES = Path(__file__).parent / "fixtures" / "shapes"
FIXTURE_FILES = sorted(FIXTURES.glob("*.ttl"))
STATUSES = ROOT / "data" / "reference" / "statuses.ttl"
INVALID_NAME = re.compile(r"^(?P<shape>[A-Z][A-Za-z]*Shape)-(?P<n>[0-9]{3})\.ttl$")
VALID_NAME = re.compile(r"^[a-z][a-z0-9-]*-valid-[0-9]{3}\.ttl$")
TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
# Report terms that point into the data: the split stops there instead of walking into the data itself.
INTO_DATA = (SH.focusNode, SH.value)
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return parse_files(find_inputs().shapes)


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return parse_files(find_inputs().ontology)


@pytest.fixture(scope="module")
def statuses() -> Graph:
    return parse_file(STATUSES)


# ---------------------------------------------------------------------------------------------------- helpers


def split_fixture(path: Path) -> tuple[Graph, Graph, Node]:
    """(data, expected report, report node): the report is everything reachable from the one sh:ValidationReport."""
    whole = parse_file(path)
    reports = list(whole.subjects(RDF.type, SH.ValidationReport))
    assert len(reports) == 1, f"{path.name}: expected exactly one sh:ValidationReport, found {len(reports)}"
    report = bind_prefixes(Graph())
    seen: set[Node] = set()
    todo: list[Node] = [reports[0]]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for p, o in whole.predicate_objects(node):
            report.add((node, p, o))
            if isinstance(o, BNode) and p not in INTO_DATA:
                todo.append(o)
    data = bind_prefixes(Graph())
    for triple in whole:
        if triple not in report:
            data.add(triple)
    return data, report, reports[0]


def node_shape_of(shape: Node, shapes: Graph) -> Node:
    """The node shape a constraint belongs to: a property shape maps to the node shape whose sh:property it is."""
    owners = set(shapes.subjects(SH.property, shape))
    assert len(owners) <= 1, f"property shape {shape} belongs to several node shapes: {sorted(owners)}"
    if owners:
        return owners.pop()
    assert isinstance(shape, URIRef), (
        f"source shape {shape} is a blank node that no node shape lists under sh:property; name the node shape instead")
    return shape


def _copy_path(path: Node, source: Graph, into: Graph) -> None:
    """Copy a complex property path (a blank-node structure) so it survives into the normal form."""
    if isinstance(path, BNode):
        for p, o in source.predicate_objects(path):
            into.add((path, p, o))
            _copy_path(o, source, into)


def normal_form(report: Graph, report_node: Node, shapes: Graph) -> Graph:
    """The report reduced to what a fixture pins: per top-level result its focus node, path, severity, component and
    the node shape of its source shape; and whether the data conforms."""
    conforms = report.value(report_node, SH.conforms)
    assert isinstance(conforms, Literal), "the sh:ValidationReport has no sh:conforms"
    nf = bind_prefixes(Graph())
    top = BNode()
    nf.add((top, RDF.type, SH.ValidationReport))
    nf.add((top, SH.conforms, Literal(bool(conforms.toPython()))))
    for result in report.objects(report_node, SH.result):
        r = BNode()
        nf.add((top, SH.result, r))
        nf.add((r, RDF.type, SH.ValidationResult))
        for p in (SH.focusNode, SH.resultPath, SH.resultSeverity, SH.sourceConstraintComponent):
            for o in report.objects(result, p):
                nf.add((r, p, o))
                if p == SH.resultPath:
                    _copy_path(o, report, nf)
        for source in report.objects(result, SH.sourceShape):
            nf.add((r, SH.sourceShape, node_shape_of(source, shapes)))
    return nf


def _results(nf: Graph) -> list[str]:
    rows = []
    for r in nf.subjects(RDF.type, SH.ValidationResult):
        rows.append("  " + "  ".join(f"{short(p).split(':')[1]}={short(nf.value(r, p))}" for p in (
            SH.focusNode, SH.resultPath, SH.sourceConstraintComponent, SH.sourceShape, SH.resultSeverity)))
    return sorted(rows)


def explain(actual: Graph, expected: Graph, findings: str) -> str:
    _, only_actual, only_expected = graph_diff(to_isomorphic(actual), to_isomorphic(expected))
    for g in (only_actual, only_expected):
        bind_prefixes(g).bind("ex", "https://example.org/")
    return "\n".join([
        "the report differs from the expected one.",
        "expected results:", *(_results(expected) or ["  (none)"]),
        "actual results:", *(_results(actual) or ["  (none)"]),
        "only in the actual report:", only_actual.serialize(format="turtle").strip() or "  (nothing)",
        "only in the expected report:", only_expected.serialize(format="turtle").strip() or "  (nothing)",
        "what pySHACL said:", findings,
    ])


def targeted_node_shapes(shapes: Graph) -> set[Node]:
    return {s for t in TARGETS for s in shapes.subjects(t, None)}


_RUNS: dict[Path, tuple[Graph, Graph, Node, ValidationResult]] = {}


def run_fixture(path: Path, shapes: Graph, ontology: Graph, statuses: Graph) -> tuple[Graph, Graph, Node,
                                                                                        ValidationResult]:
    """A fixture split (data, expected report, report node) and pySHACL's result on its data (with the statuses), once
    per fixture and session: the report test and the coverage test both read it (one parse, so a blank node the
    expected report names is the one the data holds)."""
    if path not in _RUNS:
        data, report, report_node = split_fixture(path)
        _RUNS[path] = (data, report, report_node, validate(data + statuses, shapes, ontology))
    return _RUNS[path]


# A constraint parameter and the component pySHACL names in a result of it.
COMPONENTS = {SH[p]: SH[f"{p[0].upper()}{p[1:]}ConstraintComponent"] for p in (
    "class", "datatype", "nodeKind", "minCount", "maxCount", "minExclusive", "minInclusive", "maxExclusive",
    "maxInclusive", "minLength", "maxLength", "pattern", "languageIn", "uniqueLang", "equals", "disjoint", "lessThan",
    "lessThanOrEquals", "not", "and", "or", "xone", "node", "qualifiedMinCount", "qualifiedMaxCount", "closed",
    "hasValue", "in")}
COMPONENTS[SH.sparql] = SH.SPARQLConstraintComponent


@dataclass(frozen=True)
class Constraint:
    """One constraint of a targeted node shape: on the node itself (path None) or in one of its property shapes.
    ``parameter`` tells apart constraints with the same component on the same path: the SPARQL constraint's node,
    or the shape a node-level sh:node names."""
    node_shape: URIRef
    owner: Node                # the node shape, or the property shape holding the constraint
    path: Node | None
    component: URIRef
    parameter: Node | None = None
    message: str = ""          # how the parameter reads in a list: the SPARQL constraint's message, the shape's name

    def __str__(self) -> str:
        what = f"{short(self.node_shape)} {short(self.path) if self.path is not None else '(node)'} " \
               f"{short(self.component)}"
        return what + (f" [{self.message}]" if self.message else "")


def shape_constraints(shapes: Graph) -> list[Constraint]:
    """Every constraint that can put a result in a report: each constraint parameter of every targeted node shape
    and of its property shapes (parameters nested in sh:or, sh:node or a qualified value shape belong to the
    constraint that holds them)."""
    out = []
    for node_shape in sorted(targeted_node_shapes(shapes)):
        assert isinstance(node_shape, URIRef)
        owners: list[tuple[Node, Node | None]] = [(node_shape, None)]
        owners += [(ps, shapes.value(ps, SH.path)) for ps in shapes.objects(node_shape, SH.property)]
        for owner, path in owners:
            for parameter, component in COMPONENTS.items():
                for value in shapes.objects(owner, parameter):
                    if parameter == SH.sparql:
                        out.append(Constraint(node_shape, owner, path, component, value,
                                              str(shapes.value(value, SH.message) or "")[:70]))
                    elif parameter == SH.node and path is None:
                        out.append(Constraint(node_shape, owner, path, component, value, short(value)))
                    else:
                        out.append(Constraint(node_shape, owner, path, component))
    return out


def _details(report: Graph, result: Node) -> set[Node]:
    """The source shapes of the results nested under ``result`` (sh:detail), at any depth."""
    found, todo = set(), list(report.objects(result, SH.detail))
    while todo:
        detail = todo.pop()
        found.update(report.objects(detail, SH.sourceShape))
        todo.extend(report.objects(detail, SH.detail))
    return found


def produced_by(constraint: Constraint, report: Graph, shapes: Graph) -> list[Node]:
    """The focus nodes of the top-level results of ``report`` that ``constraint`` produced."""
    top = report.value(None, RDF.type, SH.ValidationReport, any=False)
    foci = []
    for result in report.objects(top, SH.result):
        if (report.value(result, SH.sourceShape), report.value(result, SH.sourceConstraintComponent)) != (
                constraint.owner, constraint.component):
            continue
        if constraint.component == SH.SPARQLConstraintComponent:
            if report.value(result, SH.sourceConstraint) != constraint.parameter:
                continue
        elif constraint.parameter is not None:  # a node-level sh:node: the nested results come from the shape it names
            named = constraint.parameter
            if not {named, *shapes.objects(named, SH.property)} & _details(report, result):
                continue
        foci.append(report.value(result, SH.focusNode))
    return foci


def expected_node_shapes(path: Path) -> set[Node]:
    _, report, _ = split_fixture(path)
    return set(report.objects(None, SH.sourceShape))


# ---------------------------------------------------------------------------------------------------- tests


def test_fixtures_exist():
    """The suite has invalid fixtures and valid fixtures, so it can fail both ways."""
    names = [p.name for p in FIXTURE_FILES]
    assert any(INVALID_NAME.match(n) for n in names), "no invalid-data fixture found"
    assert any(VALID_NAME.match(n) for n in names), "no valid-data fixture found"


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[p.name for p in FIXTURE_FILES])
def test_shapes_report_what_the_fixture_expects(path: Path, shapes: Graph, ontology: Graph, statuses: Graph):
    """Validating a fixture's data (with the closed list of statuses, against every shape in shapes/, with the
    ontology's class hierarchy) yields exactly the results the fixture's own sh:ValidationReport lists: an invalid
    fixture <Shape>-NNN.ttl names results of gaistdsh:<Shape>, a valid fixture *-valid-NNN.ttl expects none."""
    invalid, valid = INVALID_NAME.match(path.name), VALID_NAME.match(path.name)
    assert invalid or valid, f"{path.name}: name it <NodeShape>-NNN.ttl or <what>-valid-NNN.ttl"
    data, report, report_node, result = run_fixture(path, shapes, ontology, statuses)
    expected = normal_form(report, report_node, shapes)
    expected_results = list(expected.subjects(RDF.type, SH.ValidationResult))
    conforms = next(expected.objects(None, SH.conforms)).toPython()
    if valid:
        assert conforms is True and not expected_results, f"{path.name}: a valid fixture expects sh:conforms true, no results"
    else:
        assert conforms is False and expected_results, f"{path.name}: an invalid fixture expects sh:conforms false and results"
        assert GAISTDSH[invalid["shape"]] in set(expected.objects(None, SH.sourceShape)), (
            f"{path.name}: the expected report lists no result of gaistdsh:{invalid['shape']}")
    assert len(data) > 0, f"{path.name}: no data besides the expected report"

    assert result.report_graph is not None
    actual_node = result.report_graph.value(None, RDF.type, SH.ValidationReport, any=False)
    actual = normal_form(result.report_graph, actual_node, shapes)
    assert isomorphic(actual, expected), f"{path.name}: " + explain(actual, expected, result.text())


def test_every_targeted_node_shape_has_an_invalid_fixture(shapes: Graph):
    """Every node shape with a target (sh:targetClass, sh:targetSubjectsOf, …) has at least one invalid-data fixture
    <Shape>-NNN.ttl whose expected report holds a result of that shape: a new shape without a fixture fails here."""
    missing = []
    for shape in sorted(targeted_node_shapes(shapes)):
        assert isinstance(shape, URIRef) and shape in GAISTDSH, f"targeted shape {shape} is not a gaistdsh: IRI"
        name = str(shape)[len(str(GAISTDSH)):]
        files = [p for p in FIXTURE_FILES if (m := INVALID_NAME.match(p.name)) and m["shape"] == name]
        if not any(shape in expected_node_shapes(p) for p in files):
            missing.append(f"gaistdsh:{name} (add tests/fixtures/shapes/{name}-001.ttl)")
    assert not missing, "targeted node shapes without an invalid fixture: " + ", ".join(missing)


def test_fixture_names_name_existing_node_shapes(shapes: Graph):
    """An invalid fixture's name starts with the name of a node shape of shapes/, so a renamed shape cannot leave
    fixtures testing nothing."""
    node_shapes = set(shapes.subjects(RDF.type, SH.NodeShape))
    stray = [p.name for p in FIXTURE_FILES
             if (m := INVALID_NAME.match(p.name)) and GAISTDSH[m["shape"]] not in node_shapes]
    assert not stray, f"fixtures named after no node shape in shapes/: {stray}"


def test_every_shape_message_is_plain_english(shapes: Graph):
    """Every sh:message is a non-empty English sentence for the person editing a data file: a plain or @en literal,
    no Chinese characters, ending with a full stop, and any {?var} it quotes is a variable its SPARQL query selects."""
    problems = []
    messages = list(shapes.subject_objects(SH.message))
    assert messages, "no sh:message in shapes/"
    for subject, message in messages:
        text = str(message).strip()
        where = f"{short(subject)}: {text!r}"
        if not isinstance(message, Literal) or message.language not in (None, "en") or (
                message.datatype is not None and message.datatype != URIRef("http://www.w3.org/2001/XMLSchema#string")):
            problems.append(f"{where} is not a plain or @en literal")
        if len(re.findall(r"[A-Za-z]{2,}", text)) < 3:
            problems.append(f"{where} is empty or too short to say what is wrong")
        if CJK.search(text):
            problems.append(f"{where} is not in English")
        if not text.endswith("."):
            problems.append(f"{where} does not end with a full stop")
        select = shapes.value(subject, SH.select)
        for var in re.findall(r"\{[?$](\w+)\}", text):
            if select is None or not re.search(r"SELECT\b[^{]*[?$]" + var + r"\b", str(select)):
                problems.append(f"{where} quotes {{?{var}}}, which its query does not select")
    assert not problems, "\n".join(problems)


def test_split_keeps_data_the_report_points_at(tmp_path: Path):
    """The fixture split takes the report and its results, not the data its focus nodes point at."""
    path = tmp_path / "Probe-001.ttl"
    path.write_text("""
        @prefix ex: <https://example.org/> .
        @prefix sh: <http://www.w3.org/ns/shacl#> .
        _:d ex:p ex:o .
        ex:s ex:q _:d .
        [] a sh:ValidationReport ; sh:conforms false ;
           sh:result [ a sh:ValidationResult ; sh:focusNode _:d ; sh:value ex:s ] .
    """, encoding="utf-8")
    data, report, _ = split_fixture(path)
    assert len(data) == 2 and len(report) == 6


def test_every_shape_constraint_has_a_fixture_expecting_its_violation(shapes: Graph, ontology: Graph, statuses: Graph):
    """Every constraint of every targeted node shape (each parameter of the node shape and of each of its property
    shapes: sh:minCount, sh:class, each SPARQL constraint …) is violated in some invalid fixture whose expected report
    lists that result (same focus node, path, component and node shape): a new constraint without a fixture fails
    here, naming it."""
    constraints = shape_constraints(shapes)
    assert len(constraints) > 100, f"only {len(constraints)} constraints read from shapes/"
    uncovered = set(constraints)
    for path in FIXTURE_FILES:
        if not INVALID_NAME.match(path.name) or not uncovered:
            continue
        data, report, report_node, result = run_fixture(path, shapes, ontology, statuses)
        expected = normal_form(report, report_node, shapes)
        pinned = {(expected.value(r, SH.focusNode), expected.value(r, SH.resultPath),
                   expected.value(r, SH.sourceConstraintComponent), expected.value(r, SH.sourceShape))
                  for r in expected.subjects(RDF.type, SH.ValidationResult)}
        actual = result.report_graph
        assert actual is not None
        for constraint in list(uncovered):
            if any((focus, constraint.path, constraint.component, constraint.node_shape) in pinned
                   for focus in produced_by(constraint, actual, shapes)):
                uncovered.discard(constraint)
    missing = sorted(str(c) for c in uncovered)
    assert not missing, (f"{len(missing)} of {len(constraints)} shape constraints have no invalid fixture in "
                         "tests/fixtures/shapes/ expecting their violation:\n  " + "\n  ".join(missing))
