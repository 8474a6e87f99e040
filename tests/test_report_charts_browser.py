"""Each chart of /report read back from Chromium and held against its table: the marks the browser drew (every bar and
cell, read from the accessible label Vega writes on each mark), the panel or facet heading each mark sits under, and
the axis labels, compared with the rows of the report's table. A panel titled with one kind that holds another kind's
bars, a facet heading over the other facet's cells, or a risk listed under the wrong broader risk fails here.

Real server (gunicorn, ``live_server_factory``) on the shipped build, Debian's Chromium (``/usr/bin/chromium``) driven
by Playwright; each test writes a screenshot of its chart to the test's temporary folder (or $GAISTD_SCREENSHOTS).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from conftest import CHROMIUM, CHROMIUM_ARGS, require_chromium

from gaistd_kg.store import open_store
from gaistd_kg.views.report import compute
from gaistd_kg.views.report_charts import CHARTS, EVENTS, panel_title

pytestmark = [pytest.mark.browser, pytest.mark.server]

TIMEOUT_MS = 20000
JUR = "Jurisdiction · 法域"
EVENT_NAMES = dict(EVENTS)
PUBLISHED = "Published or in force · 已发布或现行"
DRAFTS = "Drafts or under development · 草案或在研"

# Every mark of a chart with an accessible label: its mark type, its label's fields, and the heading of the panel it
# is drawn in (the title Vega draws inside the panel's group: a concatenated panel's title, a facet's heading).
READ_MARKS = """name => {
  const svg = document.querySelector('.chart[data-chart="' + name + '"] svg');
  const out = [];
  for (const el of svg.querySelectorAll('g.role-mark > [aria-label]')) {
    const type = (el.parentElement.getAttribute('class').match(/mark-(\\w+)/) || [])[1];
    const fields = {};
    for (const part of el.getAttribute('aria-label').split('; ')) {
      const at = part.indexOf(': ');
      if (at > 0) fields[part.slice(0, at)] = part.slice(at + 2);
    }
    let panel = null;
    const scope = el.closest('g.role-scope');
    if (scope) {
      const item = Array.from(scope.children).find(c => c.contains(el));
      const title = item && item.querySelector('g.role-title text');
      if (title) panel = title.textContent;
    }
    out.push({type, fields, panel, box: el.getBoundingClientRect().toJSON()});
  }
  return out;
}"""

# The axis labels of each axis: [[title, [labels in drawing order]], …], per panel when there are several.
READ_AXES = """name => {
  const svg = document.querySelector('.chart[data-chart="' + name + '"] svg');
  return Array.from(svg.querySelectorAll('g.role-axis')).map(axis => {
    const title = axis.querySelector('g.role-axis-title text');
    const labels = Array.from(axis.querySelectorAll('g.role-axis-label text')).map(t => t.textContent);
    return [title ? title.textContent : null, labels];
  });
}"""


@pytest.fixture(scope="module")
def server(real_server) -> str:
    return real_server


@pytest.fixture(scope="module")
def tables(real_build_dir) -> dict[str, list[dict]]:
    report = compute(open_store(real_build_dir).store)
    return {name: t.rows for name, t in report.tables.items()}



@pytest.fixture(scope="module")
def page(server):
    """/report in a 1366-pixel-wide window, every chart drawn."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(server + "/report")
        page.wait_for_selector("body[data-report-ready=true]")
        assert problems == [], problems
        yield page
        browser.close()


def marks(page, name: str, shots: Path, mark: str) -> list[dict]:
    chart = page.locator(f'.chart[data-chart="{name}"]')
    assert chart.get_attribute("data-rendered") == "true", name
    chart.screenshot(path=str(shots / f"{name}.png"))
    drawn = [m for m in page.evaluate(READ_MARKS, name) if m["type"] == mark]
    assert drawn, f"{name}: no {mark} marks drawn"
    return drawn


def both(row: dict, en: str, zh: str) -> str:
    return f"{row[en]} · {row[zh]}"


def count(text: str) -> int:
    return int(text.replace(",", ""))


def test_nav_links_to_the_report(page, server):
    """The site's navigation, on every page, links to /report."""
    page.goto(server + "/documents")
    assert page.locator("header.site nav a[href$='/report']").count() == 1
    page.goto(server + "/report")
    page.wait_for_selector("body[data-report-ready=true]")


@pytest.mark.parametrize("name, axis", [("timeline", ("year", "Year · 年份")),
                                        ("timeline-months", ("month", "Month · 月份"))])
