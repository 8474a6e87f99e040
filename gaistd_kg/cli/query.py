"""Queries from the command line: a readable table in the terminal, or any format of the formats table.

The same rules as the endpoint apply (``query.check_query``: no update, no SERVICE), and the same serialisers
(``query.execute``); only the terminal table is drawn here. A prefix of ``iris.PREFIXES`` the query uses without
declaring it is declared for it (``query.with_known_prefixes``), and error positions are those of the text typed.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import IO

import pyoxigraph as ox

from gaistd_kg import formats
from gaistd_kg.iris import PREFIXES, prefixed
from gaistd_kg.query.engine import CustomFunctions, QuerySyntaxError, check_query, execute
from gaistd_kg.query.prefixes import with_known_prefixes

NO_CAP = 10**12


def _short(term) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return prefixed(term.value) or f"<{term.value}>"
    if isinstance(term, ox.Literal):
        return term.value  # a table shows values: no language tag, no datatype (the other formats keep them)
    return str(term)


MIN_COLUMN = 12


def fit(widths: list[int], total: int | None) -> list[int]:
    """Column widths that fit a line of ``total`` characters (None: no limit), narrowing the widest columns first
    and none below ``MIN_COLUMN`` (or its own width). The rule under the header is the longest line: each column's
    width plus 2, plus one "+" between columns."""
    if total is None:
        return widths
    widths = list(widths)
    room = total - 3 * len(widths) + 1
    while sum(widths) > room:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        if widths[widest] <= MIN_COLUMN:
            break
        widths[widest] -= 1
    return widths


def terminal_width() -> int | None:
    """The terminal's width (or $COLUMNS); None when the output is no terminal (a pipe or a file gets whole cells)."""
    if not os.environ.get("COLUMNS") and not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size(fallback=(120, 24)).columns


def table(variables: list[str], rows: list[list[str]], width: int | None = None) -> str:
    """A text table; cells longer than their column end in "…". ``width``: the line length to fit (None: every
    cell whole)."""
    widths = fit([max([len(v)] + [len(r[i]) for r in rows]) for i, v in enumerate(variables)], width)
    line = "+".join("-" * (w + 2) for w in widths)
    out = [" | ".join((v if len(v) <= w else v[: w - 1] + "…").ljust(w) for v, w in zip(variables, widths)), line]
    for r in rows:
        out.append(" | ".join((c if len(c) <= w else c[: w - 1] + "…").ljust(w) for c, w in zip(r, widths)))
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def run_query(store: ox.Store, text: str, fmt: str, output: IO[bytes], limit: int | None = None,
              width: int | None = None, functions: CustomFunctions | None = None) -> None:
    """Raises query.QueryError subclasses (syntax, refused) and formats.UnknownFormat (both ValueError or subclass).
    ``width``: the table's line length (None: every cell whole). Syntax errors name positions in ``text``."""
    prepared = with_known_prefixes(text)
    try:
        _run(store, prepared.text, fmt, output, limit, width, functions)
    except (SyntaxError, QuerySyntaxError) as exc:
        raise prepared.syntax_error(exc) from None


def _run(store: ox.Store, text: str, fmt: str, output: IO[bytes], limit: int | None, width: int | None,
         functions: CustomFunctions | None = None) -> None:
    check_query(text)
    if fmt != "table":
        f = formats.lookup(fmt)
        result = execute(store, text, f.name, row_limit=limit or NO_CAP, prefixes=PREFIXES, functions=functions)
        if formats.BY_NAME[result.format].kind != f.kind:
            raise formats.UnknownFormat(
                f"format {fmt!r} is for {'SELECT/ASK' if f.kind == formats.TABULAR else 'CONSTRUCT/DESCRIBE'} "
                f"results; this {result.form} gives one of: {', '.join(formats.names(formats.BY_NAME[result.format].kind))}")
        output.write(result.body)
        return
    answer = store.query(text, use_default_graph_as_union=True, custom_functions=functions or None)
    if isinstance(answer, ox.QueryBoolean):
        output.write(b"true\n" if bool(answer) else b"false\n")
    elif isinstance(answer, ox.QuerySolutions):
        variables = [v.value for v in answer.variables]
        rows = []
        for sol in answer:
            rows.append([_short(sol[v]) for v in variables])
            if limit is not None and len(rows) >= limit:
                break
        output.write(table(variables, rows, width).encode("utf-8"))
    else:
        output.write(execute(store, text, "ttl", row_limit=limit or NO_CAP, prefixes=PREFIXES,
                             functions=functions).body)
