"""The faceted catalogue (/documents) and the search (/search) on the shipped build: facet counts and exported lists
equal the same filters written as SPARQL; citation exports parse with real parsers; downloads carry every document."""

from __future__ import annotations

import csv
import io
import json

import pyoxigraph as ox
import pytest
from conftest import _close_app
from rdflib import Graph

from gaistd_kg.views import catalogue as cat
from gaistd_kg import store as store_mod
from gaistd_kg.iris import PREFIXES
from gaistd_kg.web import create_app

# (facet filters as in a URL, the same filter as a SPARQL graph pattern on ?doc)
COMBINATIONS = [
    ({}, ""),
    ({"jurisdiction": ["cn"]}, "?doc gaistd:jurisdiction gjur:cn ."),
    ({"risk": ["disinformation"]}, "?doc gaistd:addressesRisk grisk:disinformation ."),
    ({"jurisdiction": ["cn"], "risk": ["disinformation"]},
     "?doc gaistd:jurisdiction gjur:cn ; gaistd:addressesRisk grisk:disinformation ."),
    ({"developer": ["iso-iec-jtc-1"]}, "?doc gaistd:developedUnder gorg:iso-iec-jtc-1 ."),
    ({"area": ["security"], "status": ["published"]},
     "?doc gaistd:inFrameworkArea gfw:security ; gaistd:status gstatus:published ."),
    ({"jurisdiction": ["eu", "us"]}, "VALUES ?j { gjur:eu gjur:us } ?doc gaistd:jurisdiction ?j ."),
    ({"kind": ["Law", "Regulation"]},
     "VALUES ?k { gaistd:Law gaistd:Regulation } GRAPH <https://w3id.org/gaistd/graph/data> { ?doc a ?k }"),
    ({"scope": ["genai-specific"], "evidence": ["official"]},
     "?doc gaistd:scopeCategory gscope:genai-specific ; dcterms:source ?p . ?p gaistd:evidenceClass gevc:official ."),
    ({"issued": ["2025"]}, "?doc dcterms:issued ?d FILTER (STRSTARTS(STR(?d), \"2025\"))"),
]


@pytest.fixture(scope="module")
def real_app(real_build_dir):
    app = create_app({"BUILD_DIR": str(real_build_dir), "TESTING": True})
    yield app
    _close_app(app)


@pytest.fixture(scope="module")
def opened(real_build_dir):
    return store_mod.open_store(real_build_dir)


def sparql_docs(store, pattern: str) -> set[str]:
    q = f"SELECT DISTINCT ?doc WHERE {{ ?doc a gaistd:NormativeDocument . {pattern} }}"
    return {s["doc"].value for s in store.query(q, use_default_graph_as_union=True, prefixes=PREFIXES)}


@pytest.mark.parametrize("filters,pattern", COMBINATIONS, ids=[repr(f) for f, _ in COMBINATIONS])
def test_filtered_list_and_download_equal_the_sparql_answer(real_app, opened, filters, pattern):
    """The list a filter selects, its CSV download and its count are exactly the documents the same filter written as
    SPARQL returns (roll-ups included: broader risks, layers, bodies above the developer)."""
    expected = sparql_docs(opened.store, pattern)
    args = [(k, v) for k, vs in filters.items() for v in vs]
    client = real_app.test_client()
    resp = client.get("/documents", query_string=args + [("format", "csv")])
    assert resp.status_code == 200
    got = {r["iri"] for r in csv.DictReader(io.StringIO(resp.get_data(as_text=True)))}
    assert got == expected
    html = client.get("/documents", query_string=args).get_data(as_text=True)
    assert f'data-total="{len(expected)}"' in html


@pytest.mark.parametrize("filters,pattern", COMBINATIONS[:6], ids=[repr(f) for f, _ in COMBINATIONS[:6]])
def test_facet_counts_equal_sparql_counts(opened, filters, pattern):
    """Each count beside a facet value is the number of documents that the current filters (of the other facets)
    and that value select, as SPARQL counts them."""
    table = cat.read_table(opened.store)
    short_to_value = {}
    for row in table.rows:
        for key in cat.FACETS:
            for v in row.facet_values(key):
                short_to_value[(key, v if key in ("kind", "issued", "effective") else cat.local(v))] = v
    resolved = {k: [short_to_value[(k, s)] for s in vs] for k, vs in filters.items()}
    counts = cat.facet_counts(table, resolved)
    checks = {"jurisdiction": "gaistd:jurisdiction", "risk": "gaistd:addressesRisk", "status": "gaistd:status"}
    for key, prop in checks.items():
        if key in filters:
            continue
        for value, _label, n in counts[key][:5]:
            pat = pattern + f" ?doc {prop} <{value}> ."
            assert n == len(sparql_docs(opened.store, pat)), (key, value)


