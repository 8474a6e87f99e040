"""The evidence gate and the provenance checks (queries/checks/evidence-*-violation.rq,
fact-provenance-violation.rq): what a researcher cannot cite is refused, every page is classed, every date and
status names its page."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import RDF

from gaistd_kg.pipeline.checks import run_checks
from gaistd_kg.pipeline.load import find_inputs, load, parse_file
from gaistd_kg.iris import GAISTD, ONTOLOGY_FILE, ROOT

FIXTURES = Path(__file__).parent / "fixtures" / "checks"
DENYLIST = ROOT / "data" / "reference" / "evidence-denylist.ttl"
EX = Namespace("https://example.org/")
DENIED = "evidence-denied-violation.rq"


def _findings(data: Graph, check: str):
    ontology = parse_file(ONTOLOGY_FILE)
    return [f for f in run_checks(data, ontology) if f.shape.endswith(check)]


def _deny_entries() -> list[tuple[str, str]]:
    g = parse_file(DENYLIST)
    return sorted((str(h), str(g.value(r, GAISTD.denialReason))) for r, h in g.subject_objects(GAISTD.deniedHost))


def test_deny_list_entries_are_hosts_with_reasons():
    """Every entry is a lower-case host name (no scheme, path or port) with a reason; none is listed twice."""
    entries = _deny_entries()
    assert len(entries) >= 50
    hosts = [h for h, _ in entries]
    assert len(hosts) == len(set(hosts))
    for host, why in entries:
        assert host == host.lower() and "/" not in host and ":" not in host and "." in host, host
        assert why and why != "None", host


@pytest.mark.parametrize("host,why", _deny_entries(), ids=[h for h, _ in _deny_entries()])
def test_deny_list_entry_refuses_its_host_and_sub_domains(host, why):
    """A page on a denied host, or on any sub-domain of it, is refused with the entry's reason; a host that merely
    ends with the same letters (not-<host>) is not."""
    data = parse_file(DENYLIST)
    data.add((EX.a, RDF.type, GAISTD.Guideline))
    data.add((EX.a, URIRef("http://purl.org/dc/terms/source"), URIRef(f"https://{host}/page.html")))
    data.add((EX.b, RDF.type, GAISTD.Guideline))
    data.add((EX.b, URIRef("http://purl.org/dc/terms/source"), URIRef(f"https://sub.{host}/page.html")))
    data.add((EX.c, RDF.type, GAISTD.Guideline))
    data.add((EX.c, URIRef("http://purl.org/dc/terms/source"), URIRef(f"https://not-{host}/page.html")))
    got = {f.focus: f.message for f in _findings(data, DENIED)}
    assert set(got) == {"<https://example.org/a>", "<https://example.org/b>"}
    assert all(host in m and why in m for m in got.values())


def test_gate_rules_refuse_and_accept_as_the_fixture_says():
    """IP hosts, non-http schemes, known sites' names on other domains, and tracking parameters are refused, on
    dcterms:source, per-fact sources and the official record alike; ordinary official, repository and encyclopaedia
    pages and query strings without trackers pass (tests/fixtures/checks/evidence-gate.ttl says which)."""
    data = parse_file(FIXTURES / "evidence-gate.ttl") + parse_file(DENYLIST)
    expected = {str(s): str(o) for s, o in data.subject_objects(EX.expect)}
    refused = {f.focus.strip("<>") for f in _findings(data, DENIED)}
    assert {s for s, e in expected.items() if e == "refused"} == refused
    assert not refused & {s for s, e in expected.items() if e == "accepted"}


def _doc(extra: str) -> Graph:
    g = Graph()
    g.parse(data="""
        @prefix gaistd: <https://w3id.org/gaistd/ontology#> . @prefix gevc: <https://w3id.org/gaistd/id/evidence-class/> .
        @prefix dcterms: <http://purl.org/dc/terms/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
        @prefix ex: <https://example.org/> .
        """ + extra, format="turtle")
    return g


def test_every_cited_page_must_be_a_classed_evidence_page():
    """A cited page with no EvidencePage description, or with two classes, is a violation; a described one with a
    class and a publisher is not, and the founding paper's gsrc: IRI needs no description."""
    data = _doc("""
        ex:a a gaistd:Guideline ; dcterms:source <https://undescribed.example/>, <https://two.example/>,
            <https://good.example/>, <https://w3id.org/gaistd/id/source/zheng-2025> .
        <https://two.example/> a gaistd:EvidencePage ; gaistd:evidenceClass gevc:official, gevc:other ; dcterms:publisher "X" .
        <https://good.example/> a gaistd:EvidencePage ; gaistd:evidenceClass gevc:secondary ; dcterms:publisher "Y" .
    """)
    got = {f.value for f in _findings(data, "evidence-unclassified-violation.rq")}
    assert got == {"https://undescribed.example/", "https://two.example/"}


