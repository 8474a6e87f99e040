"""One table of result formats: media type ↔ format name ↔ file extension ↔ pyoxigraph format.

Tabular formats carry the answers of SELECT and ASK; graph formats carry the answers of CONSTRUCT and DESCRIBE (and any
RDF the server describes itself with). The endpoint negotiates over this table, the CLI's ``--format`` names a row of
it, the pages and dumps pick their media types from it. Order matters: within a kind, the first row is the default
(what ``Accept: */*`` gets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import pyoxigraph as ox

TABULAR = "tabular"
GRAPH = "graph"

# pyoxigraph's writer types under names the Format class's field ``ox`` does not shadow
ResultsWriter = ox.QueryResultsFormat
RdfWriter = ox.RdfFormat


@dataclass(frozen=True)
class Format:
    name: str                          # what a person types: ``--format json``, ``?format=ttl``
    media_type: str                    # the registered media type, sent as Content-Type
    extension: str                     # file extension, without the dot
    kind: str                          # TABULAR or GRAPH
    label: str
    ox: ox.QueryResultsFormat | ox.RdfFormat | None  # None: written by us (the HTML table)
    aliases: tuple[str, ...] = ()      # other media types a client may ask for, answered with this format
    iri: str = ""                      # W3C formats IRI (http://www.w3.org/ns/formats/…) for service descriptions
    keywords: tuple[str, ...] = ()     # other names clients put in ``format=`` (SPARQLWrapper sends ``turtle``)
    rdflib: str = ""                   # rdflib's parser name, for RDF read from files

    @property
    def content_type(self) -> str:
        """Content-Type header value: text types say their charset (always UTF-8)."""
        text = self.media_type.startswith("text/") or self.media_type.endswith("+xml")
        return f"{self.media_type}; charset=utf-8" if text else self.media_type

    @property
    def media_types(self) -> tuple[str, ...]:
        return (self.media_type, *self.aliases)

    @property
    def results_ox(self) -> ResultsWriter | None:
        """``ox`` of a tabular row, typed for pyoxigraph's results writers (None: the HTML table, or a graph row)."""
        return self.ox if isinstance(self.ox, ox.QueryResultsFormat) else None

    @property
    def rdf_ox(self) -> RdfWriter | None:
        """``ox`` of a graph row, typed for pyoxigraph's RDF writers (None for a tabular row)."""
        return self.ox if isinstance(self.ox, ox.RdfFormat) else None


def _row(name: str, kind: str, fmt: ox.QueryResultsFormat | ox.RdfFormat | None, label: str, media_type: str = "",
         extension: str = "", aliases: tuple[str, ...] = (), iri: str = "", keywords: tuple[str, ...] = (),
         rdflib: str = "") -> Format:
    if fmt is not None:  # rows we write ourselves (fmt None) give their media type and extension
        media_type = media_type or fmt.media_type.split(";")[0].strip()  # pyoxigraph adds "; charset=utf-8" to some
        extension = extension or fmt.file_extension
    return Format(name=name, media_type=media_type, extension=extension, kind=kind, label=label,
                  ox=fmt, aliases=aliases, iri=iri or (fmt.iri if fmt is not None else ""), keywords=keywords,
                  rdflib=rdflib)


Q = ox.QueryResultsFormat
R = ox.RdfFormat

FORMATS: tuple[Format, ...] = (
    # tabular: SELECT / ASK results
    _row("json", TABULAR, Q.JSON, "SPARQL Results JSON", aliases=("application/json",)),
    _row("xml", TABULAR, Q.XML, "SPARQL Results XML", aliases=("application/xml", "text/xml")),
    _row("csv", TABULAR, Q.CSV, "SPARQL Results CSV"),
    _row("tsv", TABULAR, Q.TSV, "SPARQL Results TSV"),
    _row("html", TABULAR, None, "HTML table", media_type="text/html", extension="html",
         aliases=("application/xhtml+xml",), iri="https://www.iana.org/assignments/media-types/text/html"),
    # graph: CONSTRUCT / DESCRIBE results and RDF descriptions
    _row("ttl", GRAPH, R.TURTLE, "Turtle", aliases=("application/x-turtle", "application/turtle", "text/n3"),
         keywords=("turtle", "n3"), rdflib="turtle"),
    _row("jsonld", GRAPH, R.JSON_LD, "JSON-LD", iri="http://www.w3.org/ns/formats/JSON-LD", keywords=("json-ld",),
         rdflib="json-ld", aliases=("application/json",)),
    # text/plain: N-Triples' media type before application/n-triples, what rdflib's Graph.parse(url, format="nt") asks
    _row("nt", GRAPH, R.N_TRIPLES, "N-Triples", keywords=("ntriples", "n-triples"), rdflib="nt",
         aliases=("text/plain",)),
    _row("rdf", GRAPH, R.RDF_XML, "RDF/XML", keywords=("rdfxml", "rdf+xml", "rdf/xml"), rdflib="xml"),
    _row("trig", GRAPH, R.TRIG, "TriG", rdflib="trig"),
    _row("nq", GRAPH, R.N_QUADS, "N-Quads", keywords=("nquads", "n-quads"), rdflib="nquads"),
)

