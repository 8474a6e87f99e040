"""Every IRI and prefix the project uses, in one place.

Our own ontology terms are a closed vocabulary: the set is read from ``ontology/gaistd.ttl`` itself, so a misspelt
term (``GAISTD.adressesRisk``) raises instead of minting a new IRI silently.
"""

from __future__ import annotations

import os
from pathlib import Path

from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, ORG, OWL, PROV, RDF, RDFS, SH, SKOS, VANN, VOID, XSD

BASE = "https://w3id.org/gaistd/"
ONTOLOGY_IRI = URIRef(BASE + "ontology")
ONTOLOGY_NS = BASE + "ontology#"
SHAPES_NS = BASE + "shapes#"
ID_BASE = BASE + "id/"
GRAPH_BASE = BASE + "graph/"

# The data root: the folder holding ontology/, shapes/, data/ and queries/. In a source checkout it is the checkout;
# an installed package has no such folder next to it, so GAISTD_ROOT (or the command's --root) must name one, and
# what needs it fails saying so (see MissingRoot) instead of running without the ontology, shapes or checks.
ROOT = Path(os.environ.get("GAISTD_ROOT") or Path(__file__).resolve().parent.parent).resolve()
ONTOLOGY_FILE = ROOT / "ontology" / "gaistd.ttl"


class MissingRoot(FileNotFoundError):
    """The data root holds no ontology/: set GAISTD_ROOT (or pass --root) to the folder that does."""

    def __init__(self, root: Path, what: str = "ontology/gaistd.ttl"):
        super().__init__(f"{Path(root) / what} not found: the data root ({root}) must hold ontology/, shapes/, data/ "
                         "and queries/; set GAISTD_ROOT (or --root) to the project folder")


class ClosedNamespace(Namespace):
    """A namespace whose terms are exactly those an RDF file declares; anything else raises AttributeError."""

    _terms: frozenset[str]

    def __new__(cls, value: str, terms: frozenset[str]):
        ns = super().__new__(cls, value)
        assert isinstance(ns, ClosedNamespace)  # rdflib annotates Namespace.__new__ as returning a plain Namespace
        ns._terms = terms
        return ns

    def term(self, name: str) -> URIRef:
        if name not in self._terms:
            raise AttributeError(f"{name!r} is not a term of {str(self)} (see {ONTOLOGY_FILE.name})")
        return URIRef(str(self) + name)

    def __getattr__(self, name: str) -> URIRef:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.term(name)

    def __getitem__(self, key: str) -> URIRef:  # type: ignore[override]
        return self.term(key)

    def __contains__(self, ref: object) -> bool:
        return isinstance(ref, str) and ref.startswith(str(self)) and ref[len(str(self)):] in self._terms


def _declared_terms(path: Path, ns: str) -> frozenset[str]:
    g = Graph()
    g.parse(path, format="turtle")
    return frozenset(str(s)[len(ns):] for s in g.subjects() if isinstance(s, URIRef) and str(s).startswith(ns))


class _UnreadNamespace(Namespace):
    """``GAISTD`` when the ontology file is not there: every use raises MissingRoot (never a silent None)."""

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        raise MissingRoot(ROOT)

    def __getitem__(self, key):
        raise MissingRoot(ROOT)

    def term(self, name: str):
        raise MissingRoot(ROOT)


GAISTD = (ClosedNamespace(ONTOLOGY_NS, _declared_terms(ONTOLOGY_FILE, ONTOLOGY_NS)) if ONTOLOGY_FILE.exists()
          else _UnreadNamespace(ONTOLOGY_NS))
GAISTDSH = Namespace(SHAPES_NS)

