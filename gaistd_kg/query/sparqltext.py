"""The text of a SPARQL query or update, read before any engine sees it: what it asks, and whether it may run here.

``check_query`` and ``check_update`` are the one place that decides what is refused (SPARQL Update at the query
endpoint, SERVICE to an endpoint not allow-listed, LOAD, ``file:`` datasets, nesting deeper than ``MAX_NESTING``);
``inspect`` reads the form, the dataset clause and the SERVICE targets from the tokens, as Oxigraph would read them;
``with_using`` applies the Protocol's ``using-graph-uri`` to an update. The errors every query module raises are here
too. ``gaistd_kg.query`` re-exports all of it: callers import from there. No rdflib, no store: query workers import
this module.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping
from urllib.parse import urljoin

import pyoxigraph as ox

FORMS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK")
UPDATE_KEYWORDS = ("INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH")
MAX_NESTING = 200  # brackets and unary operators; Oxigraph's parser needs ~10 stack frames per level
MAX_TEXT_BYTES = 256 << 10  # the default size limit of a query or update text (the web setting QUERY_MAX_BYTES)
INSPECT_TIME_LIMIT = 5.0  # seconds: a reading of the text taking longer is abandoned (reading is linear: a belt)


# --- errors ------------------------------------------------------------------------------------------------------

class QueryError(Exception):
    """Any query that did not produce an answer; ``str(err)`` is a message for the person who sent it."""


class QuerySyntaxError(QueryError):
    def __init__(self, message: str):
        super().__init__(message)
        m = re.search(r"(?<!\d)(\d+):(\d+)", message)  # from a digit run's start: linear
        self.line: int | None = int(m.group(1)) if m else None
        self.column: int | None = int(m.group(2)) if m else None


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
# Every alternative either matches or fails within the characters a later token would read anyway, except two
# that ``spans`` keeps linear itself: strings (an unterminated one is scanned to its end once, not from every quote),
# and prefixed names (whether a run of name characters ends in ``:`` is decided once per run, not once per token).
_TOKEN_TEMPLATE = r"""
  (?P<ws>\s+)
