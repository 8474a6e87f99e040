"""Full-text search over the catalogue: an SQLite FTS5 index written by the build next to the store, read by the web.

Why SQLite FTS5 with the trigram tokenizer: it ships with Python (no service, no native wheel), its index is one file
that the build writes into the staging folder and publishes with the store in the same rename, and trigrams find
substrings in any script — a Chinese or Japanese query has no spaces to split on, and ``标识`` must find
``人工智能生成合成内容标识办法``. Queries of one or two characters are below a trigram; they are answered by a scan of
the (small) index table instead. Identifiers are indexed three ways: as the publisher writes them, in one normalised
notation (every dash an ASCII hyphen, single spaces) and compacted to letters and digits, so that ``GB/T 45654—2025``,
``GB/T 45654-2025`` and ``gbt456542025`` find the same document.

A query with no hit is retried with its trigrams OR-ed, ranked by how many it shares: a misspelt word
(``watermarkng``, ``labeling`` for ``labelling``) still finds what shares most of its letters.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from gaistd_kg.iris import PREFIXES

INDEX_FILE = "search.sqlite"
DASHES = re.compile(r"[\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d\ufe58\ufe63]")
SPACES = re.compile(r"\s+")
NOT_ALNUM = re.compile(r"[\W_]+", re.UNICODE)
WEIGHTS = (0.0, 0.0, 10.0, 10.0, 6.0, 4.0, 3.0, 1.5, 0.5)  # bm25 weights, one per column of the table below

DOCUMENTS = """
SELECT ?doc ?kind ?kindLabel ?identifier ?status ?statusLabel ?jurisdiction ?jurisdictionLabel ?issued
       (GROUP_CONCAT(DISTINCT ?title; SEPARATOR=" | ") AS ?titles)
       (GROUP_CONCAT(DISTINCT ?alt; SEPARATOR=" | ") AS ?alts)
       (GROUP_CONCAT(DISTINCT ?orgName; SEPARATOR=" | ") AS ?orgs)
       (GROUP_CONCAT(DISTINCT ?text; SEPARATOR=" ") AS ?body)
