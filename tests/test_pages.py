"""Linked-data pages: content negotiation, extension URLs, 404, the same facts in HTML and RDF, inferred facts marked,
incoming links, the language switch, escaping of hostile data, security headers, and the pyLODE ontology page."""

from __future__ import annotations

import base64
import hashlib
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from rdflib import Dataset, Graph, URIRef
from rdflib.compare import isomorphic
from rdflib.util import from_n3

from conftest import DOC_IRI, ORG_IRI, _PREFIXES, fixture_graphs, make_build
from gaistd_kg.views import describe
from gaistd_kg.iris import GRAPH

DOC = "/id/document/gb-t-45654-2025"
ORG = "/id/org/tc260"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
RDF_ACCEPT = {  # extension -> (Accept sent, rdflib parser, keeps named graphs)
    "ttl": ("text/turtle", "turtle", False),
    "jsonld": ("application/ld+json", "json-ld", False),
    "nt": ("application/n-triples", "nt", False),
    "rdf": ("application/rdf+xml", "xml", False),
    "trig": ("application/trig", "trig", True),
    "nq": ("application/n-quads", "nquads", True),
}

# Hostile data: markup in labels, an attribute breaker, a javascript: IRI, markup inside a blank node.
EVIL_IRI = "https://w3id.org/gaistd/id/document/evil"
EVIL_DATA = """
gdoc:evil a gaistd:NationalStandard ;
    rdfs:label "<script>alert(1)</script>"@en, "\\" onmouseover=\\"alert(2)"@zh ;
    dcterms:title "<img src=x onerror=alert(3)>"@en ;
    dcterms:references <javascript:alert(4)> ;
    gaistd:applicationMilestone [ rdfs:label "milestone <b>one</b>"@en ; dcterms:date "2026-08-02"^^xsd:date ] ;
    dcterms:source gsrc:zheng-2025 .
gdoc:gb-t-45654-2025 dcterms:references gdoc:evil .
"""


def evil_graphs() -> dict[str, Graph]:
    graphs = fixture_graphs()
    graphs["data"].parse(data=_PREFIXES + EVIL_DATA, format="turtle")
    return graphs


@pytest.fixture(scope="module")
def evil_client(tmp_path_factory):
    from gaistd_kg.web import create_app

    build_dir = make_build(tmp_path_factory.mktemp("evil-build"), evil_graphs())
    app = create_app({"BUILD_DIR": str(build_dir), "TESTING": True})
    return app.test_client()


