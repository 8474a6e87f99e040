"""Coverage and gap analysis: the report's tables, each the answer of one query of ``queries/report/``, and the files
``gaistd report`` writes (HTML that works offline, Markdown, and every table as CSV and JSON).

The tables come straight from SPARQL; the paper's findings are judged from them in :mod:`gaistd_kg.views.report_findings`,
the charts drawn from them in :mod:`gaistd_kg.views.report_charts` (a chart's data is its table's rows, unchanged), the
pages rendered in :mod:`gaistd_kg.views.report_render`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from gaistd_kg.iris import ROOT

QUERY_DIR = ROOT / "queries" / "report"
XSD = "http://www.w3.org/2001/XMLSchema#"
INTEGER_TYPES = {XSD + t for t in ("integer", "int", "long", "short", "nonNegativeInteger", "positiveInteger")}


@dataclass(frozen=True)
class TableSpec:
    """A table of the report: its query file (``queries/report/<name>.rq``), titles and the section it belongs to."""

    name: str
    title: str
    title_zh: str
    section: str


SECTIONS = (
    ("layers", "Documents per layer and sub-area", "各层级与子领域的文件数"),
    ("risks", "Risk coverage", "风险覆盖"),
    ("timeline", "Timeline", "时间线"),
    ("gaps", "Gaps", "空白"),
    ("findings", "The paper's findings and the graph's numbers", "论文结论与图谱数据对照"),
    ("countermeasures", "Progress per countermeasure", "各项对策的落实进展"),
)

TABLES: tuple[TableSpec, ...] = (
    TableSpec("documents-per-layer", "Documents per layer and jurisdiction", "各层级各法域文件数", "layers"),
    TableSpec("documents-per-sub-area", "Documents per sub-area and jurisdiction", "各子领域各法域文件数", "layers"),
    TableSpec("risk-coverage", "Documents addressing each risk, per jurisdiction", "各法域应对各风险的文件数", "risks"),
    TableSpec("timeline", "Documents issued and taking effect per year", "每年发布与实施的文件数", "timeline"),
    TableSpec("gaps", "Sub-areas and risks with no published document", "无已发布文件的子领域与风险", "gaps"),
    TableSpec("finding-standards-per-layer", "Standardization deliverables per layer (finding a)",
              "各层级标准化文件数（结论 a）", "findings"),
    TableSpec("finding-early-stage", "How recent the catalogue is (finding b)", "文件的新近程度（结论 b）", "findings"),
    TableSpec("finding-dates", "Dates the paper states (findings c, d)", "论文所述日期（结论 c、d）", "findings"),
    TableSpec("finding-wdta-drafting", "Drafting participants of the WDTA standards (finding e)",
              "WDTA 标准参编单位（结论 e）", "findings"),
    TableSpec("finding-paper-risks", "Documents addressing each risk the paper names (finding f)",
              "应对论文所列各风险的文件数（结论 f）", "findings"),
    TableSpec("countermeasure-progress", "Documents behind each countermeasure", "各项对策对应的文件数",
              "countermeasures"),
    TableSpec("countermeasure-realisers", "What realises each countermeasure", "各项对策的落实载体", "countermeasures"),
)
FINDINGS = TableSpec("findings", "The paper's findings, judged", "论文结论的检验", "findings")
SPECS = {t.name: t for t in (*TABLES, FINDINGS)}


@dataclass
class Table:
    spec: TableSpec
    columns: list[str]
    rows: list[dict[str, Any]]
    query: str | None = None  # SPARQL text; None for a table computed from other tables

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def about(self) -> str:
        """What the table computes: the query's leading comment, or the derived table's description."""
        if self.query is None:
            return ("Computed from the tables named in each row: the rule stated, the figures that decide it, "
                    "and the verdict (supported / not supported / not measurable).")
        return query_comment(self.query)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.spec.title, "titleZh": self.spec.title_zh, "about": self.about,
                "query": f"queries/report/{self.name}.rq" if self.query is not None else None,
                "columns": self.columns, "rows": self.rows}


@dataclass
class Report:
    tables: dict[str, Table]
    findings: list[Any]  # report_findings.Finding
    build_id: str | None = None

    def table(self, name: str) -> Table:
        return self.tables[name]


def query_text(name: str, folder: Path = QUERY_DIR) -> str:
    if name not in SPECS or SPECS[name] is FINDINGS:
        raise KeyError(f"no report query named {name!r}")
    return (Path(folder) / f"{name}.rq").read_text(encoding="utf-8")


def query_comment(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def value(term: Any) -> Any:
    """A result term as a plain value: IRIs and strings as str, integers as int, booleans as bool, decimals as float."""
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        dt = term.datatype.value
        if dt in INTEGER_TYPES:
            return int(term.value)
        if dt == XSD + "boolean":
            return term.value == "true"
        if dt in (XSD + "decimal", XSD + "double", XSD + "float"):
            return float(term.value)
        return term.value
    return term.value


def run_table(store: ox.Store, spec: TableSpec, folder: Path = QUERY_DIR) -> Table:
    text = query_text(spec.name, folder)
    result = store.query(text, use_default_graph_as_union=True)
    columns = [v.value for v in result.variables]
    rows = [{c: value(s[c]) for c in columns} for s in result]
    return Table(spec=spec, columns=columns, rows=rows, query=text)


def compute(store: ox.Store, build_id: str | None = None, folder: Path = QUERY_DIR) -> Report:
    """Run every report query on ``store`` (the default graph being the union of asserted and inferred) and judge the
    paper's findings from the answers."""
    from .report_findings import evaluate, findings_table

    tables = {spec.name: run_table(store, spec, folder) for spec in TABLES}
    findings = evaluate(tables)
    tables[FINDINGS.name] = findings_table(FINDINGS, findings)
    return Report(tables=tables, findings=findings, build_id=build_id)


# --- files -----------------------------------------------------------------------------------------------------------

def table_csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=table.columns, lineterminator="\n")
    writer.writeheader()
    for row in table.rows:
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
    return buf.getvalue()


def _csv_cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def table_json(table: Table) -> str:
    return json.dumps(table.as_json(), ensure_ascii=False, indent=1) + "\n"


def write_report(report: Report, out: Path, server: str | None = None) -> list[Path]:
    """Write report.html (self-contained), report.md, ``<table>.csv`` and ``<table>.json`` for every table, and the
    queries as ``queries/<table>.rq``, into ``out``. ``server`` is the base URL of a GAISTD-KG server that the "run it"
    and explanation links name (none: the file has no such links)."""
    from .report_render import render_markdown, render_offline_html

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