def test_every_date_and_status_names_its_page():
    """A date or status without its per-fact source property is a violation naming the property to add; a per-fact
    source that is not among the record's dcterms:source pages is a violation too."""
    data = _doc("""
        ex:a a gaistd:Guideline ; dcterms:issued "2025-02-28"^^xsd:date ; gaistd:effectiveDate "2025-09-01"^^xsd:date ;
            gaistd:effectiveDateSource <https://p.example/> ; dcterms:source <https://p.example/> ;
            gaistd:statusSource <https://q.example/> ; gaistd:status ex:published .
    """)
    got = {(f.focus, f.value, f.message.split(":")[0]) for f in _findings(data, "fact-provenance-violation.rq")}
    messages = [f.message for f in _findings(data, "fact-provenance-violation.rq")]
    assert {(focus, value) for focus, value, _ in got} == {
        ("<https://example.org/a>", "2025-02-28"), ("<https://example.org/a>", "https://q.example/")}
    assert any("gaistd:issuedSource" in m for m in messages)


def test_shipped_data_passes_the_gate():
    """No page in the catalogue is refused, unclassed, or missing from a fact it supports."""
    loaded = load(find_inputs())
    findings = [f for f in run_checks(loaded.data, loaded.ontology, loaded.subject_files)
                if "evidence" in f.shape or "provenance" in f.shape]
    assert not findings, "\n".join(f.line() for f in findings[:40])




def test_every_report_comparison_names_its_scope():
    """Each table of the report says, in its description, the scope (docs/scope.md) its counts rest on."""
    from gaistd_kg.views.report import QUERY_DIR, query_comment

    files = sorted(QUERY_DIR.glob("*.rq"))
    assert files
    for f in files:
        assert "docs/scope.md" in query_comment(f.read_text(encoding="utf-8")), f.name


def test_stats_count_documents_per_jurisdiction_and_scope_and_evidence_per_class():
    """`gaistd stats` prints documents per jurisdiction, per scope category (and both), and evidence pages per class."""
    from gaistd_kg.views.stats import stats
    from gaistd_kg.store import store_from_graphs

    data = parse_file(ROOT / "data" / "reference" / "evidence-and-scope.ttl") + _doc("""
        @prefix skos: <http://www.w3.org/2004/02/skos/core#> . @prefix gscope: <https://w3id.org/gaistd/id/scope/> .
        ex:j a gaistd:Jurisdiction ; skos:prefLabel "Atlantis"@en .
        ex:a a gaistd:NormativeDocument ; gaistd:jurisdiction ex:j ; gaistd:scopeCategory gscope:horizontal ;
            dcterms:source <https://p.example/> .
        ex:b a gaistd:NormativeDocument ; gaistd:jurisdiction ex:j ; gaistd:scopeCategory gscope:genai-specific .
        <https://p.example/> a gaistd:EvidencePage ; gaistd:evidenceClass gevc:official ; dcterms:publisher "P" .
    """)
    got = dict(stats(store_from_graphs({"data": data, "ontology": parse_file(ONTOLOGY_FILE)})))
    assert got["Documents per jurisdiction"] == [("Atlantis", 2)]
    assert sorted(got["Documents per scope category (docs/scope.md)"]) == [("generative-AI-specific", 1), ("horizontal", 1)]
    assert ("Atlantis / horizontal", 1) in got["Documents per jurisdiction and scope category"]
    assert got["Evidence pages per class"] == [("official", 1)]


