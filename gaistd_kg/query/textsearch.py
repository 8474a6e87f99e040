"""Search from SPARQL: the build's search index (``views/search.py``, the one behind ``/search``) as a function a
query calls, as Fuseki's ``text:query`` offers its index, without any query text built from strings.

``<https://w3id.org/gaistd/fn#search>(?x, "words")`` is the search's score of ``?x`` for those words (an
``xsd:double``, higher is better) when ``?x`` is among the answers of ``/search?q=words``, and an error otherwise,
which leaves a ``BIND`` unbound and makes a ``FILTER`` false::

    SELECT ?doc ?score WHERE {
      ?doc a gaistd:NormativeDocument .
      BIND (<https://w3id.org/gaistd/fn#search>(?doc, "标识") AS ?score)
      FILTER (BOUND(?score))
    } ORDER BY DESC(?score)

The words are a literal of the query, matched by the index exactly as the search box matches them (identifier
variants, trigrams, Chinese and Japanese words); nothing of them reaches SQL except as a bound parameter. Answers per
words are kept per worker (the index belongs to one build, and so does the worker). Stores without an index (a
remote store, a store built before the index existed) have no such function: the query then fails naming it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox

if TYPE_CHECKING:
    from .engine import CustomFunctions

SEARCH_FUNCTION = "https://w3id.org/gaistd/fn#search"
XSD_DOUBLE = ox.NamedNode("http://www.w3.org/2001/XMLSchema#double")
KEPT = 64  # distinct word lists whose scores a worker keeps


def index_for(store_path: str | Path) -> Path | None:
    """The search index of the store at ``store_path`` (the store's folder or its ``oxigraph`` folder), if built."""
    path = Path(store_path)
    for folder in (path, path.parent):
        candidate = folder / "artefacts" / "search.sqlite"
        if candidate.is_file():
            return candidate
    return None


class TextSearch:
    """The function's body: (term, words) -> score or None."""

    def __init__(self, index: Path):
        self.index = index
        self._kept: OrderedDict[str, dict[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def scores(self, words: str) -> dict[str, float]:
        with self._lock:
            if words in self._kept:
                self._kept.move_to_end(words)
                return self._kept[words]
        from gaistd_kg.views import search  # on first use only: the worker otherwise stays free of rdflib

        answer = search.search(self.index, words, limit=1_000_000)
        found = {h.iri: float(h.score) for h in answer.hits}
        with self._lock:
            self._kept[words] = found
            while len(self._kept) > KEPT:
                self._kept.popitem(last=False)
        return found

    def __call__(self, term: object, words: object = None) -> ox.Literal | None:
        if not isinstance(term, ox.NamedNode) or not isinstance(words, ox.Literal):
            return None
        score = self.scores(words.value).get(term.value)
        return None if score is None else ox.Literal(repr(score), datatype=XSD_DOUBLE)


def functions_for(store_path: str | Path) -> CustomFunctions | None:
    """The custom functions a query on the store at ``store_path`` may call (None: none)."""
    index = index_for(store_path)
    if index is None:
        return None
    return {ox.NamedNode(SEARCH_FUNCTION): TextSearch(index)}