class Page(HTMLParser):
    """The parts of a page the tests look at: fact rows (with their attributes and text), links, headings."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.rows: list[dict] = []
        self.links: list[str] = []
        self.title = ""
        self.h1 = ""
        self.html_lang = ""
        self.scripts: list[dict] = []
        self.ids: set[str] = set()
        self._open_rows: list[dict] = []
        self._in: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "html":
            self.html_lang = a.get("lang", "")
        if tag == "tr" and "fact" in (a.get("class") or "").split():
            row = {**a, "text": "", "classes": a["class"].split()}
            self.rows.append(row)
            self._open_rows.append(row)
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "script":
            self.scripts.append(a)
        if tag in ("title", "h1"):
            self._in = tag

    def handle_endtag(self, tag):
        if tag == "tr" and self._open_rows:
            self._open_rows.pop()
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        for row in self._open_rows:
            row["text"] += data
        if self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.h1 += data


def fetch(client, path: str, **kwargs):
    """GET, read the body and close the response (a file-backed response otherwise leaks its file handle)."""
    resp = client.get(path, **kwargs)
    resp.get_data()
    resp.close()
    return resp


def page(client, path: str, **headers) -> Page:
    resp = fetch(client, path, headers={"Accept": BROWSER_ACCEPT, **headers})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return Page(resp.get_data(as_text=True))


def html_graph(p: Page) -> Graph:
    """The facts a page shows, rebuilt from the N-Triples terms each row carries."""
    g = Graph()
    for row in p.rows:
        g.add((from_n3(row["data-s"]), from_n3(row["data-p"]), from_n3(row["data-o"])))
    return g


def store_triples_about(iri: str) -> Graph:
    """What the fixture says with ``iri`` as subject or object, in any graph: the expected facts of its page."""
    g = Graph()
    node = URIRef(iri)
    for graph in fixture_graphs().values():
        for t in graph.triples((node, None, None)):
            g.add(t)
        for t in graph.triples((None, None, node)):
            g.add(t)
    return g


# --- negotiation ---------------------------------------------------------------------------------------------------

def test_browser_gets_html_with_vary_accept(client):
    resp = fetch(client, DOC, headers={"Accept": BROWSER_ACCEPT})
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    assert "Accept" in resp.headers["Vary"]
    assert resp.headers["Content-Location"] == DOC + ".html"
    assert "GB/T 45654-2025" in resp.get_data(as_text=True)


def test_pages_carry_an_etag_and_answer_304_to_a_revalidation(client):
    """A resource page has an ETag (build, path, format, language) and Last-Modified; If-None-Match with it gets 304
    without a body, keeping Vary; another format or language is another ETag."""
    html = fetch(client, DOC, headers={"Accept": BROWSER_ACCEPT})
    turtle = fetch(client, DOC, headers={"Accept": "text/turtle"})
    zh = fetch(client, DOC + "?lang=zh", headers={"Accept": BROWSER_ACCEPT})
    etags = {r.headers.get("ETag") for r in (html, turtle, zh)}
    assert None not in etags and len(etags) == 3
    assert html.headers["Last-Modified"] and "no-cache" in html.headers["Cache-Control"]
    again = fetch(client, DOC, headers={"Accept": BROWSER_ACCEPT, "If-None-Match": html.headers["ETag"]})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == html.headers["ETag"]
    assert "Accept" in again.headers["Vary"]
    other = fetch(client, DOC, headers={"Accept": "text/turtle", "If-None-Match": html.headers["ETag"]})
    assert other.status_code == 200 and other.mimetype == "text/turtle"
    assert fetch(client, DOC + ".ttl", headers={"If-None-Match": '"stale"'}).status_code == 200


def test_no_accept_header_gets_html(client):
    resp = fetch(client, DOC)
    assert resp.status_code == 200 and resp.mimetype == "text/html"


@pytest.mark.parametrize("ext", sorted(RDF_ACCEPT))
def test_rdf_by_accept_header(client, ext):
    accept, parser, quads = RDF_ACCEPT[ext]
    resp = fetch(client, DOC, headers={"Accept": accept})
    assert resp.status_code == 200
    assert resp.mimetype == accept
    assert "Accept" in resp.headers["Vary"]
    assert resp.headers["Content-Location"] == f"{DOC}.{ext}"
    parsed = _parse(resp.data, parser, quads)
    assert isomorphic(parsed, store_triples_about(DOC_IRI))


@pytest.mark.parametrize("ext", sorted(RDF_ACCEPT))
def test_extension_url_fixes_the_format(client, ext):
    accept, parser, quads = RDF_ACCEPT[ext]
    resp = fetch(client, f"{DOC}.{ext}", headers={"Accept": BROWSER_ACCEPT})  # the extension wins over Accept
    assert resp.status_code == 200
    assert resp.mimetype == accept
    assert "Accept" not in resp.headers.get("Vary", "")
    assert isomorphic(_parse(resp.data, parser, quads), store_triples_about(DOC_IRI))


def test_html_extension_url(client):
    resp = fetch(client, DOC + ".html", headers={"Accept": "text/turtle"})
    assert resp.status_code == 200 and resp.mimetype == "text/html"


def test_quad_formats_keep_the_named_graph_of_each_fact(client):
    ds = parse_dataset(fetch(client, DOC + ".nq").data, "nquads")
    standard = URIRef("https://w3id.org/gaistd/ontology#Standard")
    national = URIRef("https://w3id.org/gaistd/ontology#NationalStandard")
    rdf_type = URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    assert (URIRef(DOC_IRI), rdf_type, standard) in ds.graph(URIRef(str(GRAPH["inferred"])))
    assert (URIRef(DOC_IRI), rdf_type, standard) not in ds.graph(URIRef(str(GRAPH["data"])))
    assert (URIRef(DOC_IRI), rdf_type, national) in ds.graph(URIRef(str(GRAPH["data"])))


def test_unacceptable_accept_gets_406(client):
    resp = fetch(client, DOC, headers={"Accept": "image/png"})
    assert resp.status_code == 406
    assert "text/turtle" in resp.get_data(as_text=True)


def parse_dataset(data: bytes, parser: str) -> Dataset:
    """rdflib's own TriG/N-Quads parsers call its deprecated ConjunctiveGraph API (rdflib 7.6); that warning is
    rdflib's business, every other warning stays an error."""
    ds = Dataset()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"(ConjunctiveGraph|Dataset\.default_context) is deprecated",
                                DeprecationWarning)
        ds.parse(data=data, format=parser)
    return ds


