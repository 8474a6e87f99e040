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
    # the build's page, with the <link rel="alternate"> elements to the ontology's RDF put in its head
    from gaistd_kg.web import pages

    with app.test_request_context("/ontology"):
        expected = pages.with_alternates(page.read_text(encoding="utf-8"), "/ontology")
    assert resp.get_data(as_text=True) == expected


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


def test_the_build_writes_every_dump_in_every_format_and_the_app_only_sends_them(built, app, tmp_path, monkeypatch):
    """<store>/artefacts/dumps holds each dump and each named graph in each RDF format, plain and gzip; /dumps/ and
    /graph/ answer with those bytes, serialising nothing and writing nothing into the cache."""
    import gzip

    from gaistd_kg import formats
    from gaistd_kg.iris import GRAPH
    from gaistd_kg.views import export

    folder = current_path(built) / "artefacts" / export.DUMPS_FOLDER
    rows = formats.of_kind(formats.GRAPH)
    for selection in export.DUMPS:
        for row in rows:
            plain = folder / f"{selection}.{row.extension}"
            assert plain.stat().st_size > 0, plain
            assert gzip.decompress((folder / f"{plain.name}.gz").read_bytes()) == plain.read_bytes()

    def no_serialising(*_a, **_k):
        raise AssertionError("a dump was serialised in the web process")

    monkeypatch.setattr(export, "export", no_serialising)
    with app.test_client() as c:
        for selection in export.DUMPS:
            for ext in dumps.DUMP_FORMATS:
                with c.get(f"/dumps/{selection}.{ext}", headers={"Accept-Encoding": "identity"}) as resp:
                    assert resp.status_code == 200, (selection, ext)
                    assert resp.data == (folder / f"{selection}.{ext}").read_bytes()
        for name in ("ontology", "data", "inferred"):
            for row in rows:
                with c.get(f"/graph/{name}.{row.extension}", headers={"Accept-Encoding": "identity"}) as resp:
                    assert resp.status_code == 200, (name, row.name)
                    assert resp.data == (folder / f"{name}.{row.extension}").read_bytes()
        with c.get("/dumps/full.ttl", headers={"Accept-Encoding": "gzip"}) as resp:
            assert resp.headers["Content-Encoding"] == "gzip"
    assert set(GRAPH) >= {"ontology", "data", "inferred"}
    cache = tmp_path / "cache"
    assert not [p for p in cache.rglob("*") if p.is_file() and p.name.split(".")[0] in (*export.DUMPS, *GRAPH)]


def test_jsonld_dumps_read_back_to_the_same_triples_as_n_triples(built):
    """The JSON-LD writer (views/export.py) loses and adds nothing: every dump and graph, plain and gzip, read by
    rdflib's JSON-LD parser and by PyLD (whose document loader serves our contexts from this checkout and refuses the
    network), is isomorphic to its N-Triples file (blank nodes, language tags, datatypes included); each embeds the
    terms context."""
    import gzip

    from rdflib import Graph
    from rdflib.compare import isomorphic

    from conftest import pyld_graph
    from gaistd_kg.views import export, jsonld

    folder = current_path(built) / "artefacts" / export.DUMPS_FOLDER
    paths = sorted(folder.glob("*.jsonld"))
    assert {p.stem for p in paths} >= {*export.DUMPS, "ontology", "data", "inferred"}
    terms = jsonld.terms_context()["@context"]
    for path in paths:
        as_nt = Graph().parse(path.with_suffix(".nt"), format="nt")
        assert len(as_nt) > 0, path.name
        for data in (path.read_bytes(), gzip.decompress((folder / f"{path.name}.gz").read_bytes())):
            doc = json.loads(data)
            assert doc["@context"] == terms, path.name
            assert isomorphic(Graph().parse(data=data, format="json-ld"), as_nt), f"rdflib: {path.name}"
            assert isomorphic(pyld_graph(doc), as_nt), f"PyLD: {path.name}"


def test_the_void_linksets_are_counted_by_the_build(built, app, monkeypatch):
    """<store>/artefacts/links.json holds the link counts of queries/external-links.rq; the VoID description states
    them without running the query in the web process."""
    from rdflib import Graph
    from rdflib.namespace import VOID

    from gaistd_kg.views import links

    path = current_path(built) / "artefacts" / links.COUNTS_FILE
    counted = links.read_counts(path)
    assert counted is not None and counted == links.count(describe_store(built))[0]

    def no_counting(*_a, **_k):
        raise AssertionError("the links were counted in the web process")

    monkeypatch.setattr(links, "count", no_counting)
    with app.test_client() as c:
        resp = c.get("/.well-known/void", headers={"Accept": "text/turtle"})
    assert resp.status_code == 200
    g = Graph().parse(data=resp.data, format="turtle")
    dataset = app.config["BASE_IRI"] + "dataset"
    for target, predicates in links.per_target(counted).items():
        stated = g.value(links.linkset_iri(dataset, target), VOID.triples)
        assert stated is not None and int(stated) == sum(predicates.values()), target


def describe_store(built: Path):
    import pyoxigraph as ox

    return ox.Store.read_only(str(current_path(built) / "oxigraph"))


def test_the_catalogue_table_is_written_by_the_build_and_only_loaded_by_the_app(built, app, monkeypatch):
    """<store>/artefacts/catalogue.json holds the same table views.catalogue reads from the store; /documents
    answers from it without querying the store for it."""
    from gaistd_kg.views import catalogue

    path = current_path(built) / "artefacts" / catalogue.TABLE_FILE
    loaded = catalogue.load_table(path)
    assert loaded is not None and loaded == catalogue.read_table(describe_store(built))

    def no_reading(*_a, **_k):
        raise AssertionError("the catalogue table was read from the store in the web process")

    monkeypatch.setattr(catalogue, "read_table", no_reading)
    with app.test_client() as c:
        assert c.get("/documents").status_code == 200