def test_timeline_panels_hold_their_own_event_and_kind(page, tables, shots, name, axis):
    """Every bar of the timeline (year view and month view) sits in the panel titled with its event and its kind, and
    the bars of each panel are exactly the table's rows of that event and kind: year or month, jurisdiction, count.
    The application milestones (the AI Act's dates of 2025 among them) are a panel row of their own."""
    field, title = axis
    drawn = marks(page, name, shots, "rect")
    seen = Counter()
    for m in drawn:
        f = m["fields"]
        assert m["panel"] == panel_title(f["Event · 事件"], f["Kind · 类别"]), m
        seen[(m["panel"], f[title], f[JUR], count(f["Documents · 文件数"]))] += 1
    expected = Counter()
    for r in tables[name]:
        kind = both(r, "kindLabel", "kindLabelZh")
        expected[(panel_title(EVENT_NAMES[r["event"]], kind), str(r[field]), both(r, "jurisdictionLabel",
                                                                                   "jurisdictionLabelZh"),
                  r["documents"])] += 1
    assert seen == expected
    applies = [k for k in seen if k[0].startswith(EVENT_NAMES["applies"]) and k[2].startswith("European Union")]
    assert any(k[1] in ("2025", "2025-02", "2025-08") for k in applies), applies


def test_timeline_year_axis_shows_every_year_of_the_table(page, tables, shots):
    """Each timeline panel's x axis is labelled with the table's years, in order."""
    years = [str(y) for y in sorted({r["year"] for r in tables["timeline"]})]
    axes = [labels for t, labels in page.evaluate(READ_AXES, "timeline") if t == "Year · 年份"]
    panels = {(r["event"], r["kind"]) for r in tables["timeline"]}
    assert len(axes) == len(panels) and all(labels == years for labels in axes), axes


@pytest.mark.parametrize("name, y_title, y_name", [
    ("documents-per-layer", "Layer · 层级", lambda r: both(r, "layerLabel", "layerLabelZh")),
    ("documents-per-sub-area", "Sub-area · 子领域",
     lambda r: f"{r['areaNotation']} {r['areaLabel']} · {r['areaLabelZh']}")])
def test_layer_heatmaps_draw_each_cell_of_the_table(page, tables, shots, name, y_title, y_name):
    """Every cell of the layer and sub-area heatmaps holds its row's concept, jurisdiction and published count, and
    the jurisdiction axis is labelled with the table's jurisdictions."""
    drawn = marks(page, name, shots, "rect")
    seen = Counter((m["fields"][y_title], m["fields"][JUR], count(m["fields"][PUBLISHED])) for m in drawn)
    expected = Counter((y_name(r), both(r, "jurisdictionLabel", "jurisdictionLabelZh"), r["published"])
                       for r in tables[name])
    assert seen == expected
    jurisdictions = sorted({both(r, "jurisdictionLabel", "jurisdictionLabelZh") for r in tables[name]})
    x = [labels for t, labels in page.evaluate(READ_AXES, name) if t == JUR]
    assert x and sorted(x[0]) == jurisdictions


def test_risk_heatmap_facets_and_hierarchy_match_the_table(page, tables, shots):
    """Each cell of the risk heatmap sits under the heading of its status (published above, drafts below) with its
    row's count; the risk axis lists every narrower risk ("› ") right after its broader risk or a sibling."""
    drawn = marks(page, "risk-coverage", shots, "rect")
    seen = Counter()
    for m in drawn:
        f = m["fields"]
        assert m["panel"] == f["Status · 状态"], m
        seen[(f["Risk · 风险"], f[JUR], f["Status · 状态"], count(f["Documents · 文件数"]))] += 1

    def name(r: dict) -> str:
        return ("› " if r["broaderLabels"] else "") + f"{r['riskLabel']} · {r['riskLabelZh']}"

    expected = Counter()
    for r in tables["risk-coverage"]:
        jur = both(r, "jurisdictionLabel", "jurisdictionLabelZh")
        expected[(name(r), jur, PUBLISHED, r["published"])] += 1
        expected[(name(r), jur, DRAFTS, r["drafts"])] += 1
    assert seen == expected
    broader_of = {r["riskLabel"]: r["broaderLabels"] for r in tables["risk-coverage"]}
    axes = [labels for t, labels in page.evaluate(READ_AXES, "risk-coverage") if t == "Risk · 风险"]
    assert len(axes) == 2 and axes[0] == axes[1]
    current_top = None
    for label in axes[0]:
        en = label.removeprefix("› ").split(" · ")[0]
        if label.startswith("› "):
            assert broader_of[en] == current_top, (label, current_top)
        else:
            assert broader_of[en] == ""
            current_top = en


