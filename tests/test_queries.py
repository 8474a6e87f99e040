"""Competency questions (queries/*.rq): each runs on the shipped graph and gives the answers the founding paper
supports. The store is built once for the module from the real data/."""

from __future__ import annotations


import pyoxigraph as ox
import pytest

from gaistd_kg.iris import ROOT
from gaistd_kg.store import open_store

QUERIES = ROOT / "queries"


@pytest.fixture(scope="module")
def store(real_build_dir) -> ox.Store:
    return open_store(real_build_dir).store


def run(store: ox.Store, name: str) -> list[dict[str, str]]:
    (path,) = QUERIES.glob(f"{name}*.rq")
    result = store.query(path.read_text(encoding="utf-8"), use_default_graph_as_union=True)
    return [{v.value: (s[v].value if s[v] is not None else None) for v in result.variables} for s in result]


def test_every_query_file_says_what_it_answers():
    """Each .rq starts with a comment naming the question it answers."""
    files = sorted(QUERIES.glob("cq*.rq"))
    assert len(files) >= 11
    for f in files:
        first = f.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# CQ") and "?" in first, f.name


def test_cq01_privacy_documents_by_jurisdiction(store):
    """CQ1: documents on privacy (counting data-privacy leakage) include China's GB/T 45674—2025 (paper §2)."""
    rows = {r["jurisdictionLabel"]: r for r in run(store, "cq01")}
    assert "GB/T 45674—2025" in rows["China"]["names"]
    assert int(rows["China"]["documents"]) >= 3


def test_cq02_security_layer_data_security_in_china(store):
    """CQ2: China has documents in the security layer's data-security sub-area (the GB/T trio, paper §2)."""
    rows = run(store, "cq02")
    china_data = [r for r in rows if r["areaLabel"] == "Data security" and r["jurisdictionLabel"] == "China"]
    assert china_data and int(china_data[0]["documents"]) >= 2
    layers = {r["layerLabel"] for r in rows}
    assert {"Foundation layer", "Technology layer", "Security layer", "Compliance layer"} <= layers


def test_cq03_gaps_in_china_include_application_areas(store):
    """CQ3: the paper finds application-service standards insufficient: some content-application sub-areas have no
    published Chinese document, while data security (GB/T 45652—2025) is not a gap."""
    rows = run(store, "cq03")
    gaps = {r["gap"] for r in rows}
    fw = "https://w3id.org/gaistd/id/framework/"
    assert {fw + "application-manufacturing", fw + "application-healthcare"} <= gaps
    assert fw + "security-data" not in gaps
    # the parameter reaches the NOT EXISTS: China has gaps that other jurisdictions' documents do not close
    # (terminology: ISO/IEC 22989 covers it internationally; updated from the grown catalogue of 2026-12-06, in which
    # China's security-system gap is closed by its critical-information-infrastructure regulations)
    assert fw + "foundation-terminology" in gaps


def test_cq04_tc260_develops_the_security_trio(store):
    """CQ4: TC260 develops the three generative-AI security national standards of 2025."""
    rows = {r["org"].rsplit("/", 1)[1]: r for r in run(store, "cq04")}
    names = rows["tc260"]["names"]
    for ident in ("GB/T 45654—2025", "GB/T 45674—2025", "GB/T 45652—2025"):
        assert ident in names


def test_cq05_2025_issued_and_effective(store):
    """CQ5: in 2025 the GB/T trio was issued (2025-04-25) and took effect (2025-11-01) (paper §2)."""
    rows = run(store, "cq05")
    events = {(r["name"], r["event"], r["date"]) for r in rows}
    assert ("GB/T 45654—2025", "issued", "2025-04-25") in events
    assert ("GB/T 45654—2025", "took effect", "2025-11-01") in events


def test_cq06_standards_supporting_the_interim_measures(store):
    """CQ6: China's generative-AI security standards support the Interim Measures (paper §2: the measures give the
    policy basis for the standardization work)."""
    rows = run(store, "cq06")
    measures = "https://w3id.org/gaistd/id/document/cn-interim-measures-generative-ai-services"
    supporters = {r["docName"] for r in rows if r["law"] == measures}
    assert "GB/T 45654—2025" in supporters


