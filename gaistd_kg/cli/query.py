"""Queries from the command line: a readable table in the terminal, or any format of the formats table.

The same rules as the endpoint apply (``query.check_query``: no update, no SERVICE), and the same serialisers
(``query.execute``); only the terminal table is drawn here. Every prefix of ``namespaces.PREFIXES`` is declared.
"""

from __future__ import annotations

from typing import IO

import pyoxigraph as ox

from gaistd_kg import formats
from gaistd_kg.iris import PREFIXES, prefixed, sparql_prologue
from gaistd_kg.query.engine import check_query, execute

NO_CAP = 10**12


def _short(term) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return prefixed(term.value) or f"<{term.value}>"
    if isinstance(term, ox.Literal):
        return term.value + (f"@{term.language}" if term.language else "")
    return str(term)


def table(variables: list[str], rows: list[list[str]]) -> str:
    widths = [min(max([len(v)] + [len(r[i]) for r in rows]), 80) for i, v in enumerate(variables)]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [" | ".join(v.ljust(w) for v, w in zip(variables, widths)), line]
    for r in rows:
        out.append(" | ".join((c if len(c) <= w else c[: w - 1] + "…").ljust(w) for c, w in zip(r, widths)))
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def run_query(store: ox.Store, text: str, fmt: str, output: IO[bytes], limit: int | None = None) -> None:
    """Raises query.QueryError subclasses (syntax, refused) and formats.UnknownFormat (both ValueError or subclass)."""
    check_query(text)
    text = sparql_prologue() + text
    if fmt != "table":
        f = formats.lookup(fmt)
        result = execute(store, text, f.name, row_limit=limit or NO_CAP, prefixes=PREFIXES)
        if formats.BY_NAME[result.format].kind != f.kind:
            raise formats.UnknownFormat(
                f"format {fmt!r} is for {'SELECT/ASK' if f.kind == formats.TABULAR else 'CONSTRUCT/DESCRIBE'} "
                f"results; this {result.form} gives one of: {', '.join(formats.names(formats.BY_NAME[result.format].kind))}")
        output.write(result.body)
        return
    answer = store.query(text, use_default_graph_as_union=True)
    if isinstance(answer, ox.QueryBoolean):
        output.write(b"true\n" if bool(answer) else b"false\n")
    elif isinstance(answer, ox.QuerySolutions):
        variables = [v.value for v in answer.variables]
        rows = []
        for sol in answer:
            rows.append([_short(sol[v]) for v in variables])
            if limit is not None and len(rows) >= limit:
                break
        output.write(table(variables, rows).encode("utf-8"))
    else:
        output.write(execute(store, text, "ttl", row_limit=limit or NO_CAP, prefixes=PREFIXES).body)
