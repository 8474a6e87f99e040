"""The streaming build (data kept in Oxigraph; see gaistd_kg/streambuild.py) gives the in-memory build's store.

Its three parts are each held to the in-memory path: chunked pySHACL (chunkshacl) reports what pySHACL reports on the
whole graph, for every shape fixture and at chunk sizes down to one resource; the store-to-store reasoner infers what
the fast engine (and so owlrl, tests/test_fastreason.py) infers; and a whole build gives the same graphs, on the
shipped data and on a generated 2x graph (10x: bench/equivalence.py). Errors read the same: a syntax error names file and line, a violation its
resource and file, and the served store stays as it was.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from conftest import REPO, copy_build
from gaistd_kg.pipeline import build as buildmod, streambuild
from gaistd_kg.pipeline.build import BuildResult, ValidationFailed, build
from gaistd_kg.pipeline.chunkshacl import levels
from gaistd_kg.pipeline.load import LoadError, find_inputs, parse_file, parse_files
from gaistd_kg.iris import ROOT
from gaistd_kg.pipeline.sparqlshapes import split
from gaistd_kg.store import current_manifest, store_from_graphs
from gaistd_kg.pipeline.validate import validate, validate_store

FIXTURES = Path(__file__).parent / "fixtures" / "shapes"
STATUSES = ROOT / "data" / "reference" / "statuses.ttl"


@pytest.fixture(scope="module")
def schema():
    inputs = find_inputs()
    return parse_files(inputs.shapes), parse_files(inputs.ontology)


BNODE_LABEL = re.compile(r"[A-Za-z0-9]+")  # how a blank node reads in a finding; IRIs, prefixed names, literals never


def _bnode(text: str) -> str:
    """A blank node's label is its engine's own (rdflib's in pySHACL on the whole graph, Oxigraph's in a chunk): the
    findings must name a blank node in the same place, whatever its label."""
    return "_:" if BNODE_LABEL.fullmatch(text) else text


def _key(result) -> list[tuple]:
    return sorted(tuple(x or "" for x in (f.severity, _bnode(f.focus or ""), f.path, f.message, f.shape, f.component,
                                          _bnode(f.value or ""))) for f in result.findings)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.ttl")), ids=lambda p: p.stem)
def test_chunked_validation_reports_what_pyshacl_reports_on_the_whole_graph(path, schema):
    shapes, ontology = schema
    data = parse_file(path) + parse_file(STATUSES)
    whole = validate(data, shapes, ontology)
    store = store_from_graphs({"data": data, "ontology": ontology})
    for size in (1, 4, 5000):
        chunked = validate_store(store, shapes, ontology, chunk=size)
        assert (chunked.conforms, _key(chunked)) == (whole.conforms, _key(whole)), f"chunk size {size}"


def test_levels_reads_how_deep_the_shapes_look_and_refuses_what_it_cannot_bound(schema):
    core, _ = split(schema[0])
    assert levels(core) >= 2  # sh:class on a value reads the value's types
    deep = Graph().parse(data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <https://example.org/> .
        ex:A a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:node ex:B ] .
        ex:B a sh:NodeShape ; sh:property [ sh:path ex:q ; sh:class ex:D ] .""", format="turtle")
    assert levels(deep) == 3
    for bad in ("sh:property [ sh:path [ sh:inversePath ex:p ] ; sh:minCount 1 ]",
                "sh:property [ sh:path ( ex:p ex:q ) ; sh:minCount 1 ]",
                "sh:property [ sh:path ex:p ; sh:node ex:A ]"):
        g = Graph().parse(data=f"""
            @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <https://example.org/> .
            ex:A a sh:NodeShape ; sh:targetClass ex:C ; {bad} .""", format="turtle")
        with pytest.raises(NotImplementedError):
            levels(g)


def _graphs(build_dir: Path) -> dict[str, tuple[set, Graph]]:
    """Each named graph: its triples without blank nodes, and the whole graph for an isomorphism check."""
    store = ox.Store.read_only(str(Path(build_dir) / "current" / "oxigraph"))
    out = {}
    for name in store.named_graphs():
        plain, whole = set(), Graph()
        nt = store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=name)
        whole.parse(data=nt, format="nt")
        for s, p, o in whole:
            if not any(t.__class__.__name__ == "BNode" for t in (s, o)):
                plain.add((s, p, o))
        out[name.value] = (plain, whole)
    return out


