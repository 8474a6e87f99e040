"""Run SPARQL text on the built Oxigraph store, with the safety rules a public endpoint needs.

The rules, each pinned by a test in ``tests/test_query.py``:

* **Deadline.** A pyoxigraph query cannot be interrupted from its own thread, so queries run in a small pool of worker
  processes (``QueryPool``), each holding the store open read-only. When a query passes its deadline the parent kills
  that worker, starts a replacement and raises ``QueryTimeout`` naming the limit.
* **Row cap.** At most ``row_limit`` rows (SELECT) or triples (CONSTRUCT/DESCRIBE); a longer answer is cut there and
  the ``Result`` says ``capped``. Where the format has room for a remark, the body says so too (see ``CAP_LINK``).
* **Dataset.** Without a dataset the default graph is the union of all named graphs. ``default-graph-uri`` /
  ``named-graph-uri`` (a ``Dataset``) replace it, as the SPARQL Protocol says; ``FROM`` / ``FROM NAMED`` in the query
  select graphs of the store. Oxigraph never fetches a ``FROM`` IRI (pinned by tests with a live listener and with
  strace); a graph the store does not hold is empty. A ``file:`` IRI in either form is refused, naming it, so a
  client expecting the server to read a file learns that it never does.
* **No outbound requests, no writes.** ``check_query`` (the one place that decides) refuses ``SERVICE`` unless the
  endpoint IRI is allow-listed, and refuses SPARQL Update, each with an error naming the blocked feature.
  ``check_update`` is its counterpart for the update endpoint: ``LOAD`` (which fetches a URL or reads a file) is always
  refused, ``SERVICE`` as in queries.
* **Memory.** Each worker runs under a data-memory limit (``QueryPool.memory_limit_mb``); a query that needs more is
  stopped with ``QueryMemoryExceeded`` naming the limit, and the worker is replaced.
* **Depth.** Oxigraph parses and plans recursively: a query nested a few thousand levels deep (``{{{…}}}``,
  ``((((…))))``, ``!!!!…``) or a chain of ~7,000 operators overflows an 8 MB stack and kills the process. Workers run
  the engine on a thread with a large stack (``querypool``), which turns long chains into slow queries the deadline
  stops, and ``check_query`` / ``check_update`` refuse nesting deeper than ``MAX_NESTING`` outright.
* **Syntax errors** come back as ``QuerySyntaxError`` with pyoxigraph's own message and its line and column.

``gaistd_kg.query.sparqltext`` reads and checks the text (``check_query``, ``check_update``; re-exported here), this module
runs one query (``execute``); ``gaistd_kg.query.pool`` runs them in
worker processes under the deadline (``QueryPool``, also reachable as ``query.QueryPool``). Results are serialised in
the worker (pyoxigraph's writers), so only bytes cross the process boundary. Both modules must stay importable
without rdflib: they are what each worker process imports.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from html import escape
from typing import IO, Callable, Iterable, Mapping, cast

import pyoxigraph as ox

from gaistd_kg import formats
from gaistd_kg.formats import GRAPH, TABULAR, Format

# What a query says and whether it may run (and the errors): see gaistd_kg.query.sparqltext, re-exported here.
from .sparqltext import (FORMS, MAX_NESTING, UPDATE_KEYWORDS, QueryError, QueryInfo,  # noqa: F401 - re-exported
                         QueryMemoryExceeded, QueryRefused, QuerySyntaxError, QueryTimeout, QueryUnavailable,
                         check_dataset, check_query, check_update, inspect, mentioned_iris, tokens, with_using)

# A capped SPARQL JSON/XML answer carries this in head "link" (the only extension point those formats allow):
# a tag: URI, minted without registration (RFC 4151), that says the answer was cut at N rows.
CAP_LINK = "tag:w3id.org,2025:gaistd/result-capped?limit={limit}"
DEFAULT_TIMEOUT = 10.0
DEFAULT_ROW_LIMIT = 10000

# SPARQL custom functions by IRI, as ``Store.query`` takes them (``query/textsearch.py``)
CustomFunctions = dict[ox.NamedNode, Callable[..., ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple | None]]


# --- running one query in this process ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Dataset:
    """A protocol dataset (default-graph-uri / named-graph-uri); empty means: the store's union default graph."""

    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.default_graphs or self.named_graphs)


@dataclass(frozen=True)
class Result:
    form: str               # SELECT, ASK, CONSTRUCT, DESCRIBE
    format: str             # name of the row of formats.FORMATS the body is written in
    body: bytes
    count: int              # rows or triples in the body (1 for ASK)
    capped: bool            # the answer had more than ``limit`` rows/triples and was cut
    limit: int
    elapsed: float = 0.0    # seconds in the engine and serialiser

    @property
    def media_type(self) -> str:
        return formats.BY_NAME[self.format].content_type


