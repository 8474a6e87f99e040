"""`gaistd query` as a person uses it, run as a process: well-known prefixes without PREFIX lines, error positions in
the text typed, "no such file" for a mistyped .rq, tables that fit the terminal (or every cell whole with --wide) and
show values without language tags."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest

LONG = "x" * 150


def gaistd(build_dir: Path, *args: str, columns: int = 80, cwd: Path | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("gaistd")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gaistd_kg.cli"]
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run([*cmd, "--build-dir", str(build_dir), "query", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=cwd)


def test_well_known_prefixes_need_no_declaration(fixture_build_dir):
    """gaistd:, xsd: and the other prefixes of iris.py work without PREFIX lines; a query's own declaration stands."""
    r = gaistd(fixture_build_dir, 'SELECT ?c WHERE { VALUES ?c { gaistd:Law } } ')
    assert r.returncode == 0, r.stderr
    assert "gaistd:Law" in r.stdout
    r = gaistd(fixture_build_dir, 'PREFIX gaistd: <http://example.org/other#> SELECT ?c WHERE { VALUES ?c { gaistd:X } }')
    assert r.returncode == 0, r.stderr
    assert "http://example.org/other#X" in r.stdout


def test_a_syntax_error_names_the_line_and_column_of_the_text_typed(fixture_build_dir):
    """An error on the second line of the text typed is reported on line 2 (not behind the prefix lines the command
    adds), at the column Oxigraph gives."""
    text = "SELECT ?s WHERE { ?s a gaistd:Law .\n  FILTER (?s = ) }"
    try:  # where Oxigraph places the error when the prefix is declared on a line of its own in front
        ox.Store().query("PREFIX gaistd: <https://w3id.org/gaistd/ontology#>\n" + text)
    except SyntaxError as exc:
        line, column = re.match(r"error at (\d+):(\d+)", str(exc)).groups()
    assert line == "3"
    r = gaistd(fixture_build_dir, text)
    assert r.returncode != 0
    assert f"error at 2:{column} (line 2, column {column})" in r.stderr, r.stderr


def test_an_undeclared_prefix_is_named(fixture_build_dir):
    """A prefix neither declared nor well known: "undeclared prefix foo:" with its line and column, no dump of the
    parser's character classes."""
    r = gaistd(fixture_build_dir, "SELECT * WHERE {\n  ?s a foo:Bar }")
    assert r.returncode != 0
    assert "undeclared prefix foo: at line 2, column 8" in r.stderr, r.stderr
    assert "\\u{" not in r.stderr


def test_a_missing_query_file_is_named(fixture_build_dir, tmp_path):
    """A .rq name that is no file: "no such file: <name>", not a parse error."""
    r = gaistd(fixture_build_dir, "queries/cq99-no-such-question.rq", cwd=tmp_path)
    assert r.returncode != 0
    assert "no such file: queries/cq99-no-such-question.rq" in r.stderr, r.stderr
    assert "expected" not in r.stderr


def test_a_query_file_is_read(fixture_build_dir, tmp_path):
    (tmp_path / "q.rq").write_text("SELECT ?n WHERE { VALUES ?n { 42 } }\n", encoding="utf-8")
    r = gaistd(fixture_build_dir, "q.rq", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "42" in r.stdout


@pytest.mark.parametrize("columns", [60, 100])
def test_the_table_fits_the_terminal(fixture_build_dir, columns):
    """By default every line of the table fits the terminal's width; a long cell ends in "…"."""
    r = gaistd(fixture_build_dir, f'SELECT ?a ?b WHERE {{ VALUES (?a ?b) {{ ("{LONG}" "short") }} }}', columns=columns)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns, lines
    assert "…" in r.stdout and "short" in r.stdout


def test_wide_prints_every_cell_whole(fixture_build_dir):
    """--wide: the long cell whole, however narrow the terminal."""
    r = gaistd(fixture_build_dir, "--wide", f'SELECT ?a WHERE {{ VALUES ?a {{ "{LONG}" }} }}', columns=40)
    assert r.returncode == 0, r.stderr
    assert LONG in r.stdout


def test_tables_show_values_without_language_tags_or_datatypes(fixture_build_dir):
    """"China"@en is shown China; "10"^^xsd:integer is shown 10."""
    r = gaistd(fixture_build_dir, 'SELECT ?name ?n WHERE { VALUES (?name ?n) { ("China"@en 10) } }')
    assert r.returncode == 0, r.stderr
    row = r.stdout.splitlines()[2]
    assert "China" in row and "@en" not in r.stdout and "^^" not in r.stdout and "10" in row


def test_output_to_a_pipe_without_columns_is_whole(fixture_build_dir):
    """Without $COLUMNS, output that is no terminal (here a pipe) gets every cell whole."""
    exe = Path(sys.executable).with_name("gaistd")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gaistd_kg.cli"]
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    r = subprocess.run([*cmd, "--build-dir", str(fixture_build_dir), "query",
                        f'SELECT ?a WHERE {{ VALUES ?a {{ "{LONG}" }} }}'], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert LONG in r.stdout