def stream_build(root: Path, out: Path) -> tuple[Path, BuildResult]:
    """``root`` built on the streaming path, chosen by ``auto`` (STREAM_ABOVE set to 0 where ``build`` reads it, its
    own import, as well as in streambuild): (folder, BuildResult)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(streambuild, "STREAM_ABOVE", 0)
        mp.setattr(buildmod, "STREAM_ABOVE", 0)
        return out, build(root, out, force=True, engine="auto", progress=lambda m: None)


@pytest.fixture(scope="module")
def shipped_stream(tmp_path_factory) -> tuple[Path, BuildResult]:
    """The shipped data built on the streaming path, once for this module (read it, copy it to write)."""
    return stream_build(ROOT, tmp_path_factory.mktemp("shipped-stream") / "build")


def assert_same_builds(root: Path, tmp_path: Path, memory_build=None, streamed=None) -> None:
    """Build ``root`` in memory and on the streaming path (chosen by ``auto``), unless ``memory_build`` or
    ``streamed`` gives such a build of it (folder, BuildResult): the same graphs, counts and build id."""
    if memory_build is None:
        memory_build = (tmp_path / "memory", build(root, tmp_path / "memory", force=True, engine="memory"))
    memory_dir, memory = memory_build
    stream_dir, stream = streamed or stream_build(root, tmp_path / "stream")
    assert memory.engine == "memory" and not memory.skipped and stream.engine == "stream" and not stream.skipped
    assert stream.timings.keys() == memory.timings.keys() and stream.triples == memory.triples
    a, b = _graphs(memory_dir), _graphs(stream_dir)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name][0] == b[name][0], f"{name}: {len(a[name][0] ^ b[name][0])} triples differ"
        if len(a[name][1]) < 60000:
            assert isomorphic(a[name][1], b[name][1]), name
        else:
            assert len(a[name][1]) == len(b[name][1]), name
    man_a, man_b = current_manifest(memory_dir), current_manifest(stream_dir)
    assert (man_a["build_id"], man_a["triples"]) == (man_b["build_id"], man_b["triples"])
    store = ox.Store.read_only(str(memory_dir / "current" / "oxigraph"))
    distinct = store.query("SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } } }")
    assert man_a["union_triples"] == man_b["union_triples"] == int(next(iter(distinct))[0].value)


def test_streaming_build_equals_the_in_memory_build_on_the_shipped_data(tmp_path, real_build, shipped_stream):
    """The in-memory side is the session's build of the shipped data when that took the in-memory path (it does
    below ``STREAM_ABOVE``), else one made here."""
    shipped = real_build if real_build[1].engine == "memory" and ROOT == REPO else None
    assert_same_builds(ROOT, tmp_path, memory_build=shipped, streamed=shipped_stream)


@pytest.mark.slow
def test_streaming_build_equals_the_in_memory_build_on_a_generated_graph(generated_x2, tmp_path):
    """On bench/generate.py's 2x graph (10x: ``python bench/equivalence.py``, bench/README.md)."""
    assert_same_builds(generated_x2, tmp_path)


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for part in ("ontology", "shapes", "data"):
        shutil.copytree(ROOT / part, root / part)
    shutil.copytree(ROOT / "queries" / "checks", root / "queries" / "checks")
    return root


def test_streaming_build_names_the_file_and_line_of_a_syntax_error_and_keeps_the_store(tmp_path, shipped_stream):
    """The store kept is a streaming build of the same files (the module's, copied), as if built here first."""
    root = _project(tmp_path)
    first = shipped_stream[1]
    copy_build(shipped_stream[0], tmp_path / "b")
    bad = root / "data" / "catalogue" / "zz-broken.ttl"
    bad.write_text("@prefix ex: <https://example.org/> .\n\nex:a ex:b ex:c ;\n    ex:d \"unterminated .\n",
                   encoding="utf-8")
    with pytest.raises(LoadError) as err:
        build(root, tmp_path / "b", engine="stream")
    assert err.value.path == bad and err.value.line in (4, 5), str(err.value)
    assert "zz-broken.ttl:" in str(err.value) and "syntax error" in str(err.value)
    assert current_manifest(tmp_path / "b")["build_id"] == first.build_id
    assert not [p for p in (tmp_path / "b" / "stores").iterdir() if p.name.endswith(".tmp")]


def test_streaming_build_reports_the_violations_the_in_memory_build_reports(tmp_path):
    root = _project(tmp_path)
    (root / "data" / "catalogue" / "zz-invalid.ttl").write_text(
        (FIXTURES / "StandardizationDocumentShape-001.ttl").read_text(encoding="utf-8").split("\n[] a sh:Valid")[0],
        encoding="utf-8")
    results = {}
    for engine in ("memory", "stream"):
        with pytest.raises(ValidationFailed) as err:
            build(root, tmp_path / engine, engine=engine)
        results[engine] = err.value.result
        assert current_manifest(tmp_path / engine) is None
    assert _key(results["stream"]) == _key(results["memory"]) and results["memory"].violations
    assert {f.where for f in results["stream"].findings} == {f.where for f in results["memory"].findings}


def test_streaming_build_refuses_the_owlrl_reasoner_with_a_reason(tmp_path):
    with pytest.raises(ValueError, match="fast reasoner"):
        build(ROOT, tmp_path / "b", engine="stream", reasoner="owlrl")
