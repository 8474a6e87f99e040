"""Why a fact holds: an asserted fact is shown with its graph and sources; an inferred one with the asserted facts and
the ontology axioms that entail it, found by walking the OWL 2 RL rules backward from the fact with SPARQL against
the built store.

The rules walked are those the ontology's axioms use: property chains (prp-spo2, recursive where chains nest, as in
multi-step ``skos:broader`` or ``org:subOrganizationOf`` roll-ups), inverses (prp-inv1/2), sub- and equivalent
properties (prp-spo1, prp-eqp1/2), symmetric and transitive properties (prp-symp, prp-trp), sub- and equivalent classes
(cax-sco, cax-eqc1/2), defined classes by intersection with hasValue or someValuesFrom restrictions (cls-int1,
cls-hv1, cls-svf1), domains and ranges (prp-dom, prp-rng), and the schema's own closure (scm-sco, scm-spo). Each step
tries every rule one level deep, keeps the derivations whose premises hold, and explains first the one with most
premises asserted, so the shortest readable chain wins. Recursion stops at ``max_depth`` steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterator, Mapping

import pyoxigraph as ox

from gaistd_kg.iris import GRAPH, PREFIXES

from . import explain_rules
from .explain_rules import (MAX_CANDIDATES, OWL, RDF_TYPE, RDFS, SUBCLASS, SUBPROPERTY, Axiom, Term, Triple,  # noqa: F401
                            compact)

FIRST, REST = (ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#" + n) for n in ("first", "rest"))
NIL = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#nil")
ONTOLOGY = ox.NamedNode(str(GRAPH["ontology"]))
TRIVIAL = {ox.NamedNode(OWL + "Thing"), ox.NamedNode(RDFS + "Resource")}
GRAPH_NAMES = {str(iri): name for name, iri in GRAPH.items()}
DEFAULT_DEPTH = 16

LABEL_QUERY = """
SELECT * WHERE {
  { ?t <http://purl.org/dc/terms/identifier> ?l BIND (1 AS ?rank) }
  UNION { ?t <http://www.w3.org/2004/02/skos/core#prefLabel> ?l FILTER (LANG(?l) = "en") BIND (2 AS ?rank) }
  UNION { ?t <http://www.w3.org/2000/01/rdf-schema#label> ?l FILTER (LANG(?l) = "en") BIND (3 AS ?rank) }
  UNION { ?t <http://purl.org/dc/terms/title> ?l FILTER (LANG(?l) = "en") BIND (4 AS ?rank) }
} ORDER BY ?rank STR(?l) LIMIT 1"""
SOURCES_QUERY = "SELECT * WHERE { GRAPH ?g { ?t <http://purl.org/dc/terms/source> ?src } } ORDER BY ?src"


class TermError(ValueError):
    """A subject, property or object the explanation cannot read (unknown prefix, malformed IRI or literal)."""


@dataclass
class Explanation:
    triple: Triple
    labels: tuple[str, str, str]
    holds: bool
    status: str              # asserted | inferred | does not hold | not explained
    graphs: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    axiom: Axiom | None = None
    premises: list["Explanation"] = field(default_factory=list)
    note: str | None = None

    def sentence(self) -> str:
        return " ".join(self.labels)

    def lines(self, indent: str = "") -> list[str]:
        head = f"{indent}{self.sentence()}"
        if self.status == "asserted":
            src = f"; source: {', '.join(_short(x) for x in self.sources)}" if self.sources else ""
            return [f"{head}: asserted in graph {', '.join(self.graphs)}{src}"]
        if self.status == "does not hold":
            return [f"{head}: does not hold: {self.note}"]
        if self.status == "not explained":
            return [f"{head}: inferred (graph {', '.join(self.graphs)}); {self.note}"]
        assert self.axiom is not None
        if not self.premises:
            return [f"{head}: inferred from the axiom {self.axiom.text} alone ({self.axiom.rule}: "
                    f"{'; '.join(self.axiom.statements)})"]
        out = [f"{head}: inferred, because"]
        for i, premise in enumerate(self.premises, 1):
            sub = premise.lines(indent + "    ")
            out.append(f"{indent}  {i}. {sub[0].lstrip()}")
            out.extend(sub[1:])
        out.append(f"{indent}  and the axiom {self.axiom.text} ({self.axiom.rule}: {'; '.join(self.axiom.statements)})")
        out.append(f"{indent}  therefore {self.sentence()}.")
        return out

    def text(self) -> str:
        return "\n".join(self.lines())

    def as_json(self) -> dict[str, Any]:
        s, p, o = self.triple
        return {"subject": _term_json(s), "property": _term_json(p), "object": _term_json(o),
                "labels": list(self.labels), "holds": self.holds, "status": self.status, "graphs": self.graphs,
                "sources": self.sources, "note": self.note,
                "axiom": None if self.axiom is None else {"rule": self.axiom.rule, "text": self.axiom.text,
                                                          "statements": self.axiom.statements},
                "premises": [p.as_json() for p in self.premises]}

    def steps(self) -> Iterator["Explanation"]:
        """Every explanation in the tree, this one first (depth first)."""
        yield self
        for p in self.premises:
            yield from p.steps()


def _short(value: str) -> str:
    return compact(ox.NamedNode(value)) if value.startswith(("http://", "https://")) else value


def _term_json(t: Term) -> dict[str, Any]:
    if isinstance(t, ox.Literal):
        return {"type": "literal", "value": t.value, "datatype": t.datatype.value, "language": t.language}
    return {"type": "uri" if isinstance(t, ox.NamedNode) else "bnode", "value": t.value}


def parse_term(text: str | Term) -> Term:
    """``gdoc:eu-ai-act``, ``<https://…>``, ``https://…``, ``a``, or a literal ``"2024-08-01"^^xsd:date`` / ``"x"@en``."""
    if isinstance(text, (ox.NamedNode, ox.Literal, ox.BlankNode)):
        return text
    if hasattr(text, "n3") and not isinstance(text, str):  # an rdflib term
        return parse_term(text.n3())
    text = text.strip()
    if text == "a":
        return RDF_TYPE
    if text.startswith('"'):
        end = text.rfind('"')
        if end <= 0:
            raise TermError(f"unterminated literal: {text}")
        lexical, rest = text[1:end], text[end + 1:]
        if rest.startswith("@"):
            try:
                return ox.Literal(lexical, language=rest[1:])
            except ValueError:
                raise TermError(f"not a valid language tag (BCP 47): @{rest[1:]}") from None
        if rest.startswith("^^"):
            return _typed(lexical, _iri(rest[2:]))
        if rest:
            raise TermError(f"cannot read the literal {text}")
        return ox.Literal(lexical)
    return _iri(text)


XSD = "http://www.w3.org/2001/XMLSchema#"
_TZ = r"(?:Z|[+-](?:0\d|1[0-3]):[0-5]\d|[+-]14:00)?"
_YMD = r"(-?(?:[1-9]\d{4,}|\d{4}))-(\d\d)-(\d\d)"
_LEXICAL = {  # the lexical forms of XML Schema 1.1 for the types our data uses; a date's day is checked apart
    "date": re.compile(_YMD + _TZ),
    "dateTime": re.compile(_YMD + r"T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?" + _TZ),
    "gYear": re.compile(r"-?(?:[1-9]\d{4,}|\d{4})" + _TZ),
    "gYearMonth": re.compile(r"-?(?:[1-9]\d{4,}|\d{4})-(?:0[1-9]|1[0-2])" + _TZ),
    "integer": re.compile(r"[+-]?\d+"),
    "decimal": re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"),
    "boolean": re.compile(r"true|false|1|0"),
}


def _typed(lexical: str, datatype: ox.NamedNode) -> ox.Literal:
    """A typed literal, its lexical form checked for the XML Schema types of ``_LEXICAL`` (an invalid date names
    no fact of the graph: TermError says what is wrong)."""
    name = datatype.value[len(XSD):] if datatype.value.startswith(XSD) else None
    pattern = _LEXICAL.get(name or "")
    m = pattern.fullmatch(lexical.strip()) if pattern else None
    if pattern and (m is None or (name in ("date", "dateTime") and not _real_day(*m.group(1, 2, 3)))):
        raise TermError(f"not a valid xsd:{name}: {lexical!r}")
    return ox.Literal(lexical, datatype=datatype)


def _real_day(year: str, month: str, day: str) -> bool:
    try:
        date(2000 + int(year) % 400, int(month), int(day))  # the Gregorian calendar repeats every 400 years
    except ValueError:
        return False
    return True


def _iri(text: str) -> ox.NamedNode:
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    elif not text.startswith(("http://", "https://", "urn:")):
        prefix, colon, local = text.partition(":")
        if not colon or prefix not in PREFIXES:
            raise TermError(f"{text!r} is neither an IRI nor a prefixed name with a known prefix "
                            f"({', '.join(sorted(PREFIXES))})")
        text = PREFIXES[prefix] + local
    try:
        return ox.NamedNode(text)
    except ValueError as exc:
        raise TermError(f"not a valid IRI: {text} ({exc})") from None


def as_store(store_or_graphs: Any) -> ox.Store:
    if isinstance(store_or_graphs, ox.Store):
        return store_or_graphs
    if hasattr(store_or_graphs, "store") and isinstance(store_or_graphs.store, ox.Store):
        return store_or_graphs.store  # an OpenStore
    if isinstance(store_or_graphs, Mapping):
        from gaistd_kg.store import store_from_graphs

        return store_from_graphs(store_or_graphs)
    if hasattr(store_or_graphs, "quads_for_pattern") and hasattr(store_or_graphs, "query"):
        return store_or_graphs  # a remoteview.RemoteView: the same reading methods over a remote store
    raise TypeError("explain needs an Oxigraph store, an OpenStore, a remote view or a mapping of graph name to "
                    "rdflib Graph")


def _subject(t: Term) -> ox.NamedNode | ox.BlankNode:
    """``t`` in a pattern's subject position: a literal there raises TypeError, as pyoxigraph does."""
    if isinstance(t, ox.Literal):
        raise TypeError(f"a literal is not a subject: {t}")
    return t


def _predicate(t: Term) -> ox.NamedNode:
    """``t`` in a pattern's predicate position: anything but an IRI raises TypeError, as pyoxigraph does."""
    if not isinstance(t, ox.NamedNode):
        raise TypeError(f"a predicate is an IRI, not {t}")
    return t


class Explainer:
    def __init__(self, store: ox.Store, max_depth: int = DEFAULT_DEPTH):
        self.store = store
        self.max_depth = max_depth
        self._labels: dict[Term, str] = {}
        self._axioms: dict[tuple, list] = {}

    # --- the store ------------------------------------------------------------------------------------------------

    def select(self, query: str, **bindings: Term) -> list[dict[str, Term]]:
        result = self.store.query(query, use_default_graph_as_union=True,
                                  substitutions={ox.Variable(k): v for k, v in bindings.items()})
        assert isinstance(result, ox.QuerySolutions)  # a SELECT
        names = [v.value for v in result.variables]
        return [{n: s[n] for n in names} for s in result]

    def graphs(self, t: Triple) -> list[str]:
        return sorted({GRAPH_NAMES.get(q.graph_name.value, q.graph_name.value)
                       for q in self.store.quads_for_pattern(_subject(t[0]), _predicate(t[1]), t[2], None)
                       if isinstance(q.graph_name, ox.NamedNode)})

    def holds(self, t: Triple) -> bool:
        return next(self.store.quads_for_pattern(_subject(t[0]), _predicate(t[1]), t[2], None), None) is not None

    def asserted(self, t: Triple) -> bool:
        return any(g != "inferred" for g in self.graphs(t))

    def label(self, t: Term) -> str:
        if t == RDF_TYPE:
            return "is a"
        if not isinstance(t, ox.NamedNode):
            return str(t.value) if isinstance(t, ox.Literal) else compact(t)
        if t not in self._labels:
            rows = self.select(LABEL_QUERY, t=t)
            self._labels[t] = rows[0]["l"].value if rows else compact(t)
        return self._labels[t]

    def sources(self, s: Term) -> list[str]:
        """The dcterms:source values of the fact's subject (IRIs, or text for a literal source)."""
        return list(dict.fromkeys(r["src"].value for r in self.select(SOURCES_QUERY, t=s)))

    def ontology(self, query: str, **bindings: Term) -> list[dict[str, Term]]:
        """Axioms of the ontology graph (the query names it as ``GRAPH ?og``): what the reasoner was told, not what
        it derived. Cached: the same axioms are looked up at every step."""
        key = (query, tuple(sorted((k, str(v)) for k, v in bindings.items())))
        if key not in self._axioms:
            self._axioms[key] = self.select(query, og=ONTOLOGY, **bindings)
        return self._axioms[key]

    def members(self, node: Term) -> list[Term]:
        out: list[Term] = []
        seen = set()
        while node != NIL and node not in seen:
            seen.add(node)
            first = next(self.store.quads_for_pattern(_subject(node), FIRST, None, ONTOLOGY), None)
            rest = next(self.store.quads_for_pattern(_subject(node), REST, None, ONTOLOGY), None)
            if first is None or rest is None or isinstance(first.object, ox.Triple) or isinstance(rest.object, ox.Triple):
                break  # not a list (an RDF-star triple is no list member)
            out.append(first.object)
            node = rest.object
        return out

    # --- explaining -----------------------------------------------------------------------------------------------

    def explain(self, t: Triple, path: frozenset = frozenset(), depth: int = 0) -> Explanation:
        labels = (self.label(t[0]), self.label(t[1]), self.label(t[2]))
        graphs = self.graphs(t)
        if not graphs:
            return Explanation(t, labels, False, "does not hold", note=self._why_not(t))
        if any(g != "inferred" for g in graphs):
            return Explanation(t, labels, True, "asserted", graphs=[g for g in graphs if g != "inferred"],
                               sources=self.sources(t[0]))
        if depth >= self.max_depth:
            return Explanation(t, labels, True, "not explained", graphs=graphs,
                               note=f"its derivation is deeper than the {self.max_depth} steps shown")
        path = path | {t}
        for axiom, premises in sorted(self.derivations(t), key=lambda d: -sum(self.asserted(p) for p in d[1])):
            if any(p in path for p in premises):
                continue
            subs = [self.explain(p, path, depth + 1) for p in premises]
            if all(s.holds and s.status != "does not hold" for s in subs):
                return Explanation(t, labels, True, "inferred", graphs=graphs, axiom=axiom, premises=subs)
        return Explanation(t, labels, True, "not explained", graphs=graphs,
                           note="the reasoner derived it, but no rule walked here finds its premises")

    def _why_not(self, t: Triple) -> str:
        if t[2] in TRIVIAL and t[1] in (RDF_TYPE, SUBCLASS):
            return (f"the build keeps no trivial triples: OWL makes everything a {compact(t[2])}, which says nothing "
                    "about the resource, so such triples are left out of the inferred graph")
        unknown = [compact(x) for x in (t[0], t[2]) if isinstance(x, ox.NamedNode)
                   and next(self.store.quads_for_pattern(x, None, None, None), None) is None
                   and next(self.store.quads_for_pattern(None, None, x, None), None) is None]
        if unknown:
            return f"{' and '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not in the graph"
        return "it is neither asserted nor entailed by the ontology's axioms from the asserted facts"

    def derivations(self, t: Triple) -> Iterator[tuple[Axiom, list[Triple]]]:
        yield from explain_rules.derivations(self, t)


def explain(store_or_graphs: Any, s: str | Term, p: str | Term, o: str | Term,
            max_depth: int = DEFAULT_DEPTH) -> Explanation:
    """Explain the fact (s, p, o): asserted (with graph and sources), inferred (with the chain of asserted facts and
    axioms that entail it), or not holding. Terms are prefixed names, IRIs (bare or in <>), ox or rdflib terms."""
    store = as_store(store_or_graphs)
    terms = (parse_term(s), parse_term(p), parse_term(o))
    if isinstance(terms[0], ox.Literal):
        raise TermError(f"the subject must be an IRI or a blank node, not the literal {terms[0]}")
    if not isinstance(terms[1], ox.NamedNode):
        raise TermError(f"the property must be an IRI, not {terms[1]}")
    return Explainer(store, max_depth).explain(terms)
