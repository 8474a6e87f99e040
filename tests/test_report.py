"""The coverage and gap report on the shipped data: every file written, every chart drawing exactly its query's answer,
the paper's findings judged by their stated rules, and the app serving the same tables.

The store is built once from the real data/ into the session's temporary folder (the build is cached by its inputs, so
test_explain and test_report_browser reuse it).
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pyoxigraph as ox
import pytest

from gaistd_kg.views.report import QUERY_DIR, SPECS, TABLES, Table, compute, query_comment, table_csv, write_report
from gaistd_kg.views.report_charts import CHARTS, chart_spec
from gaistd_kg.views.report_findings import CLEARLY_SHORT, NOT_MEASURABLE, NOT_SUPPORTED, SUPPORTED, evaluate, finding_a
from gaistd_kg.store import open_store

FW = "https://w3id.org/gaistd/id/framework/"
JUR = "https://w3id.org/gaistd/id/jurisdiction/"


@pytest.fixture(scope="module")
def build_dir(real_build_dir) -> Path:
    return real_build_dir


@pytest.fixture(scope="module")
def store(build_dir) -> ox.Store:
    return open_store(build_dir).store


@pytest.fixture(scope="module")
def report(store):
    return compute(store, build_id="test")


@pytest.fixture(scope="module")
def written(report, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    write_report(report, out, server="http://127.0.0.1:8080")
    return out


def answer(store: ox.Store, name: str) -> list[dict]:
    """The query file's answer, read here independently of the report code: every term as its lexical value."""
    text = (QUERY_DIR / f"{name}.rq").read_text(encoding="utf-8")
    result = store.query(text, use_default_graph_as_union=True)
    return [{v.value: (s[v].value if s[v] is not None else None) for v in result.variables} for s in result]


