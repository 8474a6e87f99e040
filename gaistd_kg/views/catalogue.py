"""The faceted catalogue of documents: one row per document read from the built store, filters with roll-ups, facet
counts, sorting, and the exports of a filtered list (CSV, JSON-LD, Turtle, BibTeX, RIS, CSL-JSON).

The rows come from two queries over the union of the graphs, so the roll-ups the reasoner made count: a document on
deep-fake content counts under disinformation, one developed by SC 42 under JTC 1, ISO and IEC
(``gaistd:developedUnder``), one in a sub-area under its layer (``gaistd:inFrameworkArea``). Filtering and counting
happen on those rows in Python; ``tests/test_catalogue.py`` checks every count against the same filter written as
SPARQL. The queries are fixed text: nothing a request sends reaches them.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterable

import pyoxigraph as ox

from gaistd_kg.iris import GRAPH, PREFIXES

# facet key -> (property path in the union graph, label)
FACETS: dict[str, tuple[str, str]] = {
    "jurisdiction": ("gaistd:jurisdiction", "Jurisdiction"),
    "developer": ("gaistd:developedUnder", "Developer (with the bodies above it)"),
    "publisher": ("dcterms:publisher", "Publisher"),
    "kind": ("", "Kind"),
    "status": ("gaistd:status", "Status"),
    "risk": ("gaistd:addressesRisk", "Risk (with the broader risks)"),
    "area": ("gaistd:inFrameworkArea", "Layer and sub-area"),
    "scope": ("gaistd:scopeCategory", "Scope category"),
    "evidence": ("", "Evidence class"),
    "issued": ("", "Year issued"),
    "effective": ("", "Year in force"),
}
KINDS = ("InternationalStandard", "RegionalStandard", "NationalStandard", "GroupStandard", "TechnicalSpecification",
         "TechnicalReport", "Recommendation", "TechnicalDocument", "Law", "Regulation", "AdministrativeMeasure",
         "ExecutiveOrder", "Guideline", "CodeOfPractice", "PolicyDocument")
SORTS = ("issued", "-issued", "identifier", "title", "jurisdiction")

ROWS = """
SELECT ?doc ?identifier ?titleEn ?titleOther ?kind ?issued ?effective ?record ?added WHERE {
  ?doc a gaistd:NormativeDocument .
  GRAPH <https://w3id.org/gaistd/graph/data> { ?doc a ?kind } FILTER (STRSTARTS(STR(?kind), STR(gaistd:)))
  OPTIONAL { ?doc dcterms:identifier ?identifier }
  OPTIONAL { ?doc dcterms:title ?titleEn FILTER (LANGMATCHES(LANG(?titleEn), "en")) }
  OPTIONAL { ?doc dcterms:title ?titleOther FILTER (!LANGMATCHES(LANG(?titleOther), "en")) }
  OPTIONAL { ?doc dcterms:issued ?issued }
  OPTIONAL { ?doc gaistd:effectiveDate ?effective }
  OPTIONAL { ?doc gaistd:officialRecord ?record }
  OPTIONAL { ?doc gaistd:addedToCatalogue ?added }
}
"""

VALUES = """
SELECT ?doc ?key ?value ?label WHERE {
  ?doc a gaistd:NormativeDocument .
  {
    VALUES (?key ?p) { ("jurisdiction" gaistd:jurisdiction) ("developer" gaistd:developedUnder)
                       ("developer" gaistd:developedBy) ("publisher" dcterms:publisher) ("status" gaistd:status)
                       ("risk" gaistd:addressesRisk) ("area" gaistd:inFrameworkArea) ("scope" gaistd:scopeCategory) }
    ?doc ?p ?value .
  } UNION {
    ?doc dcterms:source ?page . ?page gaistd:evidenceClass ?value . BIND ("evidence" AS ?key)
  } UNION {
    ?doc dcterms:publisher|gaistd:developedBy ?org . BIND ("org" AS ?key) BIND (?org AS ?value)
  }
  OPTIONAL { ?value skos:prefLabel ?label FILTER (LANGMATCHES(LANG(?label), "en")) }
}
"""


@dataclass
class Row:
    iri: str
    identifier: str = ""
    title: str = ""
    title_original: str = ""
    kind: str = ""
    issued: str = ""
    effective: str = ""
    record: str = ""
    added: str = ""
    values: dict[str, set[str]] = field(default_factory=dict)

    def year(self, which: str) -> str:
        v = self.issued if which == "issued" else self.effective
        return v[:4] if v else ""

    def facet_values(self, key: str) -> set[str]:
        if key == "kind":
            return {self.kind} if self.kind else set()
        if key in ("issued", "effective"):
            y = self.year(key)
            return {y} if y else set()
        return self.values.get(key, set())


@dataclass
class Table:
    rows: list[Row]
    labels: dict[str, str]  # IRI -> English label
    _index: "Index | None" = field(default=None, repr=False, compare=False)
    _by_iri: dict[str, Row] | None = field(default=None, repr=False, compare=False)

    def row_of(self, iri: str) -> Row | None:
        """The row of the document ``iri`` (a dict made on first use)."""
        if self._by_iri is None:
            self._by_iri = {r.iri: r for r in self.rows}
        return self._by_iri.get(iri)

    @property
    def index(self) -> "Index":
        """The facet index of these rows, made on first use (a table is read once per build and process)."""
        if self._index is None:
            self._index = Index(self)
        return self._index


class Index:
    """Each facet value as a bit set of rows (a Python int, bit i for ``rows[i]``), and each sort order as a list of
    row numbers: filtering is an OR of sets within a facet and an AND across facets, a facet count is the size of an
    intersection, and a page of a sorted list reads its order until the page is full. Kept beside the table, so that
    neither grows with the number of documents times the number of facet values on each request."""

    def __init__(self, table: Table):
        rows_of: dict[str, dict[str, list[int]]] = {key: {} for key in FACETS}
        for i, row in enumerate(table.rows):
            for key in FACETS:
                held = rows_of[key]
                for value in row.facet_values(key):
                    held.setdefault(value, []).append(i)
        size = len(table.rows) // 8 + 1
        self.masks: dict[str, dict[str, int]] = {key: {} for key in FACETS}
        for key, values in rows_of.items():
            for value, numbers in values.items():
                bits = bytearray(size)  # set in bytes, made an int once (an int per row would copy it each time)
                for i in numbers:
                    bits[i >> 3] |= 1 << (i & 7)
                self.masks[key][value] = int.from_bytes(bits, "little")
        self.every = (1 << len(table.rows)) - 1
        self.orders: dict[str, list[int]] = {}
        self._table = table
        self.totals = {key: {v: len(numbers) for v, numbers in values.items()} for key, values in rows_of.items()}
        self.sort_keys: dict[tuple[str, str], tuple] = {}

    def counts(self, key: str, others: int) -> dict[str, int]:
        """How many of the rows in ``others`` have each value of facet ``key`` (values with none left out): the
        totals when nothing is left out; from the rows themselves when they are few beside the facet's values (a
        filtered list of a large catalogue); else one intersection per value."""
        if others == self.every:
            return self.totals[key]
        chosen = others.bit_count()
        if chosen * 2 < len(self.masks[key]):
            rows = self._table.rows
            counts: dict[str, int] = {}
            for i in rows_in(others):
                for value in rows[i].facet_values(key):
                    counts[value] = counts.get(value, 0) + 1
            return counts
        return {value: n for value, bits in self.masks[key].items() if (n := (bits & others).bit_count())}

    def sort_key(self, key: str, value: str, n: int) -> tuple:
        """The order of a facet's values: years newest first, others most documents first, then by label."""
        name = self.sort_keys.get((key, value))
        if name is None:
            name = self.sort_keys[(key, value)] = (-int(value) if key in ("issued", "effective") else 0,
                                                   label(self._table, key, value).casefold())
        return (name[0] or -n, name[1])

    def facet_mask(self, key: str, wanted: list[str]) -> int:
        held = self.masks[key]
        mask = 0
        for value in set(wanted):
            mask |= held.get(value, 0)
        return mask

    def mask(self, filters: dict[str, list[str]], leave_out: str = "") -> int:
        """The rows chosen by ``filters`` (all facets but ``leave_out``)."""
        mask = self.every
        for key, wanted in filters.items():
            if key in FACETS and key != leave_out and wanted:
                mask &= self.facet_mask(key, wanted)
        return mask

    def order(self, how: str) -> list[int]:
        if how not in self.orders:
            rows = self._table.rows
            position = {id(r): i for i, r in enumerate(rows)}
            self.orders[how] = [position[id(r)] for r in sort_rows(rows, self._table, how)]
        return self.orders[how]


