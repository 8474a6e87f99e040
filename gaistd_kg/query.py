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

This module reads, checks and runs one query (``check_query``, ``execute``); ``gaistd_kg.querypool`` runs them in
worker processes under the deadline (``QueryPool``, also reachable as ``query.QueryPool``). Results are serialised in
the worker (pyoxigraph's writers), so only bytes cross the process boundary. Both modules must stay importable
without rdflib: they are what each worker process imports.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass
from html import escape
from typing import Iterable, Mapping

import pyoxigraph as ox

from . import formats
from .formats import GRAPH, TABULAR, Format

FORMS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK")
UPDATE_KEYWORDS = ("INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH")
# A capped SPARQL JSON/XML answer carries this in head "link" (the only extension point those formats allow):
# a tag: URI, minted without registration (RFC 4151), that says the answer was cut at N rows.
CAP_LINK = "tag:w3id.org,2025:gaistd/result-capped?limit={limit}"
DEFAULT_TIMEOUT = 10.0
DEFAULT_ROW_LIMIT = 10000
MAX_NESTING = 200  # brackets and unary operators; Oxigraph's parser needs ~10 stack frames per level


# --- errors ------------------------------------------------------------------------------------------------------

class QueryError(Exception):
    """Any query that did not produce an answer; ``str(err)`` is a message for the person who sent it."""


class QuerySyntaxError(QueryError):
    def __init__(self, message: str):
        super().__init__(message)
        m = re.search(r"(\d+):(\d+)", message)
        self.line, self.column = (int(m.group(1)), int(m.group(2))) if m else (None, None)


class QueryRefused(QueryError):
    """The query uses a feature this server does not run for the public (``feature`` names it)."""

    def __init__(self, feature: str, message: str):
        super().__init__(message)
        self.feature = feature


class QueryTimeout(QueryError):
    def __init__(self, limit: float, setting: str = "QUERY_TIMEOUT"):
        super().__init__(f"query stopped: it ran past the time limit of {limit:g} s ({setting})")
        self.limit = limit


class QueryUnavailable(QueryError):
    """No answer for reasons of the server (no store, every worker busy past the deadline, a worker died)."""


class QueryMemoryExceeded(QueryError):
    def __init__(self, limit_mb: int):
        super().__init__(f"query stopped: it needed more memory than the limit of {limit_mb} MiB per query worker "
                         "(QUERY_MEMORY_LIMIT); narrow it, or add LIMIT")
        self.limit_mb = limit_mb


# --- reading the query text ---------------------------------------------------------------------------------------

_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_TOKEN = re.compile(rf"""
  (?P<ws>\s+)
| (?P<comment>\#[^\r\n]*)
| (?P<string>'''(?:(?:'|'')?(?:[^'\\]|\\.))*'''|\"\"\"(?:(?:"|"")?(?:[^"\\]|\\.))*\"\"\"
            |'(?:[^'\\\r\n]|\\.)*'|"(?:[^"\\\r\n]|\\.)*")
| (?P<iri><(?:[^<>"{{}}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{{4}}|\\U[0-9A-Fa-f]{{8}})*>)
| (?P<var>[?$][\w\u00B7\u0300-\u036F\u203F-\u2040]+)
| (?P<bnode>_:[\w\u00B7\u0300-\u036F\u203F-\u2040](?:[\w.\-\u00B7\u0300-\u036F\u203F-\u2040]*[\w\-\u00B7])?)
| (?P<langtag>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
| (?P<pname>(?:[^\W\d_](?:[\w.\-\u00B7]*[\w\-\u00B7])?)?:
            (?:(?:[\w:]|{_PLX})(?:(?:[\w.:\-\u00B7]|{_PLX})*(?:[\w:\-\u00B7]|{_PLX}))?)?)
| (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
| (?P<word>[A-Za-z_][A-Za-z0-9_]*)
| (?P<other>\^\^|&&|\|\||!=|<=|>=|.)
""", re.X | re.S)
_UESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


def tokens(text: str) -> Iterable[tuple[str, str]]:
    """(kind, text) for each token outside whitespace and comments, as the SPARQL grammar's terminals split it."""
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind not in ("ws", "comment"):
            yield kind, m.group()


def _iri_text(token: str) -> str:
    return _UESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), token[1:-1])