def _parse(data: bytes, parser: str, quads: bool) -> Graph:
    if quads:
        ds = parse_dataset(data, parser)
        merged = Graph()
        for g in ds.graphs():
            for t in g:
                merged.add(t)
        return merged
    return Graph().parse(data=data, format=parser)


# --- 404 -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/id/document/no-such-document", "/id/document/no-such-document.ttl",
                                  "/id/no-such-kind/x", "/graph/no-such-graph", "/no/such/thing"])
def test_unknown_iri_of_ours_is_404(client, path):
    resp = fetch(client, path, headers={"Accept": BROWSER_ACCEPT})
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"
    assert "404" in resp.get_data(as_text=True)


def test_404_for_an_rdf_client_is_not_html(client):
    resp = fetch(client, "/id/document/no-such-document", headers={"Accept": "text/turtle"})
    assert resp.status_code == 404 and resp.mimetype == "text/plain"


# --- what the HTML page shows --------------------------------------------------------------------------------------

def test_html_and_turtle_show_the_same_facts(client):
    p = page(client, DOC)
    turtle = Graph().parse(data=fetch(client, DOC, headers={"Accept": "text/turtle"}).data, format="turtle")
    assert len(turtle) > 5
    assert isomorphic(html_graph(p), turtle)
    # and the facts are visible, not only in attributes: every literal's text and every object IRI's link
    body_text = " ".join(row["text"] for row in p.rows)
    for s, _p, o in turtle:
        if s == URIRef(DOC_IRI) and not isinstance(o, URIRef):
            assert str(o) in body_text
    assert ORG in p.links


def test_html_and_turtle_agree_on_a_resource_with_blank_nodes(evil_client):
    p = page(evil_client, "/id/document/evil")
    turtle = Graph().parse(data=fetch(evil_client, "/id/document/evil.ttl").data, format="turtle")
    assert isomorphic(html_graph(p), turtle)
    milestone = [r for r in p.rows if r["data-s"].startswith("_:")]
    assert milestone, "the blank node's facts are shown nested under the resource"


def test_inferred_facts_are_marked_and_asserted_ones_are_not(client):
    p = page(client, DOC, **{"Accept-Language": "en"})
    by_object = {row["data-o"]: row for row in p.rows if row["data-p"].endswith("#type>")}
    inferred = by_object["<https://w3id.org/gaistd/ontology#Standard>"]
    asserted = by_object["<https://w3id.org/gaistd/ontology#NationalStandard>"]
    assert "inferred" in inferred["classes"] and "inferred" in inferred["text"]
    assert inferred["data-graphs"] == "inferred"
    assert "inferred" not in asserted["classes"] and "inferred" not in asserted["text"]
    assert asserted["data-graphs"] == "data" and "data" in asserted["text"]
    # the mark is a word of the page's language, beside the graph's name
    zh = {row["data-o"]: row for row in page(client, DOC + "?lang=zh").rows if row["data-p"].endswith("#type>")}
    assert "推理得出" in zh["<https://w3id.org/gaistd/ontology#Standard>"]["text"]
    assert "推理得出" not in zh["<https://w3id.org/gaistd/ontology#NationalStandard>"]["text"]


def test_every_fact_names_its_graph_and_the_sources_are_shown(client):
    resp = fetch(client, DOC, headers={"Accept": BROWSER_ACCEPT})
    p = Page(resp.get_data(as_text=True))
    assert all(row["data-graphs"] in {"data", "inferred", "ontology", "meta"} for row in p.rows)
    html = resp.get_data(as_text=True)
    sources = html.split('class="sources"', 1)[1].split("</section>", 1)[0]
    assert "/id/source/zheng-2025" in sources


