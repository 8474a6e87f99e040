"""The build pipeline and the ``gaistd`` command on a small fixture project: atomic, cached, errors with file and line."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from gaistd_kg.pipeline.build import ValidationFailed, build
from gaistd_kg.views.export import export
from gaistd_kg.pipeline.load import LoadError
from gaistd_kg.iris import ROOT
from gaistd_kg.pipeline.reason import InconsistencyError
from gaistd_kg.store import current_manifest, open_store

FIXTURES = Path(__file__).parent / "fixtures"
ASK_GB = "ASK { <https://w3id.org/gaistd/id/document/gb-t-45652-2025> ?p ?o }"


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(ROOT / "ontology", root / "ontology")
    shutil.copytree(ROOT / "shapes", root / "shapes")
    (root / "data" / "reference").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "reference" / "statuses.ttl", root / "data" / "reference")
    shutil.copy(FIXTURES / "reasoning.ttl", root / "data" / "world.ttl")
    return root


def _ask(build_dir: Path, query: str = ASK_GB) -> bool:
    opened = open_store(build_dir)
    return bool(opened.store.query(query, use_default_graph_as_union=True))


def test_build_then_rebuild_does_no_work(project, tmp_path):
    """A second build with unchanged inputs is skipped and keeps the same store."""
    out = tmp_path / "build"
    first = build(project, out)
    assert not first.skipped and first.triples["inferred"] > 0
    second = build(project, out)
    assert second.skipped and second.build_id == first.build_id
    assert current_manifest(out)["build_id"] == first.build_id
    assert _ask(out)


def test_changed_input_rebuilds(project, tmp_path):
    """Any change to an input file gives a new build id and a new store."""
    out = tmp_path / "build"
    first = build(project, out)
    with open(project / "data" / "world.ttl", "a", encoding="utf-8") as fh:
        fh.write("\n# a comment changes the digest\n")
    second = build(project, out)
    assert not second.skipped and second.build_id != first.build_id


def test_malformed_turtle_names_file_and_line_and_keeps_previous_store(project, tmp_path):
    """A syntax error is reported as file:line and the store built before still answers queries."""
    out = tmp_path / "build"
    good = build(project, out)
    bad = project / "data" / "broken.ttl"
    bad.write_text('@prefix ex: <https://example.org/> .\n\nex:a ex:b "unterminated .\nex:c ex:d ex:e .\n', encoding="utf-8")
    with pytest.raises(LoadError) as info:
        build(project, out)
    assert info.value.path.name == "broken.ttl"
    assert info.value.line in (3, 4)
    assert "broken.ttl:" in str(info.value)
    assert current_manifest(out)["build_id"] == good.build_id
    assert _ask(out)


def test_invalid_data_stops_the_build_with_the_report(project, tmp_path):
    """An sh:Violation stops the build; the report names the resource and the rule; the previous store stays."""
    out = tmp_path / "build"
    good = build(project, out)
    text = (project / "data" / "world.ttl").read_text(encoding="utf-8")
    (project / "data" / "world.ttl").write_text(text.replace('"2025-11-01"^^xsd:date', '"2025-11-01"'), encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        build(project, out)
    report = str(info.value)
    assert "gdoc:gb-t-45652-2025" in report and "gaistd:effectiveDate" in report and "world.ttl:" in report
    assert current_manifest(out)["build_id"] == good.build_id


def test_inconsistent_data_stops_the_build(project, tmp_path):
    """Disjoint classes on one resource fail the build naming the resource; nothing half-built is served."""
    out = tmp_path / "build"
    good = build(project, out)
    with open(project / "data" / "world.ttl", "a", encoding="utf-8") as fh:
        fh.write("\n<https://w3id.org/gaistd/id/document/gb-45438-2025> a "
                 "<https://w3id.org/gaistd/ontology#Regulation> .\n")
    with pytest.raises(InconsistencyError) as info:
        build(project, out)
    assert "gdoc:gb-45438-2025" in str(info.value)
    assert current_manifest(out)["build_id"] == good.build_id


def test_store_keeps_asserted_and_inferred_apart(project, tmp_path):
    """Asserted facts sit in graph/data, entailments in graph/inferred; the default graph is their union."""
    out = tmp_path / "build"
    build(project, out)
    store = open_store(out).store
    q = ("ASK { GRAPH <https://w3id.org/gaistd/graph/%s> { <https://w3id.org/gaistd/id/document/gb-t-45652-2025> "
         "<https://w3id.org/gaistd/ontology#inLayer> <https://w3id.org/gaistd/id/framework/security> } }")
    assert store.query(q % "inferred")
    assert not store.query(q % "data")


@pytest.mark.parametrize("fmt", ["turtle", "jsonld"])
def test_export_parses_back_isomorphic(project, tmp_path, fmt):
    """The Turtle and JSON-LD exports of a graph parse back to a graph isomorphic to the store's."""
    out = tmp_path / "build"
    build(project, out)
    store = open_store(out).store
    buf = io.BytesIO()
    export(store, buf, "data", fmt)
    parsed = Graph().parse(data=buf.getvalue(), format="json-ld" if fmt == "jsonld" else "turtle")
    nt = io.BytesIO()
    export(store, nt, "data", "ntriples")
    expected = Graph().parse(data=nt.getvalue(), format="nt")
    assert len(expected) > 50
    assert isomorphic(parsed, expected)


