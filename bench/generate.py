"""Graphs shaped like ours at N× the shipped size: same classes, properties and value distributions, fresh IRIs.

    .venv/bin/python bench/generate.py --factor 10 --out bench/work/scale/x10 [--seed 1]

The output is a project folder ``gaistd build --root`` accepts: ``ontology/``, ``shapes/`` and ``queries/checks/`` as
shipped, ``data/`` as shipped (copy 0) plus ``data/generated.nt`` with copies 1 … N−1 of every resource of a growing
kind — documents, organisations, risks (and the external risk concepts they map to), people, projects, statistics —
each under a fresh IRI (``…/id/document/<slug>-x<copy>``), with its blank nodes (milestones, lists) copied along.

Links between kinds are sampled, not cloned: in copy i a link from one growing resource to one of another kind (a
document's developer, its risks; a statistic's authority) points to the same target in a copy drawn at random
(seeded), so the graph is one connected whole with every link's distribution kept (each copy of a document still has
one developer, its risks …). Links within a kind (editions that supersede each other, a risk's broader risk, an
organisation's parent) stay inside the copy, so editions and hierarchies keep their shape. Links from fixed
resources (the framework, jurisdictions, statuses, sources, concept schemes) to growing ones are repeated once per
copy. Fixed kinds stay as shipped: the five-layer framework, jurisdictions, statuses, domains, challenges,
countermeasures, characteristics, sources. So at N× the documents on a given risk or in a given jurisdiction are
about N× as many, as the CQs would see if the catalogue grew.

Validity: identifiers get a fresh number that still matches the identifier patterns of ``shapes/`` (checked against
the patterns read from the shapes) and is unique as the duplicate check compares them; titles and labels get the copy
number (`` [i]``), so the title/publisher duplicate check passes too. A copy does not inherit ``owl:sameAs`` to a
resource outside ours (Wikidata): under OWL it would make every copy the same individual. ``gaistd build --root``
validates the result.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sys
import time
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS

REPO = Path(__file__).resolve().parent.parent
ID = "https://w3id.org/gaistd/id/"
GROWING = ("document", "org", "risk", "person", "project", "statistic", "provision")
LABELS = {DCTERMS.title, SKOS.prefLabel, SKOS.altLabel, RDFS.label}
BIBO_DOI = URIRef("http://purl.org/ontology/bibo/doi")
NOTATION = URIRef("https://w3id.org/gaistd/ontology#identifierNotation")
DASHES = re.compile(r"[\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d\ufe58\ufe63]")


def kind_of(term) -> str | None:
    if isinstance(term, URIRef) and term.startswith(ID):
        return term[len(ID):].split("/", 1)[0]
    return None


def shipped_graph(root: Path) -> Graph:
    g = Graph()
    for f in sorted((root / "data").rglob("*.ttl")):
        g.parse(f, format="turtle")
    return g


EVIDENCE_PAGE = URIRef("https://w3id.org/gaistd/ontology#EvidencePage")


def growing_subjects(g: Graph) -> set[URIRef]:
    """Resources of the growing kinds, and the evidence pages (a bigger catalogue cites more pages: each copy of a
    document cites pages drawn from the copies, so pages per document keep their distribution)."""
    schemes = set(g.subjects(RDF.type, SKOS.ConceptScheme))
    pages = set(g.subjects(RDF.type, EVIDENCE_PAGE))
    return {s for s in g.subjects() if (kind_of(s) in GROWING and s not in schemes) or s in pages}


# --- identifiers ------------------------------------------------------------------------------------------------------


def _unescape(s: str) -> str:
    """SPARQL string escapes → the regex text."""
    return re.sub(r"\\(.)", r"\1", s)


_PAIR = re.compile(r'FILTER \(REGEX\(\?value, "((?:[^"\\]|\\.)*)"\) && !REGEX\(\?value, "((?:[^"\\]|\\.)*)"\)\)')


def identifier_patterns(root: Path) -> list[tuple[re.Pattern, re.Pattern]]:
    """(family prefix, well-formed) regex pairs of the identifier checks in shapes/, as Python regexes."""
    g = Graph()
    for f in sorted((root / "shapes").glob("*.ttl")):
        g.parse(f, format="turtle")
    sh_select = URIRef("http://www.w3.org/ns/shacl#select")
    pairs = []
    for text in g.objects(None, sh_select):
        for m in _PAIR.finditer(str(text)):
            pairs.append((re.compile(_unescape(m.group(1))), re.compile(_unescape(m.group(2)))))
    return pairs


def id_key(value: str) -> str:
    return re.sub(r"\s+", "", value.replace("—", "-")).lower()


_YEAR_TAIL = re.compile(r"(?:\s*\([^()]*\)|[:\-—/](?:19|20)\d\d)+$")  # ":2023", "-2025", " (08/2020)"


def candidates(value: str, i: int) -> list[str]:
    """Fresh spellings of an identifier for copy i, in order of preference (keep the family's shape)."""
    year = _YEAR_TAIL.search(value)
    body, tail = (value[:year.start()], value[year.start():]) if year else (value, "")
    runs = list(re.finditer(r"\d+", body))
    out = []
    if runs:
        last, first = runs[-1], runs[0]
        out.append(body[:last.end()] + str(i) + body[last.end():] + tail)        # 45654 → 456547
        out.append(body[:first.end()] + f"-{i}" + body[first.end():] + tail)   # 104 223 → 104-7 223
        out.append(body[:last.end()] + f".{i}" + body[last.end():] + tail)     # F.748.44 → F.748.44.7
        out.append(body[:last.end()] + f"-{i}" + body[last.end():] + tail)     # 24030 → 24030-7
    out.append(f"{value} X{i}")
    out.append(f"{value}-{i}")
    return out


class Identifiers:
    def __init__(self, patterns: list[tuple[re.Pattern, re.Pattern]], taken: set[str]):
        self.patterns = patterns
        self.taken = {id_key(v) for v in taken}

    def valid(self, value: str) -> bool:
        return all(not fam.search(value) or full.search(value) for fam, full in self.patterns)

    def fresh(self, value: str, i: int) -> str:
        for c in candidates(value, i):
            if self.valid(c) and id_key(c) not in self.taken:
                self.taken.add(id_key(c))
                return c
        raise ValueError(f"no well-formed fresh identifier for {value!r} (copy {i})")


# --- copies -----------------------------------------------------------------------------------------------------------

def copy_iri(term: URIRef, i: int) -> URIRef:
    return term if i == 0 else URIRef(f"{term}-x{i}")


def nt(term) -> str:
    return term.n3()


def generate(root: Path, out: Path, factor: int, seed: int = 1) -> dict:
    """Write the project folder for ``factor``× the shipped data into ``out``; returns counts."""
    t0 = time.perf_counter()
    g = shipped_graph(root)
    grow = growing_subjects(g)
    pages = set(g.subjects(RDF.type, EVIDENCE_PAGE))
    ids = Identifiers(identifier_patterns(root), {str(o) for o in g.objects(None, DCTERMS.identifier)})
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    for part in ("ontology", "shapes", "data"):
        shutil.copytree(root / part, out / part)
    (out / "queries").mkdir(parents=True)
    shutil.copytree(root / "queries" / "checks", out / "queries" / "checks")
    triples = sorted(g, key=lambda t: (str(t[0]), str(t[1]), str(t[2])))
    # a blank node goes with the resource (or blank node) that points to it: copied when its owner is
    bnode_owner: dict[BNode, bool] = {}
    changed = True
    while changed:
        changed = False
        for s, _p, o in triples:
            if isinstance(o, BNode) and not bnode_owner.get(o):
                owned = s in grow or (isinstance(s, BNode) and bnode_owner.get(s, False))
                if owned:
                    bnode_owner[o] = changed = True
    written = dropped = 0
    path = out / "data" / "generated.nt"
    fresh_ids: dict = {}  # (copy IRI) -> its fresh identifier, for the notation that follows it (sorted by predicate)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(1, factor):
            def target(o, s, i=i):
                if o in pages:  # a copy cites the same-numbered copies of its pages, so its per-fact sources stay
                    return copy_iri(o, i)  # among its dcterms:source pages
                if o in grow:  # same kind: same copy (editions, hierarchies); else a copy drawn at random
                    return copy_iri(o, i if kind_of(o) == kind_of(s) else rng.randrange(factor))
                if isinstance(o, BNode):
                    return BNode(f"{o}x{i}")
                return o

            for s, p, o in triples:
                if s in grow and p == OWL.sameAs and o not in grow:
                    dropped += 1  # a copy is another resource: it must not inherit an identity with one outside
                    continue
                if s in grow or (isinstance(s, BNode) and bnode_owner.get(s)):
                    subj = copy_iri(s, i) if s in grow else BNode(f"{s}x{i}")
                    if isinstance(o, Literal) and p == DCTERMS.identifier:
                        obj = Literal(ids.fresh(str(o), i), lang=o.language, datatype=o.datatype)
                        fresh_ids[subj] = str(obj)
                    elif isinstance(o, Literal) and p == NOTATION and subj in fresh_ids:
                        # the copy's notation follows its fresh identifier, as the notation check demands
                        obj = Literal(re.sub(r"\s+", " ", DASHES.sub("-", fresh_ids[subj])).strip())
                    elif isinstance(o, Literal) and p in LABELS:
                        obj = Literal(f"{o} [{i}]", lang=o.language, datatype=o.datatype)
                    elif isinstance(o, Literal) and p == BIBO_DOI:
                        obj = Literal(f"{o}.c{i}", lang=o.language, datatype=o.datatype)
                    else:
                        obj = target(o, s)
                elif o in grow and not isinstance(s, BNode):
                    subj, obj = s, copy_iri(o, i)  # a fixed resource's link, once per copy
                else:
                    continue
                fh.write(f"{nt(subj)} {nt(p)} {nt(obj)} .\n")
                written += 1
    return {"factor": factor, "shipped_triples": len(g), "generated_triples": written,
            "total_triples": len(g) + written, "dropped_sameas": dropped, "growing_resources": len(grow) * factor,
            "seconds": time.perf_counter() - t0, "out": str(out)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factor", type=int, required=True, help="N: the result holds N× the shipped resources")
    parser.add_argument("--out", type=Path, required=True, help="project folder to write (replaced)")
    parser.add_argument("--root", type=Path, default=REPO, help="project whose data is the model (default: this)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.factor < 1:
        parser.error("--factor must be at least 1")
    info = generate(args.root, args.out, args.factor, args.seed)
    print(f"wrote {info['out']}: {info['total_triples']} asserted triples ({info['factor']}× the shipped "
          f"{info['shipped_triples']}) in {info['seconds']:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