def dataset_options(dataset: Dataset | None, union: bool = True) -> dict:
    """Keyword arguments for ``Store.query``. With a protocol dataset, graphs it does not name are not in it."""
    if dataset:
        default: list[ox.NamedNode | ox.BlankNode | ox.DefaultGraph] = (
            [ox.NamedNode(iri) for iri in dataset.default_graphs] or [ox.BlankNode()])  # fresh: an empty graph
        return {"default_graph": default, "named_graphs": [ox.NamedNode(iri) for iri in dataset.named_graphs]}
    return {"use_default_graph_as_union": True} if union else {}


def execute(store: ox.Store, text: str, fmt: str | None = None, dataset: Dataset | None = None, union: bool = True,
            row_limit: int = DEFAULT_ROW_LIMIT, base_iri: str | None = None,
            prefixes: Mapping[str, str] | None = None, form: str | None = None,
            functions: CustomFunctions | None = None) -> Result:
    """Evaluate and serialise one query in this process, without a deadline (the pool adds that).

    ``fmt`` names a row of the formats table; if it is of the wrong kind for the query (or None) the kind's default
    is used. ``union`` is False when the query has its own FROM clause. ``functions``: custom functions the query may
    call (``query/textsearch.py``). Callers check the query first.
    """
    start = time.perf_counter()
    try:
        answer = store.query(text, base_iri=base_iri, custom_functions=functions or None,
                             **dataset_options(dataset, union))
    except SyntaxError as exc:
        raise QuerySyntaxError(str(exc)) from None
    except ValueError as exc:
        raise QuerySyntaxError(str(exc)) from None
    try:
        if isinstance(answer, ox.QueryBoolean):
            result = boolean_result(answer, result_format(fmt, TABULAR), row_limit)
        elif isinstance(answer, ox.QuerySolutions):
            f = result_format(fmt, TABULAR)
            result = solutions_result(answer, f, row_limit)
        else:
            form = form if form in ("CONSTRUCT", "DESCRIBE") else (inspect(text).form or "CONSTRUCT")
            result = triples_result(answer, result_format(fmt, GRAPH), row_limit, prefixes or {}, form)
    except OSError as exc:  # evaluation errors surface while iterating (e.g. a SERVICE that failed)
        raise QueryError(f"query failed: {exc}") from None
    return Result(**{**result.__dict__, "elapsed": time.perf_counter() - start})


def result_format(name: str | None, kind: str) -> Format:
    f = formats.BY_NAME.get(name or "")
    return f if f is not None and f.kind == kind else formats.default(kind)


def boolean_result(answer: ox.QueryBoolean, f: Format, limit: int) -> Result:
    if f.results_ox is None:
        body = _html_page(f"<p>ASK: <strong>{'true' if answer else 'false'}</strong></p>")
    else:
        written = answer.serialize(format=f.results_ox)
        assert written is not None  # no output given: the bytes come back
        body = written
    return Result(form="ASK", format=f.name, body=body, count=1, capped=False, limit=limit)


class _Full(Exception):
    pass


class _LineCap:
    """A binary writer keeping the first ``max_lines`` lines; one byte more sets ``capped`` and stops the writer."""

    def __init__(self, max_lines: int):
        self.max_lines = max_lines
        self.parts: list[bytes] = []
        self.lines = 0
        self.capped = False

    def write(self, data) -> int:
        data = bytes(data)
        if self.lines >= self.max_lines:
            if data:
                self.capped = True
                raise _Full
            return 0
        n = data.count(b"\n")
        if self.lines + n <= self.max_lines and not (self.lines + n == self.max_lines and not data.endswith(b"\n")):
            self.parts.append(data)
            self.lines += n
            return len(data)
        cut = -1
        for _ in range(self.max_lines - self.lines):
            cut = data.index(b"\n", cut + 1)
        self.parts.append(data[:cut + 1])
        self.lines = self.max_lines
        self.capped = True
        raise _Full

    def flush(self) -> None:
        pass

    def value(self) -> bytes:
        return b"".join(self.parts)


