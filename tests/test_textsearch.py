"""Search from SPARQL (query/textsearch.py): the build's search index as a function, through the real endpoint and
the command line, giving the same documents, in the same order, as /search."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

from gaistd_kg.query.textsearch import SEARCH_FUNCTION

QUERY = """SELECT ?doc ?score WHERE {{
  ?doc a gaistd:NormativeDocument .
  BIND (<{fn}>(?doc, "{words}") AS ?score)
  FILTER (BOUND(?score))
}} ORDER BY DESC(?score) ?doc"""


@pytest.fixture(scope="module")
def server(real_server):
    return real_server


def sparql(base: str, text: str) -> list[dict]:
    req = urllib.request.Request(base + "/sparql", data=urllib.parse.urlencode({"query": text}).encode(),
                                 headers={"Accept": "application/sparql-results+json",
                                          "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.load(resp)["results"]["bindings"]


def search(base: str, words: str) -> list[str]:
    url = base + "/search?" + urllib.parse.urlencode({"q": words, "kind": ""})
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"}), timeout=60) as r:
        return [h["iri"] for h in json.load(r)["results"]]


@pytest.mark.parametrize("words", ["标识", "42001", "ISO/IEC 42001", "watermark"])
def test_the_function_finds_what_the_search_box_finds(server, words):
    rows = sparql(server, QUERY.format(fn=SEARCH_FUNCTION, words=words))
    found = [r["doc"]["value"] for r in rows]
    assert found, words
    scores = [float(r["score"]["value"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    boxed = [iri for iri in search(server, words) if "/id/document/" in iri]
    assert set(boxed[:10]) <= set(found), words  # the first page of /search, documents only
    assert found[0] in boxed[:3]


def test_words_are_a_literal_never_text_of_a_query(server):
    """Quotes and SQL in the words are only words: the answer is empty, nothing fails."""
    rows = sparql(server, QUERY.format(fn=SEARCH_FUNCTION, words="x\\\") OR 1=1 --"))
    assert rows == []


def test_the_service_description_names_the_function(server):
    req = urllib.request.Request(server + "/sparql", headers={"Accept": "text/turtle"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert SEARCH_FUNCTION in resp.read().decode("utf-8")


def test_the_command_line_calls_it_too(real_build_dir):
    text = QUERY.format(fn=SEARCH_FUNCTION, words="标识")
    out = subprocess.run([sys.executable, "-m", "gaistd_kg.cli", "--build-dir", str(real_build_dir), "query",
                          "--format", "csv", text], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.strip().splitlines()) > 1