@dataclass(frozen=True)
class QueryInfo:
    """What a lexical reading of the query shows, before any engine sees it."""

    form: str | None                   # SELECT, CONSTRUCT, DESCRIBE, ASK; None when the text starts otherwise
    update: str | None = None          # the update keyword it starts with (INSERT, CLEAR, …), if it is an update
    dataset_clause: bool = False       # has FROM / FROM NAMED
    services: tuple[str | None, ...] = ()  # SERVICE endpoints, as absolute IRIs; None: one the reading cannot resolve
    dataset_iris: tuple[str, ...] = ()  # FROM / FROM NAMED graphs the reading resolved to absolute IRIs
    nesting: int = 0                   # deepest nesting of ( { [ and runs of unary ! - +
    loads: bool = False                # the LOAD keyword occurs (in any spelling Oxigraph reads as LOAD)
    using: bool = False                # an update names its own dataset (USING, USING NAMED or WITH)

    @property
    def kind(self) -> str | None:
        """TABULAR (SELECT, ASK), GRAPH (CONSTRUCT, DESCRIBE) or None."""
        if self.form is None:
            return None
        return GRAPH if self.form in ("CONSTRUCT", "DESCRIBE") else TABULAR


def inspect(text: str) -> QueryInfo:
    """Read the query's form, dataset clause and SERVICE targets from its tokens (no full parse: that is Oxigraph's).

    Oxigraph matches keywords without a word boundary (``SERVICE:x`` is SERVICE then ``:x``, ``trueSERVICE`` is
    ``true`` then SERVICE), and in an expression ``<`` may be an operator where a lexer sees an IRI. The reading is
    therefore conservative: any SERVICE it cannot read plainly is reported as an endpoint it cannot resolve (None).
    """
    toks = list(tokens(text))
    prefixes: dict[str, str] = {}
    base = ""
    i = 0
    while i < len(toks):  # prologue
        word = toks[i][1].upper() if toks[i][0] == "word" else ""
        if word == "BASE" and i + 1 < len(toks) and toks[i + 1][0] == "iri":
            base = _iri_text(toks[i + 1][1])
            i += 2
        elif word == "PREFIX" and i + 2 < len(toks) and toks[i + 1][0] == "pname" and toks[i + 2][0] == "iri":
            prefixes[toks[i + 1][1].rstrip(":")] = _iri_text(toks[i + 2][1])
            i += 3
        else:
            break
    first = toks[i][1].upper() if i < len(toks) and toks[i][0] == "word" else ""
    form = next((f for f in FORMS if first.startswith(f)), None)
    update = next((u for u in UPDATE_KEYWORDS if first.startswith(u)), None) if form is None else None
    dataset_clause = loads = using = False
    services: list[str | None] = []
    dataset_iris: list[str] = []
    depth = deepest = run = 0
    for j, (kind, tok) in enumerate(toks):
        up = tok.upper()
        if kind == "other":
            if tok in "({[":
                depth += 1
            elif tok in ")}]":
                depth -= 1
            run = run + 1 if tok in "!-+" else 0
            deepest = max(deepest, depth + run)
            continue
        run = 0
        if kind == "pname":
            prefix = up.split(":", 1)[0]
            if "SERVICE" in prefix:
                services.append(None)
            loads = loads or "LOAD" in prefix  # Oxigraph reads LOAD:x as LOAD then :x
            dataset_clause = dataset_clause or prefix == "FROM"
        elif kind == "iri" and _service_inside_iri(tok):
            services.append(None)
        elif kind != "word":
            continue
        elif up == "FROM":
            dataset_clause = True
            k = j + 1
            if k < len(toks) and toks[k][0] == "word" and toks[k][1].upper() == "NAMED":
                k += 1
            iri = _resolve(toks[k], prefixes, base) if k < len(toks) else None
            if iri is not None:
                dataset_iris.append(iri)
        elif "LOAD" in up:
            loads = True
        elif up in ("USING", "WITH"):
            using = True
        elif up == "SERVICE":
            k = j + 1
            if k < len(toks) and toks[k][1].upper() == "SILENT" and toks[k][0] == "word":
                k += 1
            target = toks[k] if k < len(toks) else ("", "")
            services.append(None if target[1].upper().startswith("SILENT") else _resolve(target, prefixes, base))
        elif "SERVICE" in up:
            services.append(None)
    return QueryInfo(form=form, update=update, dataset_clause=dataset_clause, services=tuple(services),
                     dataset_iris=tuple(dataset_iris), loads=loads, using=using, nesting=deepest)