def local(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def read_table(store: ox.Store) -> Table:
    """Every document of the built store, with the values of each facet (roll-ups included)."""
    rows: dict[str, Row] = {}
    solutions = store.query(ROWS, use_default_graph_as_union=True, prefixes=PREFIXES)
    assert isinstance(solutions, ox.QuerySolutions)  # a SELECT query: solutions
    for s in solutions:
        iri = s["doc"].value
        kind = local(s["kind"].value)
        row = rows.get(iri)
        if row is None:
            row = rows[iri] = Row(iri=iri)
        if kind in KINDS and (not row.kind or KINDS.index(kind) < KINDS.index(row.kind)):
            row.kind = kind
        for attr, var in (("identifier", "identifier"), ("title", "titleEn"), ("title_original", "titleOther"),
                          ("issued", "issued"), ("effective", "effective"), ("record", "record"),
                          ("added", "added")):
            term = s[var]
            if term is not None and not getattr(row, attr):
                setattr(row, attr, term.value)
    labels: dict[str, str] = {}
    solutions = store.query(VALUES, use_default_graph_as_union=True, prefixes=PREFIXES)
    assert isinstance(solutions, ox.QuerySolutions)  # a SELECT query: solutions
    for s in solutions:
        row = rows.get(s["doc"].value)
        if row is None or s["value"] is None:
            continue
        value = s["value"].value
        row.values.setdefault(s["key"].value, set()).add(value)
        if s["label"] is not None:
            labels.setdefault(value, s["label"].value)
    for row in rows.values():
        row.values["developer"] = row.values.get("developer", set())
    solutions = store.query(KIND_LABELS, use_default_graph_as_union=True, prefixes=PREFIXES)
    assert isinstance(solutions, ox.QuerySolutions)  # a SELECT query: solutions
    for s in solutions:
        labels.setdefault(s["c"].value, s["l"].value)
    return Table(rows=sorted(rows.values(), key=lambda r: r.iri), labels=labels)


TABLE_FILE = "catalogue.json"  # <store>/artefacts/catalogue.json: the table, written by the build (write_table)


def write_table(store: ox.Store, path: Path) -> None:
    """Read the table at build time and write it beside the store: serving then loads it instead of querying."""
    table = read_table(store)
    rows = [{**{k: v for k, v in r.__dict__.items() if k != "values"},
             "values": {k: sorted(v) for k, v in r.values.items()}} for r in table.rows]
    path.write_text(json.dumps({"rows": rows, "labels": table.labels}, ensure_ascii=False), encoding="utf-8")


def load_table(path: Path) -> Table | None:
    """The table the build wrote, or None for a store published before the build wrote it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    rows = [Row(**{**r, "values": {k: set(v) for k, v in r["values"].items()}}) for r in data["rows"]]
    return Table(rows=rows, labels=data["labels"])


KIND_LABELS = """SELECT ?c ?l WHERE { ?c a owl:Class ; rdfs:label ?l FILTER (STRSTARTS(STR(?c), STR(gaistd:))
                                                                      && LANGMATCHES(LANG(?l), "en")) }"""
GAISTD_NS = "https://w3id.org/gaistd/ontology#"


def label(table: Table, key: str, value: str) -> str:
    if key == "kind":
        return table.labels.get(GAISTD_NS + value, value)
    if key in ("issued", "effective"):
        return value
    return table.labels.get(value) or local(value)


def select(table: Table, filters: dict[str, list[str]], how: str = "", limit: int | None = None) -> list[Row]:
    """The rows that have, for each filtered facet, at least one of the chosen values (OR within a facet, AND across
    facets): in table order, or sorted ``how`` (one of SORTS) and then at most ``limit`` of them."""
    index = table.index
    mask = index.mask(filters)
    rows = table.rows
    if not how:
        return [rows[i] for i in rows_in(mask)]
    if mask == index.every:
        return [rows[i] for i in index.order(how)[:limit]]
    bits = mask.to_bytes(len(rows) // 8 + 1, "little")  # a bit test on bytes: no new int per row
    out: list[Row] = []
    for i in index.order(how):
        if bits[i >> 3] >> (i & 7) & 1:
            out.append(rows[i])
            if limit is not None and len(out) >= limit:
                break
    return out


def count(table: Table, filters: dict[str, list[str]]) -> int:
    """How many rows ``filters`` choose."""
    return table.index.mask(filters).bit_count()


def facet_counts(table: Table, filters: dict[str, list[str]]) -> dict[str, list[tuple[str, str, int]]]:
    """For each facet: (value, label, documents) among the rows selected by the *other* facets' filters, so that a
    count says how many documents choosing that value would add to or leave in the list."""
    index = table.index
    out: dict[str, list[tuple[str, str, int]]] = {}
    for key in FACETS:
        counts = index.counts(key, index.mask(filters, leave_out=key))
        ordered = sorted(counts.items(), key=lambda kv: index.sort_key(key, kv[0], kv[1]))
        out[key] = [(v, label(table, key, v), n) for v, n in ordered]
    return out


def rows_in(mask: int) -> list[int]:
    """The row numbers whose bit is set in ``mask``, in order."""
    bits = bin(mask)[:1:-1]  # lowest bit first
    out = []
    at = bits.find("1")
    while at >= 0:
        out.append(at)
        at = bits.find("1", at + 1)
    return out


def sort_rows(rows: list[Row], table: Table, how: str) -> list[Row]:
    if how == "identifier":
        return sorted(rows, key=lambda r: ((r.identifier or "~").casefold(), r.iri))
    if how == "title":
        return sorted(rows, key=lambda r: ((r.title or r.title_original).casefold(), r.iri))
    if how == "jurisdiction":
        return sorted(rows, key=lambda r: (",".join(sorted(label(table, "jurisdiction", j)
                                                           for j in r.values.get("jurisdiction", ()))), r.iri))
    if how == "issued":
        return sorted(rows, key=lambda r: (r.issued or "9999", r.iri))
    return sorted(rows, key=lambda r: (r.issued or "0000", r.iri), reverse=True)  # "-issued", the default


# --- exports ---------------------------------------------------------------------------------------------------------

CSV_COLUMNS = ("iri", "identifier", "title_en", "title_original", "kind", "status", "status_iri", "jurisdiction",
               "jurisdiction_iri", "developer", "developer_iri", "publisher", "publisher_iri", "issued",
               "effective", "official_record", "scope", "risks", "risk_iris", "areas", "area_iris", "kind_iri",
               "kind_label", "scope_iri")


def _labels(table: Table, key: str, values: Iterable[str]) -> str:
    return "; ".join(sorted(label(table, key, v) for v in values))


def to_csv(table: Table, rows: list[Row]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        v = r.values
        direct_devs = v.get("org", set()) & v.get("developer", set())
        w.writerow([r.iri, r.identifier, r.title, r.title_original, r.kind,
                    _labels(table, "status", v.get("status", ())), "; ".join(sorted(v.get("status", ()))),
                    _labels(table, "jurisdiction", v.get("jurisdiction", ())),
                    "; ".join(sorted(v.get("jurisdiction", ()))),
                    _labels(table, "developer", direct_devs), "; ".join(sorted(direct_devs)),
                    _labels(table, "publisher", v.get("publisher", ())), "; ".join(sorted(v.get("publisher", ()))),
                    r.issued, r.effective, r.record, _labels(table, "scope", v.get("scope", ())),
                    _labels(table, "risk", v.get("risk", ())), "; ".join(sorted(v.get("risk", ()))),
                    _labels(table, "area", v.get("area", ())), "; ".join(sorted(v.get("area", ()))),
                    GAISTD_NS + r.kind if r.kind else "", label(table, "kind", r.kind) if r.kind else "",
                    "; ".join(sorted(v.get("scope", ())))])
    return out.getvalue()


def asserted_triples(store: ox.Store, rows: list[Row]) -> list[ox.Triple]:
    """The asserted triples of the listed documents (the data graph), with those of their blank nodes."""
    data = ox.NamedNode(str(GRAPH["data"]))
    out: list[ox.Triple] = []
    for r in rows:
        frontier: list[Any] = [ox.NamedNode(r.iri)]
        seen = set()
        while frontier:
            node = frontier.pop()
            if node in seen:
                continue
            seen.add(node)
            for q in store.quads_for_pattern(node, None, None, data):
                out.append(ox.Triple(q.subject, q.predicate, q.object))
                if isinstance(q.object, ox.BlankNode):
                    frontier.append(q.object)
    return out


def _authors(table: Table, r: Row) -> list[str]:
    orgs = r.values.get("publisher") or (r.values.get("org", set()) & r.values.get("developer", set()))
    return sorted(label(table, "publisher", o) for o in orgs)


CSL_TYPES = {"Law": "legislation", "Regulation": "legislation", "AdministrativeMeasure": "legislation",
             "ExecutiveOrder": "legislation", "Guideline": "report", "CodeOfPractice": "report",
             "PolicyDocument": "report"}
RIS_TYPES = {"Law": "STAT", "Regulation": "LEGAL", "AdministrativeMeasure": "LEGAL", "ExecutiveOrder": "LEGAL",
             "Guideline": "GOVDOC", "CodeOfPractice": "GOVDOC", "PolicyDocument": "GOVDOC"}


def _key(r: Row) -> str:
    return "gaistd-" + local(r.iri).replace("_", "-")


def _bib_escape(text: str) -> str:
    out = []
    for ch in text:
        if ch in "{}\\":
            out.append("\\" + {"{": "{", "}": "}", "\\": "textbackslash{}"}[ch])
        elif ch in "&%$#_":
            out.append("\\" + ch)
        elif ch in "~^":
            out.append("\\" + ch + "{}")
        else:
            out.append(ch)
    return "".join(out)


def to_bibtex(table: Table, rows: list[Row], url_for: Any, version: str, accessed: date) -> str:
    entries = []
    for r in rows:
        authors = _authors(table, r)
        fields = [("title", r.title or r.title_original or r.identifier),
                  ("author", " and ".join("{" + _bib_escape(a) + "}" for a in authors) if authors else ""),
                  ("institution", "; ".join(authors)),
                  ("number", r.identifier), ("year", r.year("issued")),
                  ("date", r.issued if len(r.issued) >= 4 else ""),
                  ("url", r.record or url_for(r.iri)), ("urldate", accessed.isoformat()),
                  ("note", f"Catalogued in GAISTD-KG {version} at {url_for(r.iri)}, accessed {accessed.isoformat()}")]
        body = ",\n".join(f"  {k} = {{{v if k == 'author' else _bib_escape(v)}}}" for k, v in fields if v)
        kind = "techreport" if r.kind not in CSL_TYPES else "misc"
        entries.append(f"@{kind}{{{_key(r)},\n{body}\n}}\n")
    return "\n".join(entries)


def to_ris(table: Table, rows: list[Row], url_for: Any, version: str, accessed: date) -> str:
    out = []
    for r in rows:
        lines = [("TY", RIS_TYPES.get(r.kind, "STAND")), ("TI", r.title or r.title_original or r.identifier)]
        if r.title and r.title_original:
            lines.append(("T2", r.title_original))
        lines += [("AU", a) for a in _authors(table, r)]
        lines += [("PB", a) for a in _authors(table, r)[:1]]
        if r.identifier:
            lines.append(("M1", r.identifier))
        if r.issued:
            lines.append(("PY", r.issued[:4]))
            lines.append(("DA", r.issued.replace("-", "/")))
        lines += [("UR", r.record or url_for(r.iri)), ("Y2", accessed.isoformat().replace("-", "/")),
                  ("N1", f"Catalogued in GAISTD-KG {version} at {url_for(r.iri)}"), ("ER", "")]
        out.append("\n".join(f"{k}  - {v}".rstrip() if k == "ER" else f"{k}  - {v}" for k, v in lines))
    return "\n\n".join(out) + "\n"


def to_csl_json(table: Table, rows: list[Row], url_for: Any, version: str, accessed: date) -> str:
    items = []
    for r in rows:
        item: dict[str, Any] = {
            "id": _key(r), "type": CSL_TYPES.get(r.kind, "standard"),
            "title": r.title or r.title_original or r.identifier,
            "author": [{"literal": a} for a in _authors(table, r)],
            "publisher": "; ".join(_authors(table, r)),
            "URL": r.record or url_for(r.iri),
            "accessed": {"date-parts": [[accessed.year, accessed.month, accessed.day]]},
            "note": f"Catalogued in GAISTD-KG {version} at {url_for(r.iri)}",
        }
        if r.identifier:
            item["number"] = r.identifier
        if r.title and r.title_original:
            item["original-title"] = r.title_original
        if r.issued:
            item["issued"] = {"date-parts": [[int(p) for p in r.issued.split("-")[:3]]]}
        items.append(item)
    return json.dumps(items, ensure_ascii=False, indent=1) + "\n"


# --- what is new -----------------------------------------------------------------------------------------------------

EVENTS = (("added", "added to the catalogue"), ("issued", "issued"), ("effective", "took effect"))


def changes(table: Table, limit: int = 100, today: str | None = None) -> list[dict[str, Any]]:
    """Dated events, newest first: a document added to the catalogue, issued, or taking effect (dates to the
    precision recorded; a date in the future is an announced effective date and is listed too, marked upcoming)."""
    events = []
    for r in table.rows:
        for attr, what in EVENTS:
            when = getattr(r, attr)
            if when:
                events.append({"date": when, "event": attr, "what": what, "row": r,
                               "upcoming": bool(today and when > today)})
    events.sort(key=lambda e: (e["date"], e["event"], e["row"].iri), reverse=True)
    return events[:limit]
