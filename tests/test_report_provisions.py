"""The report's per-provision table (queries/report/provision-coverage.rq, section "provisions"): every provision of
law the graph models, the documents that address it grouped by kind, with counts; shown in the HTML and Markdown
report. On the shipped data, built once per session (tests/test_report.py shares the build)."""

from __future__ import annotations

from collections import defaultdict

import pyoxigraph as ox
import pytest

from gaistd_kg.store import open_store
from gaistd_kg.views.report import SPECS, compute
from gaistd_kg.views.report_render import render_markdown, render_offline_html

PROV = "https://w3id.org/gaistd/id/provision/"


@pytest.fixture(scope="module")
def store(real_build_dir) -> ox.Store:
    return open_store(real_build_dir).store


@pytest.fixture(scope="module")
def table(store):
    return compute(store, build_id="test").tables["provision-coverage"]


def provisions_in_store(store: ox.Store) -> set[str]:
    q = "SELECT DISTINCT ?p WHERE { ?p a <https://w3id.org/gaistd/ontology#Provision> }"
    return {s["p"].value for s in store.query(q, use_default_graph_as_union=True)}


def test_every_provision_has_a_row(store, table):
    """Each provision of the graph appears, including those no document addresses (0 documents, no kind)."""
    assert SPECS["provision-coverage"].section == "provisions"
    assert {r["provision"] for r in table.rows} == provisions_in_store(store)
    art11 = [r for r in table.rows if r["provision"] == PROV + "eu-ai-act-art-11"]
    assert len(art11) == 1 and art11[0]["documents"] == 0 and art11[0]["kind"] is None


def test_documents_are_grouped_by_kind_and_add_up(table):
    """The per-kind counts of a provision add up to its total (every document has one asserted kind), and the kinds of
    Article 50 are a code of practice (1) and guidelines (2: the Article 50 guidelines and the EU icons)."""
    totals: dict[str, int] = defaultdict(int)
    for r in table.rows:
        totals[r["provision"]] += r["documents"]
    for r in table.rows:
        assert totals[r["provision"]] == r["provisionDocuments"], r["provision"]
    art50 = {r["kindLabel"]: r for r in table.rows if r["provision"] == PROV + "eu-ai-act-art-50"}
    assert {k: r["documents"] for k, r in art50.items()} == {"code of practice": 1, "guideline": 2}
    assert "EU Icons for labelling AI-generated content" in art50["guideline"]["names"]
    assert art50["code of practice"]["provisionDocuments"] == 3


def test_rows_follow_the_instrument_then_article_order(table):
    """Within an instrument, Article 9 comes before Article 10 (numeric, not text order), and the annexes after the
    articles."""
    eu = [r["provisionNumber"] for r in table.rows if r["instrumentName"] == "Regulation (EU) 2024/1689"]
    order = list(dict.fromkeys(eu))
    assert order.index("Article 9") < order.index("Article 10") < order.index("Article 50") < order.index("Annex IV")


def test_cn_labelling_measures_have_rows_named_by_title(table):
    """China's labelling measures (no identifier) are named by their English title; Article 3 is addressed by
    GB 45438—2025 (a national standard) and Articles 7 to 9 appear as gaps."""
    title = "Measures for Labeling Artificial Intelligence-Generated and Synthesized Content"
    cn = [r for r in table.rows if r["instrumentName"] == title]
    assert [r["provisionNumber"] for r in cn] == ["Article 3", "Article 7", "Article 8", "Article 9"]
    assert cn[0]["kindLabel"] == "national standard" and cn[0]["names"] == "GB 45438—2025"
    assert all(r["documents"] == 0 for r in cn[1:])


def test_the_table_is_in_the_html_and_markdown_report(store):
    """The section and its table appear in both renderings of the report, with the documents' names."""
    report = compute(store, build_id="test")
    md = render_markdown(report)
    assert "## Documents per provision of law" in md
    assert "Documents addressing each provision, by kind of document" in md
    assert "prEN 18228" in md.split("## Documents per provision of law", 1)[1]
    html = render_offline_html(report)
    assert 'id="provisions"' in html and "Documents addressing it" in html