def test_cq07_countermeasures_answer_challenges(store):
    """CQ7: international cooperation answers the international-coordination challenge; the standard system is
    realised by all five layers of the framework (paper §3, §4)."""
    rows = run(store, "cq07")
    cm = "https://w3id.org/gaistd/id/countermeasure/"
    pairs = {(r["countermeasure"], r["challengeLabel"]) for r in rows}
    assert any(c == cm + "international-cooperation" and "international coordination" in ch.lower() for c, ch in pairs)
    layers = {r["realiser"] for r in rows if r["countermeasure"] == cm + "standard-system"}
    fw = "https://w3id.org/gaistd/id/framework/"
    assert {fw + x for x in ("foundation", "technology", "security", "compliance", "content-application")} <= layers
    assert len({r["countermeasure"] for r in rows}) == 5


def test_cq08_labelling_in_china_and_the_eu(store):
    """CQ8: China's mandatory labelling standard GB 45438—2025 and the EU AI Act's labelling obligations (paper
    §1.2) both count for labelling and transparency."""
    rows = {r["jurisdictionLabel"]: r for r in run(store, "cq08")}
    assert "GB 45438—2025" in rows["China"]["names"]
    assert "Regulation (EU) 2024/1689" in rows["European Union"]["names"]
    assert int(rows["China"]["legalInstruments"]) >= 1


def test_cq09_the_eight_drafting_companies(store):
    """CQ9: OpenAI, Google, Microsoft, NVIDIA, Ant Group, iFLYTEK, Baidu and Tencent drafted WDTA AI-STR-01/02 (§1.1)."""
    rows = run(store, "cq09")
    companies = {r["company"].rsplit("/", 1)[1] for r in rows}
    assert companies == {"openai", "google", "microsoft", "nvidia", "ant-group", "iflytek", "baidu", "tencent"}
    assert all("WDTA AI-STR-01" in r["standards"] and "WDTA AI-STR-02" in r["standards"] for r in rows)


def test_cq10_sources_of_a_fact(store):
    """CQ10: the issue date of GB/T 45654—2025 is stated by the founding paper (and by other sources)."""
    rows = run(store, "cq10-")
    issued = [r for r in rows if r["property"].endswith("/issued")]
    assert any(r["fromPaper"] == "true" for r in issued)
    assert any(r["graph"].endswith("/inferred") for r in rows)


def test_cq10b_facts_from_the_paper(store):
    """CQ10b: the paper is the source of the framework's sub-areas, the challenges, countermeasures and statistics."""
    rows = {r["class"].rsplit("#", 1)[1]: int(r["resources"]) for r in run(store, "cq10b")}
    assert rows["FrameworkLayer"] == 5
    assert rows["Challenge"] == 5 and rows["Countermeasure"] == 5
    assert rows["AdoptionStatistic"] == 8


def test_cq11_adoption_statistics(store):
    """CQ11: the NBS figures of §0: over 65% of large e-commerce platforms, 38% of top-tier hospitals, 60% of
    financial institutions, 45% of netizens."""
    rows = run(store, "cq11")
    got = {(r["domainLabel"], float(r["value"])) for r in rows}
    assert ("E-commerce", 65.0) in got and ("Healthcare", 38.0) in got and ("Finance", 60.0) in got
    assert all(r["authorityLabel"] == "National Bureau of Statistics of China" for r in rows)
    assert len(rows) == 8


