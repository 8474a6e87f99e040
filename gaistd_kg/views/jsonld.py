"""JSON-LD for people who do not use RDF: the terms context (a term for every class and property of the ontology) and
a resource framed as one compacted object under it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable

import pyoxigraph as ox

from gaistd_kg.iris import PREFIXES

# --- the terms context: a JSON-LD term for every class and property of ours -------------------------------------------

TERMS_FILE = Path(__file__).resolve().parent / "terms.jsonld"  # written by ``python -m gaistd_kg.pipeline.context``
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD_NS = "http://www.w3.org/2001/XMLSchema#"
LANG_STRING = RDF_NS + "langString"
RDF_TYPE = RDF_NS + "type"
XSD_STRING = XSD_NS + "string"
# Properties of other vocabularies the catalogue uses on every document, with how their values are written.
OTHER_TERMS: dict[str, str] = {  # IRI -> "@id" (an IRI), "@language" (a language map), "" (as is) or a datatype
    "http://purl.org/dc/terms/title": "@language",
    "http://www.w3.org/2000/01/rdf-schema#label": "@language",
    "http://www.w3.org/2004/02/skos/core#prefLabel": "@language",
    "http://www.w3.org/2004/02/skos/core#altLabel": "@language",
    "http://www.w3.org/2004/02/skos/core#definition": "@language",
    "http://www.w3.org/2000/01/rdf-schema#comment": "@language",
    "http://purl.org/dc/terms/issued": XSD_NS + "date",
    "http://purl.org/dc/terms/modified": XSD_NS + "date",
    "http://purl.org/dc/terms/identifier": "",
    "http://purl.org/dc/terms/source": "@id",
    "http://purl.org/dc/terms/publisher": "@id",
    "http://purl.org/dc/terms/references": "@id",
    "http://purl.org/dc/terms/hasPart": "@id",
    "http://purl.org/dc/terms/isPartOf": "@id",
    "http://purl.org/dc/terms/isReplacedBy": "@id",
    "http://purl.org/dc/terms/license": "@id",
    "http://www.w3.org/ns/dcat#landingPage": "@id",
    "http://www.w3.org/2002/07/owl#sameAs": "@id",
    "http://www.w3.org/2002/07/owl#deprecated": XSD_NS + "boolean",
    "http://www.w3.org/2000/01/rdf-schema#seeAlso": "@id",
    "http://www.w3.org/2004/02/skos/core#broader": "@id",
    "http://www.w3.org/2004/02/skos/core#narrower": "@id",
    "http://www.w3.org/2004/02/skos/core#exactMatch": "@id",
    "http://www.w3.org/2004/02/skos/core#closeMatch": "@id",
    "http://www.w3.org/2004/02/skos/core#broadMatch": "@id",
    "http://www.w3.org/2004/02/skos/core#narrowMatch": "@id",
    "http://www.w3.org/2004/02/skos/core#relatedMatch": "@id",
}
TERM_KINDS = ("Class", "ObjectProperty", "DatatypeProperty", "AnnotationProperty")
OWL_NS = "http://www.w3.org/2002/07/owl#"


def ontology_terms(ontology) -> dict[str, str]:
    """Every class and property the ontology declares (an rdflib Graph): IRI -> its OWL kind (``TERM_KINDS``)."""
    from rdflib import RDF, URIRef

    out: dict[str, str] = {}
    for kind in TERM_KINDS:
        for s in ontology.subjects(RDF.type, URIRef(OWL_NS + kind)):
            if isinstance(s, URIRef):
                out.setdefault(str(s), kind)
    return out


def make_terms_context(ontology, datatypes: dict[str, set[str]]) -> dict:
    """The terms context: our prefixes, ``id`` and ``type``, and one term per class and property of ``ontology``
    (named by its local name) and of ``OTHER_TERMS``. Object properties hold IRIs; a data property whose values in
    the data (``datatypes``: property IRI -> datatype IRIs seen) all have one datatype is coerced to it, to a
    language map when that is ``rdf:langString``."""
    ctx: dict[str, object] = {"@version": 1.1, **dict(sorted(PREFIXES.items())), "id": "@id", "type": "@type"}
    ours = ontology_terms(ontology)
    entries: dict[str, str] = {}
    for iri, kind in sorted(ours.items()):
        if kind == "Class":
            entries[iri] = "class"
        elif kind == "ObjectProperty":
            entries[iri] = "@id"
        else:
            seen = datatypes.get(iri, set())
            dt = next(iter(seen)) if len(seen) == 1 else ""
            entries[iri] = "@language" if dt == LANG_STRING else ("" if dt == XSD_NS + "string" else dt)
    for iri, how in OTHER_TERMS.items():
        entries.setdefault(iri, how)
    taken = set(ctx)
    for iri, how in entries.items():
        name = iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
        if name in taken:  # the same local name in two vocabularies: the second keeps its prefix
            name = _curie(iri).replace(":", "_")
        taken.add(name)
        short = _curie(iri)
        if how == "class" or how == "":
            ctx[name] = short
        elif how == "@language":
            ctx[name] = {"@id": short, "@container": "@language"}
        else:
            ctx[name] = {"@id": short, "@type": how if how == "@id" else _curie(how)}
    return {"@context": ctx}


def _curie(iri: str) -> str:
    for prefix, ns in sorted(PREFIXES.items(), key=lambda kv: -len(kv[1])):
        if iri.startswith(ns) and iri != ns:
            return f"{prefix}:{iri[len(ns):]}"
    return iri


def terms_context() -> dict:
    """The published terms context (``terms.jsonld`` beside this module), as a fresh dict."""
    return json.loads(TERMS_FILE.read_text(encoding="utf-8"))


def missing_terms(ontology, ctx: dict) -> list[str]:
    """The classes and properties of ``ontology`` that ``ctx`` (a context document) has no term for."""
    defined = set()
    body = ctx["@context"]
    prefixes = {k: v for k, v in body.items() if isinstance(v, str) and v.endswith(("#", "/"))}

    def expand(value: str) -> str:
        prefix, _, rest = value.partition(":")
        return prefixes[prefix] + rest if prefix in prefixes and not rest.startswith("//") else value

    for key, value in body.items():
        if key.startswith("@") or key in prefixes:
            continue
        target = value["@id"] if isinstance(value, dict) else value
        if isinstance(target, str):
            defined.add(expand(target))
    return sorted(iri for iri in ontology_terms(ontology) if iri not in defined)


class Compactor:
    """Node objects under a terms context (a context document such as ``terms_context()``), written directly: no
    JSON-LD processor runs, and each value either fits its term's definition or is written under the property's
    compact IRI as an explicit value (so the document always reads back to exactly the triples it was made from).

    Under a term the value is what a reader who knows no RDF expects: an IRI term (``"@type": "@id"``) holds compact
    IRI strings, a typed term (``"@type": "xsd:date"``) plain strings of that datatype, a plain term plain strings
    (``xsd:string``), a language map ``{"en": ..., "zh": ...}`` language-tagged strings. Anything else (a literal of
    another datatype, an untagged string where a language map is defined, a literal where an IRI is, any value of a
    property without a term) goes under the compact IRI of the property (``"dcterms:issued": {"@value": "2024",
    "@type": "xsd:gYear"}``). A resource (an IRI or a blank node) under a term that is not an IRI term is written as
    a node object (``{"id": ...}``), under the term unless that is a language map."""

    def __init__(self, ctx: dict):
        body = ctx["@context"]
        self.body = body
        self.prefixes = {k: v for k, v in body.items()
                         if not k.startswith("@") and isinstance(v, str) and v.endswith(("#", "/"))}
        self._by_ns = sorted(((ns, p) for p, ns in self.prefixes.items()), key=lambda np: -len(np[0]))
        self._compacted: dict[str, str] = {}
        # property IRI -> (term, "@id" | "@language" | datatype IRI | ""); class IRI -> term
        self.terms: dict[str, tuple[str, str]] = {}
        self.classes: dict[str, str] = {}
        for key, value in body.items():
            if key.startswith("@") or key in self.prefixes or value in ("@id", "@type"):
                continue
            if isinstance(value, str):
                self.terms.setdefault(self.expand(value), (key, ""))
                self.classes.setdefault(self.expand(value), key)
            else:
                how = value.get("@type", "")
                how = ("@language" if value.get("@container") == "@language"
                       else (how if how == "@id" else self.expand(how)))
                self.terms.setdefault(self.expand(value["@id"]), (key, how))

    def expand(self, value: str) -> str:
        prefix, sep, rest = value.partition(":")
        return self.prefixes[prefix] + rest if sep and prefix in self.prefixes and not rest.startswith("//") else value

    def compact(self, iri: str) -> str:
        """``iri`` as a compact IRI under the longest namespace that has a prefix (memoised: IRIs repeat)."""
        done = self._compacted.get(iri)
        if done is None:
            done = iri
            for ns, prefix in self._by_ns:
                if iri.startswith(ns) and len(iri) > len(ns) and not iri[len(ns):].startswith("//"):
                    done = f"{prefix}:{iri[len(ns):]}"
                    break
            self._compacted[iri] = done
        return done

    def ref(self, term: Any) -> str:
        """An IRI or a blank node as the string of an ``id`` (``_:label`` for a blank node)."""
        return f"_:{term.value}" if isinstance(term, ox.BlankNode) else self.compact(term.value)

    def node(self, about: Any, facts: Iterable, embed: Callable[[ox.BlankNode], dict] | None = None,
             with_id: bool = True) -> dict:
        """``about`` and its ``facts`` (objects with ``.predicate`` and ``.object``) as one node object. A blank node
        object is ``embed(node)`` when ``embed`` is given, a reference to its ``id`` otherwise; ``with_id`` False
        leaves a blank node's ``id`` out (an embedded blank node referenced nowhere else)."""
        out: dict[str, Any] = {"id": self.ref(about)} if with_id or not isinstance(about, ox.BlankNode) else {}
        types: list[str] = []
        values: dict[str, list] = {}
        maps: dict[str, dict[str, list]] = {}
        terms, compact = self.terms, self.compact
        for f in facts:
            p, o = f.predicate.value, f.object
            if p == RDF_TYPE and isinstance(o, ox.NamedNode):
                types.append(self.classes.get(o.value) or compact(o.value))
                continue
            term, how = terms.get(p, ("", "?"))
            key = term or compact(p)
            if isinstance(o, ox.Literal):
                if how == "@language" and o.language:
                    maps.setdefault(key, {}).setdefault(o.language, []).append(o.value)
                    continue
                dt = o.datatype.value
                if not o.language and (dt == how or (how == "" and dt == XSD_STRING)):
                    values.setdefault(key, []).append(o.value)
                    continue
                literal = ({"@value": o.value, "@language": o.language} if o.language else
                           {"@value": o.value} if dt == XSD_STRING else {"@value": o.value, "@type": compact(dt)})
                values.setdefault(compact(p), []).append(literal)
            elif isinstance(o, ox.Triple):
                raise ValueError("a quoted triple cannot be written as JSON-LD 1.1")
            elif how == "@id" and (embed is None or not isinstance(o, ox.BlankNode)):
                values.setdefault(key, []).append(self.ref(o))
            else:
                if how == "@language":
                    key = compact(p)  # a language map holds strings only
                value = embed(o) if embed is not None and isinstance(o, ox.BlankNode) else {"id": self.ref(o)}
                values.setdefault(key, []).append(value)
        if types:
            out["type"] = sorted(types) if len(types) > 1 else types[0]
        for key in sorted(values):
            vs = values[key]
            out[key] = vs[0] if len(vs) == 1 else sorted(vs, key=_sort_key)
        for key in sorted(maps):
            out[key] = {lang: (vs[0] if len(vs) == 1 else sorted(vs)) for lang, vs in sorted(maps[key].items())}
        return out


def _sort_key(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def framed(subject: ox.NamedNode, facts: Iterable, nested: dict, ctx: dict) -> dict:
    """``subject`` and its ``facts`` (objects with ``.predicate`` and ``.object``) as one compacted JSON-LD node
    object under ``ctx`` (a context document, inlined), blank nodes from ``nested`` embedded: what a JSON-LD
    processor frames ``{"@id": subject, "@embed": "@always"}`` into, written directly (no processor at run time).

    A value the term's coercion cannot carry (a literal of another datatype, an untagged string under a language map)
    is written under the property's compact IRI instead, as a value object, so no triple changes in the round trip
    (``Compactor``)."""
    compactor = Compactor(ctx)

    def embed(depth: int) -> Callable[[ox.BlankNode], dict]:
        def one(b: ox.BlankNode) -> dict:
            if depth >= 8:
                return {"id": compactor.ref(b)}
            return compactor.node(b, nested.get(b, []), embed(depth + 1), with_id=False)
        return one

    return {"@context": compactor.body, **compactor.node(subject, facts, embed(0))}
