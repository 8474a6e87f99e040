"""Queries from the command line: a readable table in the terminal, or any result format."""

from __future__ import annotations

import io
from typing import IO

import pyoxigraph as ox

from .namespaces import PREFIXES

TABULAR = {"json": ox.QueryResultsFormat.JSON, "xml": ox.QueryResultsFormat.XML,
           "csv": ox.QueryResultsFormat.CSV, "tsv": ox.QueryResultsFormat.TSV}
GRAPHS = {"turtle": ox.RdfFormat.TURTLE, "ttl": ox.RdfFormat.TURTLE, "ntriples": ox.RdfFormat.N_TRIPLES,
          "nt": ox.RdfFormat.N_TRIPLES, "jsonld": ox.RdfFormat.JSON_LD, "rdfxml": ox.RdfFormat.RDF_XML}


def _short(term) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        for prefix, ns in sorted(PREFIXES.items(), key=lambda kv: -len(kv[1])):
            if term.value.startswith(ns):
                return f"{prefix}:{term.value[len(ns):]}"
        return f"<{term.value}>"
    if isinstance(term, ox.Literal):
        return term.value + (f"@{term.language}" if term.language else "")
    return str(term)


def table(variables: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(v)] + [len(r[i]) for r in rows]) for i, v in enumerate(variables)]
    widths = [min(w, 80) for w in widths]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [" | ".join(v.ljust(w) for v, w in zip(variables, widths)), line]
    for r in rows:
        out.append(" | ".join((c if len(c) <= w else c[: w - 1] + "…").ljust(w) for c, w in zip(r, widths)))
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def run_query(store: ox.Store, text: str, fmt: str, output: IO[bytes], limit: int | None = None) -> None:
    result = store.query(text, use_default_graph_as_union=True, prefixes=PREFIXES)
    if isinstance(result, ox.QueryBoolean):
        if fmt in TABULAR:
            result.serialize(output, TABULAR[fmt])
        else:
            output.write(b"true\n" if bool(result) else b"false\n")
        return
    if isinstance(result, ox.QuerySolutions):
        if fmt in TABULAR:
            result.serialize(output, TABULAR[fmt])
            return
        if fmt != "table":
            raise ValueError(f"format {fmt!r} is for graph results; a SELECT gives table, {', '.join(TABULAR)}")
        variables = [v.value for v in result.variables]
        rows = []
        for sol in result:
            rows.append([_short(sol[v]) for v in variables])
            if limit is not None and len(rows) >= limit:
                break
        output.write(table(variables, rows).encode("utf-8"))
        return
    rdf_format = GRAPHS.get("turtle" if fmt == "table" else fmt)
    if rdf_format is None:
        raise ValueError(f"format {fmt!r} is for SELECT/ASK results; a graph result gives {', '.join(GRAPHS)}")
    buf = io.BytesIO()
    ox.serialize(result, buf, rdf_format, prefixes=PREFIXES)
    output.write(buf.getvalue())
