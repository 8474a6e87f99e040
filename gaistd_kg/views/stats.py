"""Counts: triples per named graph, instances per class, documents per jurisdiction, scope category, body and kind,
and evidence pages per class."""

from __future__ import annotations

import pyoxigraph as ox

from gaistd_kg.iris import GRAPH, PREFIXES
from gaistd_kg.store import count_quads

QUERIES = {
    "Instances per class (asserted and inferred)": """
        SELECT ?label (COUNT(DISTINCT ?x) AS ?n) WHERE {
          GRAPH ?g { ?x a ?c } FILTER (?g != <%s>)
          FILTER (STRSTARTS(STR(?c), STR(gaistd:)))
          BIND (REPLACE(STR(?c), "^.*#", "gaistd:") AS ?label)
        } GROUP BY ?label ORDER BY DESC(?n) ?label""" % GRAPH["ontology"],
    "Documents per jurisdiction": """
        SELECT ?label (COUNT(DISTINCT ?d) AS ?n) WHERE {
          ?d a gaistd:NormativeDocument ; gaistd:jurisdiction ?j .
          ?j skos:prefLabel ?label FILTER (LANG(?label) = "en")
        } GROUP BY ?label ORDER BY DESC(?n) ?label""",
    "Documents per scope category (docs/scope.md)": """
        SELECT ?label (COUNT(DISTINCT ?d) AS ?n) WHERE {
          ?d a gaistd:NormativeDocument ; gaistd:scopeCategory ?s .
          ?s skos:prefLabel ?label FILTER (LANG(?label) = "en")
        } GROUP BY ?label ORDER BY DESC(?n) ?label""",
    "Documents per jurisdiction and scope category": """
        SELECT ?label (COUNT(DISTINCT ?d) AS ?n) WHERE {
          ?d a gaistd:NormativeDocument ; gaistd:jurisdiction ?j ; gaistd:scopeCategory ?s .
          ?j skos:prefLabel ?jl FILTER (LANG(?jl) = "en")
          ?s skos:prefLabel ?sl FILTER (LANG(?sl) = "en")
          BIND (CONCAT(?jl, " / ", ?sl) AS ?label)
        } GROUP BY ?label ORDER BY ?label""",
    "Evidence pages per class": """
        SELECT ?label (COUNT(DISTINCT ?p) AS ?n) WHERE {
          ?p a gaistd:EvidencePage ; gaistd:evidenceClass ?c .
          ?c skos:prefLabel ?label FILTER (LANG(?label) = "en")
        } GROUP BY ?label ORDER BY DESC(?n) ?label""",
    "Documents per developing body (directly)": """
        SELECT ?label (COUNT(DISTINCT ?d) AS ?n) WHERE {
          ?d a gaistd:NormativeDocument ; gaistd:developedBy|dcterms:publisher ?o .
          ?o skos:prefLabel ?label FILTER (LANG(?label) = "en")
        } GROUP BY ?label ORDER BY DESC(?n) ?label""",
    "Documents per kind": """
        SELECT ?label (COUNT(DISTINCT ?d) AS ?n) WHERE {
          VALUES ?c { gaistd:InternationalStandard gaistd:RegionalStandard gaistd:NationalStandard
                      gaistd:GroupStandard gaistd:TechnicalSpecification gaistd:TechnicalReport
                      gaistd:Recommendation gaistd:TechnicalDocument gaistd:Law gaistd:Regulation
                      gaistd:AdministrativeMeasure gaistd:ExecutiveOrder gaistd:Guideline
                      gaistd:CodeOfPractice gaistd:PolicyDocument }
          GRAPH <%s> { ?d a ?c }
          BIND (REPLACE(STR(?c), "^.*#", "gaistd:") AS ?label)
        } GROUP BY ?label ORDER BY DESC(?n) ?label""" % GRAPH["data"],
}


def stats(store: ox.Store) -> list[tuple[str, list[tuple[str, int]]]]:
    out = [("Triples per named graph", [(f"<{iri}>", count_quads(store, name)) for name, iri in GRAPH.items()])]
    for title, q in QUERIES.items():
        solutions = store.query(q, use_default_graph_as_union=True, prefixes=PREFIXES)
        assert isinstance(solutions, ox.QuerySolutions)  # a SELECT query: solutions
        rows = [(str(s["label"].value), int(s["n"].value)) for s in solutions]
        out.append((title, rows))
    return out