# Input files a build reads, by suffix: the graph rows above (N-Quads aside: input files are graphs, not datasets),
# plus .owl for RDF/XML ontologies.
INPUT_SUFFIXES: dict[str, Format] = {
    **{"." + f.extension: f for f in FORMATS if f.kind == GRAPH and f.name != "nq"},
    ".owl": next(f for f in FORMATS if f.name == "rdf"),
}

# What a client means by ``format=xml`` / ``format=json`` depends on the answer: SPARQLWrapper (and Virtuoso, Fuseki)
# use them for RDF/XML and JSON-LD when the query is a CONSTRUCT or DESCRIBE.
GRAPH_READINGS = {"xml": "rdf", "json": "jsonld"}

BY_NAME: dict[str, Format] = {f.name: f for f in FORMATS}

# Aliases answered under the media type the client asked for: Turtle is N3 (N3 extends it), and JSON-LD is JSON (a
# plain JSON client that asks for application/json gets the JSON-LD, labelled as what it accepts).
ANSWERED_AS_ASKED = frozenset({"text/n3", "application/json"})


def content_type_for(fmt: Format, asked: str | None) -> str:
    """The Content-Type of ``fmt`` sent to a client whose Accept chose ``asked`` (a media type, or None)."""
    if asked in ANSWERED_AS_ASKED and asked in fmt.aliases:
        return f"{asked}; charset=utf-8" if asked.startswith("text/") else asked
    return fmt.content_type


class UnknownFormat(ValueError):
    """A format name, extension or media type that is not in the table; the message lists what is."""


def of_kind(kind: str) -> tuple[Format, ...]:
    """The formats of one kind (TABULAR or GRAPH), default first."""
    if kind not in (TABULAR, GRAPH):
        raise ValueError(f"kind must be {TABULAR!r} or {GRAPH!r}, not {kind!r}")
    return tuple(f for f in FORMATS if f.kind == kind)


def default(kind: str) -> Format:
    return of_kind(kind)[0]


def names(kind: str | None = None) -> tuple[str, ...]:
    return tuple(f.name for f in (of_kind(kind) if kind else FORMATS))


def lookup(token: str, kind: str | None = None) -> Format:
    """The format a name (``ttl``), extension (``srj``, ``.nt``) or media type (``text/turtle; charset=utf-8``) denotes.

    With ``kind``, only formats of that kind match. Raises UnknownFormat naming the choices.
    """
    key = token.strip().lower().lstrip(".")
    media = key.split(";")[0].strip()
    candidates = of_kind(kind) if kind else FORMATS
    if kind == GRAPH:
        key = GRAPH_READINGS.get(key, key)
    for f in candidates:
        if key == f.name or key == f.extension or key in f.keywords or media in f.media_types:
            return f
    raise UnknownFormat(f"unknown {kind + ' ' if kind else ''}format {token!r}; choose one of: "
                        + ", ".join(f"{f.name} ({f.media_type})" for f in candidates))


def offered(kind: str) -> list[str]:
    """Media types to offer Werkzeug's ``accept_mimetypes.best_match``: canonical types first, then aliases."""
    fmts = of_kind(kind)
    return [f.media_type for f in fmts] + [a for f in fmts for a in f.aliases]


def negotiate(best_match: str | None, kind: str) -> Format | None:
    """Map the media type Werkzeug chose (or None) back to its row."""
    if best_match is None:
        return None
    return lookup(best_match, kind)


def describe(fmts: Iterable[Format]) -> str:
    """'application/sparql-results+json (json), …' for messages such as a 406."""
    return ", ".join(f"{f.media_type} ({f.name})" for f in fmts)
