"""The report as pages: the view both HTML forms share (the app's /report and the offline report.html), the offline
HTML with every script and style inlined, and the Markdown.

Links differ between the two forms and are passed in as a :class:`Links`; everything else is the same view, so the
served page and the file show the same tables and charts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from gaistd_kg.iris import BASE, prefixed
from .report_tables import SECTIONS, Report, Table
from .report_charts import chart_spec

WEB = Path(__file__).resolve().parent.parent / "web"
TEMPLATES = WEB / "templates"
STATIC = WEB / "static" / "report"
VENDOR_SCRIPTS = ("vendor/vega.min.js", "vendor/vega-lite.min.js", "vendor/vega-embed.min.js")
LONG = 25  # tables with more rows start folded

COVERS = {"risk-coverage": ("risk", "https://w3id.org/gaistd/ontology#coversRisk"),
          "documents-per-layer": ("layer", "https://w3id.org/gaistd/ontology#coversFrameworkArea"),
          "documents-per-sub-area": ("area", "https://w3id.org/gaistd/ontology#coversFrameworkArea")}
# Grid tables are shown as a pivot: one row per concept, one column per jurisdiction, cells "published (+drafts)".
PIVOTS: dict[str, tuple[str, Callable[[dict], str], str]] = {
    "documents-per-layer": ("layer", lambda r: f"{r['layerNotation']} {r['layerLabel']} · {r['layerLabelZh']}",
                            "Layer · 层级"),
    "documents-per-sub-area": ("area", lambda r: f"{r['areaNotation']} {r['areaLabel']} · {r['areaLabelZh']}",
                               "Sub-area · 子领域"),
    "risk-coverage": ("risk", lambda r: ("› " if r["broaderLabels"] else "") + f"{r['riskLabel']} · {r['riskLabelZh']}",
                      "Risk · 风险"),
    "finding-standards-per-layer": ("layer", lambda r: f"{r['layerNotation']} {r['layerLabel']} · {r['layerLabelZh']}",
                                    "Layer · 层级"),
}
# Other tables: the columns shown, with their headings; the CSV and JSON hold every column.
DISPLAY: dict[str, list[tuple[str, str]]] = {
    "timeline": [("year", "Year · 年份"), ("event", "Event · 事件"), ("kindLabel", "Kind · 类别"),
                 ("jurisdictionLabel", "Jurisdiction · 法域"), ("documents", "Documents · 文件数")],
    "timeline-months": [("month", "Month · 月份"), ("event", "Event · 事件"), ("kindLabel", "Kind · 类别"),
                        ("jurisdictionLabel", "Jurisdiction · 法域"), ("documents", "Documents · 文件数")],
    "application-milestones": [("date", "Date · 日期"), ("doc", "Document · 文件"), ("name", "Name · 名称"),
                               ("jurisdictionLabel", "Jurisdiction · 法域"), ("applies", "What applies · 适用内容")],
    "gaps": [("kind", "Kind · 类别"), ("concept", "Concept · 概念"), ("label", "Label · 名称"),
             ("jurisdictionLabel", "Jurisdiction · 法域"), ("gap", "Gap · 空白"), ("drafts", "Drafts · 草案")],
    "finding-early-stage": [("kindLabel", "Kind · 类别"), ("documents", "Documents · 文件数"),
                            ("withIssueDate", "With issue date · 有发布日期"),
                            ("issuedSince2023", "Issued 2023 or later · 2023年起发布"), ("drafts", "Drafts · 草案")],
    "finding-dates": [("doc", "Document · 文件"), ("identifier", "Identifier · 编号"), ("status", "Status · 状态"),
                      ("issued", "Issued · 发布"), ("effective", "Effective · 实施")],
    "finding-wdta-drafting": [("identifier", "Standard · 标准"), ("participant", "Participant · 参编单位"),
                              ("participantLabel", "Name · 名称"), ("isCompany", "Company · 企业")],
    "finding-paper-risks": [("risk", "Risk · 风险"), ("riskLabel", "Label · 名称"),
                            ("paperSections", "Paper sections · 章节"), ("published", "Published · 已发布"),
                            ("drafts", "Drafts · 草案")],
    "countermeasure-progress": [("countermeasureSection", "§"), ("countermeasureLabel", "Countermeasure · 对策"),
                                ("realisers", "Realisers · 载体"), ("namedDocuments", "Named documents · 直接列举"),
                                ("documents", "Documents · 文件"), ("published", "Published · 已发布"),
                                ("drafts", "Drafts · 草案")],
    "countermeasure-realisers": [("countermeasureSection", "§"), ("realiser", "Realiser · 载体"),
                                 ("realiserLabel", "Label · 名称"), ("realiserKind", "Kind · 类别"),
                                 ("documents", "Documents · 文件"), ("published", "Published · 已发布"),
                                 ("drafts", "Drafts · 草案")],
    "provision-coverage": [("instrumentName", "Instrument · 法律文件"), ("provision", "Provision · 条款"),
                           ("provisionLabel", "Heading · 标题"), ("provisionDocuments", "All documents · 文件总数"),
                           ("kindLabel", "Kind · 类别"), ("documents", "Documents · 文件数"),
                           ("names", "Documents addressing it · 对应文件")],
}


@dataclass(frozen=True)
class Links:
    """Where the report links to, in the app or in the offline file."""

    table: Callable[[str, str], str]              # (table, "csv" | "json") -> href
    query_file: Callable[[str], str]              # table -> href of its .rq
    run: Callable[[str], str | None]              # SPARQL text -> href that runs it
    resource: Callable[[str], str | None]         # IRI -> href of its page
    explain: Callable[[str, str, str], str | None]  # (s, p, o) -> href of the explanation
    markdown: str


def server_links(server: str | None) -> Links:
    """Links of the offline file: tables and queries beside it; running a query and explanations on ``server`` (the
    base URL of a GAISTD-KG server, such as ``gaistd serve`` gives), when one is named."""
    root = server.rstrip("/") if server else None
    return Links(
        table=lambda name, ext: f"{name}.{ext}",
        query_file=lambda name: f"queries/{name}.rq",
        run=lambda text: f"{root}/sparql?{urlencode({'query': text})}" if root else None,
        resource=lambda iri: (root + "/" + iri[len(BASE):]) if root and iri.startswith(BASE) else
        (iri if iri.startswith(("http://", "https://")) else None),
        explain=lambda s, p, o: f"{root}/explain?{urlencode({'s': s, 'p': p, 'o': o})}" if root else None,
        markdown="report.md")


def compact(iri: str) -> str:
    return prefixed(iri) or iri


def _cell(value: Any, links: Links) -> dict[str, Any]:
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return {"text": compact(value), "href": links.resource(value), "title": value}
    if isinstance(value, bool):
        return {"text": "yes" if value else "no"}
    return {"text": "" if value is None else str(value), "num": isinstance(value, (int, float))}


def pivot(table: Table, links: Links) -> dict[str, Any]:
    key, label, heading = PIVOTS[table.name]
    jurisdictions = sorted({(r["jurisdictionLabel"], r["jurisdictionLabelZh"], r["jurisdiction"]) for r in table.rows})
    order: list[str] = []
    names: dict[str, str] = {}
    cells: dict[tuple[str, str], dict] = {}
    covers = COVERS.get(table.name)
    for r in table.rows:
        if r[key] not in names:
            order.append(r[key])
            names[r[key]] = label(r)
        n, d = int(r["published"]), int(r["drafts"])
        cell = {"text": f"{n} (+{d})" if d else str(n), "num": True, "zero": n == 0}
        if covers and (n or d or r.get("documents")):
            cell["href"] = links.explain(r["jurisdiction"], covers[1], r[key])
            cell["title"] = "why this jurisdiction covers it (explanation)"
        cells[(r[key], r["jurisdiction"])] = cell
    return {"heading": heading, "columns": [f"{en} · {zh}" for en, zh, _ in jurisdictions],
            "rows": [{"label": names[k], "href": links.resource(k),
                      "cells": [cells.get((k, j), {"text": ""}) for _, _, j in jurisdictions]} for k in order]}


def display(table: Table, links: Links) -> dict[str, Any]:
    if table.name == "findings":
        cols = [("id", "Finding · 结论"), ("claim", "Claim · 论文观点"), ("verdict", "Verdict · 判定"),
                ("evidence", "Figures · 数据"), ("rule", "Rule · 规则")]
    else:
        cols = DISPLAY.get(table.name) or [(c, c) for c in table.columns]
    return {"headings": [h for _, h in cols],
            "rows": [[_cell(r.get(c), links) for c, _ in cols] for r in table.rows]}


def script_json(data: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no "<", ">" or "&" that could end the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def table_view(table: Table, links: Links) -> dict[str, Any]:
    spec = chart_spec(table)
    return {"name": table.name, "title": table.spec.title, "title_zh": table.spec.title_zh, "about": table.about,
            "scope": table.scope,
            "spec": script_json(spec) if spec is not None else None,
            "pivot": pivot(table, links) if table.name in PIVOTS else None,
            "display": display(table, links), "long": len(table.rows) > LONG, "count": len(table.rows),
            "query": table.query, "csv": links.table(table.name, "csv"), "json": links.table(table.name, "json"),
            "rq": links.query_file(table.name) if table.query is not None else None,
            "run": links.run(table.query) if table.query is not None else None}


def view(report: Report, links: Links) -> dict[str, Any]:
    sections = []
    for sid, title, title_zh in SECTIONS:
        tables = [table_view(t, links) for t in report.tables.values() if t.spec.section == sid]
        sections.append({"id": sid, "title": title, "title_zh": title_zh, "tables": tables})
    findings = [{**f.row(), "tables": list(f.tables)} for f in report.findings]
    return {"sections": sections, "findings": findings, "build_id": report.build_id, "markdown": links.markdown}


# --- offline HTML ----------------------------------------------------------------------------------------------------

def environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                       trim_blocks=True, lstrip_blocks=True)


def inline_script(path: Path) -> Markup:
    code = path.read_text(encoding="utf-8")
    return Markup(code.replace("</script", "<\\/script").replace("<!--", "<\\!--"))


def render_offline_html(report: Report, server: str | None = None) -> str:
    """report.html: one file, every script and style inside it, no request to anywhere when opened."""
    scripts = [inline_script(STATIC / p) for p in (*VENDOR_SCRIPTS, "report.js")]
    css = Markup((STATIC / "report.css").read_text(encoding="utf-8").replace("</style", "<\\/style"))
    return environment().get_template("report/offline.html").render(
        report=view(report, server_links(server)), scripts=scripts, css=css, server=server)


# --- Markdown --------------------------------------------------------------------------------------------------------

def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(headings: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(_md(h) for h in headings) + " |", "|" + "---|" * len(headings)]
    out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return out


def render_markdown(report: Report, server: str | None = None) -> str:
    links = server_links(server)
    v = view(report, links)
    lines = ["# GAISTD-KG coverage and gap analysis · 覆盖与空白分析", ""]
    if report.build_id:
        lines += [f"Build `{report.build_id}`. Every table is the answer of a query in `queries/report/`; the CSV and "
                  "JSON beside this file hold every column.", ""]
    lines += ["## The paper's findings · 论文结论", ""]
    lines += _md_table(["Finding", "Claim", "Verdict", "Figures", "Rule"],
                       [[f["id"], f"{f['claim']} ({f['claimZh']}; §{f['section']})", f"**{f['verdict']}**",
                         f["evidence"], f["rule"]] for f in v["findings"]])
    lines.append("")
    for section in v["sections"]:
        lines += [f"## {section['title']} · {section['title_zh']}", ""]
        for t in section["tables"]:
            lines += [f"### {t['title']} · {t['title_zh']}", "", t["about"], "", f"*{t['scope']}*", ""]
            files = [f"[CSV]({t['csv']})", f"[JSON]({t['json']})"]
            if t["rq"]:
                files.append(f"[query]({t['rq']})")
            if t["run"]:
                files.append(f"[run it]({t['run']})")
            lines += [" · ".join(files), ""]
            if t["pivot"]:
                p = t["pivot"]
                lines += _md_table([p["heading"], *p["columns"]],
                                   [[r["label"], *(c["text"] for c in r["cells"])] for r in p["rows"]])
                lines += ["", "Cells: published or in force (+ drafts or under development).", ""]
            else:
                d = t["display"]
                lines += _md_table(d["headings"], [[c["text"] for c in row] for row in d["rows"]]) + [""]
    return "\n".join(lines)
