"""Search (views/search.py, /search): the fixture table tests/fixtures/search/queries.tsv holds each query with the
documents that must come back among its first five results; identifiers in every spelling, English, Chinese and
Japanese words, organisation names and misspellings."""

from __future__ import annotations

from pathlib import Path

import pytest

from gaistd_kg import store as store_mod
from gaistd_kg.views import search

FIXTURE = Path(__file__).parent / "fixtures" / "search" / "queries.tsv"


def cases() -> list[tuple[str, str, list[str]]]:
    out = []
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            query, why, wanted = line.split("\t")
            out.append((query, why, wanted.split()))
    return out


@pytest.fixture(scope="module")
def index(real_build_dir, tmp_path_factory) -> Path:
    opened = store_mod.open_store(real_build_dir)
    built = search.index_path(opened.path)
    if built.is_file():  # written by the build beside the store
        return built
    path = tmp_path_factory.mktemp("search") / search.INDEX_FILE
    search.build_index(opened.store, path)
    return path


def test_fixture_table_is_large_and_varied():
    """At least 40 queries, with Chinese, Japanese and identifier variants among them."""
    rows = cases()
    assert len(rows) >= 40
    assert any("\u4e00" <= q[0] <= "\u9fff" for q, _, _ in rows)
    assert any(any("\u3040" <= ch <= "\u30ff" for ch in q) for q, _, _ in rows)
    assert sum("identifier" in why for _, why, _ in rows) >= 8


@pytest.mark.parametrize("query,why,wanted", cases(), ids=[c[0] for c in cases()])
def test_query_finds_its_documents_in_the_first_five(index, query, why, wanted):
    """Every listed resource is among the first five results of the query."""
    answer = search.search(index, query, limit=5)
    got = [h.iri.rsplit("/", 1)[1] for h in answer.hits]
    missing = [w for w in wanted if w not in got]
    assert not missing, f"{query!r} ({why}): {missing} not in the first five {got}"


def test_notation_normalises_dashes_and_spaces():
    """The normalised notation turns every dash into an ASCII hyphen and runs of spaces into one."""
    assert search.notation("GB/T 45654—2025") == "GB/T 45654-2025"
    assert search.notation("ISO/IEC  TR\u00a024028:2020") == "ISO/IEC TR 24028:2020"
    assert search.compact("GB/T 45654—2025") == "gbt456542025"


def test_hostile_and_empty_queries_are_answered(index):
    """Quotes, FTS operators, very long input and empty queries give an answer, never an error."""
    for q in ['"', 'NEAR(a b)', 'AND OR NOT', "*", "x" * 5000, "   ", "'; DROP TABLE entry; --", "标"]:
        answer = search.search(index, q, limit=5)
        assert answer.total >= 0


def test_search_page_and_json(real_build_dir):
    """/search answers HTML with facets, and JSON when asked, with the same first result."""
    from conftest import _close_app

    from gaistd_kg.web import create_app

    app = create_app({"BUILD_DIR": str(real_build_dir), "TESTING": True})
    try:
        client = app.test_client()
        data = client.get("/search?q=GB 45438&format=json").get_json()
        assert data["results"][0]["iri"].endswith("/gb-45438-2025")
        assert data["facets"]["kind"]
        html = client.get("/search?q=GB 45438", headers={"Accept": "text/html"}).get_data(as_text=True)
        assert 'data-iri="https://w3id.org/gaistd/id/document/gb-45438-2025"' in html
        assert "facet-kind" in html
    finally:
        _close_app(app)


def test_kept_answers_follow_the_arguments_and_accept(real_build_dir):
    """/search keeps its answers per process and build: a repeat is the same bytes, while other words, another page
    of the same words, or JSON instead of HTML get their own answer."""
    from conftest import _close_app
    from gaistd_kg.web import create_app

    app = create_app({"BUILD_DIR": str(real_build_dir), "TESTING": True})
    try:
        with app.test_client() as c:
            html = c.get("/search?q=42001").data
            assert c.get("/search?q=42001").data == html and b"<html" in html
            as_json = c.get("/search?q=42001", headers={"Accept": "application/json"})
            assert as_json.is_json and as_json.get_json()["query"] == "42001"
            assert c.get("/search?q=%E6%A0%87%E8%AF%86").data != html
    finally:
        _close_app(app)


def test_matches_are_read_in_groups_with_the_same_answer(index, monkeypatch):
    """The rows of a search are read from the index in groups of bound parameters (SQLite refuses an IN list over
    32,766 of them, which a two-character word reaches in a catalogue of 100× ours): groups of one give exactly the
    answer of the default groups, for every query of the fixture table and for a word in almost every entry."""
    queries = [q for q, _why, _wanted in cases()] + ["ai", "人工"]
    default = {q: search.search(index, q, limit=1000) for q in queries}
    assert len(default["ai"].hits) > 100
    monkeypatch.setattr(search, "_chunks", lambda rowids, size=1: [rowids[i:i + 1] for i in range(len(rowids))])
    for q in queries:
        assert search.search(index, q, limit=1000) == default[q], q


def test_short_words_read_among_the_rows_in_the_running_or_by_a_scan_give_the_same_answer(index, monkeypatch):
    """A word under three characters is looked for among the rows still in the running when they are few, and by a
    scan of every row when they are many (SHORT_SCAN_ROWS); both give the same answer for every fixture query."""
    queries = [q for q, _why, _wanted in cases()] + ["eu ai act", "sc 42", "生成 ai"]
    monkeypatch.setattr(search, "SHORT_SCAN_ROWS", 10 ** 9)
    among = {q: search.search(index, q, limit=1000) for q in queries}
    monkeypatch.setattr(search, "SHORT_SCAN_ROWS", 0)
    for q in queries:
        assert search.search(index, q, limit=1000) == among[q], q
