"""The fast reasoner (rule queries in Oxigraph) computes owlrl's inferred graph triple for triple.

owlrl stays the reference; this test is what allows builds to use the fast engine. It runs on the shipped data and on
a 2x graph shaped like it (documents, organisations and their links replicated; the shared vocabularies of risks,
framework, statuses and jurisdictions kept), and on the small reasoning fixture. The same comparison on a 10x graph
(owlrl alone takes minutes there) is ``python bench/equivalence.py`` (bench/README.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import OWL
from rdflib.compare import graph_diff, isomorphic

from gaistd_kg.pipeline.fastreason import reason_fast, supported
from gaistd_kg.pipeline.load import find_inputs, load, parse_file
from gaistd_kg.iris import ID, ONTOLOGY_FILE
from gaistd_kg.pipeline.reason import InconsistencyError, reason

FIXTURES = Path(__file__).parent / "fixtures"
REPLICATED = tuple(str(ID[k]) for k in ("document", "org", "statistic", "person", "project", "source"))


def replicate(data: Graph, times: int) -> Graph:
    """``times`` copies of the catalogue, each with its own document, organisation and source IRIs, and its own
    evidence pages (a page described once would be one triple set shared by every copy)."""
    out = Graph()
    for t in data:
        out.add(t)
    pages = set(data.subjects(URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                              URIRef("https://w3id.org/gaistd/ontology#EvidencePage")))
    for n in range(1, times):
        def rename(term, n=n):
            if isinstance(term, URIRef) and (str(term).startswith(REPLICATED) or term in pages):
                return URIRef(f"{term}-copy{n}")
            return term
        for s, p, o in data:
            if p == OWL.sameAs:
                continue  # a copy is another entity: it does not share its original's Wikidata identity
            out.add((rename(s), p, rename(o)))
    return out


def assert_same(expected: Graph, got: Graph) -> None:
    if not isomorphic(expected, got):
        _both, only_owlrl, only_fast = graph_diff(expected, got)
        lines = [f"- {t}" for t in list(only_owlrl)[:20]] + [f"+ {t}" for t in list(only_fast)[:20]]
        pytest.fail(f"{len(only_owlrl)} triples only from owlrl, {len(only_fast)} only from the fast engine:\n"
                    + "\n".join(lines))


@pytest.fixture(scope="module")
def shipped():
    return load(find_inputs())


def test_fast_equals_owlrl_on_the_fixture_world():
    """On the reasoning fixture, both engines infer exactly the same triples."""
    ontology = parse_file(ONTOLOGY_FILE)
    data = parse_file(FIXTURES / "reasoning.ttl")
    assert_same(reason(ontology, data).inferred, reason_fast(ontology, data).inferred)


@pytest.mark.slow
def test_fast_equals_owlrl_on_the_shipped_data(shipped):
    """On the shipped graph, both engines infer exactly the same triples."""
    expected = reason(shipped.ontology, shipped.data).inferred
    assert len(expected) > 1000
    assert_same(expected, reason_fast(shipped.ontology, shipped.data).inferred)


def fast_equals_owlrl_on_a_replicated_graph(ontology: Graph, data: Graph, times: int) -> None:
    """On ``times`` copies of the catalogue, both engines infer exactly the same triples (here at 2x, and at 10x in
    bench/equivalence.py)."""
    big = replicate(data, times)
    assert len(big) > 0.8 * times * len(data)
    expected = reason(ontology, big).inferred
    assert_same(expected, reason_fast(ontology, big).inferred)


@pytest.mark.slow
def test_fast_equals_owlrl_on_a_replicated_graph(shipped):
    """On a graph twice the shipped catalogue, both engines infer exactly the same triples (10x: bench/equivalence.py)."""
    fast_equals_owlrl_on_a_replicated_graph(shipped.ontology, shipped.data, 2)


def test_fast_engine_reports_inconsistency_like_owlrl():
    """Disjoint classes on one resource raise InconsistencyError naming the resource, as with owlrl."""
    ontology = parse_file(ONTOLOGY_FILE)
    data = parse_file(FIXTURES / "reasoning.ttl")
    data.add((ID["document"]["gb-45438-2025"], URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
              URIRef("https://w3id.org/gaistd/ontology#Regulation")))
    with pytest.raises(InconsistencyError) as info:
        reason_fast(ontology, data)
    assert "gdoc:gb-45438-2025" in str(info.value)


def test_fast_engine_declines_when_sameas_merges_our_resources(shipped):
    """Two of our resources owl:sameAs one Wikidata IRI are one resource for owlrl (eq-trans): the fast engine, which
    does not smush, declines instead of giving a different answer."""
    data = shipped.data + Graph()
    wd = URIRef("http://www.wikidata.org/entity/Q15028")
    data.add((ID["org"]["iec"], OWL.sameAs, wd))
    data.add((ID["org"]["iso"], OWL.sameAs, wd))
    assert "one" in (supported(shipped.ontology, data) or "")


def test_fast_engine_declines_what_it_does_not_implement():
    """A construct outside the rules it runs (here a transitive property) makes it decline, so builds use owlrl."""
    ontology = parse_file(ONTOLOGY_FILE)
    extra = Graph()
    extra.parse(data="""
        @prefix owl: <http://www.w3.org/2002/07/owl#> .
        <https://example.org/p> a owl:TransitiveProperty .""", format="turtle")
    assert supported(ontology + extra, Graph()) is not None
    with pytest.raises(NotImplementedError):
        reason_fast(ontology, extra)
