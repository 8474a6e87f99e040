"""The only patches of third-party classes, both scoped and re-entrant.

- :func:`prepared_sparql` wraps rdflib's ``SPARQLProcessor.query`` so that the text of each SHACL-SPARQL constraint is
  parsed once per validation, not once per focus node (pySHACL hands rdflib the text every time; parsing is ~90% of
  validation time). A prepared query is what rdflib's own ``prepareQuery`` returns, reusable by design.
- :func:`narrowed` wraps pySHACL's ``Shape.focus_nodes`` so that target selection keeps only the nodes of the chunk
  being validated (``chunkshacl``); pySHACL has no option for this.

Each wrapper is installed when the first user enters and removed when the last one leaves, under a lock, whatever the
order (two validations overlapping on two threads leave both classes as they found them). The narrowing is per
thread: a validation that is not narrowed, running beside one that is, sees every focus node.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

from pyshacl.shape import Shape
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.processor import SPARQLProcessor

_lock = threading.Lock()
_users = {"query": 0, "focus_nodes": 0}
_originals: dict[str, Any] = {}
_prepared: dict = {}          # (text, base, prefixes) -> translated query, while any validation runs
_local = threading.local()    # .allowed: the stack of this thread's narrowing sets


def _query(self, strOrQuery, initBindings={}, initNs=None, base=None, DEBUG=False):  # noqa: B006 - rdflib's signature
    if isinstance(strOrQuery, str):
        key = (strOrQuery, base, tuple(sorted((initNs or {}).items())))
        prepared = _prepared.get(key)
        if prepared is None:
            prepared = _prepared[key] = translateQuery(parseQuery(strOrQuery), base, initNs)
        strOrQuery = prepared
    return _originals["query"](self, strOrQuery, initBindings, initNs, base, DEBUG)


def _focus_nodes(self, data_graph, debug=False):
    nodes = _originals["focus_nodes"](self, data_graph, debug=debug)
    stack = getattr(_local, "allowed", None)
    if not stack:
        return nodes
    allowed = stack[-1]
    return {n for n in nodes if n in allowed}


_TARGETS = {"query": (SPARQLProcessor, "query", _query), "focus_nodes": (Shape, "focus_nodes", _focus_nodes)}


def _enter(name: str) -> None:
    cls, attr, wrapper = _TARGETS[name]
    with _lock:
        if _users[name] == 0:
            _originals[name] = getattr(cls, attr)
            setattr(cls, attr, wrapper)
        _users[name] += 1


def _leave(name: str) -> None:
    cls, attr, _ = _TARGETS[name]
    with _lock:
        _users[name] -= 1
        if _users[name] == 0:
            setattr(cls, attr, _originals.pop(name))
            if name == "query":
                _prepared.clear()


def installed() -> dict[str, bool]:
    """Which wrappers are in place now (for tests)."""
    with _lock:
        return {name: n > 0 for name, n in _users.items()}


@contextmanager
def prepared_sparql() -> Iterator[None]:
    """While active (on any thread), rdflib parses each SPARQL text once."""
    _enter("query")
    try:
        yield
    finally:
        _leave("query")


@contextmanager
def narrowed() -> Iterator[set]:
    """While active, pySHACL's target selection on this thread keeps only the nodes in the yielded set."""
    allowed: set = set()
    _enter("focus_nodes")
    stack = _local.__dict__.setdefault("allowed", [])
    stack.append(allowed)
    try:
        yield allowed
    finally:
        del stack[next(i for i in range(len(stack) - 1, -1, -1) if stack[i] is allowed)]
        _leave("focus_nodes")