def test_every_document_is_in_the_csv_once_with_labels_beside_iris(real_app, opened):
    """The catalogue CSV read with the standard library has one row per document, IRIs beside labels."""
    rows = list(csv.DictReader(io.StringIO(real_app.test_client().get("/documents?format=csv").get_data(as_text=True))))
    assert len(rows) == len({r["iri"] for r in rows}) == len(sparql_docs(opened.store, ""))
    with_jur = [r for r in rows if r["jurisdiction_iri"]]
    assert with_jur and all(r["jurisdiction"] for r in with_jur)


def test_turtle_and_jsonld_downloads_hold_the_same_triples(real_app):
    """The Turtle and JSON-LD of a filtered list parse to isomorphic graphs."""
    client = real_app.test_client()
    ttl = Graph().parse(data=client.get("/documents?jurisdiction=jp&format=ttl").get_data(as_text=True), format="turtle")
    jsonld = Graph().parse(data=client.get("/documents?jurisdiction=jp&format=jsonld").get_data(as_text=True),
                           format="json-ld")
    assert len(ttl) > 50
    assert ttl.isomorphic(jsonld)


def test_citations_parse_with_real_parsers(real_app):
    """BibTeX (bibtexparser), RIS (rispy) and CSL-JSON (citeproc-py) exports of a list parse, one entry per
    document, each with its title and the access date."""
    import bibtexparser
    import rispy
    from citeproc.source.json import CiteProcJSON

    client = real_app.test_client()
    n = len(list(csv.DictReader(io.StringIO(client.get("/documents?jurisdiction=cn&format=csv").get_data(as_text=True)))))
    assert n > 5
    lib = bibtexparser.parse_string(client.get("/documents?jurisdiction=cn&format=bibtex").get_data(as_text=True))
    assert not lib.failed_blocks
    assert len(lib.entries) == n and all(e.fields_dict.get("title") and e.fields_dict.get("urldate") for e in lib.entries)
    ris = rispy.loads(client.get("/documents?jurisdiction=cn&format=ris").get_data(as_text=True))
    assert len(ris) == n and all(r.get("title") or r.get("primary_title") for r in ris)
    items = json.loads(client.get("/documents?jurisdiction=cn&format=csljson").get_data(as_text=True))
    source = CiteProcJSON(items)
    assert len(source) == n


def test_catalogue_page_works_without_javascript_and_keeps_state_in_the_url(real_app):
    """The page is plain HTML (no script needed): each facet value is a link whose URL holds the whole state, and
    choosing it narrows the list."""
    client = real_app.test_client()
    html = client.get("/documents?jurisdiction=cn").get_data(as_text=True)
    assert "<script" not in html.split("<main>", 1)[1]
    assert 'href="?jurisdiction=cn&amp;risk=' in html or 'href="?jurisdiction=cn&amp;' in html


def test_document_page_leads_with_its_summary_and_cite_this(real_app):
    """A document's page opens with identifier and title, kind, dates and status with their sources, bodies,
    jurisdiction, official record, risks, place in the framework and relations; then "cite this" in BibTeX, RIS and
    CSL-JSON carrying the graph's version and today's date; the full table of facts comes after, folded."""
    html = real_app.test_client().get("/id/document/gb-45438-2025", headers={"Accept": "text/html"}).get_data(
        as_text=True)
    summary = html.index('<section class="summary"')
    assert html.index('<h1>') < summary < html.index('<section class="cite">') < html.index('class="all-facts"')
    block = html[summary:html.index('<section class="cite">')]
    for key in ("field-developer", "field-publisher", "field-jurisdiction", "field-record", "field-risks",
                "field-area"):
        assert key in block, key
    dated = html[html.index('<section class="dated">'):html.index('class="all-facts"')]
    assert "2025-02-28" in dated and "evidence-class" in dated
    assert "GB 45438" in html[:summary]
    import html as html_mod

    cite = html_mod.unescape(html[html.index('<section class="cite">'):html.index('class="all-facts"')])
    assert "@techreport{gaistd-gb-45438-2025" in cite and "TY  - STAND" in cite and '"type": "standard"' in cite


