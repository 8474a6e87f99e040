"""The report in a real browser: Debian's headless Chromium, driven by Playwright, on /report of the real server
process (gunicorn, via ``live_server_factory``) serving the real build, and on the offline report.html opened from
disk. Every chart must be drawn (SVG marks present, one mark per row where a chart draws one per row), hold exactly its
table's rows, and the page must log no error, break no CSP rule and fetch nothing from elsewhere.

No browser is ever downloaded: without /usr/bin/chromium they fail under CI=true and are skipped elsewhere,
saying how to install it.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import require_chromium

from gaistd_kg.views.report import compute, write_report
from gaistd_kg.views.report_charts import CHARTS
from gaistd_kg.store import open_store

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
TIMEOUT_MS = 20000
# Charts that draw one rect per table row (heatmaps; risk coverage folds published and drafts: two per row).
RECTS_PER_ROW = {"documents-per-layer": 1, "documents-per-sub-area": 1, "gaps": 1, "risk-coverage": 2}


@pytest.fixture(scope="module")
def build_dir(real_build_dir) -> Path:
    return real_build_dir


@pytest.fixture(scope="module")
def tables(build_dir) -> dict[str, list[dict]]:
    report = compute(open_store(build_dir).store)
    return {name: t.rows for name, t in report.tables.items()}


@pytest.fixture(scope="module")
def server(real_server) -> str:
    return real_server


@pytest.fixture(scope="module")
def offline_file(build_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("offline-report")
    write_report(compute(open_store(build_dir).store), out, server=None)
    return out / "report.html"


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh tab recording console errors, page errors, CSP violations and every request it makes."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.add_init_script("document.addEventListener('securitypolicyviolation', function (e) {"
                         " console.error('CSP violation: ' + e.effectiveDirective); }, true);")
    page.problems = []  # type: ignore[attr-defined]
    page.requests = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type in ("error", "warning") and page.problems.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    yield page
    context.close()


def charts_drawn_with_their_rows(page, tables: dict[str, list[dict]]) -> None:
    page.wait_for_selector("body[data-report-ready=true]")
    drawn = page.locator(".chart[data-chart]")
    assert sorted(drawn.evaluate_all("els => els.map(e => e.dataset.chart)")) == sorted(CHARTS)
    for name in CHARTS:
        chart = page.locator(f'.chart[data-chart="{name}"]')
        assert chart.get_attribute("data-rendered") == "true", name
        assert chart.locator("svg").count() == 1, name
        marks = chart.locator("svg [role=graphics-symbol]").count()
        assert marks > 0, f"{name}: no marks drawn"
        if name in RECTS_PER_ROW:
            rects = chart.locator("svg g.mark-rect.role-mark path").count()
            assert rects == RECTS_PER_ROW[name] * len(tables[name]), name
        rows = page.evaluate("name => JSON.stringify(window.gaistdReport.views[name].data('table'))", name)
        keys = list(tables[name][0])
        assert [{k: r.get(k) for k in keys} for r in json.loads(rows)] == tables[name], name


def test_served_report_draws_every_chart_from_its_table(page, server, tables):
    """/report on the real server: every chart drawn as SVG with marks, holding its table's rows; no console error,
    no CSP violation, nothing fetched from another host."""
    page.goto(server + "/report")
    charts_drawn_with_their_rows(page, tables)
    page.locator('.chart[data-chart="documents-per-layer"] svg g.mark-text text').nth(6).hover()
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible")
    assert "Jurisdiction · 法域" in tooltip.inner_text()
    page.wait_for_timeout(200)
    assert page.problems == [], page.problems
    origin = urlsplit(server).netloc
    assert [u for u in page.requests if urlsplit(u).netloc != origin] == []


def test_served_report_links_explain_a_coverage_cell(page, server):
    """A cell of the risk table links to the explanation of why the jurisdiction covers the risk."""
    page.goto(server + "/report")
    link = page.locator("#t-risk-coverage table.pivot a[href*='/explain?']").first
    link.click()
    page.wait_for_url("**/explain?**")
    assert "covers risk" in page.locator("p.claim").inner_text()
    assert page.locator("li.step.asserted").count() >= 1
    assert page.problems == [], page.problems


def test_offline_report_draws_every_chart_without_a_request(page, offline_file, tables):
    """report.html opened from disk draws the same charts with the same rows, and asks nothing of any server."""
    page.goto(offline_file.as_uri())
    charts_drawn_with_their_rows(page, tables)
    page.wait_for_timeout(200)
    assert page.problems == [], page.problems
    assert [u for u in page.requests if not u.startswith(("file:", "data:", "about:"))] == []
    assert page.requests[0] == offline_file.as_uri()