def test_document_page_shows_each_date_and_status_beside_its_page_and_class(tmp_path):
    """A document's page lists its dates and status, each with the page that states it and that page's evidence
    class, and every cited page with its class; a date with no per-fact source says so."""
    from conftest import _close_app, make_build

    from gaistd_kg.web import create_app

    data = _doc("""
        ex:doc a gaistd:NationalStandard ; dcterms:title "A standard"@en ;
            dcterms:issued "2025-02-28"^^xsd:date ; gaistd:issuedSource <https://std.example/record> ;
            gaistd:effectiveDate "2025-09-01"^^xsd:date ;
            gaistd:status ex:published ; gaistd:statusSource <https://news.example/item> ;
            dcterms:source <https://std.example/record> , <https://news.example/item> .
        <https://std.example/record> a gaistd:EvidencePage ; gaistd:evidenceClass gevc:official ; dcterms:publisher "S" .
        <https://news.example/item> a gaistd:EvidencePage ; gaistd:evidenceClass gevc:secondary ; dcterms:publisher "N" .
    """)
    build = make_build(tmp_path, {"data": data, "ontology": parse_file(ONTOLOGY_FILE), "inferred": Graph(),
                                  "meta": Graph()})
    app = create_app({"BUILD_DIR": str(build), "TESTING": True, "BASE_IRI": "https://example.org/"})
    try:
        html = app.test_client().get("/doc", headers={"Accept": "text/html"}).get_data(as_text=True)
    finally:
        _close_app(app)
    dated = html.split('<section class="dated">', 1)[1].split("</section>", 1)[0]
    rows = dated.split("<tr")[1:]
    issued = next(r for r in rows if "2025-02-28" in r)
    assert "https://std.example/record" in issued and "evidence-official" in issued
    status = next(r for r in rows if "published" in r)
    assert "https://news.example/item" in status and "evidence-secondary" in status
    effective = next(r for r in rows if "2025-09-01" in r)
    assert "no page given" in effective
    sources = html.split('<section class="sources">', 1)[1].split("</section>", 1)[0]
    assert sources.count("evidence-class") == 2


def test_facts_about_an_undeclared_resource_of_ours_are_refused():
    """A statement about gdoc:x where no record declares gdoc:x (a typo, or a removed record) is a violation; facts
    about a declared record, and about IRIs that are not ours, are not."""
    data = _doc("""
        @prefix gdoc: <https://w3id.org/gaistd/id/document/> .
        gdoc:declared a gaistd:Guideline ; gaistd:isoUrn "urn:iso:std:iso:1" .
        gdoc:typo gaistd:isoUrn "urn:iso:std:iso:2" .
        <https://example.org/page> gaistd:evidenceClass gevc:other .
    """)
    got = {f.focus for f in _findings(data, "untyped-resource-violation.rq")}
    assert got == {"gdoc:typo"} or got == {"<https://w3id.org/gaistd/id/document/typo>"}


def test_every_identifier_has_its_normalised_notation():
    """An identifier with an em dash needs the notation with an ASCII hyphen; a wrong or missing notation is a
    violation whose message gives the line to write; a right one passes."""
    data = _doc("""
        ex:a a gaistd:NationalStandard ; dcterms:identifier "GB/T 45654—2025" ; gaistd:identifierNotation "GB/T 45654-2025" .
        ex:b a gaistd:NationalStandard ; dcterms:identifier "GB 45438—2025" .
        ex:c a gaistd:NationalStandard ; dcterms:identifier "ISO/IEC  TR 24028:2020" ; gaistd:identifierNotation "ISO/IEC  TR 24028:2020" .
    """)
    found = {f.focus: f.message for f in _findings(data, "identifier-notation-violation.rq")}
    assert set(found) == {"<https://example.org/b>", "<https://example.org/c>"}
    assert 'gaistd:identifierNotation "GB 45438-2025"' in found["<https://example.org/b>"]
    assert 'gaistd:identifierNotation "ISO/IEC TR 24028:2020"' in found["<https://example.org/c>"]


def test_provenance_query_on_sparql_covers_every_dated_document(real_build_dir):
    """queries/provenance-dates-and-status.rq, sent to /sparql, lists every document that has a date, each date and
    status with the page that states it."""
    import json as _json

    from conftest import _close_app

    from gaistd_kg import store as store_mod
    from gaistd_kg.iris import PREFIXES
    from gaistd_kg.web import create_app

    text = (ROOT / "queries" / "provenance-dates-and-status.rq").read_text(encoding="utf-8")
    app = create_app({"BUILD_DIR": str(real_build_dir), "TESTING": True})
    try:
        resp = app.test_client().post("/sparql", data={"query": text},
                                      headers={"Accept": "application/sparql-results+json"})
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        rows = _json.loads(resp.get_data(as_text=True))["results"]["bindings"]
    finally:
        _close_app(app)
    store = store_mod.open_store(real_build_dir).store
    dated = {s["d"].value for s in store.query(
        "SELECT DISTINCT ?d WHERE { ?d a gaistd:NormativeDocument ; dcterms:issued|gaistd:effectiveDate|"
        "gaistd:withdrawnDate|gaistd:stageDate ?x }", use_default_graph_as_union=True, prefixes=PREFIXES)}
    with_page = {r["doc"]["value"] for r in rows if "page" in r and not r["property"]["value"].endswith("#status")}
    assert dated and dated <= with_page
    assert all("page" in r for r in rows if not r["property"]["value"].endswith("milestoneDate"))
