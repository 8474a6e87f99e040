"""The query page in Debian's Chromium against the real server on the shipped build: the examples are a menu (no tab
per example), named in Chinese under ?lang=zh; results show labels and plain values (datatype or language on hover),
link IRIs of ours to this server's pages, keep their column headers whole, and a query may leave the project's
prefixes undeclared. Each test writes a screenshot to the test's temporary folder (or $GAISTD_SCREENSHOTS)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import new_page


from gaistd_kg.web.ui import read_examples

pytestmark = [pytest.mark.browser, pytest.mark.server]

REPO = Path(__file__).resolve().parent.parent
# No PREFIX lines: gdoc:, gaistd: and dcterms: are the project's well-known prefixes.
QUERY = """SELECT ?doc ?jurisdiction ?title ?documentsOfThatJurisdiction WHERE {
  VALUES ?doc { gdoc:eu-ai-act }
  ?doc gaistd:jurisdiction ?jurisdiction ; dcterms:title ?title .
  { SELECT ?jurisdiction (COUNT(?other) AS ?documentsOfThatJurisdiction)
    WHERE { ?other gaistd:jurisdiction ?jurisdiction } GROUP BY ?jurisdiction }
}"""
HEADERS = ["doc", "jurisdiction", "title", "documentsOfThatJurisdiction"]


@pytest.fixture(scope="module")
def server(real_server) -> str:
    return real_server




@pytest.fixture
def page(browser):
    page = new_page(browser)
    yield page
    page.context.close()


def test_examples_are_a_menu_not_a_row_of_tabs(page, server, shots):
    """Every query of queries/ is an entry of the examples menu; the editor opens with one tab, and an example
    opens one more."""
    page.goto(server + "/")
    page.wait_for_selector("body[data-ui-ready=true]")
    names = [e.name for e in read_examples(REPO / "queries")]
    assert page.locator("nav.examples button.example").all_inner_texts() == names
    assert page.locator(".tabsList .tab").count() == 1
    page.get_by_role("button", name=names[0]).click()
    assert page.locator(".tabsList .tab").count() == 2
    page.screenshot(path=str(shots / "query-page-menu.png"))
    assert page.problems == [], page.problems


def test_examples_are_translated_under_lang_zh(page, server, shots):
    """Under ?lang=zh the menu's heading and the examples' names are Chinese."""
    page.goto(server + "/?lang=zh")
    page.wait_for_selector("body[data-ui-ready=true]")
    assert page.locator("nav.examples summary h2").inner_text() == "示例查询"
    names = page.locator("nav.examples button.example").all_inner_texts()
    assert names[0].startswith("CQ1：") and all(any("\u4e00" <= ch <= "\u9fff" for ch in n) for n in names), names
    page.screenshot(path=str(shots / "query-page-zh.png"))


def test_results_show_labels_plain_values_and_local_links(page, server, shots):
    """A query without PREFIX lines runs; its table keeps every header whole, shows labels for IRIs and plain values
    (no "…"@en, no ^^xsd:integer) with the datatype or language on hover, and links IRIs of ours here."""
    page.goto(server + "/")
    page.wait_for_selector("body[data-ui-ready=true]")
    page.evaluate("q => window.gaistdYasgui.getTab().getYasqe().setValue(q)", QUERY)
    page.locator(".yasqe_queryButton:visible").click()
    page.wait_for_selector("body[data-results-drawn]")
    table = page.locator(".yasr .gaistd-results table")
    headers = table.locator("thead th")
    assert headers.all_inner_texts() == HEADERS
    for i in range(headers.count()):  # drawn whole: nothing clipped or cut with an ellipsis
        assert headers.nth(i).evaluate("e => e.scrollWidth <= e.clientWidth"), HEADERS[i]
    rows = table.locator("tbody tr")
    assert rows.count() >= 1
    text = table.locator("tbody").inner_text()
    assert "@en" not in text and "^^" not in text and '"' not in text, text
    first = rows.first.locator("td")
    doc = first.nth(0).locator("a.iri")
    assert doc.inner_text() == "Regulation (EU) 2024/1689"
    assert doc.get_attribute("href") == server + "/id/document/eu-ai-act"
    jur = first.nth(1).locator("a.iri")
    assert jur.inner_text() == "European Union"
    assert jur.get_attribute("href") == server + "/id/jurisdiction/eu"
    assert first.nth(2).locator("span.literal").get_attribute("title") in ("@en", "@zh")
    count = first.nth(3).locator("span.literal")
    assert count.get_attribute("title") == "xsd:integer" and int(count.inner_text()) > 1
    hrefs = table.locator("a").evaluate_all("els => els.map(e => e.href)")
    assert hrefs and not [h for h in hrefs if "w3id.org" in h], hrefs
    doc.click()
    page.wait_for_url(server + "/id/document/eu-ai-act*")
    page.go_back()
    page.wait_for_selector("body[data-ui-ready=true]")
    page.screenshot(path=str(shots / "query-page-results.png"), full_page=True)
    assert page.problems == [], page.problems
