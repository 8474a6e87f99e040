"""Query-based duplicate checks (queries/checks/*-violation.rq): they fire on the negative fixture, and the
shipped data passes them."""

from __future__ import annotations

from pathlib import Path

from gaistd_kg.pipeline.checks import check_files, run_checks
from gaistd_kg.pipeline.load import find_inputs, load, parse_file
from gaistd_kg.iris import ONTOLOGY_FILE

FIXTURES = Path(__file__).parent / "fixtures" / "checks"


def test_duplicate_identifier_and_title_publisher_fire():
    """The same identifier twice ("-" and "—" count as the same), and the same title and publisher on two
    unlinked documents, are violations; editions linked by supersedes and same titles of other bodies are not."""
    findings = run_checks(parse_file(FIXTURES / "duplicates.ttl"), parse_file(ONTOLOGY_FILE))
    got = {(f.shape.rsplit("/", 1)[1], f.focus) for f in findings}
    assert got == {
        ("duplicate-identifier-violation.rq", "<https://example.org/a>"),
        ("duplicate-title-publisher-violation.rq", "<https://example.org/c>"),
    }
    assert all(f.message and f.severity == "Violation" for f in findings)


def test_two_jurisdictions_with_one_english_name_fire():
    """Jurisdictions whose English names are the same (ignoring case) are a violation; a shared Chinese name is not
    (answers show the English one)."""
    findings = run_checks(parse_file(FIXTURES / "jurisdiction-names.ttl"), parse_file(ONTOLOGY_FILE))
    got = {(f.shape.rsplit("/", 1)[1], f.focus) for f in findings}
    assert got == {("duplicate-jurisdiction-name-violation.rq", "<https://example.org/j1>")}
    assert "ATLANTIS" in findings[0].message or "Atlantis" in findings[0].message


def test_every_check_query_says_why():
    """Each check starts with a comment saying what it finds and what to do."""
    files = check_files()
    assert len(files) >= 2
    for f in files:
        assert f.read_text(encoding="utf-8").startswith("# Check: "), f.name


def test_shipped_data_has_no_duplicates():
    """The catalogue holds no identifier twice, no title twice for one publisher, no two jurisdictions of one name."""
    loaded = load(find_inputs())
    findings = run_checks(loaded.data, loaded.ontology, loaded.subject_files)
    assert not findings, "\n".join(f.line() for f in findings)