def test_jurisdiction_page_lists_its_documents_grouped_and_linked_to_the_catalogue(real_app):
    """A jurisdiction's page lists its documents grouped by kind and counted, each group linked to the catalogue
    filtered on the jurisdiction and the kind; the raw facts are folded below."""
    client = real_app.test_client()
    html = client.get("/id/jurisdiction/cn", headers={"Accept": "text/html"}).get_data(as_text=True)
    section = html[html.index('<section class="entity-documents">'):]
    assert 'href="/documents?jurisdiction=cn"' in section
    assert "/documents?jurisdiction=cn&amp;kind=NationalStandard" in section
    total = int(section.split('href="/documents?jurisdiction=cn">', 1)[1].split(" ", 1)[0])
    listed = client.get("/documents?jurisdiction=cn").get_data(as_text=True)
    assert f'data-total="{total}"' in listed
    assert html.index('class="entity-documents"') < html.index('class="all-facts"')


def test_changes_page_and_atom_feed_list_dated_events_newest_first(real_app):
    """/changes lists documents by date issued, taking effect and added to the catalogue, each list newest first;
    /changes.atom is a valid Atom feed (feedparser reads it without a bozo error)."""
    import feedparser

    client = real_app.test_client()
    html = client.get("/changes").get_data(as_text=True)
    for event in ("issued", "effective", "added"):
        section = html.split(f'<section class="changes-{event}">', 1)[1].split("</section>", 1)[0]
        dates = [row.split("<td>", 1)[1].split("</td>", 1)[0] for row in section.split('<tr class="event')[1:]]
        assert len(dates) > 10 and dates == sorted(dates, reverse=True), event
    feed = feedparser.parse(client.get("/changes.atom").get_data())
    assert not feed.bozo, feed.get("bozo_exception")
    assert len(feed.entries) == 100 and feed.feed.title.startswith("GAISTD-KG")
    assert all(e.link.startswith("http") for e in feed.entries)


def test_kept_answers_are_per_arguments_language_and_host(real_app):
    """/documents keeps its rendered answers per process: a repeat is the same bytes, while another filter, another
    language (by ?lang= or Accept-Language) or another host gets its own answer, never one kept for someone else."""
    with real_app.test_client() as c:
        first = c.get("/documents?jurisdiction=cn").data
        assert c.get("/documents?jurisdiction=cn").data == first
        assert c.get("/documents?jurisdiction=jp").data != first
        zh = c.get("/documents?jurisdiction=cn", headers={"Accept-Language": "zh"}).data
        assert b'<html lang="zh">' in zh and b'<html lang="en">' in first
        assert b'<html lang="zh">' in c.get("/documents?jurisdiction=cn&lang=zh").data
        other_host = c.get("/documents?format=bibtex&jurisdiction=cn", base_url="http://elsewhere.example").data
        here = c.get("/documents?format=bibtex&jurisdiction=cn").data
        assert b"elsewhere.example" in other_host and b"elsewhere.example" not in here


def test_csv_gives_iris_beside_labels_for_kind_and_scope(real_app, opened):
    """Read with the standard library, every row's kind IRI is the document's class in the data graph (its label
    beside it), and its scope IRIs are the document's ``gaistd:scopeCategory`` values."""
    rows = list(csv.DictReader(io.StringIO(real_app.test_client().get("/documents?format=csv").get_data(as_text=True))))
    assert rows and {"kind_iri", "kind_label", "scope_iri"} <= set(rows[0])
    data = ox.NamedNode("https://w3id.org/gaistd/graph/data")
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    scope = ox.NamedNode("https://w3id.org/gaistd/ontology#scopeCategory")
    for r in rows:
        doc = ox.NamedNode(r["iri"])
        types = {q.object.value for q in opened.store.quads_for_pattern(doc, rdf_type, None, data)}
        assert r["kind_iri"] in types and r["kind_label"], r["iri"]
        scopes = {q.object.value for q in opened.store.quads_for_pattern(doc, scope, None, None)}
        assert set(filter(None, r["scope_iri"].split("; "))) == scopes, r["iri"]


def _scan(table: cat.Table, filters: dict[str, list[str]]) -> list[cat.Row]:
    """The rows a filter selects, by reading every row: what the facet index must agree with."""
    return [r for r in table.rows
            if all(not wanted or r.facet_values(key) & set(wanted) for key, wanted in filters.items())]


@pytest.mark.parametrize("how", cat.SORTS)
def test_the_facet_index_selects_and_sorts_as_a_scan_of_every_row(opened, how):
    """``select`` reads bit sets of rows and presorted orders; for each combination and sort, the list, a page of it
    and the count are those of a plain scan of every row, sorted."""
    table = cat.read_table(opened.store)
    every = {(k, v) for r in table.rows for k in cat.FACETS for v in r.facet_values(k)}
    by_short = {(k, v if k in ("kind", "issued", "effective") else cat.local(v)): v for k, v in every}
    for filters, _pattern in COMBINATIONS:
        resolved = {k: [by_short.get((k, s), "\x00" + s) for s in vs] for k, vs in filters.items()}
        expected = cat.sort_rows(_scan(table, resolved), table, how)
        assert cat.select(table, resolved, how) == expected, filters
        assert cat.select(table, resolved, how, limit=7) == expected[:7], filters
        assert cat.count(table, resolved) == len(expected), filters
        assert cat.select(table, resolved) == _scan(table, resolved), filters
    assert cat.select(table, {"jurisdiction": ["\x00nowhere"]}, how) == []