def test_incoming_links_are_listed(client):
    resp = fetch(client, ORG, headers={"Accept": BROWSER_ACCEPT})
    html = resp.get_data(as_text=True)
    incoming = Page(html.split('class="incoming"', 1)[1])
    rows = [r for r in incoming.rows if r["data-o"] == f"<{ORG_IRI}>"]
    assert [r["data-s"] for r in rows] == [f"<{DOC_IRI}>"]
    assert rows[0]["data-p"] == "<https://w3id.org/gaistd/ontology#developedBy>"
    assert DOC in incoming.links
    assert "developed by" in rows[0]["text"]  # the predicate's label from the ontology


def test_our_iris_link_here_and_others_link_out(client):
    p = page(client, DOC)
    assert "/ontology#NationalStandard" in p.links
    assert ORG in p.links
    assert "http://purl.org/dc/terms/title" in p.links
    assert not any(link.startswith("https://w3id.org/gaistd/") for link in p.links)


def test_language_switch(client):
    zh = page(client, ORG + "?lang=zh")
    en = page(client, ORG + "?lang=en")
    assert zh.h1.strip() == "全国网络安全标准化技术委员会" and zh.html_lang == "zh"
    assert en.h1.strip() == "TC260" and en.html_lang == "en"
    assert ORG + "?lang=zh" in en.links and ORG + "?lang=en" in zh.links
    by_header = page(client, ORG, **{"Accept-Language": "zh-CN,zh;q=0.9"})
    assert by_header.h1.strip() == "全国网络安全标准化技术委员会"


def test_title_falls_back_from_preflabel_to_label_to_title(client):
    assert page(client, DOC + "?lang=en").h1.strip() == "GB/T 45654-2025"  # rdfs:label, no skos:prefLabel


def test_describe_link_runs_a_describe_of_this_iri(client):
    p = page(client, DOC)
    raw = [link for link in p.links if urlsplit(link).path == "/sparql"]
    assert raw, p.links
    assert parse_qs(urlsplit(raw[0]).query)["query"] == [f"DESCRIBE <{DOC_IRI}>"]


# --- hostile data --------------------------------------------------------------------------------------------------

def test_markup_in_data_is_escaped(evil_client):
    resp = fetch(evil_client, "/id/document/evil?lang=en", headers={"Accept": BROWSER_ACCEPT})
    html = resp.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "<b>one</b>" not in html
    p = Page(html)
    assert p.h1.strip() == "<script>alert(1)</script>"  # shown as text
    assert all(s.get("src", "").startswith("/static/") for s in p.scripts)
    zh = fetch(evil_client, "/id/document/evil?lang=zh", headers={"Accept": BROWSER_ACCEPT}).get_data(as_text=True)
    assert 'onmouseover="alert(2)' not in zh


def test_a_javascript_iri_never_becomes_a_link(evil_client):
    p = page(evil_client, "/id/document/evil")
    assert not [link for link in p.links if link.strip().lower().startswith("javascript:")]
    assert any(row["data-o"] == "<javascript:alert(4)>" for row in p.rows)  # the fact is still shown