def lexical(rows: list[dict]) -> list[dict]:
    def lex(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        return None if v is None else str(v)
    return [{k: lex(v) for k, v in r.items()} for r in rows]


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.blocks: dict[str, str] = {}
        self._block: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script" and a.get("type") == "application/json":
            self._block = a["id"]
            self.blocks[self._block] = ""

    def handle_data(self, data):
        if self._block:
            self.blocks[self._block] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._block = None


def parse_html(text: str) -> Tags:
    p = Tags()
    p.feed(text)
    return p


# --- queries and files -----------------------------------------------------------------------------------------------

def test_every_report_query_says_what_it_computes():
    """Each queries/report/*.rq opens with a comment naming what it computes, and every table has its file."""
    files = {p.stem for p in QUERY_DIR.glob("*.rq")}
    assert files == {t.name for t in TABLES}
    for t in TABLES:
        comment = query_comment((QUERY_DIR / f"{t.name}.rq").read_text(encoding="utf-8"))
        assert comment.startswith("Report") and len(comment) > 60, t.name


def test_gaistd_report_writes_html_markdown_and_every_table(build_dir, tmp_path):
    """`gaistd report -o DIR` writes report.html, report.md, each table as CSV and JSON, and the queries."""
    out = tmp_path / "out"
    proc = subprocess.run([str(Path(sys.executable).with_name("gaistd")), "--build-dir", str(build_dir), "report",
                           "-o", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    names = {t.name for t in TABLES} | {"findings"}
    for name in names:
        assert (out / f"{name}.csv").stat().st_size > 0
        assert json.loads((out / f"{name}.json").read_text(encoding="utf-8"))["name"] == name
    assert {p.stem for p in (out / "queries").glob("*.rq")} == {t.name for t in TABLES}
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert "## The paper's findings" in (out / "report.md").read_text(encoding="utf-8")
    assert re.search(r"^a-application\s+supported", proc.stdout, re.M), proc.stdout


def test_offline_html_needs_nothing_from_outside(written):
    """report.html carries its scripts and styles inline: no element loads anything, from the web or from disk."""
    html = (written / "report.html").read_text(encoding="utf-8")
    tags = parse_html(html).tags
    loaders = [(t, a) for t, a in tags if (t == "script" and "src" in a) or (t == "link" and a.get("rel") != "license")
               or t in ("img", "iframe", "object", "embed") or (t == "link" and "stylesheet" in a.get("rel", ""))]
    assert loaders == []
    assert sum(1 for t, a in tags if t == "script" and "type" not in a) == 4  # vega, vega-lite, vega-embed, report.js
    assert "vegaEmbed" in html and "@import" not in html and "url(" not in html.split("<style>")[1].split("</style>")[0]


def test_each_chart_draws_exactly_its_querys_rows(store, report, written):
    """A chart's data is its query's answer, row for row, in the report object, the offline file and the CSV."""
    blocks = parse_html((written / "report.html").read_text(encoding="utf-8")).blocks
    assert {f"spec-{n}" for n in CHARTS} == set(blocks)
    for name in CHARTS:
        expected = answer(store, name)
        assert expected, name
        spec = chart_spec(report.tables[name])
        assert lexical(spec["data"]["values"]) == expected, name
        assert lexical(json.loads(blocks[f"spec-{name}"])["data"]["values"]) == expected, name
        with open(written / f"{name}.csv", encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert rows == [{k: "" if v is None else v for k, v in r.items()} for r in expected], name


def test_grid_tables_have_a_row_for_every_pair(report):
    """Heatmap tables hold every concept × jurisdiction pair (zeros included), each once: the 26 jurisdictions of the
    catalogue of 2026-12-06 (8 before it grew)."""
    for name, key, n_keys in (("documents-per-layer", "layer", 5), ("documents-per-sub-area", "area", 21),
                              ("risk-coverage", "risk", 20), ("finding-standards-per-layer", "layer", 5)):
        rows = report.tables[name].rows
        pairs = [(r[key], r["jurisdiction"]) for r in rows]
        assert len(pairs) == len(set(pairs)) == n_keys * 26, name


# --- what the numbers say ----------------------------------------------------------------------------------------------

def test_risk_coverage_counts_the_roll_up(store, report):
    """Risk coverage counts a document for every broader risk of the risks it addresses (inferred addressesRisk): the
    published count equals that of an asserted-only query following skos:broader*."""
    q = """PREFIX gaistd: <https://w3id.org/gaistd/ontology#> PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
    PREFIX gstatus: <https://w3id.org/gaistd/id/status/>
    SELECT ?risk ?j (COUNT(DISTINCT ?doc) AS ?n) WHERE { GRAPH <https://w3id.org/gaistd/graph/data> {
      ?doc gaistd:addressesRisk/skos:broader* ?risk ; gaistd:jurisdiction ?j ; gaistd:status ?st }
      FILTER (?st IN (gstatus:published, gstatus:in-force)) } GROUP BY ?risk ?j"""
    independent = {(s["risk"].value, s["j"].value): int(s["n"].value) for s in store.query(q)}
    coverage = {(r["risk"], r["jurisdiction"]): r["published"] for r in report.tables["risk-coverage"].rows}
    assert {k: v for k, v in coverage.items() if v} == independent
    china = "https://w3id.org/gaistd/id/jurisdiction/cn"
    risk = "https://w3id.org/gaistd/id/risk/"
    assert coverage[(risk + "disinformation", china)] >= coverage[(risk + "deep-fake-content", china)] > 0


def test_gaps_are_the_cells_without_a_published_document(report):
    """The gaps are exactly the sub-area and risk cells with no published document; 'drafts only' where drafts exist."""
    gaps = {(r["concept"], r["jurisdiction"]): r["gap"] for r in report.tables["gaps"].rows}
    expected = {}
    for name, key in (("documents-per-sub-area", "area"), ("risk-coverage", "risk")):
        for r in report.tables[name].rows:
            if r["published"] == 0:
                expected[(r[key], r["jurisdiction"])] = "drafts only" if r["drafts"] else "no document"
    assert gaps == expected
    assert gaps[(FW + "application-manufacturing", JUR + "cn")] == "no document"
    assert (FW + "security-data", JUR + "cn") not in gaps


def test_timeline_counts_each_dated_document_once_per_event(store, report):
    """Issued and took-effect counts per year add up to the documents carrying dcterms:issued / gaistd:effectiveDate."""
    rows = report.tables["timeline"].rows
    q = """SELECT (COUNT(DISTINCT ?d) AS ?n) WHERE { ?d a <https://w3id.org/gaistd/ontology#NormativeDocument> ;
           <http://purl.org/dc/terms/issued> ?x }"""
    issued = int(next(iter(store.query(q, use_default_graph_as_union=True)))["n"].value)
    assert sum(r["documents"] for r in rows if r["event"] == "issued") == issued
    ai_act = [r for r in rows if r["year"] == 2024 and r["event"] == "took effect" and r["jurisdiction"] == JUR + "eu"
              and r["kind"].endswith("LegalInstrument")]
    assert ai_act and ai_act[0]["documents"] >= 1


def test_finding_a_compares_technology_and_application_layers_with_security_and_compliance(store, report):
    """Finding (a): published standardization deliverables per layer, counted here by an independent query, decide
    each half by the stated rule: a layer is clearly short below half the mean of security and compliance."""
    q = """PREFIX gaistd: <https://w3id.org/gaistd/ontology#> PREFIX gstatus: <https://w3id.org/gaistd/id/status/>
    SELECT ?layer (COUNT(DISTINCT ?d) AS ?n) WHERE { ?d a gaistd:StandardizationDocument ; gaistd:inLayer ?layer ;
      gaistd:status ?st FILTER (?st IN (gstatus:published, gstatus:in-force)) } GROUP BY ?layer"""
    n = {s["layer"].value[len(FW):]: int(s["n"].value) for s in store.query(q, use_default_graph_as_union=True)}
    threshold = CLEARLY_SHORT * (n["security"] + n["compliance"]) / 2
    findings = {f.id: f for f in report.findings}
    for fid, layer in (("a-technology", "technology"), ("a-application", "content-application")):
        f = findings[fid]
        assert f.figures["published"] == n[layer] and f.figures["threshold"] == threshold
        assert f.verdict == (SUPPORTED if n[layer] < threshold else NOT_SUPPORTED)
        assert f"{n[layer]} published standardization deliverables" in f.evidence
        assert f"threshold {threshold:g}" in f.evidence
    # On the shipped data: application services are clearly short, technology is not.
    assert findings["a-application"].verdict == SUPPORTED
    assert findings["a-technology"].verdict == NOT_SUPPORTED


def test_finding_a_rule_turns_with_the_numbers():
    """The rule for (a) can go either way: 5 against a reference of 20 is short; 15 is not."""
    spec = SPECS["finding-standards-per-layer"]

    def table(tech: int) -> dict:
        counts = {"technology": tech, "security": 24, "compliance": 16, "content-application": 12}
        rows = [{"layer": FW + k, "layerLabel": k, "jurisdiction": JUR + "cn", "published": v, "drafts": 0}
                for k, v in counts.items()]
        return {spec.name: Table(spec=spec, columns=list(rows[0]), rows=rows)}

    short, enough = finding_a(table(5))[0], finding_a(table(15))[0]
    assert (short.verdict, enough.verdict) == (SUPPORTED, NOT_SUPPORTED)
    assert short.figures["threshold"] == 10


def test_paper_findings_on_dates_companies_and_risks(report):
    """Findings (b)-(f) are judged with their figures; on the shipped data the dates, the eight companies and the
    paper's risks are supported, 'dozens' of drafters is not measurable from the eight recorded."""
    f = {x.id: x for x in report.findings}
    assert {x.verdict for x in report.findings} <= {SUPPORTED, NOT_SUPPORTED, NOT_MEASURABLE}
    assert f["b-early-stage"].verdict == SUPPORTED and f["b-early-stage"].figures["shareSince2023"] > 0.5
    assert f["c-eu-ai-act"].verdict == SUPPORTED and f["c-eu-ai-act"].figures["effective"] == "2024-08-01"
    assert f["d-gbt-trio"].verdict == SUPPORTED
    assert f["e-eight-companies"].verdict == SUPPORTED
    assert f["e-dozens"].verdict == NOT_MEASURABLE and f["e-dozens"].figures["companies"] == 8
    assert f["f-paper-risks"].verdict == SUPPORTED and f["f-paper-risks"].figures["uncovered"] == []
    assert all(x.evidence and x.rule for x in report.findings)


def test_dates_that_disagree_with_the_paper_are_not_supported(report):
    """(c) turns to 'not supported' when the graph's date differs, and 'not measurable' when it has none."""
    dates = report.tables["finding-dates"]
    for value, verdict in (("2024-08-02", NOT_SUPPORTED), (None, NOT_MEASURABLE)):
        rows = [{**r, "effective": value} if r["doc"].endswith("/eu-ai-act") else r for r in dates.rows]
        tables = {**report.tables, dates.name: Table(spec=dates.spec, columns=dates.columns, rows=rows)}
        assert {x.id: x for x in evaluate(tables)}["c-eu-ai-act"].verdict == verdict


def test_countermeasure_progress_covers_all_five(report):
    """Each of the five countermeasures has its realisers counted; the standard system is realised by the five layers."""
    progress = report.tables["countermeasure-progress"].rows
    assert [r["countermeasureSection"] for r in progress] == ["4.1", "4.2", "4.3", "4.4", "4.5"]
    realisers = report.tables["countermeasure-realisers"].rows
    layers = {r["realiser"] for r in realisers if r["countermeasure"].endswith("/standard-system")
              and r["realiserKind"] == "framework layer"}
    assert layers == {FW + x for x in ("foundation", "technology", "security", "compliance", "content-application")}
    assert all(r["documents"] >= r["published"] + r["drafts"] for r in progress)


# --- the app ---------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(build_dir):
    from gaistd_kg.web import create_app

    app = create_app({"BUILD_DIR": str(build_dir), "TESTING": True})
    yield app.test_client()
    pool = app.extensions.get("gaistd.query_pool")
    if pool is not None:
        pool.close()


def test_served_report_has_the_same_tables(client, report):
    """/report/<table>.json and .csv serve the tables `gaistd report` writes; /report shows every chart's rows."""
    for name, table in report.tables.items():
        served = client.get(f"/report/{name}.json")
        assert served.status_code == 200 and served.mimetype == "application/json"
        assert served.json["rows"] == table.rows, name
        assert client.get(f"/report/{name}.csv").get_data(as_text=True) == table_csv(table), name
    page = client.get("/report")
    assert page.status_code == 200 and page.mimetype == "text/html"
    blocks = parse_html(page.get_data(as_text=True)).blocks
    for name in CHARTS:
        assert json.loads(blocks[f"spec-{name}"])["data"]["values"] == report.tables[name].rows
    assert client.get("/report/timeline.vl.json").json == chart_spec(report.tables["timeline"])
    assert "# GAISTD-KG coverage and gap analysis" in client.get("/report.md").get_data(as_text=True)
    assert client.get("/report/no-such-table.csv").status_code == 404


def test_served_report_page_runs_no_inline_script(client):
    """Under the strict CSP the page's scripts come from /static/report/; specs travel in JSON data blocks."""
    resp = client.get("/report")
    assert "'unsafe-inline'" not in resp.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    for tag, attrs in parse_html(resp.get_data(as_text=True)).tags:
        if tag == "script":
            assert attrs.get("type") == "application/json" or attrs["src"].startswith("/static/report/"), attrs


def test_report_links_run_each_query_on_the_endpoint(client):
    """Beside each table, a link runs its query at /sparql?query=… and a link serves the .rq file."""
    html = client.get("/report").get_data(as_text=True)
    runs = re.findall(r'href="/sparql\?query=([^"]+)"', html)
    assert len(runs) == len(TABLES)
    text = client.get("/report/queries/gaps.rq").get_data(as_text=True)
    assert text == (QUERY_DIR / "gaps.rq").read_text(encoding="utf-8")
    assert client.get("/report/queries/findings.rq").status_code == 404
    md = client.get("/report.md").get_data(as_text=True)
    assert "[run it](http://localhost/sparql?query=" in md


def test_markdown_tables_are_well_formed(report):
    """Every Markdown table row has as many cells as its header."""
    from gaistd_kg.views.report_render import render_markdown

    header = None
    for line in render_markdown(report).splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line)) - 1
        if header is None:
            header = cells
        assert cells == header, line


def test_report_table_json_files_round_trip(written, report):
    """The JSON files hold the rows as the CSV does, numbers as numbers."""
    data = json.loads((written / "documents-per-layer.json").read_text(encoding="utf-8"))
    assert data["rows"] == report.tables["documents-per-layer"].rows
    assert all(isinstance(r["published"], int) for r in data["rows"])
    reader = csv.DictReader(io.StringIO((written / "documents-per-layer.csv").read_text(encoding="utf-8")))
    assert [int(r["published"]) for r in reader] == [r["published"] for r in data["rows"]]


def test_finding_on_short_layers_is_not_measurable_without_the_layer():
    """A graph without a framework layer (one edited by writes) gives "not measurable", not an error."""
    from gaistd_kg.views.report_findings import NOT_MEASURABLE, finding_a

    class Table:
        rows: list = []

    assert {f.verdict for f in finding_a({"finding-standards-per-layer": Table()})} == {NOT_MEASURABLE}
