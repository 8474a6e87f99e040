"""JSON-LD for people who do not use RDF: the terms context (a term for every class and property of the ontology) and
a resource framed as one compacted object under it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import pyoxigraph as ox

from gaistd_kg.iris import PREFIXES

# --- the terms context: a JSON-LD term for every class and property of ours -------------------------------------------

TERMS_FILE = Path(__file__).resolve().parent / "terms.jsonld"  # written by ``python -m gaistd_kg.pipeline.context``
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD_NS = "http://www.w3.org/2001/XMLSchema#"
LANG_STRING = RDF_NS + "langString"
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


def framed(subject: ox.NamedNode, facts: Iterable, nested: dict, ctx: dict) -> dict:
    """``subject`` and its ``facts`` (objects with ``.predicate`` and ``.object``) as one compacted JSON-LD node
    object under ``ctx`` (a context document, inlined), blank nodes from ``nested`` embedded: what a JSON-LD
    processor frames ``{"@id": subject, "@embed": "@always"}`` into, written directly (no processor at run time).

    A value the term's coercion cannot carry (a literal of another datatype, an untagged string under a language map)
    is written under the property's compact IRI instead, as a value object, so no triple changes in the round trip."""
    body = ctx["@context"]
    prefixes = {k: v for k, v in body.items()
                if not k.startswith("@") and isinstance(v, str) and v.endswith(("#", "/"))}

    def expand(value: str) -> str:
        prefix, sep, rest = value.partition(":")
        return prefixes[prefix] + rest if sep and prefix in prefixes and not rest.startswith("//") else value

    def compact(iri: str) -> str:
        best = max(((p, ns) for p, ns in prefixes.items() if iri.startswith(ns) and iri != ns),
                   key=lambda pn: len(pn[1]), default=None)
        return f"{best[0]}:{iri[len(best[1]):]}" if best else iri

    terms: dict[str, tuple[str, str]] = {}  # property IRI -> (term, "@id" | "@language" | datatype IRI | "")
    classes: dict[str, str] = {}            # class IRI -> term
    for key, value in body.items():
        if key.startswith("@") or key in prefixes or value in ("@id", "@type"):
            continue
        if isinstance(value, str):
            terms.setdefault(expand(value), (key, ""))
            classes.setdefault(expand(value), key)
        else:
            how = value.get("@type", "")
            how = "@language" if value.get("@container") == "@language" else (how if how == "@id" else expand(how))
            terms.setdefault(expand(value["@id"]), (key, how))

    def node(about: Any, about_facts: Iterable, depth: int) -> dict:
        out: dict[str, Any] = {} if isinstance(about, ox.BlankNode) else {"id": compact(about.value)}
        types: list[str] = []
        values: dict[str, list] = {}
        maps: dict[str, dict[str, list]] = {}
        for f in about_facts:
            p, o = f.predicate.value, f.object
            if p == RDF_NS + "type" and isinstance(o, ox.NamedNode):
                types.append(classes.get(o.value, compact(o.value)))
                continue
            term, how = terms.get(p, ("", "?"))
            key = term or compact(p)
            if isinstance(o, ox.BlankNode):
                if how == "@language":
                    key = compact(p)
                embedded = node(o, nested.get(o, []), depth + 1) if depth < 8 else {"@id": str(o)}
                values.setdefault(key, []).append(embedded)
            elif isinstance(o, ox.NamedNode):
                if how == "@id":
                    values.setdefault(key, []).append(compact(o.value))
                else:
                    values.setdefault(compact(p) if how == "@language" else key, []).append({"id": compact(o.value)})
            elif how == "@language" and (o.language or o.datatype.value == XSD_NS + "string"):
                maps.setdefault(key, {}).setdefault(o.language or "@none", []).append(o.value)
            elif how not in ("@language", "@id", "?") and not o.language and (
                    o.datatype.value == how or (how == "" and o.datatype.value == XSD_NS + "string")):
                values.setdefault(key, []).append(o.value)
            else:
                key = compact(p)
                literal = {"@value": o.value, "@language": o.language} if o.language else (
                    {"@value": o.value} if o.datatype.value == XSD_NS + "string"
                    else {"@value": o.value, "@type": compact(o.datatype.value)})
                values.setdefault(key, []).append(literal)
        if types:
            out["type"] = sorted(types) if len(types) > 1 else types[0]
        for key in sorted(values):
            vs = values[key]
            out[key] = vs[0] if len(vs) == 1 else sorted(vs, key=lambda v: json.dumps(v, sort_keys=True))
        for key in sorted(maps):
            out[key] = {lang: (vs[0] if len(vs) == 1 else sorted(vs)) for lang, vs in sorted(maps[key].items())}
        return out

    return {"@context": body, **node(subject, facts, 0)}