def _check_nesting(info: QueryInfo) -> None:
    if info.nesting > MAX_NESTING:
        raise QueryRefused("nesting", f"the text is nested {info.nesting} levels deep (brackets and unary operators); "
                                      f"at most {MAX_NESTING} are accepted")


def _service_inside_iri(tok: str) -> bool:
    """Could Oxigraph read this ``<…>`` as a less-than followed by code holding a SERVICE keyword?

    Only when the keyword is followed by something that can name an endpoint and a ``#`` then hides the closing
    ``>`` in a comment (``FILTER(?a<?b)SERVICE?e#>``). A plain IRI such as ``<…/sparql-service-description#>`` is not.
    """
    body = tok[1:-1]
    if "#" not in body or "SERVICE" not in body.upper():
        return False
    inner = list(tokens(body[:body.rindex("#")]))
    for j, (kind, t) in enumerate(inner):
        if "SERVICE" in t.upper() and kind in ("word", "pname"):
            nxt = inner[j + 1] if j + 1 < len(inner) else None
            if kind == "pname" or t.upper() != "SERVICE" or nxt is None or nxt[0] in ("var", "pname", "word", "iri"):
                return True
    return False


def _resolve(token: tuple[str, str], prefixes: Mapping[str, str], base: str) -> str | None:
    kind, tok = token
    if kind == "iri":
        iri = _iri_text(tok)
    elif kind == "pname" and ":" in tok:
        prefix, local = tok.split(":", 1)
        if prefix not in prefixes:
            return None
        iri = prefixes[prefix] + re.sub(r"\\(.)", r"\1", local)
    else:
        return None  # a variable, or something the reading does not follow: never allowed
    if not re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:", iri):
        return base + iri if base and re.match(r"https?://", base) else None
    return iri


def check_query(text: str, service_allowlist: Iterable[str] = ()) -> QueryInfo:
    """The one place that decides whether a query may run here. Returns what it read; raises QueryRefused.

    Refused: SPARQL Update (this is a read-only query service) and SERVICE to any endpoint not in
    ``service_allowlist`` (a SERVICE whose endpoint is a variable or cannot be resolved is never allowed).
    """
    info = inspect(text)
    if info.update:
        raise QueryRefused("update", f"SPARQL Update ({info.update}) is not accepted: this is a read-only query "
                                     "service")
    _check_nesting(info)
    _check_services(info, service_allowlist)
    for iri in info.dataset_iris:
        _check_local(iri, "FROM")
    return info


def _check_services(info: QueryInfo, service_allowlist: Iterable[str]) -> None:
    allowed = set(service_allowlist)
    for iri in info.services:
        if iri is None:
            raise QueryRefused("SERVICE", "SERVICE is refused: its endpoint must be a literal IRI on the allow-list")
        if iri not in allowed:
            raise QueryRefused("SERVICE", f"SERVICE <{iri}> is refused: federated queries may only reach endpoints "
                                          "an operator allows (SERVICE_ALLOWLIST)")


def _check_local(iri: str, feature: str) -> None:
    if iri.lower().startswith("file:"):
        raise QueryRefused(feature, f"{feature} <{iri}> is refused: this server never reads local files; "
                                    "name a graph of the store")


