"""The report's tables: what each is (its query in ``queries/report/``, its section), a table of answers, the
report, and a table as CSV or JSON. :mod:`gaistd_kg.views.report` computes and writes them."""

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
SCOPE = ("Scope: the catalogue as docs/scope.md defines it (generative-AI-specific, general-AI and horizontal "
         "instruments of the covered jurisdictions and international bodies); a count compares what the catalogue "
         "holds, not the world.")
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
    ("provisions", "Documents per provision of law", "各法律条款的对应文件"),
)

TABLES: tuple[TableSpec, ...] = (
    TableSpec("documents-per-layer", "Documents per layer and jurisdiction", "各层级各法域文件数", "layers"),
    TableSpec("documents-per-sub-area", "Documents per sub-area and jurisdiction", "各子领域各法域文件数", "layers"),
    TableSpec("risk-coverage", "Documents addressing each risk, per jurisdiction", "各法域应对各风险的文件数", "risks"),
    TableSpec("timeline", "Documents issued, taking effect and reaching an application milestone per year",
              "每年发布、实施与进入适用节点的文件数", "timeline"),
    TableSpec("timeline-months", "The same per month, since January 2022", "2022年1月以来按月统计", "timeline"),
    TableSpec("application-milestones", "Application milestones: the dates from which part of a document applies",
              "适用节点：文件部分条款开始适用的日期", "timeline"),
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
    TableSpec("provision-coverage", "Documents addressing each provision, by kind of document", "各条款的对应文件（按文件类别）",
              "provisions"),
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
        return query_comment(self.query, scope=False)

    @property
    def scope(self) -> str:
        """The scope the table's comparison rests on: the query's ``# Scope:`` line (every report query has one; a
        table computed from others rests on theirs)."""
        if self.query is None:
            return SCOPE
        return query_comment(self.query, scope=True) or SCOPE

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.spec.title, "titleZh": self.spec.title_zh, "about": self.about,
                "scope": self.scope,
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


def query_comment(text: str, scope: bool | None = None) -> str:
    """The query's leading comment as one line: all of it (``scope=None``), without its ``Scope:`` paragraph
    (``False``), or only that paragraph (``True``)."""
    lines = []
    in_scope = False
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        words = line.lstrip("#").strip()
        if words.startswith("Scope:"):
            in_scope = True
        if scope is None or scope == in_scope:
            lines.append(words)
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


# Columns that are a GROUP_CONCAT (name -> separator): SPARQL leaves the order of the parts to the engine, so the
# report sorts them (and writes "" for no parts, as the standard does), and a table reads the same from the embedded
# store and from a remote one (Virtuoso).
LIST_COLUMNS = {"sources": " ", "names": "; ", "paperSections": ", ", "broaderLabels": ", "}


def run_table(store: ox.Store, spec: TableSpec, folder: Path = QUERY_DIR) -> Table:
    text = query_text(spec.name, folder)
    result = store.query(text, use_default_graph_as_union=True)
    assert isinstance(result, ox.QuerySolutions)  # report tables are SELECT queries
    columns = [v.value for v in result.variables]
    rows = [{c: _sorted_list(c, value(s[c])) for c in columns} for s in result]
    return Table(spec=spec, columns=columns, rows=rows, query=text)


def _sorted_list(column: str, v: Any) -> Any:
    sep = LIST_COLUMNS.get(column)
    if sep is None:
        return v
    if v is None:
        return ""  # GROUP_CONCAT over no values: "" by the standard (and Virtuoso), unbound in Oxigraph
    if not isinstance(v, str) or sep not in v:
        return v
    return sep.join(sorted(v.split(sep)))


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