WHERE {
  ?doc a gaistd:NormativeDocument .
  GRAPH ?g { ?doc a ?kind } FILTER (?g = <https://w3id.org/gaistd/graph/data>)
  OPTIONAL { ?kind rdfs:label ?kindLabel FILTER (LANG(?kindLabel) = "en") }
  OPTIONAL { ?doc dcterms:identifier ?identifier }
  OPTIONAL { ?doc gaistd:status ?status . OPTIONAL { ?status skos:prefLabel ?statusLabel FILTER (LANG(?statusLabel) = "en") } }
  OPTIONAL { ?doc gaistd:jurisdiction ?jurisdiction .
             OPTIONAL { ?jurisdiction skos:prefLabel ?jurisdictionLabel FILTER (LANG(?jurisdictionLabel) = "en") } }
  OPTIONAL { ?doc dcterms:issued ?issued }
  OPTIONAL { ?doc dcterms:title ?title }
  OPTIONAL { ?doc skos:altLabel ?alt }
  OPTIONAL { ?doc gaistd:developedBy|dcterms:publisher ?org . ?org skos:prefLabel|skos:altLabel ?orgName }
  OPTIONAL { ?doc gaistd:classificationRationale|dcterms:description|skos:definition ?text }
}
GROUP BY ?doc ?kind ?kindLabel ?identifier ?status ?statusLabel ?jurisdiction ?jurisdictionLabel ?issued
"""

ENTITIES = """
SELECT ?x ?kind ?kindLabel
       (GROUP_CONCAT(DISTINCT ?name; SEPARATOR=" | ") AS ?titles)
       (GROUP_CONCAT(DISTINCT ?alt; SEPARATOR=" | ") AS ?alts)
       (GROUP_CONCAT(DISTINCT ?text; SEPARATOR=" ") AS ?body)
WHERE {
  VALUES ?kind { gaistd:Organisation gaistd:Jurisdiction gaistd:Risk gaistd:FrameworkConcept }
  ?x a ?kind ; skos:prefLabel ?name .
  OPTIONAL { ?kind rdfs:label ?kindLabel FILTER (LANG(?kindLabel) = "en") }
  OPTIONAL { ?x skos:altLabel ?alt }
  OPTIONAL { ?x skos:definition ?text }
}
GROUP BY ?x ?kind ?kindLabel
"""


def normalise(text: str) -> str:
    """Case-folded, NFKC, every dash an ASCII hyphen, single spaces: the form both the index and queries use."""
    text = unicodedata.normalize("NFKC", text or "")
    return SPACES.sub(" ", DASHES.sub("-", text)).strip().casefold()


def notation(identifier: str) -> str:
    """The identifier's normalised notation (ASCII hyphens, single spaces), keeping its case."""
    return SPACES.sub(" ", DASHES.sub("-", identifier)).strip()


def compact(text: str) -> str:
    return NOT_ALNUM.sub("", normalise(text))


def _v(term: Any) -> str:
    return "" if term is None else term.value


def build_index(store: ox.Store, path: Path) -> int:
    """Write the search index of the built ``store`` to ``path`` (replacing it). Returns the number of entries."""
    path = Path(path)
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    try:
        db.executescript("""
            CREATE TABLE entry (rowid INTEGER PRIMARY KEY, iri TEXT UNIQUE, kind TEXT, kind_label TEXT,
                identifier TEXT, title TEXT, status TEXT, jurisdiction TEXT, jurisdiction_label TEXT, issued TEXT,
                is_document INTEGER, names TEXT);
            CREATE INDEX entry_names ON entry (names);
            CREATE VIRTUAL TABLE fts USING fts5(iri UNINDEXED, kind UNINDEXED, ident, ident_compact, titles, alts,
                orgs, jurisdiction, body, tokenize = 'trigram');
        """)
        n = 0
        documents = store.query(DOCUMENTS, use_default_graph_as_union=True, prefixes=PREFIXES)
        assert isinstance(documents, ox.QuerySolutions)  # a SELECT query: solutions
        for row in documents:
            ident = _v(row["identifier"])
            titles = _v(row["titles"])
            _insert(db, iri=row["doc"].value, kind=_v(row["kind"]), kind_label=_v(row["kindLabel"]),
                    identifier=ident, title=_first_title(titles, ident), status=_v(row["statusLabel"]),
                    jurisdiction=_v(row["jurisdiction"]), jurisdiction_label=_v(row["jurisdictionLabel"]),
                    issued=_v(row["issued"]), is_document=1,
                    fts=(normalise(ident), compact(ident), normalise(titles), normalise(_v(row["alts"])),
                         normalise(_v(row["orgs"])), normalise(_v(row["jurisdictionLabel"])), normalise(_v(row["body"]))))
            n += 1
        entities = store.query(ENTITIES, use_default_graph_as_union=True, prefixes=PREFIXES)
        assert isinstance(entities, ox.QuerySolutions)  # a SELECT query: solutions
        for row in entities:
            titles = _v(row["titles"])
            _insert(db, iri=row["x"].value, kind=_v(row["kind"]), kind_label=_v(row["kindLabel"]), identifier="",
                    title=_first_title(titles, ""), status="", jurisdiction="", jurisdiction_label="", issued="",
                    is_document=0,
                    fts=("", "", normalise(titles), normalise(_v(row["alts"])), "", "", normalise(_v(row["body"]))))
            n += 1
        db.commit()
        db.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        db.commit()
        return n
    finally:
        db.close()


def _first_title(titles: str, ident: str) -> str:
    parts = [t for t in titles.split(" | ") if t]
    latin = [t for t in parts if t.isascii()]
    return (latin or parts or [ident])[0]


def _insert(db: sqlite3.Connection, fts: tuple[str, ...], **entry: Any) -> None:
    if db.execute("SELECT 1 FROM entry WHERE iri = ?", (entry["iri"],)).fetchone():
        return  # an IRI typed with two indexed classes is indexed once
    cur = db.execute(
        "INSERT INTO entry (iri, kind, kind_label, identifier, title, status, jurisdiction, jurisdiction_label, "
        "issued, is_document, names) VALUES (:iri, :kind, :kind_label, :identifier, :title, :status, :jurisdiction, "
        ":jurisdiction_label, :issued, :is_document, :names)",
        {**entry, "names": "|" + "|".join(n for n in (fts[0], *fts[2].split(" | "), *fts[3].split(" | ")) if n) + "|"})
    db.execute("INSERT INTO fts (rowid, iri, kind, ident, ident_compact, titles, alts, orgs, jurisdiction, body) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (cur.lastrowid, entry["iri"], entry["kind"], *fts))


@dataclass
class Hit:
    iri: str
    kind: str
    kind_label: str
    identifier: str
    title: str
    status: str
    jurisdiction: str
    jurisdiction_label: str
    issued: str
    score: float

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class Answer:
    query: str
    hits: list[Hit]
    total: int
    fuzzy: bool = False
    facets: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)  # facet -> [(value, label, count)]


def _phrase(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def _trigrams(token: str) -> list[str]:
    return sorted({token[i:i + 3] for i in range(len(token) - 2)})


SHORT_SCAN_ROWS = 5000  # above this many rows in the running, a word under three characters is looked for by a scan
MAX_QUERY = 200      # characters of a query that are read; a longer one is cut, not refused
MAX_TOKENS = 12


def search(index: Path, query: str, limit: int = 20, offset: int = 0,
           filters: dict[str, str] | None = None) -> Answer:
    """Ranked hits for ``query`` (and optional exact filters on kind, jurisdiction or status IRIs), with facets."""
    q = normalise(query[:MAX_QUERY])
    tokens = [t for t in re.split(r"[\s,;]+", q) if t][:MAX_TOKENS]
    answer = Answer(query=query, hits=[], total=0)
    if not tokens:
        return answer
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        rows, fuzzy = _matches(db, q, tokens)
        answer.fuzzy = fuzzy
        fields: dict[int, tuple[str, str, str, str, str, str, str, str, str]] = {}
        for chunk in _chunks([rowid for rowid, _score in rows]):
            for rowid, iri, kind, kind_label, ident, title, status, jur, jur_label, issued in db.execute(
                    "SELECT rowid, iri, kind, kind_label, identifier, title, status, jurisdiction, jurisdiction_label, "
                    f"issued FROM entry WHERE rowid IN ({','.join('?' * len(chunk))})", chunk):
                fields[rowid] = (iri, kind, kind_label, ident, title, status, jur, jur_label, issued)
        hits = [Hit(*fields[rowid], score=score) for rowid, score in rows]
        for key in ("kind", "jurisdiction", "status"):
            counts: dict[tuple[str, str], int] = {}
            for h in hits:
                value = getattr(h, key)
                if value:
                    label = h.kind_label if key == "kind" else h.jurisdiction_label if key == "jurisdiction" else value
                    counts[(value, label)] = counts.get((value, label), 0) + 1
            answer.facets[key] = sorted(((v, lab, n) for (v, lab), n in counts.items()), key=lambda x: (-x[2], x[1]))
        for key, value in (filters or {}).items():
            if key in ("kind", "jurisdiction", "status") and value:
                hits = [h for h in hits if getattr(h, key) == value]
        answer.total = len(hits)
        answer.hits = hits[offset:offset + limit]
        return answer
    finally:
        db.close()


def _matches(db: sqlite3.Connection, q: str, tokens: list[str]) -> tuple[list[tuple[int, float]], bool]:
    """(rowid, score) best first; True when only the fuzzy retry found them."""
    weights = ", ".join(str(w) for w in WEIGHTS)
    long_tokens = [t for t in tokens if len(t) >= 3]
    short_tokens = [t for t in tokens if len(t) < 3]
    compact_q = compact(q)
    scores: dict[int, float] = {}
    if long_tokens:
        match = " AND ".join(_phrase(t) for t in long_tokens)
        for rowid, rank in db.execute(f"SELECT rowid, bm25(fts, {weights}) FROM fts WHERE fts MATCH ?", (match,)):
            scores[rowid] = -rank
    else:
        for (rowid,) in db.execute("SELECT rowid FROM fts"):
            scores[rowid] = 0.0
    for t in short_tokens:  # below a trigram: LIKE, on the rows still in the running when they are few
        like = "%" + t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        found = ("(ident LIKE ?1 ESCAPE '\\' OR titles LIKE ?1 ESCAPE '\\' OR alts LIKE ?1 ESCAPE '\\' "
                 "OR orgs LIKE ?1 ESCAPE '\\' OR jurisdiction LIKE ?1 ESCAPE '\\' OR body LIKE ?1 ESCAPE '\\')")
        if len(scores) > SHORT_SCAN_ROWS:
            keep = {r for (r,) in db.execute(f"SELECT rowid FROM fts WHERE {found}", (like,))}
        else:
            keep = set()
            for chunk in _chunks(list(scores)):
                numbers = ",".join(f"?{i + 2}" for i in range(len(chunk)))
                keep.update(r for (r,) in db.execute(f"SELECT rowid FROM fts WHERE rowid IN ({numbers}) AND {found}",
                                                     (like, *chunk)))
        scores = {r: s + 2.0 for r, s in scores.items() if r in keep}
    if len(compact_q) >= 3:  # an identifier typed another way: its letters and digits
        for (rowid,) in db.execute("SELECT rowid FROM fts WHERE ident_compact LIKE ?", (f"%{compact_q}%",)):
            scores[rowid] = scores.get(rowid, 0.0) + 20.0
        for (rowid,) in db.execute("SELECT rowid FROM fts WHERE ident_compact = ?", (compact_q,)):
            scores[rowid] = scores.get(rowid, 0.0) + 50.0
    for chunk in _chunks(list(scores)):
        for rowid, is_doc, names in db.execute(
                f"SELECT rowid, is_document, names FROM entry WHERE rowid IN ({','.join('?' * len(chunk))})", chunk):
            if f"|{q}|" in names:
                scores[rowid] += 30.0  # the query is the whole of a title, short name or identifier
            if is_doc:
                scores[rowid] += 0.5  # a document before an organisation of the same weight
    fuzzy = False
    if not scores and long_tokens:
        grams = sorted({g for t in long_tokens for g in _trigrams(t)})
        if grams:
            match = " OR ".join(_phrase(g) for g in grams)
            counts: dict[int, int] = {}
            for g in grams:
                for (rowid,) in db.execute("SELECT rowid FROM fts WHERE fts MATCH ?", (_phrase(g),)):
                    counts[rowid] = counts.get(rowid, 0) + 1
            need = max(2, int(len(grams) * 0.6))
            ranked = {r: c for r, c in counts.items() if c >= need}
            if ranked:
                bm = {r: -rank for r, rank in db.execute(
                    f"SELECT rowid, bm25(fts, {weights}) FROM fts WHERE fts MATCH ?", (match,)) if r in ranked}
                scores = {r: c * 10 + bm.get(r, 0.0) for r, c in ranked.items()}
                fuzzy = True
    ordered = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return ordered, fuzzy


def _chunks(rowids: list[int], size: int = 500) -> list[list[int]]:
    """Row numbers in groups of ``size``: an IN list of every match of a short word in a large catalogue would pass
    SQLite's limit on bound parameters (32,766)."""
    return [rowids[i:i + size] for i in range(0, len(rowids), size)]


def index_path(store_dir: Path) -> Path:
    """Where the build writes the index of the store in ``store_dir`` (its artefacts folder)."""
    return Path(store_dir) / "artefacts" / INDEX_FILE