def check_dataset(iris: Iterable[str], feature: str = "default-graph-uri") -> None:
    """Refuse a protocol dataset IRI (``default-graph-uri``, ``named-graph-uri``) that is a ``file:`` path.

    Any other IRI names a graph of the store: Oxigraph never fetches it, and one the store does not hold is an empty
    graph (the W3C Protocol tests rely on that: ``ASK {}`` over an absent default graph is true).
    """
    for iri in iris:
        _check_local(iri, feature)


def check_update(text: str, service_allowlist: Iterable[str] = ()) -> QueryInfo:
    """The update endpoint's counterpart of ``check_query``: refuses LOAD always, SERVICE unless allow-listed, and
    a query sent as an update. Raises QueryRefused."""
    info = inspect(text)
    if info.form is not None:
        raise QueryRefused("query", f"a {info.form} query is not an update: send queries to the query endpoint")
    if info.loads:
        raise QueryRefused("LOAD", "LOAD is refused: this server never fetches data from another host or reads a "
                                   "local file; send the data itself (INSERT DATA, or PUT/POST to the graph store)")
    _check_nesting(info)
    _check_services(info, service_allowlist)
    return info


def mentioned_iris(text: str) -> set[str]:
    """Every IRI the text names, written out or as a prefixed name (prefixes declared anywhere in it apply; an
    update may declare them before each operation). For messages, not for security: a name it cannot resolve is
    left out."""
    toks = list(tokens(text))
    prefixes: dict[str, str] = {}
    base = ""
    for i, (kind, tok) in enumerate(toks[:-1]):
        if kind == "word" and tok.upper() == "BASE" and toks[i + 1][0] == "iri":
            base = _iri_text(toks[i + 1][1])
        elif kind == "word" and tok.upper() == "PREFIX" and i + 2 < len(toks) and toks[i + 1][0] == "pname" \
                and toks[i + 2][0] == "iri":
            prefixes[toks[i + 1][1].rstrip(":")] = _iri_text(toks[i + 2][1])
    found = set()
    for kind, tok in toks:
        if kind in ("iri", "pname"):
            iri = _resolve((kind, tok), prefixes, base)
            if iri is not None:
                found.add(iri)
    return found


def with_using(text: str, default_graphs: Iterable[str] = (), named_graphs: Iterable[str] = ()) -> str:
    """The update with the protocol's ``using-graph-uri`` / ``using-named-graph-uri`` applied to each operation.

    A ``USING`` clause is inserted before every top-level ``WHERE`` that follows a template, each IRI written with
    Oxigraph's own term serialisation (``NamedNode`` refuses anything that is not an IRI, so nothing can be injected).
    Raises QueryRefused when the update names its own dataset (SPARQL 1.1 Protocol 2.2.3) or uses ``DELETE WHERE``,
    which has no place for USING.
    """
    clauses = "".join(f" USING {ox.NamedNode(i)}" for i in default_graphs)
    clauses += "".join(f" USING NAMED {ox.NamedNode(i)}" for i in named_graphs)
    if not clauses:
        return text
    if inspect(text).using:
        raise QueryRefused("using-graph-uri", "using-graph-uri / using-named-graph-uri cannot be combined with an "
                                              "update that names its own dataset (USING or WITH)")
    out, depth, last, prev = [], 0, 0, ""
    for m in _TOKEN.finditer(text):
        kind, tok = m.lastgroup, m.group()
        if kind in ("ws", "comment"):
            continue
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth -= 1
        elif kind == "word" and tok.upper() == "WHERE" and depth == 0:
            if prev != "}":
                raise QueryRefused("using-graph-uri", "using-graph-uri / using-named-graph-uri cannot apply to "
                                                      "DELETE WHERE { … }: write DELETE { … } WHERE { … }")
            out.append(text[last:m.start()] + clauses.lstrip() + " ")
            last = m.start()
        prev = tok
    out.append(text[last:])
    return "".join(out)


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
        default = [ox.NamedNode(iri) for iri in dataset.default_graphs] or [ox.BlankNode()]  # fresh: an empty graph
        return {"default_graph": default, "named_graphs": [ox.NamedNode(iri) for iri in dataset.named_graphs]}
    return {"use_default_graph_as_union": True} if union else {}