def test_cq12_documents_that_help_meet_article_50(store):
    """CQ12: the Code of Practice on marking and labelling of AI-generated content (two pages state the link), the
    Commission's Article 50 guidelines and the EU icons for labelling help meet Article 50; each row names its kind and
    the pages that state the link."""
    rows = {r["doc"].rsplit("/", 1)[1]: r for r in run(store, "cq12")}
    assert set(rows) == {"eu-code-of-practice-marking-labelling-ai-generated-content",
                         "eu-guidelines-transparency-obligations-article-50",
                         "eu-icons-labelling-ai-generated-content"}
    code = rows["eu-code-of-practice-marking-labelling-ai-generated-content"]
    assert code["kindLabel"] == "code of practice" and int(code["sources"]) == 2
    assert rows["eu-icons-labelling-ai-generated-content"]["kindLabel"] == "guideline"
    assert all(r["statedBy"].startswith("https://") for r in rows.values())


def test_cq13_provisions_iso_iec_42001_serves(store):
    """CQ13: ISO/IEC 42001:2023 serves Articles 9 and 17 of the AI Act directly (no adoption of it in the catalogue,
    JIS Q 42001:2025, carries a provision link of its own yet)."""
    rows = run(store, "cq13")
    got = {(r["provision"].rsplit("/", 1)[1], r["route"], r["viaName"]) for r in rows}
    assert got == {("eu-ai-act-art-9", "direct", "ISO/IEC 42001:2023"),
                   ("eu-ai-act-art-17", "direct", "ISO/IEC 42001:2023")}
    assert {r["instrumentName"] for r in rows} == {"Regulation (EU) 2024/1689"}


def test_cq14_documents_for_the_cn_labelling_measures_per_article(store):
    """CQ14: the articles of China's labelling measures the graph models (3, 7, 8, 9), in article order; GB 45438—2025
    addresses Article 3 (explicit and implicit labels), stated by two pages; Articles 7 to 9 have no document yet."""
    rows = run(store, "cq14")
    assert [r["provisionNumber"] for r in rows] == ["Article 3", "Article 7", "Article 8", "Article 9"]
    art3 = rows[0]
    assert art3["docName"] == "GB 45438—2025" and art3["kindLabel"] == "national standard"
    assert int(art3["sources"]) == 2 and all(u.startswith("https://") for u in art3["statedBy"].split())
    assert art3["provisionLabelZh"].startswith("第三条")
    assert all(r["doc"] is None and int(r["sources"]) == 0 for r in rows[1:])


def test_cq13_follows_adoptions_of_adoptions():
    """CQ13 reaches provisions through an adoption and an adoption of that adoption, on asserted data alone."""
    data = """
    @prefix gaistd: <https://w3id.org/gaistd/ontology#> .
    @prefix gdoc: <https://w3id.org/gaistd/id/document/> .
    @prefix gprov: <https://w3id.org/gaistd/id/provision/> .
    @prefix dcterms: <http://purl.org/dc/terms/> .
    gdoc:en gaistd:adopts gdoc:iso-iec-42001-2023 ; dcterms:identifier "EN X" ;
        gaistd:provisionLink [ gaistd:linkedProvision gprov:p1 ; dcterms:source <https://example.org/a> ] .
    gdoc:national gaistd:adopts gdoc:en ; dcterms:identifier "NAT X" ;
        gaistd:provisionLink [ gaistd:linkedProvision gprov:p2 ; dcterms:source <https://example.org/b> ] .
    gdoc:other gaistd:adopts gdoc:unrelated ;
        gaistd:provisionLink [ gaistd:linkedProvision gprov:p3 ; dcterms:source <https://example.org/c> ] .
    gprov:p1 gaistd:provisionNumber "Article 1" ; gaistd:provisionOf gdoc:law .
    gprov:p2 gaistd:provisionNumber "Article 2" ; gaistd:provisionOf gdoc:law .
    gprov:p3 gaistd:provisionNumber "Article 3" ; gaistd:provisionOf gdoc:law .
    """
    st = ox.Store()
    st.load(data.encode(), ox.RdfFormat.TURTLE, to_graph=ox.NamedNode("https://w3id.org/gaistd/graph/data"))
    rows = run(st, "cq13")
    got = {(r["provisionNumber"], r["viaName"], r["route"]) for r in rows}
    assert got == {("Article 1", "EN X", "through an adoption"), ("Article 2", "NAT X", "through an adoption")}
