"""Search, the catalogue, document pages and what is new, in Debian's headless Chromium against the real server
serving the shipped build; with JavaScript off and with the keyboard only where the issue asks. Each test writes a
screenshot (to the test's temporary folder, or to $GAISTD_SCREENSHOTS when set) so that a person can look."""

from __future__ import annotations


import pytest
from conftest import new_page


pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture(scope="module")
def server(real_server) -> str:
    return real_server


def test_search_box_on_every_page_finds_a_two_character_chinese_word(browser, server, shots):
    """The search box in the header, typed into and submitted with Enter, answers 标识 with the labelling standard
    GB 45438 among the first five results, with facets beside the results."""
    page = new_page(browser)
    page.goto(server + "/documents")
    page.fill("#site-search-q", "标识")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?**")
    first = page.locator("ol.hits li.hit").all_inner_texts()[:5]
    assert any("GB 45438" in t for t in first), first
    assert page.locator("aside.facets a").count() > 0
    page.screenshot(path=str(shots / "search-biaoshi.png"), full_page=True)
    assert not page.problems, page.problems


def test_search_finds_an_identifier_typed_with_a_hyphen(browser, server, shots):
    """GB/T 45654-2025 typed with an ASCII hyphen finds the standard the publisher writes with an em dash."""
    page = new_page(browser)
    page.goto(server + "/search?q=GB%2FT+45654-2025")
    assert "GB/T 45654—2025" in page.locator("ol.hits li.hit").first.inner_text()
    page.screenshot(path=str(shots / "search-identifier.png"))


def test_catalogue_filters_without_javascript_by_keyboard_only(browser, server, shots):
    """With JavaScript off, the catalogue is usable with the keyboard alone: tabbing to the China facet value and
    pressing Enter narrows the list to Chinese documents, and the URL holds the state."""
    page = new_page(browser, javascript=False)
    page.goto(server + "/documents")
    total = int(page.locator("p.result-count").get_attribute("data-total"))
    target = page.locator('details.facet-jurisdiction a[data-value="cn"]')
    target.focus()
    assert page.evaluate("document.activeElement.getAttribute('data-value')") == "cn"
    page.keyboard.press("Enter")
    page.wait_for_url("**jurisdiction=cn**")
    narrowed = int(page.locator("p.result-count").get_attribute("data-total"))
    assert 0 < narrowed < total
    rows = page.locator("table.documents tbody tr").all_inner_texts()
    assert rows and all("China" in r for r in rows)
    page.screenshot(path=str(shots / "catalogue-china-nojs.png"), full_page=True)


def test_catalogue_tab_order_reaches_the_facets(browser, server):
    """Pressing Tab from the top of the page reaches a facet link (no keyboard trap, nothing needs a mouse)."""
    page = new_page(browser, javascript=False)
    page.goto(server + "/documents")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('aside.facets') !== null"):
            break
    else:
        pytest.fail("Tab never reached a facet link")


def test_document_page_opens_with_its_summary(browser, server, shots):
    """A document's page shows its identifier, summary and "cite this" above the fold of a 1366×900 window; the
    full table of facts is folded."""
    page = new_page(browser)
    page.goto(server + "/id/document/gb-45438-2025")
    summary = page.locator("section.summary")
    assert summary.is_visible() and summary.bounding_box()["y"] < 900
    assert "GB 45438" in page.locator("h1").inner_text()
    assert page.locator("section.cite").is_visible()
    assert not page.locator("details.all-facts").evaluate("d => d.open")
    page.screenshot(path=str(shots / "document-gb-45438.png"))
    assert not page.problems, page.problems


def test_document_page_without_javascript(browser, server):
    """The document page needs no JavaScript: the summary and citations are in the HTML."""
    page = new_page(browser, javascript=False)
    page.goto(server + "/id/document/gb-45438-2025")
    assert page.locator("section.summary dl.summary dt").count() >= 5
    assert "@techreport" in page.locator("section.cite").inner_text()


def test_changes_page_and_feed_link(browser, server, shots):
    """/changes lists documents newly issued, taking effect and added, each newest first, and advertises its feed."""
    page = new_page(browser)
    page.goto(server + "/changes")
    assert page.locator('link[rel="alternate"][type="application/atom+xml"]').count() == 1
    for event in ("issued", "effective", "added"):
        dates = page.locator(f"section.changes-{event} tr.event td:first-child").all_inner_texts()
        assert len(dates) > 10 and dates == sorted(dates, reverse=True), event
    page.screenshot(path=str(shots / "changes.png"))