def execute(store: ox.Store, text: str, fmt: str | None = None, dataset: Dataset | None = None, union: bool = True,
            row_limit: int = DEFAULT_ROW_LIMIT, base_iri: str | None = None,
            prefixes: Mapping[str, str] | None = None, form: str | None = None) -> Result:
    """Evaluate and serialise one query in this process, without a deadline (the pool adds that).

    ``fmt`` names a row of the formats table; if it is of the wrong kind for the query (or None) the kind's default
    is used. ``union`` is False when the query has its own FROM clause. Callers check the query first.
    """
    start = time.perf_counter()
    try:
        answer = store.query(text, base_iri=base_iri, **dataset_options(dataset, union))
    except SyntaxError as exc:
        raise QuerySyntaxError(str(exc)) from None
    except ValueError as exc:
        raise QuerySyntaxError(str(exc)) from None
    try:
        if isinstance(answer, ox.QueryBoolean):
            result = _boolean(answer, _format(fmt, TABULAR), row_limit)
        elif isinstance(answer, ox.QuerySolutions):
            f = _format(fmt, TABULAR)
            result = _solutions(answer, f, row_limit)
        else:
            form = form if form in ("CONSTRUCT", "DESCRIBE") else (inspect(text).form or "CONSTRUCT")
            result = _triples(answer, _format(fmt, GRAPH), row_limit, prefixes or {}, form)
    except OSError as exc:  # evaluation errors surface while iterating (e.g. a SERVICE that failed)
        raise QueryError(f"query failed: {exc}") from None
    return Result(**{**result.__dict__, "elapsed": time.perf_counter() - start})


def _format(name: str | None, kind: str) -> Format:
    f = formats.BY_NAME.get(name or "")
    return f if f is not None and f.kind == kind else formats.default(kind)


def _boolean(answer: ox.QueryBoolean, f: Format, limit: int) -> Result:
    if f.ox is None:
        body = _html_page(f"<p>ASK: <strong>{'true' if answer else 'false'}</strong></p>")
    else:
        body = answer.serialize(format=f.ox)
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


def _solutions(answer: ox.QuerySolutions, f: Format, limit: int) -> Result:
    # TSV has one line per row (newlines inside values are escaped), so it is where rows can be counted and cut;
    # pyoxigraph's own TSV reader then gives the capped solutions back for its writer of the requested format.
    variables = [v.value for v in answer.variables]
    cap = _LineCap(limit + 1)  # header + rows
    try:
        answer.serialize(cap, format=ox.QueryResultsFormat.TSV)
    except _Full:
        pass
    tsv = cap.value()
    count = max(tsv.count(b"\n") - 1, 0)
    if f.name == "tsv":
        body = tsv
    else:
        solutions = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
        body = _html_table(variables, solutions, cap.capped, limit) if f.ox is None else solutions.serialize(format=f.ox)
        if cap.capped:
            body = annotate_capped(body, f, limit)
    return Result(form="SELECT", format=f.name, body=body, count=count, capped=cap.capped, limit=limit)


def _triples(answer: ox.QueryTriples, f: Format, limit: int, prefixes: Mapping[str, str], form: str) -> Result:
    triples = list(itertools.islice(answer, limit + 1))
    capped = len(triples) > limit
    del triples[limit:]
    body = ox.serialize(triples, format=f.ox, prefixes=_used_prefixes(triples, prefixes) if prefixes else None)
    if capped:
        body = annotate_capped(body, f, limit)
    return Result(form=form, format=f.name, body=body, count=len(triples), capped=capped, limit=limit)


def _used_prefixes(triples: list[ox.Triple], prefixes: Mapping[str, str]) -> dict[str, str]:
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


def __getattr__(name: str):
    # The pool lives in querypool (which imports this module); query.QueryPool keeps working for callers.
    if name in ("QueryPool", "pool_for_build", "deny_network"):
        from . import querypool

        return getattr(querypool, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