def solutions_result(answer: ox.QuerySolutions, f: Format, limit: int) -> Result:
    # TSV has one line per row (newlines inside values are escaped), so it is where rows can be counted and cut;
    # pyoxigraph's own TSV reader then gives the capped solutions back for its writer of the requested format.
    variables = [v.value for v in answer.variables]
    cap = _LineCap(limit + 1)  # header + rows
    try:
        answer.serialize(cast(IO[bytes], cap), format=ox.QueryResultsFormat.TSV)  # _LineCap: write and flush
    except _Full:
        pass
    tsv = cap.value()
    count = max(tsv.count(b"\n") - 1, 0)
    if f.name == "tsv":
        body = tsv
    else:
        solutions = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
        assert isinstance(solutions, ox.QuerySolutions)  # TSV results are solutions, never a boolean
        if f.results_ox is None:
            body = _html_table(variables, solutions, cap.capped, limit)
        else:
            written = solutions.serialize(format=f.results_ox)
            assert written is not None  # no output given: the bytes come back
            body = written
        if cap.capped:
            body = annotate_capped(body, f, limit)
    return Result(form="SELECT", format=f.name, body=body, count=count, capped=cap.capped, limit=limit)


def triples_result(answer: Iterable[ox.Triple], f: Format, limit: int, prefixes: Mapping[str, str], form: str) -> Result:
    triples = list(itertools.islice(answer, limit + 1))
    capped = len(triples) > limit
    del triples[limit:]
    body = ox.serialize(triples, format=f.rdf_ox, prefixes=used_prefixes(triples, prefixes) if prefixes else None)
    assert body is not None  # no output given: the bytes come back
    if capped:
        body = annotate_capped(body, f, limit)
    return Result(form=form, format=f.name, body=body, count=len(triples), capped=capped, limit=limit)


def used_prefixes(triples: list[ox.Triple], prefixes: Mapping[str, str]) -> dict[str, str]:
    by_ns = {ns: p for p, ns in prefixes.items()}
    used: dict[str, str] = {}
    for t in triples:
        for term in (t.subject, t.predicate, t.object):
            if isinstance(term, ox.Literal):
                term = term.datatype
            if isinstance(term, ox.NamedNode):
                iri = term.value
                cut = max(iri.rfind("#"), iri.rfind("/")) + 1
                p = by_ns.get(iri[:cut])
                if p is not None:
                    used[p] = iri[:cut]
    return used


def annotate_capped(body: bytes, f: Format, limit: int) -> bytes:
    """Say in the body that the answer was cut at ``limit``, where the format has a place for a remark.

    SPARQL JSON/XML: a ``link`` in the head (``CAP_LINK``); Turtle, TriG, N-Triples, N-Quads: a leading comment;
    RDF/XML: an XML comment. CSV, TSV and JSON-LD have no such place: the HTTP header is the only signal there.
    """
    note = f"result capped at {limit} (ROW_LIMIT): add LIMIT/OFFSET or narrow the query"
    link = CAP_LINK.format(limit=limit)
    if f.name == "json":
        head_end = body.index(b"]", body.index(b'"vars":[')) + 1  # variable names cannot contain "]"
        return body[:head_end] + b',"link":[%s]' % (b'"' + link.encode() + b'"') + body[head_end:]
    if f.name == "xml":
        end = body.index(b"</head>")
        return body[:end] + b'<link href="%s"/>' % escape(link).encode() + body[end:]
    if f.name in ("ttl", "trig", "nt", "nq"):
        return b"# " + note.encode() + b"\n" + body
    if f.name == "rdf":
        decl_end = body.index(b"?>") + 2 if body.startswith(b"<?xml") else 0
        return body[:decl_end] + b"\n<!-- " + note.encode() + b" -->" + body[decl_end:]
    return body


def _html_page(inner: str) -> bytes:
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>SPARQL results</title>"
            "<link rel=\"icon\" href=\"data:,\"></head><body>\n"
            + inner + "\n</body></html>\n").encode()


def _html_table(variables: list[str], solutions: ox.QuerySolutions, capped: bool, limit: int) -> bytes:
    out = ["<table class=\"sparql-results\">", "<thead><tr>"]
    out += [f"<th>?{escape(v)}</th>" for v in variables]
    out.append("</tr></thead><tbody>")
    for row in solutions:
        out.append("<tr>" + "".join(f"<td>{_html_term(row[v])}</td>" for v in variables) + "</tr>")
    out.append("</tbody></table>")
    if capped:
        out.append(f"<p class=\"capped\">Result capped at {limit} rows (ROW_LIMIT).</p>")
    return _html_page("\n".join(out))


def _html_term(term) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        if not term.value.lower().startswith(("http://", "https://", "mailto:")):
            return escape(term.value)  # a javascript: (or any other scheme's) IRI in the data never becomes a link
        return f"<a href=\"{escape(term.value)}\">{escape(term.value)}</a>"
    if isinstance(term, ox.Literal):
        extra = f" <small>@{escape(term.language)}</small>" if term.language else ""
        return escape(term.value) + extra
    return escape(str(term))