def _gaistd(*args: str, root: Path, build_dir: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("gaistd")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gaistd_kg.cli"]
    return subprocess.run([*cmd, "--root", str(root), "--build-dir", str(build_dir), *args],
                          capture_output=True, text=True, timeout=120)


def test_console_script_smoke(project, tmp_path):
    """The installed `gaistd` entry point runs every subcommand end to end."""
    out = tmp_path / "build"
    r = _gaistd("build", root=project, build_dir=out)
    assert r.returncode == 0, r.stderr
    assert "built" in r.stdout
    r = _gaistd("build", root=project, build_dir=out)
    assert r.returncode == 0 and "up to date" in r.stdout
    r = _gaistd("query", "SELECT ?id WHERE { ?d a gaistd:NormativeDocument ; dcterms:identifier ?id } ORDER BY ?id", root=project, build_dir=out)
    assert r.returncode == 0 and "GB/T 45652-2025" in r.stdout and "(3 rows)" in r.stdout
    r = _gaistd("query", "-f", "json", "ASK { ?s ?p ?o }", root=project, build_dir=out)
    assert json.loads(r.stdout)["boolean"] is True
    r = _gaistd("query", "SELECT (1 AS", root=project, build_dir=out)
    assert r.returncode == 2 and "not valid SPARQL" in r.stderr
    r = _gaistd("stats", root=project, build_dir=out)
    assert r.returncode == 0 and "Documents per jurisdiction" in r.stdout and "China" in r.stdout
    r = _gaistd("export", "-g", "inferred", "-f", "nt", root=project, build_dir=out)
    assert r.returncode == 0 and "inLayer" in r.stdout
    r = _gaistd("validate", root=project, build_dir=out)
    assert r.returncode == 0 and r.stdout.startswith("Conforms")


def test_validate_exit_codes(project, tmp_path):
    """`gaistd validate` exits 0 when the data conforms, 1 on violations, 2 on an error such as bad syntax."""
    out = tmp_path / "build"
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix gaistd: <https://w3id.org/gaistd/ontology#> .\n"
                   "<https://w3id.org/gaistd/id/document/x> a gaistd:Guideline .\n", encoding="utf-8")
    r = _gaistd("validate", str(bad), root=project, build_dir=out)
    assert r.returncode == 1 and "gdoc:x" in r.stdout and "title" in r.stdout
    broken = tmp_path / "broken.ttl"
    broken.write_text("this is not turtle\n", encoding="utf-8")
    r = _gaistd("validate", str(broken), root=project, build_dir=out)
    assert r.returncode == 2 and "broken.ttl:1" in r.stderr
    r = _gaistd("query", "ASK {}", root=project, build_dir=tmp_path / "nothing")
    assert r.returncode == 2 and "gaistd build" in r.stderr


GHOST = """@prefix gaistd: <https://w3id.org/gaistd/ontology#> .
@prefix gdoc: <https://w3id.org/gaistd/id/document/> .
@prefix gorg: <https://w3id.org/gaistd/id/org/> .

gdoc:ghost gaistd:developedBy gorg:cen .
"""


@pytest.mark.parametrize("engine", ["memory", "stream"])
@pytest.mark.parametrize("checks", [False, True], ids=["shapes-only", "with-checks"])
def test_a_document_only_by_inference_fails_the_document_shape(project, tmp_path, engine, checks):
    """The shapes see what reasoning types (issue 15, finding 4): a data file holding only ``gdoc:ghost
    gaistd:developedBy gorg:cen`` makes gdoc:ghost a gaistd:NormativeDocument through the property's domain, and the
    document shape then fails the build naming gdoc:ghost and what a document record lacks (source, jurisdiction,
    status), whether or not the untyped-resource check is there to catch it first; the previous store stays."""
    if checks:
        shutil.copytree(ROOT / "queries" / "checks", project / "queries" / "checks")
    out = tmp_path / "build"
    good = build(project, out, engine=engine)
    (project / "data" / "ghost.ttl").write_text(GHOST, encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        build(project, out, engine=engine)
    ghost = [f for f in info.value.result.violations if f.focus == "gdoc:ghost"]
    shape = {f.path for f in ghost if f.shape == "gaistdsh:NormativeDocumentShape"}
    assert {"dcterms:source", "gaistd:jurisdiction", "gaistd:status"} <= shape, info.value.result.text()
    assert all(f.where and "ghost.ttl" in f.where for f in ghost)
    assert any("untyped-resource-violation.rq" in (f.shape or "") for f in ghost) == checks
    assert current_manifest(out)["build_id"] == good.build_id
