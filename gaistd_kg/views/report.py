"""Coverage and gap analysis: the report's tables, each the answer of one query of ``queries/report/``, and the files
``gaistd report`` writes (HTML that works offline, Markdown, and every table as CSV and JSON).

The tables come straight from SPARQL; the paper's findings are judged from them in :mod:`gaistd_kg.views.report_findings`,
the charts drawn from them in :mod:`gaistd_kg.views.report_charts` (a chart's data is its table's rows, unchanged), the
pages rendered in :mod:`gaistd_kg.views.report_render`.
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox

from .report_findings import evaluate, findings_table
from .report_render import render_markdown, render_offline_html
from .report_tables import (FINDINGS, QUERY_DIR, SECTIONS, SPECS, TABLES, Report, Table, TableSpec,  # noqa: F401
                            query_comment, query_text, run_table, table_csv, table_json, value)


def compute(store: ox.Store, build_id: str | None = None, folder: Path = QUERY_DIR) -> Report:
    """Run every report query on ``store`` (the default graph being the union of asserted and inferred) and judge the
    paper's findings from the answers."""
    tables = {spec.name: run_table(store, spec, folder) for spec in TABLES}
    findings = evaluate(tables)
    tables[FINDINGS.name] = findings_table(FINDINGS, findings)
    return Report(tables=tables, findings=findings, build_id=build_id)


def write_report(report: Report, out: Path, server: str | None = None) -> list[Path]:
    """Write report.html (self-contained), report.md, ``<table>.csv`` and ``<table>.json`` for every table, and the
    queries as ``queries/<table>.rq``, into ``out``. ``server`` is the base URL of a GAISTD-KG server that the "run it"
    and explanation links name (none: the file has no such links)."""
    out = Path(out)
    (out / "queries").mkdir(parents=True, exist_ok=True)
    written = []

    def put(rel: str, text: str) -> None:
        path = out / rel
        path.write_text(text, encoding="utf-8")
        written.append(path)

    for table in report.tables.values():
        put(f"{table.name}.csv", table_csv(table))
        put(f"{table.name}.json", table_json(table))
        if table.query is not None:
            put(f"queries/{table.name}.rq", table.query)
    put("report.md", render_markdown(report, server=server))
    put("report.html", render_offline_html(report, server=server))
    return written