| (?P<comment>\#[^\r\n]*)
| (?P<iri><(?:[^<>"{{}}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{{4}}|\\U[0-9A-Fa-f]{{8}})*>)
| (?P<var>[?$][\w\u00B7\u0300-\u036F\u203F-\u2040]+)
| (?P<bnode>_:[\w\u00B7\u0300-\u036F\u203F-\u2040](?:[\w.\-\u00B7\u0300-\u036F\u203F-\u2040]*[\w\-\u00B7])?)
| (?P<langtag>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
| (?P<pname>{prefix}:
            (?:(?:[\w:]|{plx})(?:(?:[\w.:\-\u00B7]|{plx})*(?:[\w:\-\u00B7]|{plx}))?)?)
| (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
| (?P<word>[A-Za-z_][A-Za-z0-9_]*)
| (?P<other>\^\^|&&|\|\||!=|<=|>=|.)
"""
_TOKEN = re.compile(_TOKEN_TEMPLATE.format(prefix=r"(?:[^\W\d_](?:[\w.\-\u00B7]*[\w\-\u00B7])?)?", plx=_PLX), re.X | re.S)
_TOKEN_NO_PREFIX = re.compile(_TOKEN_TEMPLATE.format(prefix="", plx=_PLX), re.X | re.S)  # ``:local`` names only
_NAME_RUN = re.compile(r"[\w.\-\u00B7]*")   # the characters a prefix of a prefixed name is made of
_LONG_STRING = {q: re.compile(rf"{q}{q}{q}(?:(?:{q}|{q}{q})?(?:[^{q}\\]|\\.))*{q}{q}{q}", re.S) for q in "'\""}
_SHORT_STRING = {q: re.compile(rf"{q}(?:[^{q}\\\r\n]|\\.)*", re.S) for q in "'\""}  # without the closing quote
_UESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


def spans(text: str, pos: int = 0) -> Iterator[tuple[str, str, int, int]]:
    """(kind, text, start, end) for every token, whitespace and comments included, as the SPARQL grammar's terminals
    split it; in time linear in the length of ``text``, whatever it holds.

    Strings: a string that does not close where it starts cannot close from any later quote of the same kind before
    the point its scan reached (a later quote was escaped in that scan, so the two scans agree from there on), so
    that point is remembered and the quote read as a lone character, as the regular expression alone would.
    """
    n = len(text)
    run_end = pos
    prefixed = False
    long_open = {"'": True, '"': True}      # False once a long string of that quote failed to close: none will
    short_dead = {"'": -1, '"': -1}        # a short string of that quote starting before this cannot close
    while pos < n:
        ch = text[pos]
        if ch == '"' or ch == "'":
            end = -1
            if long_open[ch] and text.startswith(ch * 3, pos):
                m = _LONG_STRING[ch].match(text, pos)
                if m:
                    end = m.end()
                else:
                    long_open[ch] = False
            if end < 0 and pos >= short_dead[ch]:
                short = _SHORT_STRING[ch].match(text, pos)
                assert short is not None  # it starts with the quote at ``pos``
                stop = short.end()
                if stop < n and text[stop] == ch:
                    end = stop + 1
                else:
                    short_dead[ch] = stop
            if end < 0:
                yield "other", ch, pos, pos + 1
                pos += 1
            else:
                yield "string", text[pos:end], pos, end
                pos = end
            continue
        if pos >= run_end:
            if ch.isalnum() or ch in "_.-\u00b7":  # the characters of \w (str.isalnum and _) and of a prefix
                run = _NAME_RUN.match(text, pos)
                assert run is not None  # ``*``: matches the empty string too
                run_end = run.end()
                prefixed = text.startswith(":", run_end) and text[run_end - 1] != "."
            else:
                prefixed = False
        m = (_TOKEN if prefixed else _TOKEN_NO_PREFIX).match(text, pos)
        assert m is not None and m.lastgroup is not None  # ``other`` takes any one character
        yield m.lastgroup, m.group(), pos, m.end()
        pos = m.end()


def tokens(text: str) -> Iterable[tuple[str, str]]:
    """(kind, text) for each token outside whitespace and comments, as the SPARQL grammar's terminals split it."""
    for kind, tok, _, _ in spans(text):
        if kind not in ("ws", "comment"):
            yield kind, tok


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
        from gaistd_kg.formats import GRAPH, TABULAR

        if self.form is None:
            return None
        return GRAPH if self.form in ("CONSTRUCT", "DESCRIBE") else TABULAR


_INSPECT_CACHE_MAX_TEXT = 16 << 10   # texts longer than this are read afresh each time (bounds the cache's memory)


def inspect(text: str) -> QueryInfo:
    """What a lexical reading of ``text`` shows (see ``_inspect``); remembered for the last 512 short texts, since
    the same queries come again and again (a client's, the competency questions) and the reading is pure."""
    if len(text) > _INSPECT_CACHE_MAX_TEXT:
        return _inspect(text)
    return _inspect_cached(text)


@functools.lru_cache(maxsize=512)
def _inspect_cached(text: str) -> QueryInfo:
    return _inspect(text)


def _inspect(text: str) -> QueryInfo:
    """Read the query's form, dataset clause and SERVICE targets from its tokens (no full parse: that is Oxigraph's).

    Oxigraph matches keywords without a word boundary (``SERVICE:x`` is SERVICE then ``:x``, ``trueSERVICE`` is
    ``true`` then SERVICE), and in an expression ``<`` may be an operator where a lexer sees an IRI. The reading is
    therefore conservative: any SERVICE it cannot read plainly is reported as an endpoint it cannot resolve (None).
    """
    located = _timed_spans(text)
    toks = [(kind, tok) for kind, tok, _, _ in located]
    prefixes: dict[str, str] = {}
    base = ""
    i = 0
    while i < len(toks):  # prologue
        word = toks[i][1].upper() if toks[i][0] == "word" else ""
        if word == "BASE" and i + 1 < len(toks) and toks[i + 1][0] == "iri":
            base = _join(base, _iri_text(toks[i + 1][1])) or ""
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
        # Nesting is counted inside ``<…>`` too: where a lexer sees an IRI, Oxigraph may see a less-than followed by
        # code (``FILTER((?a<!!!…true)>?b)``, ``?a<((((1>0))))``), and hidden nesting would still overflow its stack.
        for ch in (tok if kind == "other" else tok[1:-1] if kind == "iri" else ""):
            if ch in "({[":
                depth += 1
            elif ch in ")}]":
                depth -= 1
            run = run + 1 if ch in "!-+" else 0
            deepest = max(deepest, depth + run)
        if kind == "other":
            continue
        if kind != "iri":
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
    hidden_service, hidden_load = _hidden_keywords(text, located)
    if hidden_service:
        services.append(None)
    loads = loads or hidden_load
    return QueryInfo(form=form, update=update, dataset_clause=dataset_clause, services=tuple(services),
                     dataset_iris=tuple(dataset_iris), loads=loads, using=using, nesting=deepest)


def _hidden_keywords(text: str, main: list[tuple[str, str, int, int]]) -> tuple[bool, bool]:
    """(SERVICE, LOAD): whether Oxigraph may read either where the tokens show a string.

    Where a lexer sees an IRI holding ``#``, Oxigraph may see a less-than and a comment to the end of the line
    (``FILTER(?a<?b)#>``), and read the next line as code. If a string starts on that line and runs past its end,
    the two readings part: the next lines are code for Oxigraph, a string for the tokens. They are read again from
    the next line, as Oxigraph would, until that reading meets a token boundary of the first (from there the two
    agree); a keyword found there that could call out (followed by an endpoint, or glued to one) counts. The second
    readings together read at most twice the text (beyond that the text is refused: no query needs it).
    """
    if "#" not in text or not _CALL_OUT.search(text):
        return False, False
    starts: set[int] = set()
    service = load = False
    budget = 2 * len(text)
    line_end = -1
    for kind, tok, start, end in main:
        if kind == "iri" and "#" in tok:
            line_end = _line_end(text, end)
        elif start < line_end < end and kind == "string":
            starts = starts or {s for _, _, s, _ in main}
            alt = []
            for akind, atok, astart, aend in spans(text, line_end + 1):
                if astart >= end and astart in starts:
                    break
                budget -= aend - astart
                if budget < 0:
                    raise QueryRefused("size", "the text is read too many ways at once (IRIs holding '#' before "
                                               "strings over several lines); write the IRIs with their prefix")
                if akind not in ("ws", "comment"):
                    alt.append((akind, atok))
            for j, (akind, atok) in enumerate(alt):
                up = atok.upper()
                nxt = alt[j + 1] if j + 1 < len(alt) else ("", "")
                named = nxt[0] in ("iri", "var", "pname") or (nxt[0] == "word" and nxt[1].upper() == "SILENT")
                if akind == "pname":  # Oxigraph reads SERVICE:x as SERVICE then :x
                    prefix = up.split(":", 1)[0]
                    service, load = service or prefix.endswith("SERVICE"), load or prefix.endswith("LOAD")
                elif akind == "word" and named:  # prose in a string ("web services") is not followed by an endpoint
                    service, load = service or "SERVICE" in up, load or "LOAD" in up
            line_end = -1
    return service, load


_CALL_OUT = re.compile(r"SERVICE|LOAD", re.I)


def _line_end(text: str, pos: int) -> int:
    ends = [i for i in (text.find("\n", pos), text.find("\r", pos)) if i >= 0]
    return min(ends) if ends else len(text)


def _timed_spans(text: str) -> list[tuple[str, str, int, int]]:
    """``spans(text)`` without whitespace and comments, as a list; QueryRefused past ``INSPECT_TIME_LIMIT`` (reading is linear in the length, which
    the callers bound first: this only keeps an overloaded process from reading one text for ever)."""
    deadline = time.monotonic() + INSPECT_TIME_LIMIT
    out: list[tuple[str, str, int, int]] = []
    for span in spans(text):
        if span[0] not in ("ws", "comment"):
            out.append(span)
            if not len(out) & 0x3FFF and time.monotonic() > deadline:
                raise QueryRefused("size", f"reading the text took longer than {INSPECT_TIME_LIMIT:g} s; send a "
                                           "shorter one")
    return out


def check_size(text: str, max_bytes: int | None = MAX_TEXT_BYTES, what: str = "query") -> None:
    """Refuse a text longer than ``max_bytes`` in UTF-8 (None or 0: no limit) before anything reads it."""
    if not max_bytes:
        return
    size = len(text) if len(text) > max_bytes or len(text) * 4 <= max_bytes else len(text.encode("utf-8"))
    if size > max_bytes:
        raise QueryRefused("size", f"the {what} is {size} bytes or more; at most {max_bytes} bytes are read here "
                                   "(QUERY_MAX_BYTES)")


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
    return _join(base, iri) if not _SCHEME.match(iri) else iri


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def _join(base: str, iri: str) -> str | None:
    """``iri`` resolved against ``base`` (RFC 3986, as Oxigraph resolves it); None when neither gives a scheme. A
    base of a scheme ``urljoin`` does not know is prefixed as it is, so the result keeps the base's scheme."""
    if _SCHEME.match(iri):
        return iri
    if not base or not _SCHEME.match(base):
        return None
    joined = urljoin(base, iri)
    return joined if _SCHEME.match(joined) else base + iri


def check_query(text: str, service_allowlist: Iterable[str] = (), max_bytes: int | None = MAX_TEXT_BYTES
                ) -> QueryInfo:
    """The one place that decides whether a query may run here. Returns what it read; raises QueryRefused.

    Refused: a text over ``max_bytes`` (before it is read), SPARQL Update (this is a read-only query service) and
    SERVICE to any endpoint not in ``service_allowlist`` (a SERVICE whose endpoint is a variable or cannot be
    resolved is never allowed).
    """
    check_size(text, max_bytes)
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


def check_update(text: str, service_allowlist: Iterable[str] = (), max_bytes: int | None = MAX_TEXT_BYTES
                 ) -> QueryInfo:
    """The update endpoint's counterpart of ``check_query``: refuses a text over ``max_bytes``, LOAD always, SERVICE
    unless allow-listed, and a query sent as an update. Raises QueryRefused."""
    check_size(text, max_bytes, "update")
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
            base = _join(base, _iri_text(toks[i + 1][1])) or ""
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
    for kind, tok, start, _ in spans(text):
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
            out.append(text[last:start] + clauses.lstrip() + " ")
            last = start
        prev = tok
    out.append(text[last:])
    return "".join(out)
