"""SHACL-SPARQL constraints evaluated once per constraint in Oxigraph give exactly pySHACL's per-focus-node results.

Every shape fixture (invalid and valid) is validated twice: by pySHACL alone with every constraint, and by
gaistd_kg.pipeline.validate (SPARQL constraints of targeted shapes in Oxigraph, the rest in pySHACL). The reduced reports
(focus node, path, value, severity, component, source shape) must be equal.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyshacl import validate as shacl_validate
from rdflib import Graph
from rdflib.namespace import RDF, SH

from gaistd_kg.pipeline.load import find_inputs, parse_file, parse_files
from gaistd_kg.iris import ONTOLOGY_FILE, ROOT
from gaistd_kg.pipeline.sparqlshapes import split
from gaistd_kg.pipeline.validate import validate
from test_shapes import split_fixture

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "shapes").glob("*.ttl"))


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return parse_files(find_inputs(ROOT).shapes)


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return parse_file(ONTOLOGY_FILE)


def reduced(report: Graph) -> set[tuple]:
    rows = set()
    for r in report.subjects(RDF.type, SH.ValidationResult):
        if report.value(r, SH.sourceConstraintComponent) != SH.SPARQLConstraintComponent:
            continue
        rows.add(tuple(report.value(r, p) for p in (SH.focusNode, SH.resultPath, SH.value, SH.resultSeverity,
                                                   SH.sourceShape)))
    return rows


def test_the_shapes_sparql_constraints_are_all_taken_by_oxigraph(shapes):
    """Every sh:sparql constraint of the shipped shapes is evaluated in Oxigraph (none left for per-node runs)."""
    rest, taken = split(shapes)
    assert len(taken) == len(list(shapes.objects(None, SH.sparql))) >= 10
    assert not list(rest.objects(None, SH.sparql))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_oxigraph_results_equal_pyshacl_per_focus_results(path, shapes, ontology):
    """Same SPARQL-constraint results from one Oxigraph query per constraint as from pySHACL's per-node runs."""
    data, _expected, _report = split_fixture(path)
    data += parse_file(ROOT / "data" / "reference" / "statuses.ttl")
    _c, reference, _t = shacl_validate(data, shacl_graph=shapes, ont_graph=ontology, inference="none",
                                        advanced=True, allow_warnings=True)
    ours = validate(data, shapes, ontology, checks=Path(__file__).parent / "fixtures" / "no-checks").report_graph
    assert reduced(ours) == reduced(reference)
