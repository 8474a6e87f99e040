"""Closed vocabularies (STYLE.md item 4): every term the project writes exists where it claims to.

Standard terms (sh:, owl:, rdfs:, rdf:, skos:) are checked against rdflib's DefinedNamespaces, which list each
vocabulary's terms; our own gaistd: terms against ontology/gaistd.ttl. Terms are collected from the Turtle (subjects,
predicates, objects, literal datatypes) and from the SPARQL inside the shapes, so a typo in a query is caught too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, ORG, OWL, PROV, RDF, RDFS, SH, SKOS, VANN, VOID, DefinedNamespace
from rdflib.paths import Path as SparqlPath
from rdflib.plugins.sparql.algebra import translateQuery, translateUpdate
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate

from gaistd_kg.pipeline.load import find_inputs, parse_file, parse_files
from gaistd_kg.iris import GAISTD, ONTOLOGY_IRI, ONTOLOGY_NS, PREFIXES, ROOT

# The five STYLE.md names, then the other vocabularies we use that rdflib also closes (_fail = True).
STANDARD: dict[str, type[DefinedNamespace]] = {
    "sh": SH, "owl": OWL, "rdfs": RDFS, "rdf": RDF, "skos": SKOS,
    "dcterms": DCTERMS, "foaf": FOAF, "org": ORG, "prov": PROV, "vann": VANN, "void": VOID,
}
SPARQL_TEXT = (SH.select, SH.ask, SH.construct, SH.update)
QUERY_SUFFIXES = {".rq", ".sparql", ".ru"}
DECLARING_TYPES = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property)
INPUTS = find_inputs()


# ---------------------------------------------------------------------------------------------------- helpers


def _collect(node, out: set[URIRef], seen: set[int]) -> None:
    """Every IRI in a translated SPARQL algebra tree, including those inside property paths and function calls."""
    if isinstance(node, URIRef):
        out.add(node)
        return
    if isinstance(node, Literal):
        if node.datatype is not None:
            out.add(node.datatype)
        return
    if isinstance(node, str) or id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, dict):
        children: Iterable = node.values()
    elif isinstance(node, (list, tuple, set, frozenset)):
        children = node
    elif isinstance(node, SparqlPath):
        children = vars(node).values()
    else:
        return
    for child in children:
        _collect(child, out, seen)


def sparql_terms(text: str, prefixes: dict[str, str]) -> set[URIRef]:
    """The IRIs a SPARQL query or update uses, prefixed names resolved; a syntax error or unknown prefix raises."""
    out: set[URIRef] = set()
    try:
        parsed = parseQuery(text)
    except Exception:  # not a query: try it as an update, which raises its own error when it is neither
        update = translateUpdate(parseUpdate(text), initNs=prefixes)
        _collect(list(update), out, set())
        return out
    _collect(translateQuery(parsed, initNs=prefixes).algebra, out, set())
    return out


def declared_prefixes(shapes: Graph) -> dict[str, str]:
    """The sh:declare prefixes SHACL-SPARQL queries are run with."""
    return {str(shapes.value(d, SH.prefix)): str(shapes.value(d, SH.namespace)) for d in shapes.objects(None, SH.declare)}


def terms(graph: Graph) -> set[URIRef]:
    """Every IRI a graph uses as subject, predicate, object or literal datatype, and in the SPARQL it carries."""
    out: set[URIRef] = set()
    for triple in graph:
        for term in triple:
            if isinstance(term, URIRef):
                out.add(term)
            elif isinstance(term, Literal) and term.datatype is not None:
                out.add(term.datatype)
    prefixes = declared_prefixes(graph)
    for predicate in SPARQL_TEXT:
        for text in graph.objects(None, predicate):
            out |= sparql_terms(str(text), prefixes)
    return out


def unknown_standard_terms(used: Iterable[URIRef]) -> list[str]:
    """The used terms of a standard namespace that its vocabulary does not define, as prefixed names."""
    unknown = []
    for term in used:
        for prefix, vocab in STANDARD.items():
            ns = str(vocab)
            if term.startswith(ns):
                local = term[len(ns):]
                # The bare namespace IRI names the vocabulary itself; membership is rdflib's own (annotations, extras).
                if local and term not in vocab:
                    unknown.append(f"{prefix}:{local}")
    return sorted(unknown)


def declared_gaistd_terms(ontology: Graph) -> set[URIRef]:
    return {s for t in DECLARING_TYPES for s in ontology.subjects(RDF.type, t)
            if isinstance(s, URIRef) and s.startswith(ONTOLOGY_NS)}


def gaistd_terms(used: Iterable[URIRef]) -> set[URIRef]:
    return {t for t in used if t.startswith(ONTOLOGY_NS) and t != URIRef(ONTOLOGY_NS)}


def query_files() -> list[Path]:
    folder = ROOT / "queries"
    return sorted(p for p in folder.rglob("*") if p.suffix in QUERY_SUFFIXES) if folder.exists() else []


def _by_file(paths: Iterable[Path]) -> dict[str, Graph]:
    return {str(p.relative_to(ROOT)): parse_file(p) for p in paths}


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return parse_files(INPUTS.ontology)


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return parse_files(INPUTS.shapes)


# ---------------------------------------------------------------------------------------------------- standard terms


def test_standard_terms_in_ontology_and_shapes_exist():
    """Every sh:, owl:, rdfs:, rdf: and skos: term (and dcterms:, foaf:, org:, prov:, vann:, void:) used anywhere in
    ontology/*.ttl and shapes/*.ttl (subject, predicate, object, datatype, or inside a shape's SPARQL) is a term of
    that vocabulary: no rdfs:Label, no sh:shape."""
    problems = [f"{name}: {term}" for name, graph in _by_file([*INPUTS.ontology, *INPUTS.shapes]).items()
                for term in unknown_standard_terms(terms(graph))]
    assert not problems, "terms their vocabulary does not define:\n" + "\n".join(problems)


def test_standard_terms_in_data_exist():
    """The same holds for data/: a contributor's rdfs:Label or dcterms:Title fails here, not in a query months later."""
    problems = [f"{name}: {term}" for name, graph in _by_file(INPUTS.data).items()
                for term in unknown_standard_terms(terms(graph))]
    assert not problems, "terms their vocabulary does not define:\n" + "\n".join(problems)


def test_standard_term_check_catches_rdfs_Label_and_sh_shape():
    """The check above is not vacuous: rdfs:Label and sh:shape (terms others have shipped unnoticed) are reported,
    in Turtle and in a shape's SPARQL, while their correct spellings rdfs:label and sh:node pass."""
    g = Graph().parse(format="turtle", data="""
        @prefix ex:   <https://example.org/> .
        @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
        @prefix sh:   <http://www.w3.org/ns/shacl#> .
        @prefix xsd:  <http://www.w3.org/2001/XMLSchema#> .
        ex:thing rdfs:Label "a thing" ; rdfs:label "a thing" .
        ex:Shape a sh:NodeShape ; sh:shape ex:Other ; sh:node ex:Other ;
            sh:sparql [ sh:prefixes ex:decl ; sh:select "SELECT $this WHERE { $this rdfs:Label|rdfs:label ?x }" ] .
        ex:decl sh:declare [ sh:prefix "rdfs" ; sh:namespace "http://www.w3.org/2000/01/rdf-schema#"^^xsd:anyURI ] .
    """)
    assert unknown_standard_terms(terms(g)) == ["rdfs:Label", "sh:shape"]
    with pytest.raises(AttributeError):
        RDFS.Label  # noqa: B018 - the lookup itself is the assertion
    with pytest.raises(AttributeError):
        SH.shape  # noqa: B018


def test_sparql_term_collection_sees_paths_and_functions():
    """Terms inside property paths (a/rdfs:subClassOf*) and casts (xsd:integer(…)) are collected from shape queries."""
    found = sparql_terms(
        "SELECT $this WHERE { $this a/rdfs:subClassOf* ?c ; ^skos:broader ?b . FILTER (xsd:integer(?c) > 1) }",
        {p: PREFIXES[p] for p in ("rdfs", "skos", "xsd")})
    assert {RDF.type, RDFS.subClassOf, SKOS.broader, URIRef(PREFIXES["xsd"] + "integer")} <= found


# ---------------------------------------------------------------------------------------------------- gaistd terms


def test_gaistd_terms_in_shapes_data_and_queries_are_declared(ontology: Graph):
    """Every gaistd: term used in shapes/, data/ and queries/ (Turtle and SPARQL) is declared in the ontology as a class
    or property, so a misspelt term in data or a check fails here instead of silently minting a new IRI."""
    declared = declared_gaistd_terms(ontology)
    used: dict[str, set[URIRef]] = {name: gaistd_terms(terms(g))
                                    for name, g in _by_file([*INPUTS.shapes, *INPUTS.data]).items()}
    for path in query_files():
        used[str(path.relative_to(ROOT))] = gaistd_terms(sparql_terms(path.read_text(encoding="utf-8"), PREFIXES))
    problems = [f"{name}: gaistd:{t[len(ONTOLOGY_NS):]}" for name, ts in used.items() for t in sorted(ts - declared)]
    assert not problems, "gaistd: terms the ontology does not declare:\n" + "\n".join(problems)


def test_gaistd_term_check_catches_a_misspelt_term(ontology: Graph):
    """The check above is not vacuous: gaistd:adressesRisk (one d) is not a declared term, gaistd:addressesRisk is."""
    declared = declared_gaistd_terms(ontology)
    g = Graph().parse(format="turtle", data="""
        @prefix gaistd: <https://w3id.org/gaistd/ontology#> .
        <https://example.org/doc> gaistd:adressesRisk <https://example.org/r> ;
            gaistd:addressesRisk <https://example.org/r> .
    """)
    assert gaistd_terms(terms(g)) - declared == {URIRef(ONTOLOGY_NS + "adressesRisk")}


def test_gaistd_namespace_raises_on_a_misspelt_term():
    """gaistd_kg.iris.GAISTD is closed: a misspelt term raises AttributeError (as rdflib's DefinedNamespace with
    _fail = True does) instead of minting an IRI, while declared terms resolve."""
    assert GAISTD is not None
    assert GAISTD.addressesRisk == URIRef(ONTOLOGY_NS + "addressesRisk")
    assert GAISTD["NormativeDocument"] == URIRef(ONTOLOGY_NS + "NormativeDocument")
    with pytest.raises(AttributeError):
        GAISTD.adressesRisk  # noqa: B018
    with pytest.raises(AttributeError):
        GAISTD["normativeDocument"]
    assert URIRef(ONTOLOGY_NS + "adressesRisk") not in GAISTD


def test_gaistd_namespace_matches_the_ontology(ontology: Graph):
    """Every class and property the ontology declares resolves through GAISTD, so code can name all of them."""
    missing = [t for t in declared_gaistd_terms(ontology) if t not in GAISTD]
    assert not missing, f"declared in the ontology but not in GAISTD: {sorted(missing)}"


# ---------------------------------------------------------------------------------------------------- the ontology


def _literals(graph: Graph, subject: URIRef, predicate: URIRef, language: str) -> list[Literal]:
    return [o for o in graph.objects(subject, predicate) if isinstance(o, Literal) and o.language == language]


def test_every_class_and_property_has_bilingual_labels_and_an_english_definition(ontology: Graph):
    """Every class and property of the ontology has one rdfs:label in English, one in Chinese, and a skos:definition
    in English."""
    declared = declared_gaistd_terms(ontology)
    assert declared, "the ontology declares no class or property"
    problems = []
    for term in sorted(declared):
        name = f"gaistd:{term[len(ONTOLOGY_NS):]}"
        for lang in ("en", "zh"):
            n = len(_literals(ontology, term, RDFS.label, lang))
            if n != 1:
                problems.append(f"{name}: {n} rdfs:label @{lang} (want exactly one)")
        if not [d for d in _literals(ontology, term, SKOS.definition, "en") if str(d).strip()]:
            problems.append(f"{name}: no skos:definition @en")
    assert not problems, "\n".join(problems)


def test_ontology_header_is_complete(ontology: Graph):
    """The ontology header (STYLE.md item 10) has owl:versionIRI, owl:versionInfo (a version string), dcterms:license,
    dcterms:creator, and vann:preferredNamespacePrefix/Uri naming the gaistd: namespace."""
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in ontology
    version_iri = ontology.value(ONTOLOGY_IRI, OWL.versionIRI)
    assert isinstance(version_iri, URIRef), "owl:versionIRI is missing or not an IRI"
    version = ontology.value(ONTOLOGY_IRI, OWL.versionInfo)
    assert isinstance(version, Literal) and re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?", str(version)), (
        f"owl:versionInfo {version!r} is not a version string such as 0.1.0")
    assert isinstance(ontology.value(ONTOLOGY_IRI, DCTERMS.license), URIRef), "dcterms:license is missing or not an IRI"
    assert ontology.value(ONTOLOGY_IRI, DCTERMS.creator) is not None, "dcterms:creator is missing"
    assert str(ontology.value(ONTOLOGY_IRI, VANN.preferredNamespacePrefix)) == "gaistd"
    assert str(ontology.value(ONTOLOGY_IRI, VANN.preferredNamespaceUri)) == ONTOLOGY_NS