BIBO = Namespace("http://purl.org/ontology/bibo/")
FABIO = Namespace("http://purl.org/spar/fabio/")
ELI = Namespace("http://data.europa.eu/eli/ontology#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
DPV = Namespace("https://w3id.org/dpv#")
DPV_RISK = Namespace("https://w3id.org/dpv/risk#")
DPV_AI = Namespace("https://w3id.org/dpv/ai#")
AIRO = Namespace("https://w3id.org/airo#")
QUDT_UNIT = Namespace("http://qudt.org/vocab/unit/")
SCHEMA = Namespace("https://schema.org/")

# Instance namespaces, one per kind: https://w3id.org/gaistd/id/<kind>/<slug>
KINDS = (
    "document", "org", "jurisdiction", "risk", "framework", "status", "source", "domain", "challenge",
    "countermeasure", "characteristic", "statistic", "person", "project", "evidence-class", "scope", "provision",
)
ID = {kind: Namespace(f"{ID_BASE}{kind}/") for kind in KINDS}

PREFIXES: dict[str, str] = {
    "gaistd": ONTOLOGY_NS,
    "gaistdsh": SHAPES_NS,
    "gdoc": str(ID["document"]),
    "gorg": str(ID["org"]),
    "gjur": str(ID["jurisdiction"]),
    "grisk": str(ID["risk"]),
    "gfw": str(ID["framework"]),
    "gstatus": str(ID["status"]),
    "gsrc": str(ID["source"]),
    "gdom": str(ID["domain"]),
    "gchal": str(ID["challenge"]),
    "gcm": str(ID["countermeasure"]),
    "gchar": str(ID["characteristic"]),
    "gstat": str(ID["statistic"]),
    "gperson": str(ID["person"]),
    "gproj": str(ID["project"]),
    "gevc": str(ID["evidence-class"]),
    "gscope": str(ID["scope"]),
    "gprov": str(ID["provision"]),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "owl": str(OWL),
    "xsd": str(XSD),
    "skos": str(SKOS),
    "dcterms": str(DCTERMS),
    "dcat": str(DCAT),
    "org": str(ORG),
    "prov": str(PROV),
    "foaf": str(FOAF),
    "vann": str(VANN),
    "void": str(VOID),
    "sh": str(SH),
    "bibo": str(BIBO),
    "fabio": str(FABIO),
    "eli": str(ELI),
    "sd": str(SD),
    "dpv": str(DPV),
    "risk": str(DPV_RISK),
    "dpv-ai": str(DPV_AI),
    "airo": str(AIRO),
    "unit": str(QUDT_UNIT),
}

# Named graphs: one per layer of truth; the default graph is their union.
GRAPH = {name: URIRef(GRAPH_BASE + name) for name in ("ontology", "data", "inferred", "meta")}

PAPER = ID["source"]["zheng-2025"]


def bind_prefixes(g: Graph) -> Graph:
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns, override=True, replace=True)
    return g


def sparql_prologue() -> str:
    """PREFIX declarations for every prefix above, for queries typed by people."""
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in PREFIXES.items())


_BY_LENGTH = sorted(PREFIXES.items(), key=lambda kv: len(kv[1]), reverse=True)


def prefixed(iri: str) -> str | None:
    """The prefixed name of ``iri`` under the longest known namespace (``gaistd:Standard``), or None when no namespace
    of ``PREFIXES`` holds it with a local part a prefixed name can carry (non-empty, no ``/`` or ``#``).

    The one rule for shortening an IRI; callers choose what to show when there is none (``<iri>`` or the IRI)."""
    for prefix, ns in _BY_LENGTH:
        if iri.startswith(ns):
            local = iri[len(ns):]
            if local and "/" not in local and "#" not in local:
                return f"{prefix}:{local}"
    return None


def short(term) -> str:
    """An rdflib term as a person reads it in a report: a prefixed name or ``<iri>``; a literal in N3, its datatype
    shortened."""
    from rdflib import Literal

    if term is None:
        return ""
    if isinstance(term, URIRef):
        return prefixed(str(term)) or f"<{term}>"
    if isinstance(term, Literal):
        if term.datatype is not None:
            return f'"{term}"^^{short(term.datatype)}'
        return term.n3()
    return str(term)