def test_facet_counts_read_from_rows_or_from_bit_sets_agree_with_a_scan(opened):
    """A facet's counts come from its totals, from the selected rows or from one intersection per value, whichever
    is cheaper; each way gives the counts of a plain scan, for every facet and combination."""
    table = cat.read_table(opened.store)
    index = table.index
    every = {(k, v) for r in table.rows for k in cat.FACETS for v in r.facet_values(k)}
    by_short = {(k, v if k in ("kind", "issued", "effective") else cat.local(v)): v for k, v in every}
    used = set()
    for filters, _pattern in COMBINATIONS:
        resolved = {k: [by_short.get((k, s), "\x00" + s) for s in vs] for k, vs in filters.items()}
        for key in cat.FACETS:
            others = {k: v for k, v in resolved.items() if k != key}
            expected: dict[str, int] = {}
            for row in _scan(table, others):
                for value in row.facet_values(key):
                    expected[value] = expected.get(value, 0) + 1
            mask = index.mask(resolved, leave_out=key)
            chosen = mask.bit_count()
            used.add("totals" if mask == index.every else "rows" if chosen * 2 < len(index.masks[key]) else "sets")
            assert index.counts(key, mask) == expected, (filters, key)
    assert used == {"totals", "rows", "sets"}


def test_facets_show_their_most_frequent_values_and_link_to_all_of_them(real_app, opened):
    """A facet lists its FACET_VALUES_SHOWN most frequent values (and any chosen one), then a link that opens all of
    them with their counts; the opened state stays in the links of the page."""
    from urllib.parse import parse_qs

    from gaistd_kg.web.catalogue import FACET_VALUES_SHOWN

    client = real_app.test_client()
    table = cat.read_table(opened.store)
    everyone = cat.facet_counts(table, {})["publisher"]
    assert len(everyone) > FACET_VALUES_SHOWN  # else this test shows nothing
    html = client.get("/documents").get_data(as_text=True)
    block = html.split('class="facet facet-publisher"', 1)[1].split("</details>", 1)[0]
    assert block.count("data-value=") == FACET_VALUES_SHOWN
    assert f"({len(everyone)})" in block and "?more=publisher" in block
    rare = cat.local(everyone[-1][0])
    chosen = client.get(f"/documents?publisher={rare}").get_data(as_text=True)
    chosen_block = chosen.split('class="facet facet-publisher"', 1)[1].split("</details>", 1)[0]
    assert f'data-value="{rare}" aria-current="true"' in chosen_block
    opened_page = client.get("/documents?more=publisher").get_data(as_text=True)
    opened_block = opened_page.split('class="facet facet-publisher"', 1)[1].split("</details>", 1)[0]
    assert opened_block.count("data-value=") == len(everyone)
    assert 'class="more"' not in opened_block
    link = opened_block.split('href="', 2)[1].split('"', 1)[0].replace("&amp;", "&")
    assert parse_qs(link[1:])["more"] == ["publisher"]


def test_every_facet_link_is_the_current_state_plus_or_minus_its_value(real_app):
    """Each facet link (written without re-encoding the whole state for each value) parses to the page's state with
    that value added, or removed when it is chosen."""
    import html as htmllib
    import re
    from urllib.parse import parse_qs

    client = real_app.test_client()
    url = "/documents?jurisdiction=cn&risk=disinformation&sort=title&lang=zh"
    state = parse_qs(url.split("?", 1)[1])
    page = client.get(url).get_data(as_text=True)
    links = re.findall(r'<details class="facet facet-([a-z]+)".*?</details>', page, re.S)
    assert len(links) >= 8
    checked = 0
    for key, block in re.findall(r'<details class="facet facet-([a-z]+)"(.*?)</details>', page, re.S):
        for href, value, active in re.findall(r'<a href="([^"]+)" data-value="([^"]+)"( aria-current="true")?',
                                              block):
            got = parse_qs(htmllib.unescape(href)[1:])
            want = {k: list(v) for k, v in state.items()}
            if active:
                want[key] = [v for v in want[key] if v != value]
                want = {k: v for k, v in want.items() if v}
            else:
                want[key] = [*want.get(key, []), value]
            assert got == want, (key, value)
            checked += 1
    assert checked > 50