def test_hostile_label_is_escaped_where_it_is_linked_from(evil_client):
    html = fetch(evil_client, DOC, headers={"Accept": BROWSER_ACCEPT}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


# --- security headers ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [DOC, "/id/document/nope", "/ontology", "/graph/data", "/dumps/", "/"])
def test_security_headers(client, path):
    resp = fetch(client, path, headers={"Accept": BROWSER_ACCEPT})
    csp = resp.headers["Content-Security-Policy"]
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert "unsafe-eval" not in csp
    if path != "/":  # only the query UI allows inline styles (YASGUI sets style attributes from script)
        assert "unsafe-inline" not in csp
    assert directives["object-src"] == "'none'"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_pages_have_no_inline_script(client):
    for path in (DOC, "/", "/dumps/", "/ontology"):
        html = fetch(client, path, headers={"Accept": BROWSER_ACCEPT}).get_data(as_text=True)
        for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
            executable = "application/ld+json" not in attrs
            assert not (executable and body.strip()), f"inline script on {path}: {body[:80]}"
        assert not re.search(r"\son[a-z]+\s*=", html.split("<body", 1)[1]), f"inline handler on {path}"


# --- the ontology --------------------------------------------------------------------------------------------------

def test_ontology_page_is_generated_by_pylode_and_every_term_fragment_lands(client):
    resp = fetch(client, "/ontology", headers={"Accept": BROWSER_ACCEPT})
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert "pyLODE" in html
    p = Page(html)
    ns = "https://w3id.org/gaistd/ontology#"
    terms = {str(s)[len(ns):] for s in fixture_graphs()["ontology"].subjects() if str(s).startswith(ns)}
    assert terms and terms <= p.ids
    # pyLODE inlines a stylesheet: the page's CSP allows exactly that stylesheet by hash, and still no inline script
    csp = resp.headers["Content-Security-Policy"]
    for style in re.findall(r"<style[^>]*>(.*?)</style>", html, re.S):
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_ontology_page_is_made_once_per_build(fixture_build_dir, tmp_path, monkeypatch):
    from gaistd_kg.web import create_app

    calls = []
    real = describe.ontology_html

    def counting(store):
        calls.append(1)
        return real(store)

    monkeypatch.setattr(describe, "ontology_html", counting)
    config = {"BUILD_DIR": str(fixture_build_dir), "CACHE_DIR": str(tmp_path / "cache"), "TESTING": True}
    first = create_app(config).test_client()
    for _ in range(3):
        assert fetch(first, "/ontology", headers={"Accept": BROWSER_ACCEPT}).status_code == 200
    assert len(calls) == 1
    second = create_app(config).test_client()  # another worker process: reads the page made for this build
    assert fetch(second, "/ontology.html").status_code == 200
    assert len(calls) == 1


@pytest.mark.parametrize("ext", sorted(RDF_ACCEPT))
def test_ontology_rdf_is_the_ontology_graph(client, ext):
    accept, parser, quads = RDF_ACCEPT[ext]
    for resp in (fetch(client, "/ontology", headers={"Accept": accept}), fetch(client, f"/ontology.{ext}")):
        assert resp.status_code == 200 and resp.mimetype == accept
        assert isomorphic(_parse(resp.data, parser, quads), fixture_graphs()["ontology"])


# --- named graphs --------------------------------------------------------------------------------------------------

def test_graph_iri_gives_the_graph_in_rdf_and_a_page_in_html(client):
    resp = fetch(client, "/graph/inferred", headers={"Accept": "text/turtle"})
    assert resp.status_code == 200 and "Accept" in resp.headers["Vary"]
    assert isomorphic(Graph().parse(data=resp.data, format="turtle"), fixture_graphs()["inferred"])
    html = fetch(client, "/graph/inferred", headers={"Accept": BROWSER_ACCEPT}).get_data(as_text=True)
    assert f"{len(fixture_graphs()['inferred'])} triples" in html
    assert "/graph/inferred.ttl" in Page(html).links


def test_graph_page_shows_what_the_meta_graph_says_about_it(client):
    p = page(client, "/graph/data")
    titles = [r for r in p.rows if r["data-p"] == "<http://purl.org/dc/terms/title>"]
    assert [r["data-graphs"] for r in titles] == ["meta"]
    assert "GAISTD-KG data" in titles[0]["text"]


def test_store_path_maps_base_iri_to_this_host(fixture_build_dir):
    from gaistd_kg.web import create_app

    app = create_app({"BUILD_DIR": str(fixture_build_dir), "TESTING": True,
                      "BASE_IRI": "https://w3id.org/gaistd/"})
    resp = fetch(app.test_client(), DOC, base_url="http://example.test:8080", headers={"Accept": BROWSER_ACCEPT})
    assert resp.status_code == 200
    assert 'href="/id/org/tc260"' in resp.get_data(as_text=True)


def test_cache_dir_is_per_build(fixture_build_dir, tmp_path):
    from gaistd_kg.web import create_app

    app = create_app({"BUILD_DIR": str(fixture_build_dir), "CACHE_DIR": str(tmp_path), "TESTING": True})
    fetch(app.test_client(), "/ontology.html")
    made = [p.name for p in Path(tmp_path).iterdir()]
    assert made == ["fixture-0001-1767225600"]


def test_cache_of_a_build_that_is_gone_is_dropped(fixture_build_dir, tmp_path):
    from gaistd_kg.web import create_app

    stale = tmp_path / "removed-build-123"
    stale.mkdir()
    (stale / "ontology.html").write_text("old")
    app = create_app({"BUILD_DIR": str(fixture_build_dir), "CACHE_DIR": str(tmp_path), "TESTING": True})
    fetch(app.test_client(), "/ontology.html")
    assert not stale.exists()
    assert (tmp_path / "fixture-0001-1767225600" / "ontology.html").exists()
