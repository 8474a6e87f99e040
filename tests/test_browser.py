"""The UI in a real browser: Debian's headless Chromium, driven by Playwright, against the real server process.

One gunicorn server (``live_server_factory`` from conftest, the machinery behind ``live_server``) serves the fixture
build plus one resource with hostile labels, and an empty queries folder, so the UI falls back to the example queries
shipped with the app. No browser is ever downloaded: the test needs ``/usr/bin/chromium`` and fails, saying how to
install it, when it is missing.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import make_build, require_chromium
from test_pages import evil_graphs

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
TIMEOUT_MS = 15000


@pytest.fixture(scope="module")
def server(live_server_factory, tmp_path_factory) -> str:
    build_dir = make_build(tmp_path_factory.mktemp("browser-build"), evil_graphs())
    no_queries = tmp_path_factory.mktemp("no-queries")
    return live_server_factory(build_dir, config={"QUERIES_DIR": str(no_queries)}).url


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS)
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


@pytest.fixture
def page(browser_context, server):
    """A fresh tab that records console errors, page errors, dialogs and every request that leaves the server."""
    page = browser_context.new_page()
    # CSP violations as the page sees them (an init script runs outside the page's CSP)
    page.add_init_script("document.addEventListener('securitypolicyviolation', function (e) {"
                         " console.error('CSP violation: ' + e.effectiveDirective); }, true);")
    page.problems = []  # type: ignore[attr-defined]
    page.dialogs = []  # type: ignore[attr-defined]
    page.outside = []  # type: ignore[attr-defined]
    origin = urlsplit(server).netloc
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: urlsplit(r.url).netloc not in (origin, "") and page.outside.append(r.url))
    yield page
    page.close()


def test_ui_runs_an_example_query_and_shows_its_rows(page, server):
    page.goto(server + "/")
    page.wait_for_selector("body[data-ui-ready=true]")
    example = page.get_by_role("button", name="Which resources of the data graph have a title, with their identifiers and English titles?")
    example.click()
    active = page.locator(".tabsList .tab.active")
    assert "Which resources of the data graph" in active.inner_text()
    assert page.problems == [], "the UI itself loads with no CSP violation and no error"
    page.locator(".yasqe_queryButton:visible").click()
    rows = page.locator(".yasr table tbody tr")
    rows.filter(has_text="GB/T 45654-2025").first.wait_for()
    texts = rows.all_inner_texts()
    assert any("https://w3id.org/gaistd/id/document/gb-t-45654-2025" in t or "gdoc:gb-t-45654-2025" in t
               for t in texts), texts
    assert len(texts) == 2  # the fixture document and the hostile one, each with one English title
    assert any("<img src=x onerror=alert(3)>" in t for t in texts), "the hostile title is shown as text"
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert page.outside == [], "the UI works offline: nothing is fetched from another host"
    # YASR's result table turns the hostile title into a detached live element somewhere; the CSP blocks its
    # onerror handler. That is the only violation allowed: none from our page or from YASGUI's normal work.
    violations = [p for p in page.problems if p.startswith("CSP violation")]
    assert set(violations) <= {"CSP violation: script-src-attr"}, page.problems
    others = [p for p in page.problems if "Content Security Policy" not in p and not p.startswith("CSP violation")]
    assert others == [], others


def test_resource_page_links_lead_to_other_resources(page, server):
    page.goto(server + "/id/document/gb-t-45654-2025?lang=en")
    assert page.locator("h1").inner_text() == "GB/T 45654-2025"
    inferred = page.locator("tr.fact.inferred", has_text="standard")
    assert inferred.count() >= 1 and "inferred" in inferred.first.inner_text()
    page.get_by_role("link", name="TC260").first.click()
    page.wait_for_url(server + "/id/org/tc260*")
    assert page.locator("h1").inner_text() == "TC260"
    page.locator("nav.lang a.lang-zh").click()
    page.wait_for_url("**lang=zh")
    assert page.locator("h1").inner_text() == "全国网络安全标准化技术委员会"
    assert page.problems == [], page.problems


def test_markup_in_data_is_shown_as_text_and_never_runs(page, server):
    page.goto(server + "/id/document/evil?lang=en")
    assert page.locator("h1").inner_text() == "<script>alert(1)</script>"
    assert page.title().startswith("<script>alert(1)</script>")
    assert page.get_by_text("<img src=x onerror=alert(3)>").count() >= 1
    assert page.get_by_text("milestone <b>one</b>").count() == 1
    assert page.locator("main script, main img, main b").count() == 0
    assert page.locator("a[href^='javascript:']").count() == 0
    page.goto(server + "/id/document/evil?lang=zh")
    page.locator("h1").hover()
    page.locator("dd").first.hover()
    page.goto(server + "/id/document/gb-t-45654-2025")  # the hostile label as the text of a link to it
    assert page.get_by_role("link", name="<script>alert(1)</script>").count() == 1
    page.wait_for_timeout(300)
    assert page.dialogs == [], page.dialogs
    assert page.problems == [], page.problems
