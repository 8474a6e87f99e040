"""The third-party patches (gaistd_kg/pipeline/patches.py) are scoped and re-entrant: overlapping validations leave
rdflib's SPARQLProcessor.query and pySHACL's Shape.focus_nodes as they found them, whatever the order of exit."""

from __future__ import annotations

import threading

from pyshacl.shape import Shape
from rdflib import Graph
from rdflib.plugins.sparql.processor import SPARQLProcessor

from gaistd_kg.pipeline import patches
from gaistd_kg.pipeline.validate import validate

ORIGINAL_QUERY = SPARQLProcessor.query
ORIGINAL_FOCUS = Shape.focus_nodes

SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <http://example.org/> .
ex:ThingShape a sh:NodeShape ; sh:targetClass ex:Thing ;
  sh:property [ sh:path ex:name ; sh:minCount 1 ;
                # on a property shape, so pySHACL runs it through rdflib (the patched SPARQLProcessor.query)
                sh:sparql [ sh:message "a thing named twice" ;
                            sh:select "SELECT $this WHERE { $this $PATH ?a, ?b FILTER (STR(?a) < STR(?b)) }" ] ] .
"""
DATA = """
@prefix ex: <http://example.org/> .
ex:a a ex:Thing ; ex:name "a" .
ex:b a ex:Thing .
ex:c a ex:Thing ; ex:name "c1", "c2" .
"""


def test_nested_scopes_left_in_any_order_restore_the_originals():
    """Two scopes entered A, B and left A, B (not B, A): the classes are restored only when the last one leaves."""
    for make in (patches.prepared_sparql, patches.narrowed):
        a, b = make(), make()
        a.__enter__()
        b.__enter__()
        a.__exit__(None, None, None)
        assert SPARQLProcessor.query is not ORIGINAL_QUERY or Shape.focus_nodes is not ORIGINAL_FOCUS
        b.__exit__(None, None, None)
        assert SPARQLProcessor.query is ORIGINAL_QUERY
        assert Shape.focus_nodes is ORIGINAL_FOCUS
    assert patches.installed() == {"query": False, "focus_nodes": False}


def test_two_overlapping_validations_leave_rdflib_unpatched_and_agree():
    """Two validations on two threads, overlapping in time, each give the report one validation alone gives; after
    both, rdflib and pySHACL are unpatched."""
    data, shapes = Graph().parse(data=DATA, format="turtle"), Graph().parse(data=SHAPES, format="turtle")
    alone = validate(data, shapes).text()
    assert "a thing named twice" in alone and "ex:b" in alone.replace("<http://example.org/b>", "ex:b")
    start = threading.Barrier(2)
    results: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait(timeout=30)
            for _ in range(3):
                results.append(validate(data, shapes).text())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert results == [alone] * 6
    assert SPARQLProcessor.query is ORIGINAL_QUERY
    assert Shape.focus_nodes is ORIGINAL_FOCUS


def test_narrowing_is_per_thread():
    """A narrowed selection on one thread does not hide focus nodes from a validation on another thread."""
    data, shapes = Graph().parse(data=DATA, format="turtle"), Graph().parse(data=SHAPES, format="turtle")
    alone = validate(data, shapes).text()
    with patches.narrowed() as allowed:
        allowed.add("nothing")
        seen: list[str] = []
        t = threading.Thread(target=lambda: seen.append(validate(data, shapes).text()))
        t.start()
        t.join(timeout=60)
    assert seen == [alone]
