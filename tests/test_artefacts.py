"""Build work at build time: the build writes the ontology documentation next to its store, the app serves that file
(pyLODE never runs in the web process for such a build), and the VoID statistics are the build's own counts, with
a revalidation answered before anything is computed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import REPO, _close_app
from gaistd_kg.iris import ROOT
from gaistd_kg.pipeline.build import build
from gaistd_kg.store import current_path
from gaistd_kg.views import describe
from gaistd_kg.web import create_app, dumps


@pytest.fixture()
def built(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(ROOT / "ontology", root / "ontology")
    shutil.copytree(ROOT / "shapes", root / "shapes")
    (root / "data" / "reference").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "reference" / "statuses.ttl", root / "data" / "reference")
    shutil.copy(REPO / "tests" / "fixtures" / "reasoning.ttl", root / "data" / "world.ttl")
    out = tmp_path / "build"
    build(root, out)
    return out


@pytest.fixture()
def app(built: Path, tmp_path: Path):
    app = create_app({"BUILD_DIR": str(built), "TESTING": True, "CACHE_DIR": str(tmp_path / "cache")})
    yield app
    _close_app(app)


def test_the_build_writes_the_ontology_page_and_the_app_serves_it_without_pylode(built, app, monkeypatch):
    """<store>/artefacts/ontology.html is written by the build; /ontology answers with it, pyLODE untouched."""
    page = current_path(built) / "artefacts" / "ontology.html"
    assert page.exists() and "<html" in page.read_text(encoding="utf-8").lower()

    def no_pylode(_store):
        raise AssertionError("pyLODE ran in the web process")

    monkeypatch.setattr(describe, "ontology_html", no_pylode)
    with app.test_client() as c:
        resp = c.get("/ontology", headers={"Accept": "text/html"})
    assert resp.status_code == 200
    assert resp.get_data(as_text=True) == page.read_text(encoding="utf-8")


def test_a_build_with_the_same_ontology_reuses_its_page(built, tmp_path, monkeypatch):
    """A rebuild whose ontology graph is unchanged copies the page of the build before it (pyLODE runs once)."""
    first = current_path(built) / "artefacts"
    project = tmp_path / "project"
    with open(project / "data" / "world.ttl", "a", encoding="utf-8") as fh:
        fh.write("\n# a comment changes the digest, not the ontology\n")
    monkeypatch.setattr(describe, "ontology_html", lambda _s: (_ for _ in ()).throw(AssertionError("pyLODE ran")))
    build(project, built)
    second = current_path(built) / "artefacts"
    assert second != first
    assert (second / "ontology.html").read_bytes() == (first / "ontology.html").read_bytes()


def test_void_statistics_are_the_builds_counts(built, app):
    """The VoID triple counts come from the build's manifest, not from counting the store on each request."""
    manifest_path = current_path(built) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["triples"]["data"] = 123456789  # a number the store does not hold: only the manifest says it
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with app.test_client() as c:
        body = c.get("/.well-known/void", headers={"Accept": "text/turtle"}).get_data(as_text=True)
    assert "123456789" in body


def test_void_revalidation_is_answered_before_the_description_is_made(app, monkeypatch):
    """A request carrying the current ETag gets 304 without the VoID graph being built."""
    with app.test_client() as c:
        first = c.get("/.well-known/void", headers={"Accept": "text/turtle"})
        assert first.status_code == 200 and first.headers["ETag"]

        def no_graph():
            raise AssertionError("the VoID graph was built for a revalidation")

        monkeypatch.setattr(dumps, "void_graph", no_graph)
        again = c.get("/.well-known/void", headers={"Accept": "text/turtle", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
