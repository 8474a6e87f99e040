"""The project's well-known prefixes (``iris.PREFIXES``) for queries people type, as Wikidata Query Service and
Virtuoso accept theirs: a prefix a query uses without declaring it is declared for it, in front of its text; only the
missing ones, so a query's own declarations stand. Positions in the engine's messages are mapped back to the text the
person wrote, and a prefix that is neither declared nor well known is named ("undeclared prefix x:") with its line
and column instead of the parser's list of expected characters.

Used by ``/sparql`` and ``gaistd query``; kept apart from :mod:`gaistd_kg.query.sparqltext` (which decides what may
run) because it changes the text, where that module only reads it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Mapping

from gaistd_kg.iris import PREFIXES

from .sparqltext import QuerySyntaxError, tokens

_POSITION = re.compile(r"^error at (\d+):(\d+):\s*")


@dataclass(frozen=True)
class Prepared:
    """A query ready for the engine: ``text`` is what runs, ``added`` the prefixes declared in front of the person's
    text (one line each)."""

    original: str
    text: str
    added: tuple[str, ...] = field(default=())

    def syntax_error(self, exc: Exception) -> QuerySyntaxError:
        """The engine's syntax error, its position moved back into the person's text."""
        message = str(exc)
        m = _POSITION.match(message)
        if not m:
            return exc if isinstance(exc, QuerySyntaxError) else QuerySyntaxError(message)
        line, column = int(m.group(1)) - len(self.added), int(m.group(2))
        err = QuerySyntaxError(f"error at {line}:{column} (line {line}, column {column}): {message[m.end():]}")
        err.line, err.column = line, column
        return err


def _positioned(text: str) -> list[tuple[str, str, int]]:
    """(kind, token, offset) for each token of ``tokens`` (comments and whitespace between them skipped)."""
    out, at = [], 0
    skip = re.compile(r"(?:\s+|#[^\r\n]*)*")
    for kind, tok in tokens(text):
        gap = skip.match(text, at)
        assert gap is not None  # the pattern matches the empty string: never None
        at = gap.end()
        if not text.startswith(tok, at):  # the lexer and this walk disagree: search forward instead
            found = text.find(tok, at)
            at = found if found >= 0 else at
        out.append((kind, tok, at))
        at += len(tok)
    return out


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text`` (columns count characters)."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


_CACHE_MAX_TEXT = 16 << 10  # longer texts are read afresh each time (bounds the cache's memory)


def with_known_prefixes(text: str, known: Mapping[str, str] | None = None) -> Prepared:
    """Declare in front of ``text`` every prefix of ``known`` (default: ``iris.PREFIXES``) it uses without declaring
    it. Remembered for the last 512 short texts with the default prefixes: the same queries come again and again, and
    reading one costs about as much as answering it from the result cache.

    Raises QuerySyntaxError naming the first prefix that is neither declared nor known, with its line and column."""
    if known is None and len(text) <= _CACHE_MAX_TEXT:
        return _cached(text)
    return _prepare(text, PREFIXES if known is None else known)


@functools.lru_cache(maxsize=512)
def _cached(text: str) -> Prepared:
    return _prepare(text, PREFIXES)


def _prepare(text: str, known: Mapping[str, str]) -> Prepared:
    toks = _positioned(text)
    declared: set[str] = set()
    used: list[tuple[str, int]] = []
    for i, (kind, tok, at) in enumerate(toks):
        if kind != "pname":
            continue
        prefix = tok.split(":", 1)[0]
        if i > 0 and toks[i - 1][0] == "word" and toks[i - 1][1].upper() == "PREFIX":
            declared.add(prefix)
        else:
            used.append((prefix, at))
    missing: list[str] = []
    for prefix, at in used:
        if prefix in declared or prefix in missing:
            continue
        if prefix not in known:
            line, column = line_column(text, at)
            err = QuerySyntaxError(f"undeclared prefix {prefix}: at line {line}, column {column} (declare it with "
                                   f"PREFIX {prefix}: <…>)")
            err.line, err.column = line, column
            raise err
        missing.append(prefix)
    head = "".join(f"PREFIX {p}: <{known[p]}>\n" for p in missing)
    return Prepared(original=text, text=head + text, added=tuple(missing))
