"""Markup in data, in IRIs and in request paths renders as text, checked in a real browser (Debian's Chromium through
Playwright) against the real server. tests/test_browser.py covers the resource pages and the query UI; this covers the
other HTML the server writes from data or from the request: SPARQL results as an HTML table, and the 404 page that
echoes the IRI asked for. A page passes when the hostile text is visible as text, no element it describes exists, no
dialog opened, no javascript: link exists, and the browser reports no error and no CSP violation.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest

from conftest import make_build, require_chromium
from test_pages import EVIL_IRI, evil_graphs

pytestmark = pytest.mark.browser

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
HOSTILE = {
    "label": "<script>alert(1)</script>",
    "title": "<img src=x onerror=alert(3)>",
    "breaker": '</td></tr></table><svg onload=alert(6)>',
}


@pytest.fixture(scope="module")
def server(live_server_factory, tmp_path_factory) -> str:
    graphs = evil_graphs()
    graphs["data"].parse(data=f'<{EVIL_IRI}> <http://www.w3.org/2000/01/rdf-schema#comment> '
                              f'"{HOSTILE["breaker"]}"@en .', format="turtle")
    return live_server_factory(make_build(tmp_path_factory.mktemp("escaping-build"), graphs)).url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(tmp_path_factory.mktemp("profile")), headless=True,
                                                       executable_path=str(chromium), args=ARGS)
        context.set_default_timeout(15000)
        yield context
        context.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    page.add_init_script("document.addEventListener('securitypolicyviolation', function (e) {"
                         " console.error('CSP violation: ' + e.effectiveDirective); }, true);")
    page.problems, page.dialogs = [], []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    page.close()


def settled(page) -> None:
    page.wait_for_timeout(300)
    assert page.dialogs == [], page.dialogs
    assert page.locator("script, svg, img, iframe, object, embed").count() == 0
    assert page.locator("a[href^='javascript:'], a[href^='JAVASCRIPT:']").count() == 0


def test_sparql_html_results_show_markup_as_text(page, server):
    """SELECT … format=html over the hostile resource: every hostile literal is a cell's text, the javascript: IRI
    is text and not a link, the table is one table (the breaker did not close it)."""
    q = f"SELECT ?p ?o WHERE {{ <{EVIL_IRI}> ?p ?o }} ORDER BY ?p ?o"
    resp = page.goto(server + "/sparql?" + urlencode({"query": q, "format": "html"}))
    assert resp.status == 200 and "script-src 'self'" in resp.headers["content-security-policy"]
    cells = page.locator("td").all_inner_texts()
    for text in (HOSTILE["label"], HOSTILE["title"], HOSTILE["breaker"], "javascript:alert(4)"):
        assert any(c == text or c.startswith(text + " @") for c in cells), (text, cells)
    assert page.locator("table").count() == 1
    settled(page)
    assert page.problems == [], page.problems


def test_the_404_page_shows_the_asked_iri_as_text(page, server):
    """A request for /id/document/<img src=x onerror=alert(5)>: a 404 page in which the IRI is text."""
    resp = page.goto(server + "/id/document/" + quote("<img src=x onerror=alert(5)>"))
    assert resp.status == 404
    assert "<img src=x onerror=alert(5)>" in page.locator("main").inner_text()
    settled(page)
    assert [p for p in page.problems if "status of 404" not in p] == [], page.problems  # the page itself is a 404


def test_the_resource_page_shows_a_breaking_comment_as_text(page, server):
    """The comment that tries to close the page's table renders as text in the resource page as well."""
    resp = page.goto(server + "/id/document/evil?lang=en")
    assert resp.status == 200
    assert page.get_by_text(HOSTILE["breaker"]).count() >= 1
    settled(page)
    assert page.problems == [], page.problems
