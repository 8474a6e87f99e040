"""Links into other datasets: how many external identifier links go from our documents, organisations and
jurisdictions to each outside dataset (Wikidata, ROR, ELI, CELEX, ISO URN, DOI, ITU-T, DPV and the national legislation
identifiers of legislation.gov.uk, the Federal Register, e-Gov, URN:NIR, Australia's Federal Register of Legislation,
Canada's Justice Laws, Singapore Statutes Online, law.go.kr and LexML), and what share of each kind of entity has one.

The counts are the answer of ``queries/external-links.rq`` (the same text anyone can send to ``/sparql``); the VoID
description publishes them as one ``void:Linkset`` per target dataset (:func:`add_linksets`), so the two cannot
disagree.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, VOID, XSD

from gaistd_kg.iris import ROOT

QUERY = ROOT / "queries" / "external-links.rq"


@dataclass(frozen=True)
class Target:
    title: str
    homepage: str
    uri_space: str | None   # the IRIs of the target's resources begin with this (None: the links are literals)


# The datasets ``queries/external-links.rq`` names in ?target, in that query's spelling.
TARGETS = {
    "wikidata": Target("Wikidata", "https://www.wikidata.org/", "http://www.wikidata.org/entity/"),
    "ror": Target("Research Organization Registry (ROR)", "https://ror.org/", "https://ror.org/"),
    "dpv": Target("W3C Data Privacy Vocabulary (DPV)", "https://w3id.org/dpv", "https://w3id.org/dpv"),
    "eli": Target("European Legislation Identifier (ELI)", "https://eur-lex.europa.eu/eli-register/about.html",
                  "http://data.europa.eu/eli/"),
    "celex": Target("CELEX numbers of EUR-Lex", "https://eur-lex.europa.eu/", None),
    "iso-urn": Target("ISO URNs (RFC 5141)", "https://datatracker.ietf.org/doc/rfc5141/", "urn:iso:std:"),
    "doi": Target("DOI", "https://www.doi.org/", "https://doi.org/"),
    "itu-t": Target("ITU-T Recommendations", "https://www.itu.int/rec/", "https://www.itu.int/rec/"),
    "legislation-gov-uk": Target("legislation.gov.uk identifier URIs", "https://www.legislation.gov.uk/developer/uris",
                                 "http://www.legislation.gov.uk/id/"),
    "federal-register": Target("Federal Register documents (FederalRegister.gov)", "https://www.federalregister.gov/",
                               "https://www.federalregister.gov/d/"),
    "e-gov": Target("e-Gov law search (Japan)", "https://laws.e-gov.go.jp/", "https://laws.e-gov.go.jp/law/"),
    "urn-nir": Target("URN:NIR identifiers of Italian legislation (Normattiva)", "https://www.normattiva.it/",
                      "urn:nir:"),
    "legislation-gov-au": Target("Federal Register of Legislation (Australia)", "https://www.legislation.gov.au/",
                                 "https://www.legislation.gov.au/"),
    "justice-laws": Target("Justice Laws Website (Canada)", "https://laws-lois.justice.gc.ca/",
                           "https://laws-lois.justice.gc.ca/"),
    "sso": Target("Singapore Statutes Online", "https://sso.agc.gov.sg/", "https://sso.agc.gov.sg/"),
    "law-go-kr": Target("National Law Information Center (law.go.kr, Korea)", "https://www.law.go.kr/",
                        "https://www.law.go.kr/"),
    "lexml": Target("LexML URNs of Brazilian legislation", "https://www.lexml.gov.br/", "urn:lex:br:"),
}


@dataclass(frozen=True)
class LinkCount:
    kind: str        # document | organisation | jurisdiction
    target: str      # a key of TARGETS
    predicate: str   # the link property's IRI
    links: int       # asserted triples
    subjects: int    # distinct entities of ours with such a link


@dataclass(frozen=True)
class Coverage:
    kind: str
    linked: int      # entities with at least one external identifier IRI
    entities: int    # entities of that kind

    @property
    def share(self) -> float:
        return self.linked / self.entities if self.entities else 0.0


def count(store: ox.Store, query: Path = QUERY) -> tuple[list[LinkCount], dict[str, Coverage]]:
    """Run the external-links query on ``store``: the link counts and, per entity kind, the coverage."""
    links: list[LinkCount] = []
    coverage: dict[str, Coverage] = {}
    solutions = store.query(query.read_text(encoding="utf-8"), use_default_graph_as_union=True)
    assert isinstance(solutions, ox.QuerySolutions)  # a SELECT query: solutions
    for row in solutions:
        def value(name: str) -> str:
            term = row[name]
            return term.value if term is not None else ""
        if value("measure") == "links":
            links.append(LinkCount(value("kind"), value("target"), value("predicate"), int(value("links")),
                                   int(value("subjects"))))
        else:
            coverage[value("kind")] = Coverage(value("kind"), int(value("subjects")), int(value("entities")))
    return links, coverage


def per_target(links: list[LinkCount]) -> dict[str, dict[str, int]]:
    """target -> link predicate -> triples, summed over the entity kinds."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for link in links:
        out[link.target][link.predicate] += link.links
    return {t: dict(preds) for t, preds in out.items()}


