"""Query-based checks (queries/checks/*-violation.rq) that SHACL expresses badly: duplicates across resources.

Each query selects ``?this`` (the offending resource), ``?value`` and ``?message``; every row is a violation.
They run in Oxigraph over the data and the ontology, so they cost milliseconds, not a SHACL engine's seconds.
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph, URIRef

from .load import checks_folder, display, locate
from gaistd_kg.iris import PREFIXES, ROOT
from gaistd_kg.store import store_from_graphs
from .findings import Finding
from gaistd_kg.iris import short

CHECKS_DIR = checks_folder(ROOT)


def check_files(folder: Path = CHECKS_DIR) -> list[Path]:
    return sorted(folder.glob("*-violation.rq"))


def _term(t):
    if t is None:
        return None
    if isinstance(t, ox.NamedNode):
        return URIRef(t.value)
    return t.value


def run_checks(data: Graph | None, ontology: Graph | None, subject_files: dict | None = None,
               folder: Path = CHECKS_DIR, store: ox.Store | None = None) -> list[Finding]:
    """``store``: data and ontology already loaded (validate passes its own, and None for the graphs), else one is
    made from ``data`` and ``ontology``."""
    if store is None:
        if data is None or ontology is None:
            raise TypeError("run_checks needs the data and ontology graphs, or a store holding them")
        store = store_from_graphs({"data": data, "ontology": ontology})
    findings = []
    for path in check_files(folder):
        text = path.read_text(encoding="utf-8")
        answer = store.query(text, use_default_graph_as_union=True)
        assert isinstance(answer, ox.QuerySolutions)  # checks are SELECTs
        for row in answer:
            focus = _term(row["this"])
            where = None
            if subject_files and focus in subject_files:
                hit = locate(focus, subject_files[focus], PREFIXES)
                where = f"{display(hit[0])}:{hit[1]}" if hit else display(subject_files[focus][0])
            findings.append(Finding(
                severity="Violation",
                focus=short(focus),
                path=None,
                message=str(_term(row["message"])),
                shape=f"queries/checks/{path.name}",
                component=None,
                value=str(_term(row["value"])) if row["value"] is not None else None,
                where=where,
            ))
    return findings