def test_risk_heatmap_drafts_half_fits_a_1366_pixel_window(page, shots):
    """The drafts panel of the risk heatmap is drawn inside the chart's panel and the window, not cut off to the
    right of a 1366-pixel window."""
    drawn = marks(page, "risk-coverage", shots, "rect")
    drafts = [m["box"] for m in drawn if m["panel"] == DRAFTS]
    assert drafts
    figure = page.locator("#t-risk-coverage figure").evaluate("e => e.getBoundingClientRect().toJSON()")
    assert max(b["right"] for b in drafts) <= min(figure["right"], 1366)
    assert min(b["left"] for b in drafts) >= figure["left"]


def test_gaps_chart_cells_sit_under_their_kind(page, tables, shots):
    """Each gap cell sits under the heading of its kind (framework sub-areas, risks) and the cells are exactly the
    table's gaps."""
    drawn = marks(page, "gaps", shots, "rect")
    seen = Counter()
    for m in drawn:
        f = m["fields"]
        assert m["panel"] == f["Kind · 类别"], m
        seen[(f["Sub-area or risk · 子领域或风险"], f[JUR], f["Kind of gap · 空白类型"])] += 1
    kinds = {"risk": "Risks · 风险"}
    gap_names = {"drafts only": "Drafts only · 仅有草案"}
    expected = Counter((both(r, "label", "labelZh"), both(r, "jurisdictionLabel", "jurisdictionLabelZh"),
                        gap_names.get(r["gap"], "No document · 无文件")) for r in tables["gaps"])
    assert seen == expected
    assert {m["panel"] for m in drawn} == {kinds["risk"], "Framework sub-areas · 体系子领域"}


@pytest.mark.parametrize("name, y_title, y_name", [
    ("countermeasure-progress", "Countermeasure · 对策",
     lambda r: f"{r['countermeasureSection']} {r['countermeasureLabel']} · {r['countermeasureLabelZh']}"),
    ("finding-paper-risks", "Risk · 风险", lambda r: both(r, "riskLabel", "riskLabelZh"))])
def test_stacked_bars_hold_each_status_count(page, tables, shots, name, y_title, y_name):
    """Each bar segment holds its row's published or drafts count, under the right status."""
    drawn = marks(page, name, shots, "rect")
    seen = Counter((m["fields"][y_title], m["fields"]["Status · 状态"], count(m["fields"]["Documents · 文件数"]))
                   for m in drawn)
    expected = Counter()
    for r in tables[name]:
        expected[(y_name(r), PUBLISHED, r["published"])] += 1
        expected[(y_name(r), DRAFTS, r["drafts"])] += 1
    assert seen == expected


def test_standards_per_layer_bars_hold_the_table(page, tables, shots):
    """Finding (a)'s bars: one segment per layer and jurisdiction, with its published count; the layer axis is in
    the framework's order."""
    drawn = marks(page, "finding-standards-per-layer", shots, "rect")
    seen = Counter((m["fields"]["Layer · 层级"], m["fields"][JUR], count(m["fields"][PUBLISHED])) for m in drawn)
    expected = Counter((both(r, "layerLabel", "layerLabelZh"), both(r, "jurisdictionLabel", "jurisdictionLabelZh"),
                        r["published"]) for r in tables["finding-standards-per-layer"])
    assert seen == expected
    order = [both(r, "layerLabel", "layerLabelZh")
             for r in sorted(tables["finding-standards-per-layer"], key=lambda r: r["layerNotation"])]
    axes = [labels for t, labels in page.evaluate(READ_AXES, "finding-standards-per-layer") if t == "Layer · 层级"]
    assert [a.replace(" · ", "") for a in axes[0]] == [o.replace(" · ", "") for o in dict.fromkeys(order)]


def test_every_chart_is_held_against_its_table_here():
    """Every chart of the report has a read-back test in this file."""
    tested = {"timeline", "timeline-months", "documents-per-layer", "documents-per-sub-area", "risk-coverage", "gaps",
              "countermeasure-progress", "finding-paper-risks", "finding-standards-per-layer"}
    assert set(CHARTS) == tested


def test_each_table_states_its_scope(page):
    """Every table of the report states the scope its comparison rests on (docs/scope.md)."""
    blocks = page.locator("article.report .block")
    assert blocks.count() >= len(CHARTS)
    for i in range(blocks.count()):
        assert "docs/scope.md" in blocks.nth(i).locator("p.scope").inner_text()