def linkset_iri(dataset_iri: str, target: str) -> URIRef:
    return URIRef(f"{dataset_iri}#linkset-{target}")


COUNTS_FILE = "links.json"  # <store>/artefacts/links.json: the link counts, written by the build (write_counts)


def write_counts(store: ox.Store, path: Path) -> None:
    """Count the links at build time, so that the VoID description only reads them."""
    found, _ = count(store)
    path.write_text(json.dumps([asdict(link) for link in found], indent=1), encoding="utf-8")


def read_counts(path: Path) -> list[LinkCount] | None:
    """The build's link counts, or None for a store published before the build wrote them."""
    try:
        return [LinkCount(**row) for row in json.loads(path.read_text(encoding="utf-8"))]
    except FileNotFoundError:
        return None


def add_linksets(g: Graph, dataset_iri: str, store: ox.Store, counted: list[LinkCount] | None = None) -> Graph:
    """One ``void:Linkset`` per target dataset, a ``void:subset`` of the dataset, with its triple count, its
    ``void:subjectsTarget`` (our dataset) and ``void:objectsTarget`` (the target, described with its homepage and URI
    space); where several properties link to one target, each has its own linkset (a subset of the target's) with
    one ``void:linkPredicate`` and its count. ``counted``: the build's counts (:func:`read_counts`); counted in the
    store only when not given."""
    ds = URIRef(dataset_iri)
    links = counted if counted is not None else count(store)[0]
    for target, predicates in sorted(per_target(links).items()):
        info = TARGETS[target]
        other = URIRef(f"{dataset_iri}#target-{target}")
        g.add((other, RDF.type, VOID.Dataset))
        g.add((other, DCTERMS.title, Literal(info.title, lang="en")))
        g.add((other, FOAF.homepage, URIRef(info.homepage)))
        if info.uri_space:
            g.add((other, VOID.uriSpace, Literal(info.uri_space)))
        linkset = linkset_iri(dataset_iri, target)
        _linkset(g, linkset, ds, other, sum(predicates.values()))
        g.add((ds, VOID.subset, linkset))
        if len(predicates) == 1:
            g.add((linkset, VOID.linkPredicate, URIRef(next(iter(predicates)))))
            continue
        for predicate, n in sorted(predicates.items()):
            part = URIRef(f"{linkset}-{predicate.rsplit('#', 1)[-1].rsplit('/', 1)[-1]}")
            _linkset(g, part, ds, other, n)
            g.add((part, VOID.linkPredicate, URIRef(predicate)))
            g.add((linkset, VOID.subset, part))
    return g


def _linkset(g: Graph, linkset: URIRef, ours: URIRef, other: URIRef, triples: int) -> None:
    g.add((linkset, RDF.type, VOID.Linkset))
    g.add((linkset, VOID.subjectsTarget, ours))
    g.add((linkset, VOID.objectsTarget, other))
    g.add((linkset, VOID.triples, Literal(triples, datatype=XSD.integer)))
