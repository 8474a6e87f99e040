"""The one table of result formats (gaistd_kg.formats): one test per rule the endpoint, CLI and pages rely on."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from gaistd_kg import formats
from gaistd_kg.formats import FORMATS, GRAPH, TABULAR

EXPECTED = {
    "json": ("application/sparql-results+json", TABULAR),
    "xml": ("application/sparql-results+xml", TABULAR),
    "csv": ("text/csv", TABULAR),
    "tsv": ("text/tab-separated-values", TABULAR),
    "html": ("text/html", TABULAR),
    "ttl": ("text/turtle", GRAPH),
    "jsonld": ("application/ld+json", GRAPH),
    "nt": ("application/n-triples", GRAPH),
    "rdf": ("application/rdf+xml", GRAPH),
    "trig": ("application/trig", GRAPH),
    "nq": ("application/n-quads", GRAPH),
}


def accept(header: str) -> MIMEAccept:
    return parse_accept_header(header, MIMEAccept)


def test_table_holds_exactly_the_documented_formats():
    """Tabular: SPARQL JSON, XML, CSV, TSV, HTML; graph: Turtle, JSON-LD, N-Triples, RDF/XML, TriG, N-Quads."""
    assert {f.name: (f.media_type, f.kind) for f in FORMATS} == EXPECTED


@pytest.mark.parametrize("attr", ["name", "media_type", "extension", "keywords"])
def test_names_media_types_and_extensions_are_unique(attr):
    """Each name, media type and extension denotes one row, so a lookup cannot be ambiguous."""
    values = [v for f in FORMATS for v in (getattr(f, attr) if attr == "keywords" else [getattr(f, attr)])]
    assert len(values) == len(set(values))


def test_no_media_type_or_alias_is_claimed_twice_within_a_kind():
    """Negotiation maps a media type back to one row of the kind being offered."""
    for kind in (TABULAR, GRAPH):
        offered = formats.offered(kind)
        assert len(offered) == len(set(offered))


def test_pyoxigraph_format_agrees_with_the_row():
    """The pyoxigraph writer of a row produces that row's media type and extension (HTML is ours: no writer)."""
    for f in FORMATS:
        if f.name == "html":
            assert f.ox is None
            continue
        assert f.ox.media_type.split(";")[0] == f.media_type
        assert f.ox.file_extension == f.extension
        kind_cls = ox.QueryResultsFormat if f.kind == TABULAR else ox.RdfFormat
        assert isinstance(f.ox, kind_cls)


def test_first_row_of_a_kind_is_its_default():
    """SPARQL JSON for SELECT/ASK, Turtle for CONSTRUCT/DESCRIBE: what Accept: */* gets."""
    assert formats.default(TABULAR).name == "json"
    assert formats.default(GRAPH).name == "ttl"
    assert accept("*/*").best_match(formats.offered(TABULAR)) == "application/sparql-results+json"
    assert accept("*/*").best_match(formats.offered(GRAPH)) == "text/turtle"


@pytest.mark.parametrize("token,name", [
    ("json", "json"), ("srj", "json"), (".srx", "xml"), ("application/sparql-results+xml", "xml"),
    ("text/csv; charset=utf-8", "csv"), ("TSV", "tsv"), ("application/json", "json"), ("text/html", "html"),
    ("ttl", "ttl"), ("text/turtle", "ttl"), ("jsonld", "jsonld"), ("nt", "nt"), ("rdf", "rdf"),
    ("application/rdf+xml", "rdf"), ("trig", "trig"), ("nq", "nq"), ("application/n-quads", "nq"),
])
def test_lookup_accepts_a_name_an_extension_or_a_media_type(token, name):
    """`gaistd query --format`, `?format=` and Content-Type values all name rows the same way."""
    assert formats.lookup(token).name == name


@pytest.mark.parametrize("token,name", [("xml", "rdf"), ("json", "jsonld"), ("turtle", "ttl"), ("json-ld", "jsonld"),
                                        ("n-triples", "nt"), ("rdf+xml", "rdf")])
def test_graph_answers_read_client_format_names_as_their_rdf_formats(token, name):
    """format=xml / json / turtle, as SPARQLWrapper sends them for CONSTRUCT, mean RDF/XML, JSON-LD and Turtle."""
    assert formats.lookup(token, GRAPH).name == name
    assert formats.lookup("xml", TABULAR).name == "xml" and formats.lookup("json").name == "json"


def test_lookup_with_a_kind_refuses_the_other_kind_and_lists_the_choices():
    """A graph format cannot carry SELECT rows: the error lists the formats that can."""
    with pytest.raises(formats.UnknownFormat) as err:
        formats.lookup("ttl", TABULAR)
    for name in formats.names(TABULAR):
        assert name in str(err.value)


def test_unknown_format_raises():
    """A misspelt format is an error, never a silent default."""
    with pytest.raises(formats.UnknownFormat):
        formats.lookup("yaml")


def test_browser_accept_header_gets_the_html_table_for_tabular_results():
    """A browser (text/html first) gets the HTML table for SELECT, and Turtle (via */*) for CONSTRUCT."""
    browser = accept("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
    assert formats.negotiate(browser.best_match(formats.offered(TABULAR)), TABULAR).name == "html"
    assert formats.negotiate(browser.best_match(formats.offered(GRAPH)), GRAPH).name == "ttl"


def test_aliases_negotiate_to_their_row():
    """application/json (what SPARQLWrapper also sends) is answered with SPARQL JSON."""
    best = accept("application/json").best_match(formats.offered(TABULAR))
    assert formats.negotiate(best, TABULAR).name == "json"
    assert formats.negotiate(None, TABULAR) is None


def test_text_types_declare_utf8_and_binary_safe_types_do_not():
    """Content-Type says charset=utf-8 for text/* and +xml types; JSON and N-Triples are UTF-8 by definition."""
    assert formats.BY_NAME["csv"].content_type == "text/csv; charset=utf-8"
    assert formats.BY_NAME["xml"].content_type == "application/sparql-results+xml; charset=utf-8"
    assert formats.BY_NAME["json"].content_type == "application/sparql-results+json"
    assert formats.BY_NAME["nt"].content_type == "application/n-triples"


def test_every_format_has_an_iri_for_service_descriptions():
    """sd:resultFormat needs an IRI per format: W3C's formats IRIs (JSON-LD's is http://www.w3.org/ns/formats/JSON-LD)."""
    for f in FORMATS:
        assert f.iri.startswith(("http://www.w3.org/ns/formats/", "https://www.iana.org/assignments/media-types/"))
    assert formats.BY_NAME["jsonld"].iri == "http://www.w3.org/ns/formats/JSON-LD"
    assert formats.BY_NAME["ttl"].iri == "http://www.w3.org/ns/formats/Turtle"


def test_of_kind_rejects_an_unknown_kind():
    """Kinds are exactly 'tabular' and 'graph'."""
    with pytest.raises(ValueError):
        formats.of_kind("table")
