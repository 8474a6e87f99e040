"""The founding paper's findings beside the graph's numbers: each judged supported, not supported or not measurable
by a stated rule from the report's tables.

What the paper claims is written here, with its section; what the graph says comes only from the tables. "Not
measurable" is the verdict where the graph cannot decide: it records what sources state (an open world), so a
missing fact is no evidence against a claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from gaistd_kg.iris import ID

from .report_tables import Table

SUPPORTED, NOT_SUPPORTED, NOT_MEASURABLE = "supported", "not supported", "not measurable"
VERDICT_ZH = {SUPPORTED: "支持", NOT_SUPPORTED: "不支持", NOT_MEASURABLE: "无法度量"}

FW, DOC, ORG, KIND = ID["framework"], ID["document"], ID["org"], "https://w3id.org/gaistd/ontology#"
CN = str(ID["jurisdiction"]["cn"])
TECHNOLOGY, APPLICATION = str(FW["technology"]), str(FW["content-application"])
REFERENCE_LAYERS = (str(FW["security"]), str(FW["compliance"]))
# (a) A layer is clearly short of standards when its published standardization deliverables number fewer than this
# share of the reference (the mean of the security and compliance layers).
CLEARLY_SHORT = 0.5
# (b) Early stage: more than this share of the dated standardization deliverables issued in EARLY_SINCE or later.
EARLY_SHARE, EARLY_SINCE = 0.5, 2023
# (c), (d): the dates the paper states (sections 1.2 and 2).
AI_ACT = str(DOC["eu-ai-act"])
AI_ACT_IN_FORCE = "2024-08-01"
GBT_TRIO = tuple(str(DOC[s]) for s in ("gb-t-45654-2025", "gb-t-45674-2025", "gb-t-45652-2025"))
GBT_ISSUED, GBT_EFFECTIVE = "2025-04-25", "2025-11-01"
# (e) the eight companies the paper names among the "dozens" drafting WDTA AI-STR-01 and -02 (section 1.1).
WDTA = (str(DOC["wdta-ai-str-01"]), str(DOC["wdta-ai-str-02"]))
EIGHT = tuple(str(ORG[s]) for s in ("openai", "google", "microsoft", "nvidia", "ant-group", "iflytek", "baidu",
                                     "tencent"))
DOZENS = 24  # "数十家": read as at least two dozen


@dataclass(frozen=True)
class Finding:
    id: str
    claim: str
    claim_zh: str
    section: str
    rule: str
    verdict: str
    evidence: str
    figures: dict[str, Any]
    tables: tuple[str, ...]

    @property
    def verdict_zh(self) -> str:
        return VERDICT_ZH[self.verdict]

    def row(self) -> dict[str, Any]:
        return {"id": self.id, "claim": self.claim, "claimZh": self.claim_zh, "section": self.section,
                "verdict": self.verdict, "verdictZh": self.verdict_zh, "rule": self.rule, "evidence": self.evidence,
                "tables": " ".join(self.tables)}


def _rows(tables: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    return tables[name].rows


def _sum_by(rows: list[dict], key: str, measure: str, where=lambda r: True) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        if where(r):
            out[r[key]] = out.get(r[key], 0) + int(r[measure])
    return out


def _short(rows: list[dict], layer: str, fid: str, name: str, claim: str) -> Finding:
    published = _sum_by(rows, "layer", "published")
    drafts = _sum_by(rows, "layer", "drafts")
    china = _sum_by(rows, "layer", "published", where=lambda r: r["jurisdiction"] == CN)
    labels = {r["layer"]: r["layerLabel"] for r in rows}
    reference = sum(published.get(x, 0) for x in REFERENCE_LAYERS) / len(REFERENCE_LAYERS)
    threshold = CLEARLY_SHORT * reference
    n = published.get(layer, 0)
    verdict = SUPPORTED if n < threshold else NOT_SUPPORTED
    sec, comp = (published.get(x, 0) for x in REFERENCE_LAYERS)
    if layer not in labels:  # the data holds no such layer (a graph edited by writes): nothing to measure
        return Finding(id=fid, claim=claim, claim_zh="相关技术及应用服务标准研制数量存在明显不足", section="abstract",
                       rule="Count published standardization deliverables per layer of the framework.",
                       verdict=NOT_MEASURABLE, evidence=f"The graph holds no framework layer <{layer}>.",
                       figures={"layer": layer}, tables=(name,))
    evidence = (f"{labels[layer]}: {n} published standardization deliverables ({drafts.get(layer, 0)} more in draft); "
                f"security layer {sec}, compliance layer {comp}, reference {reference:g}, threshold {threshold:g}: "
                f"{n} {'<' if n < threshold else '≥'} {threshold:g}. China alone: {china.get(layer, 0)} against "
                f"security {china.get(REFERENCE_LAYERS[0], 0)} and compliance {china.get(REFERENCE_LAYERS[1], 0)}.")
    return Finding(
        id=fid, claim=claim,
        claim_zh="相关技术及应用服务标准研制数量存在明显不足", section="abstract",
        rule=(f"Count published (published or in-force) standardization deliverables per layer, all jurisdictions. "
              f"The reference is the mean of the security and compliance layers; a layer is clearly short when its "
              f"count is below {CLEARLY_SHORT:g} × the reference."),
        verdict=verdict, evidence=evidence,
        figures={"layer": layer, "published": n, "drafts": drafts.get(layer, 0), "security": sec, "compliance": comp,
                 "reference": reference, "threshold": threshold, "publishedChina": china.get(layer, 0),
                 "publishedPerLayer": {labels[k]: v for k, v in published.items()}},
        tables=(name,))


def finding_a(tables) -> list[Finding]:
    name = "finding-standards-per-layer"
    rows = _rows(tables, name)
    return [
        _short(rows, TECHNOLOGY, "a-technology", name,
               "The number of technology standards developed for generative AI is clearly insufficient."),
        _short(rows, APPLICATION, "a-application", name,
               "The number of application-service standards developed for generative AI is clearly insufficient."),
    ]


def finding_b(tables) -> Finding:
    name = "finding-early-stage"
    rows = {r["kind"]: r for r in _rows(tables, name)}
    std = rows[KIND + "StandardizationDocument"]
    dated, recent, drafts, total = std["withIssueDate"], std["issuedSince2023"], std["drafts"], std["documents"]
    share = recent / dated if dated else None
    all_dated = sum(r["withIssueDate"] for r in rows.values())
    all_recent = sum(r["issuedSince2023"] for r in rows.values())
    if share is None:
        verdict, decided = NOT_MEASURABLE, "no standardization deliverable has an issue date"
    else:
        verdict = SUPPORTED if share > EARLY_SHARE else NOT_SUPPORTED
        decided = f"{recent} of {dated} dated standardization deliverables ({share:.1%}) were issued in {EARLY_SINCE} or later"
    evidence = (f"{decided}; {drafts} of {total} ({drafts / total:.1%}) are still drafts or under development. "
                f"All kinds of document: {all_recent} of {all_dated} dated documents issued in {EARLY_SINCE} or later.")
    return Finding(
        id="b-early-stage", claim="Standardization of generative AI is still at an early stage.",
        claim_zh="生成式人工智能标准化工作尚在起步阶段", section="abstract, 3",
        rule=(f"Supported when more than {EARLY_SHARE:.0%} of the standardization deliverables with an issue date were "
              f"issued in {EARLY_SINCE} or later; the share still in draft is given beside it."),
        verdict=verdict, evidence=evidence,
        figures={"dated": dated, "issuedSince2023": recent, "shareSince2023": share, "drafts": drafts,
                 "documents": total, "shareDrafts": drafts / total if total else None,
                 "allDated": all_dated, "allIssuedSince2023": all_recent},
        tables=(name,))


def _date_verdict(found: list[tuple[str, str | None, str]]) -> str:
    if any(actual is None for _, actual, _ in found):
        return NOT_MEASURABLE
    return SUPPORTED if all(actual == expected for _, actual, expected in found) else NOT_SUPPORTED


def finding_c(tables) -> Finding:
    name = "finding-dates"
    row = next((r for r in _rows(tables, name) if r["doc"] == AI_ACT), {})
    actual = row.get("effective")
    verdict = _date_verdict([("effective", actual, AI_ACT_IN_FORCE)])
    return Finding(
        id="c-eu-ai-act", claim="The EU AI Act entered into force (正式实施) on 1 August 2024.",
        claim_zh="欧盟于2024年8月1日正式实施《人工智能法案》", section="1.2",
        rule=f"Supported when the graph's gaistd:effectiveDate of Regulation (EU) 2024/1689 is {AI_ACT_IN_FORCE}.",
        verdict=verdict,
        evidence=(f"{row.get('identifier', 'the AI Act')}: effective {actual or 'not recorded'}, issued "
                  f"{row.get('issued') or 'not recorded'}, status {str(row.get('status') or 'not recorded').rsplit('/', 1)[-1]}."),
        figures={"effective": actual, "issued": row.get("issued"), "status": row.get("status")},
        tables=(name,))


def finding_d(tables) -> Finding:
    name = "finding-dates"
    rows = {r["doc"]: r for r in _rows(tables, name)}
    checks, parts = [], []
    for doc in GBT_TRIO:
        r = rows.get(doc, {})
        checks += [("issued", r.get("issued"), GBT_ISSUED), ("effective", r.get("effective"), GBT_EFFECTIVE)]
        parts.append(f"{r.get('identifier', doc)}: issued {r.get('issued') or 'not recorded'}, effective "
                     f"{r.get('effective') or 'not recorded'}")
    return Finding(
        id="d-gbt-trio",
        claim="GB/T 45654—2025, GB/T 45674—2025 and GB/T 45652—2025 were issued on 25 April 2025 and took effect on "
              "1 November 2025.",
        claim_zh="2025年4月25日发布3项国家标准，并于2025年11月1日正式实施", section="2",
        rule=f"Supported when each of the three records dcterms:issued {GBT_ISSUED} and gaistd:effectiveDate {GBT_EFFECTIVE}.",
        verdict=_date_verdict(checks), evidence="; ".join(parts) + ".",
        figures={doc: {"issued": rows.get(doc, {}).get("issued"), "effective": rows.get(doc, {}).get("effective")}
                 for doc in GBT_TRIO},
        tables=(name,))


def finding_e(tables) -> list[Finding]:
    name = "finding-wdta-drafting"
    rows = _rows(tables, name)
    per_doc = {doc: {r["participant"] for r in rows if r["doc"] == doc and r["participant"]} for doc in WDTA}
    labels = {r["participant"]: r["participantLabel"] or r["participant"] for r in rows if r["participant"]}
    idents = {r["doc"]: r["identifier"] for r in rows}
    missing = {doc: [o for o in EIGHT if o not in ps] for doc, ps in per_doc.items()}
    named_ok = not any(missing.values())
    everyone = set().union(*per_doc.values())
    companies = {r["participant"] for r in rows if r["participant"] and r["isCompany"]}
    named = Finding(
        id="e-eight-companies",
        claim="OpenAI, Google, Microsoft, NVIDIA, Ant Group, iFLYTEK, Baidu and Tencent took part in drafting WDTA "
              "AI-STR-01 and AI-STR-02.",
        claim_zh="OpenAI、谷歌、微软、英伟达、蚂蚁集团、科大讯飞、百度、腾讯等参与了编制", section="1.1",
        rule="Supported when the graph records each of the eight as a gaistd:draftingParticipant of both standards.",
        verdict=SUPPORTED if named_ok else NOT_SUPPORTED,
        evidence="; ".join(
            f"{idents.get(doc, doc)}: {len(per_doc[doc])} participants recorded"
            + (f", missing {', '.join(o.rsplit('/', 1)[-1] for o in missing[doc])}" if missing[doc] else
               ", all eight named")
            for doc in WDTA) + ".",
        figures={"participants": {d: sorted(labels[o] for o in ps) for d, ps in per_doc.items()}},
        tables=(name,))
    dozens = Finding(
        id="e-dozens", claim="Dozens of Chinese and foreign technology companies drafted the WDTA standards.",
        claim_zh="数十家中外科技企业参与了编制", section="1.1",
        rule=(f"Supported when at least {DOZENS} distinct companies are recorded as drafting participants; with fewer "
              f"recorded the graph cannot decide, since it holds only the participants a source names."),
        verdict=SUPPORTED if len(companies) >= DOZENS else NOT_MEASURABLE,
        evidence=(f"{len(everyone)} distinct drafting participants recorded, {len(companies)} of them companies: "
                  f"{', '.join(sorted(labels[o] for o in everyone))}."),
        figures={"participants": len(everyone), "companies": len(companies)}, tables=(name,))
    return [named, dozens]


def finding_f(tables) -> Finding:
    name = "finding-paper-risks"
    rows = _rows(tables, name)
    uncovered = [r["riskLabel"] for r in rows if r["published"] == 0]
    fewest = min(rows, key=lambda r: (r["published"], r["riskLabel"])) if rows else None
    if fewest is None:  # no rows
        verdict, evidence = NOT_MEASURABLE, "The graph names no risk of the paper."
    else:
        verdict = NOT_SUPPORTED if uncovered else SUPPORTED
        evidence = (f"{len(rows) - len(uncovered)} of {len(rows)} risks the paper names have at least one published "
                    f"document addressing them (counting the roll-up)"
                    + (f"; none for {', '.join(uncovered)}" if uncovered else "")
                    + f". Fewest: {fewest['riskLabel']} ({fewest['published']} published, {fewest['drafts']} drafts).")
    return Finding(
        id="f-paper-risks",
        claim="Each risk the paper names (privacy leakage, algorithmic bias, disinformation, IP infringement, harmful "
              "and sensitive content, security risks …) is addressed by at least one published document.",
        claim_zh="论文所列风险（数据隐私泄露、算法偏见、虚假信息传播、知识产权纠纷等）均有已发布文件应对",
        section="0, 3.3, 3.4",
        rule="Supported when every risk of the taxonomy carrying a gaistd:paperSection has at least one published or "
             "in-force document addressing it, directly or through a narrower risk.",
        verdict=verdict, evidence=evidence,
        figures={"risks": len(rows), "uncovered": uncovered,
                 "fewest": {"risk": fewest["riskLabel"], "published": fewest["published"]} if fewest else None},
        tables=(name,))


def finding_g(tables) -> Finding:
    coverage = _rows(tables, "risk-coverage")
    gaps = _rows(tables, "gaps")
    empty = sum(1 for r in coverage if r["published"] == 0)
    by_kind = _sum_by(gaps, "kind", "drafts")
    n_kind = {k: sum(1 for r in gaps if r["kind"] == k) for k in ("sub-area", "risk")}
    drafts_only = sum(1 for r in gaps if r["gap"] == "drafts only")
    return Finding(
        id="g-risks-remain", claim="Many risks and challenges remain.", claim_zh="仍存在很多风险与挑战",
        section="abstract, 5",
        rule="Not decidable by counting: 'many' has no threshold in the paper. The gaps are given for the reader.",
        verdict=NOT_MEASURABLE,
        evidence=(f"{empty} of {len(coverage)} risk × jurisdiction pairs have no published document; the gaps table "
                  f"lists {n_kind['sub-area']} sub-area and {n_kind['risk']} risk gaps, {drafts_only} of them covered "
                  f"only by drafts."),
        figures={"riskJurisdictionPairs": len(coverage), "withoutPublished": empty, "gaps": n_kind,
                 "draftsOnly": drafts_only, "draftsInGaps": by_kind},
        tables=("risk-coverage", "gaps"))


def evaluate(tables: Mapping[str, Any]) -> list[Finding]:
    return [*finding_a(tables), finding_b(tables), finding_c(tables), finding_d(tables), *finding_e(tables),
            finding_f(tables), finding_g(tables)]


def findings_table(spec, findings: list[Finding]):
    rows = [f.row() for f in findings]
    return Table(spec=spec, columns=list(rows[0]) if rows else [], rows=rows, query=None)
