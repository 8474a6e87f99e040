"""``gaistd push``: load the built dataset into a SPARQL 1.1 Graph Store HTTP Protocol endpoint, switched atomically.

Readers of the remote store never see a mix of two builds (the layout is described in ``gaistd_kg.remote.client``):

1. each of the four named graphs is PUT under a new name, ``https://w3id.org/gaistd/graph/<version>/<name>``, where
   ``<version>`` is ``<build-id>-<UTC time>``: nothing a reader uses is touched while the upload runs;
2. the triple count of each new graph is checked through the query endpoint against the local store;
3. the pointer graph ``https://w3id.org/gaistd/graph/current`` is replaced with one PUT naming the new version: the
   switch. A Graph Store PUT replaces a graph as one operation; a reader resolving the pointer sees the old version or
   the new one (``remote.read_pointer`` also refuses a pointer that is not whole);
4. versions other than the new one and the one before it are deleted (DELETE per graph). The one before stays for
   readers that resolved the pointer just before the switch, as ``store.KEEP_PREVIOUS`` does for local builds.

Only the Graph Store Protocol (PUT, DELETE) and SELECT queries are used, so any SPARQL 1.1 store serves: Virtuoso
(``/sparql-graph-crud`` and ``/sparql``), Fuseki (``/ds/data`` and ``/ds/sparql``), Oxigraph server (``/store`` and
``/query``), GraphDB, …
"""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pyoxigraph as ox

from .client import (DATASET, DCTERMS, GRAPH_BASE, GRAPH_NAMES, JSON_RESULTS, POINTER_GRAPH, Client, HttpError,
                     Pointer, http_get, read_pointer, versioned)
from gaistd_kg.store import open_store

Progress = Callable[[str], None]
KEEP_PREVIOUS = 1
XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"


class PushError(RuntimeError):
    """The push stopped; the message says at which step. Readers still see the version that was current."""


@dataclass
class PushResult:
    build_id: str
    version: str | None
    previous: str | None
    skipped: bool = False
    dropped: list[str] = field(default_factory=list)
    triples: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def graph_url(store_url: str, graph: str) -> str:
    """The Graph Store Protocol URL of ``graph`` (indirect identification, ``?graph=``)."""
    sep = "&" if urllib.parse.urlsplit(store_url).query else "?"
    return f"{store_url}{sep}{urllib.parse.urlencode({'graph': graph})}"


def _put(client: Client, store_url: str, graph: str, body: bytes, timeout: float) -> None:
    # N-Triples is Turtle too; text/turtle is the one type every Graph Store implementation accepts
    try:
        client.request("PUT", graph_url(store_url, graph), body, {"Content-Type": "text/turtle; charset=utf-8"},
                       timeout)
    except HttpError as exc:
        raise PushError(f"PUT <{graph}> to {store_url} failed: {exc}") from None


def _delete(client: Client, store_url: str, graph: str, timeout: float) -> None:
    try:
        client.request("DELETE", graph_url(store_url, graph), None, {}, timeout)
    except HttpError as exc:
        if exc.status != 404:  # already gone
            raise PushError(f"DELETE <{graph}> at {store_url} failed: {exc}") from None


def _count(client: Client, query_url: str, graph: str, timeout: float) -> int:
    text = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{ox.NamedNode(graph).value}> {{ ?s ?p ?o }} }}"
    body = http_get(client, query_url, text, [], JSON_RESULTS, timeout)[1]
    rows = json.loads(body)["results"]["bindings"]
    return int(rows[0]["n"]["value"]) if rows and "n" in rows[0] else 0


def pushed_versions(client: Client, query_url: str, timeout: float) -> set[str]:
    """Versions with at least one graph in the remote store (from the graph names under our graph base)."""
    text = (f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
            f"FILTER (STRSTARTS(STR(?g), \"{GRAPH_BASE}\")) }}")
    body = http_get(client, query_url, text, [], JSON_RESULTS, timeout)[1]
    out = set()
    for row in json.loads(body)["results"]["bindings"]:
        rest = row["g"]["value"][len(GRAPH_BASE):]
        if "/" in rest and rest.rsplit("/", 1)[1] in GRAPH_NAMES:
            out.add(rest.rsplit("/", 1)[0])
    return out


def pointer_turtle(build_id: str, version: str, when: datetime) -> bytes:
    stamp = ox.Literal(when.strftime("%Y-%m-%dT%H:%M:%SZ"), datatype=ox.NamedNode(XSD_DATETIME))
    lines = [f"<{DATASET}> <{DCTERMS}identifier> {ox.Literal(build_id)} ;",
             f"    <{DCTERMS}modified> {stamp} ."]
    lines += [f"<{GRAPH_BASE}{n}> <{DCTERMS}hasVersion> <{versioned(version, n)}> ." for n in GRAPH_NAMES]
    return ("\n".join(lines) + "\n").encode("utf-8")


def push(build_dir: Path, store_url: str, query_url: str | None = None, client: Client | None = None,
         force: bool = False, timeout: float = 600.0, progress: Progress | None = None) -> PushResult:
    """Push the current build of ``build_dir`` to the Graph Store at ``store_url`` (queries at ``query_url``,
    default the same URL). Skipped when the remote's current version is this build, unless ``force``."""
    say = progress or (lambda _m: None)
    client = client or Client()
    query_url = query_url or store_url
    opened = open_store(Path(build_dir))
    build_id = opened.build_id
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    try:
        current: Pointer | None = read_pointer(client, query_url, 60, settle=0)
    except HttpError as exc:
        raise PushError(f"cannot read the pointer graph through {query_url}: {exc}") from None
    if current and current.build_id == build_id and not force:
        say(f"the remote store already serves build {build_id} (version {current.version})")
        return PushResult(build_id, current.version, current.version, skipped=True)
    when = datetime.now(timezone.utc)
    version = f"{build_id}-{when.strftime('%Y%m%dT%H%M%S%fZ')}"
    triples: dict[str, int] = {}
    for name in GRAPH_NAMES:
        graph = ox.NamedNode(GRAPH_BASE + name)
        quads = list(opened.store.quads_for_pattern(None, None, None, graph))
        triples[name] = len(quads)
        body = ox.serialize((qd.triple for qd in quads), format=ox.RdfFormat.N_TRIPLES) if quads else b""
        assert body is not None  # no output given: the bytes come back
        say(f"PUT <{versioned(version, name)}> ({len(quads)} triples)")
        _put(client, store_url, versioned(version, name), body, timeout)
    timings["upload"] = time.perf_counter() - t0
    for name in GRAPH_NAMES:
        got = _count(client, query_url, versioned(version, name), timeout)
        if got != triples[name]:
            raise PushError(f"<{versioned(version, name)}> holds {got} triples after the upload, not "
                            f"{triples[name]}: the pointer was not switched; readers still see "
                            f"{current.version if current else 'nothing'}")
    t = time.perf_counter()
    say(f"switching <{POINTER_GRAPH}> to version {version}")
    _put(client, store_url, POINTER_GRAPH, pointer_turtle(build_id, version, when), timeout)
    timings["switch"] = time.perf_counter() - t
    t = time.perf_counter()
    keep = {version} | ({current.version} if current and KEEP_PREVIOUS else set())
    dropped = sorted(pushed_versions(client, query_url, timeout) - keep)
    for old in dropped:
        say(f"dropping version {old}")
        for name in GRAPH_NAMES:
            _delete(client, store_url, versioned(old, name), timeout)
    timings["drop"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return PushResult(build_id, version, current.version if current else None, dropped=dropped, triples=triples,
                      timings=timings)
