"""Vega-Lite specifications for the report's charts, one per charted table.

A chart's data is its table's rows, unchanged (``data.values``, dataset name ``table``): every label, fold or sum a
chart shows is a Vega-Lite transform over those rows, so a test can compare the chart with the query's answer and the
browser can be asked for the same rows back (``view.data("table")``). Axis and legend titles are in English and
Chinese; the page renders the specs with Vega-Embed (SVG, so they print sharp).
"""

from __future__ import annotations

from typing import Any, Callable

from .report_findings import CLEARLY_SHORT, REFERENCE_LAYERS

FONT = ("'Noto Sans', 'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', "
        "'WenQuanYi Micro Hei', Arial, sans-serif")
CONFIG = {
    "font": FONT,
    "axis": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 320},
    "legend": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 280},
    "header": {"labelFontSize": 12, "titleFontSize": 12},
    "title": {"fontSize": 14, "subtitleFontSize": 12, "anchor": "start"},
    "view": {"stroke": None},
}

JUR = "Jurisdiction · 法域"
DOCS = "Documents · 文件数"
PUBLISHED = "Published or in force · 已发布或现行"
DRAFTS = "Drafts or under development · 草案或在研"


def _both(field_en: str, field_zh: str, out: str) -> dict:
    return {"calculate": f"datum.{field_en} + ' · ' + datum.{field_zh}", "as": out}


JURISDICTION_LABEL = _both("jurisdictionLabel", "jurisdictionLabelZh", "jurisdictionName")
# A row facet's label above its panel, not beside it in the middle: the reader (and the browser test) finds each
# panel under its heading.
ROW_HEADER = {"labelAngle": 0, "labelAlign": "left", "labelAnchor": "start", "labelOrient": "top"}
STATUS_LABEL = {"calculate": f"datum.status == 'published' ? '{PUBLISHED}' : '{DRAFTS}'", "as": "statusName"}


def _base(rows: list[dict], title: str, title_zh: str, transforms: list[dict]) -> dict[str, Any]:
    return {"title": {"text": title, "subtitle": title_zh}, "data": {"name": "table", "values": rows},
            "transform": transforms, "config": CONFIG}


def _cells(value: str, tooltip: list[dict]) -> list[dict]:
    """A heatmap's two layers: a coloured rect per cell and its number. The colour ramp stops at a mid blue so that
    black numbers stay readable on every cell, on screen and in print."""
    return [
        {"mark": {"type": "rect", "stroke": "#ffffff", "strokeWidth": 1},
         "encoding": {"color": {"field": value, "type": "quantitative", "title": DOCS,
                                "scale": {"range": ["#f1f5f9", "#4f8fe8"], "domainMin": 0}},
                      "tooltip": tooltip}},
        {"mark": {"type": "text", "fontSize": 11, "color": "#111111"},
         "encoding": {"text": {"field": value, "type": "quantitative"}, "tooltip": tooltip}},
    ]


# An axis label "English · 中文" drawn on two lines, English above.
TWO_LINES = "split(datum.label, ' · ')"


def _tooltip(*fields: tuple[str, str, str]) -> list[dict]:
    return [{"field": f, "type": t, "title": title} for f, t, title in fields]


def _x_jurisdiction() -> dict:
    return {"field": "jurisdictionName", "type": "nominal", "title": JUR, "sort": "ascending",
            "axis": {"orient": "top", "labelAngle": -35}}


def documents_per_layer(rows: list[dict]) -> dict:
    spec = _base(rows, "Published documents per layer and jurisdiction", "各层级各法域已发布文件数",
                 [JURISDICTION_LABEL, _both("layerLabel", "layerLabelZh", "layerName")])
    tip = _tooltip(("layerName", "nominal", "Layer · 层级"), ("jurisdictionName", "nominal", JUR),
                   ("published", "quantitative", PUBLISHED), ("drafts", "quantitative", DRAFTS),
                   ("documents", "quantitative", "All statuses · 全部状态"))
    spec |= {"width": {"step": 40}, "height": {"step": 34},
             "encoding": {"x": _x_jurisdiction(),
                          "y": {"field": "layerName", "type": "nominal", "title": "Layer · 层级",
                                "sort": {"field": "layerNotation", "op": "min"}}},
             "layer": _cells("published", tip)}
    return spec


def documents_per_sub_area(rows: list[dict]) -> dict:
    spec = _base(rows, "Published documents per sub-area and jurisdiction", "各子领域各法域已发布文件数",
                 [JURISDICTION_LABEL,
                  {"calculate": "datum.areaNotation + ' ' + datum.areaLabel + ' · ' + datum.areaLabelZh",
                   "as": "areaName"}])
    tip = _tooltip(("areaName", "nominal", "Sub-area · 子领域"), ("layerLabel", "nominal", "Layer · 层级"),
                   ("jurisdictionName", "nominal", JUR), ("published", "quantitative", PUBLISHED),
                   ("drafts", "quantitative", DRAFTS), ("documents", "quantitative", "All statuses · 全部状态"))
    spec |= {"width": {"step": 40}, "height": {"step": 24},
             "encoding": {"x": _x_jurisdiction(),
                          "y": {"field": "areaName", "type": "nominal", "title": "Sub-area · 子领域",
                                "sort": {"field": "areaNotation", "op": "min"}}},
             "layer": _cells("published", tip)}
    return spec


def risk_coverage(rows: list[dict]) -> dict:
    spec = _base(rows, "Documents addressing each risk (with roll-up), per jurisdiction",
                 "各法域应对各风险的文件数（含上位风险汇总）",
                 [JURISDICTION_LABEL,
                  {"calculate": "(datum.broaderLabels ? '› ' : '') + datum.riskLabel + ' · ' + datum.riskLabelZh",
                   "as": "riskName"},
                  {"calculate": "datum.broaderLabels ? datum.broaderLabels + ' / ' + datum.riskLabel : datum.riskLabel",
                   "as": "riskOrder"},
                  {"fold": ["published", "drafts"], "as": ["status", "count"]}, STATUS_LABEL])
    tip = _tooltip(("riskName", "nominal", "Risk · 风险"), ("broaderLabels", "nominal", "Broader · 上位风险"),
                   ("jurisdictionName", "nominal", JUR), ("statusName", "nominal", "Status · 状态"),
                   ("count", "quantitative", DOCS))
    # Published above drafts (not side by side): 26 jurisdictions twice across did not fit a 1366-pixel window.
    spec |= {"facet": {"row": {"field": "statusName", "type": "nominal", "title": None,
                               "sort": [PUBLISHED, DRAFTS], "header": ROW_HEADER}},
             "spec": {"width": {"step": 32}, "height": {"step": 20},
                      "encoding": {"x": _x_jurisdiction(),
                                   "y": {"field": "riskName", "type": "nominal", "title": "Risk · 风险",
                                         "sort": {"field": "riskOrder", "op": "min"}}},
                      "layer": _cells("count", tip)},
             "resolve": {"scale": {"color": "independent"}}}
    return spec


EVENTS = (("issued", "Issued · 发布"), ("took effect", "Took effect · 实施"),
          ("applies", "Application milestone · 进入适用节点"))
KINDS = (("https://w3id.org/gaistd/ontology#StandardizationDocument", "standardization deliverable · 标准化文件"),
         ("https://w3id.org/gaistd/ontology#LegalInstrument", "legal instrument · 法律法规"),
         ("https://w3id.org/gaistd/ontology#PolicyDocument", "policy document · 政策文件"))
EVENT_NAME = {"calculate": " : ".join(f"datum.event == '{e}' ? '{name}'" for e, name in EVENTS[:-1])
              + f" : '{EVENTS[-1][1]}'", "as": "eventName"}


def panel_title(event_name: str, kind_name: str) -> str:
    """The title a timeline panel is drawn with: its event and its kind. The Chromium test reads it back and checks
    every bar below it against the table, so that a panel showing another kind's rows fails."""
    return f"{event_name} — {kind_name}"


def _timeline_panels(rows: list[dict], x: dict, width: float | dict) -> list[dict]:
    """One row of panels per event, one panel per kind that has rows of that event, each filtered by its own event
    and kind IRI and titled with them. (Vega-Lite's two-way facet with a sorted row put the kind headers over other
    kinds' cells.)"""
    present = {(r["event"], r["kind"]) for r in rows}
    tip = _tooltip((x["field"], x["type"], x["title"]), ("eventName", "nominal", "Event · 事件"),
                   ("kindName", "nominal", "Kind · 类别"), ("jurisdictionName", "nominal", JUR),
                   ("documents", "quantitative", DOCS))
    out = []
    for event, event_name in EVENTS:
        panels = []
        for kind, kind_name in KINDS:
            if (event, kind) not in present:
                continue
            panels.append({
                "title": {"text": panel_title(event_name, kind_name), "fontSize": 12, "fontWeight": "normal"},
                "transform": [{"filter": {"and": [{"field": "event", "equal": event},
                                                  {"field": "kind", "equal": kind}]}}],
                "width": width, "height": 120, "mark": "bar",
                "encoding": {"x": x,
                             "y": {"field": "documents", "type": "quantitative", "title": DOCS, "stack": "zero"},
                             "color": {"field": "jurisdictionName", "type": "nominal", "title": JUR,
                                       "scale": {"scheme": "tableau20"}},
                             "tooltip": tip}})
        if panels:
            out.append({"hconcat": panels})
    return out


def timeline(rows: list[dict]) -> dict:
    spec = _base(rows, "Documents issued, taking effect and reaching an application milestone per year",
                 "每年发布、实施与进入适用节点的文件数",
                 [JURISDICTION_LABEL, _both("kindLabel", "kindLabelZh", "kindName"), EVENT_NAME])
    years = sorted({r["year"] for r in rows if r["year"] is not None})
    x = {"field": "year", "type": "ordinal", "title": "Year · 年份", "scale": {"domain": years},
         "axis": {"labelAngle": -90}}
    spec |= {"vconcat": _timeline_panels(rows, x, 250),
             "resolve": {"scale": {"x": "shared", "y": "shared", "color": "shared"}}}
    return spec


def timeline_months(rows: list[dict]) -> dict:
    spec = _base(rows, "Documents issued, taking effect and reaching an application milestone per month, since 2022",
                 "2022年以来每月发布、实施与进入适用节点的文件数",
                 [JURISDICTION_LABEL, _both("kindLabel", "kindLabelZh", "kindName"), EVENT_NAME])
    last = max((r["month"] for r in rows), default="2022-01")
    months = [f"{y}-{m:02d}" for y in range(2022, int(last[:4]) + 1) for m in range(1, 13)]
    x = {"field": "month", "type": "ordinal", "title": "Month · 月份", "scale": {"domain": months},
         "axis": {"labelAngle": -90, "labelExpr": "substring(datum.label, 5) == '01' ? substring(datum.label, 0, 4)"
                                                  " : ''", "ticks": False}}
    spec |= {"vconcat": _timeline_panels(rows, x, {"step": 5}),
             "resolve": {"scale": {"x": "shared", "y": "shared", "color": "shared"}}}
    return spec


def gaps(rows: list[dict]) -> dict:
    spec = _base(rows, "Gaps: no published document in the jurisdiction", "空白：该法域无已发布文件",
                 [JURISDICTION_LABEL, _both("label", "labelZh", "conceptName"),
                  {"calculate": "datum.kind == 'risk' ? 'Risks · 风险' : 'Framework sub-areas · 体系子领域'",
                   "as": "kindName"},
                  {"calculate": "datum.gap == 'drafts only' ? 'Drafts only · 仅有草案' : 'No document · 无文件'",
                   "as": "gapName"}])
    # The concept's title differs from the colour's ("Gap"): a tooltip or accessible label with two fields of one
    # title shows only one of them.
    tip = _tooltip(("conceptName", "nominal", "Sub-area or risk · 子领域或风险"), ("kindName", "nominal", "Kind · 类别"),
                   ("jurisdictionName", "nominal", JUR), ("gapName", "nominal", "Kind of gap · 空白类型"),
                   ("drafts", "quantitative", DRAFTS))
    spec |= {"facet": {"row": {"field": "kindName", "type": "nominal", "title": None,
                               "sort": ["Framework sub-areas · 体系子领域", "Risks · 风险"], "header": ROW_HEADER}},
             "spec": {"width": {"step": 60}, "height": {"step": 18}, "mark": {"type": "rect", "stroke": "#ffffff"},
                      "encoding": {"x": _x_jurisdiction(),
                                   "y": {"field": "conceptName", "type": "nominal", "title": None, "sort": None},
                                   "color": {"field": "gapName", "type": "nominal", "title": "Gap · 空白",
                                             "scale": {"domain": ["No document · 无文件", "Drafts only · 仅有草案"],
                                                       "range": ["#c2410c", "#fdba74"]}},
                                   "tooltip": tip}},
             "resolve": {"scale": {"y": "independent"}}}
    return spec


def _stacked_bars(rows: list[dict], title: str, title_zh: str, label: dict, y_title: str, sort_field: str,
                  extra_tip: list[dict]) -> dict:
    spec = _base(rows, title, title_zh, [label, {"fold": ["published", "drafts"], "as": ["status", "count"]},
                                         STATUS_LABEL])
    spec |= {"width": 480, "height": {"step": 36}, "mark": "bar",
             "encoding": {"y": {"field": "yName", "type": "nominal", "title": None,
                                "sort": {"field": sort_field, "op": "min"},
                                "axis": {"labelExpr": TWO_LINES, "labelLimit": 420}},
                          "x": {"field": "count", "type": "quantitative", "title": DOCS, "stack": "zero"},
                          "color": {"field": "statusName", "type": "nominal", "title": "Status · 状态",
                                    "scale": {"domain": [PUBLISHED, DRAFTS], "range": ["#1d4ed8", "#93c5fd"]}},
                          "order": {"field": "status", "sort": "descending"},
                          "tooltip": [{"field": "yName", "type": "nominal", "title": y_title},
                                      {"field": "statusName", "type": "nominal", "title": "Status · 状态"},
                                      {"field": "count", "type": "quantitative", "title": DOCS}, *extra_tip]}}
    return spec


def countermeasure_progress(rows: list[dict]) -> dict:
    label = {"calculate": "datum.countermeasureSection + ' ' + datum.countermeasureLabel + ' · ' "
                          "+ datum.countermeasureLabelZh", "as": "yName"}
    return _stacked_bars(rows, "Documents realising each countermeasure (named, or in a named layer or sub-area)",
                         "落实各项对策的文件数（直接列举或位于所列层级、子领域）", label, "Countermeasure · 对策",
                         "countermeasureSection",
                         _tooltip(("realisers", "quantitative", "Realisers named · 所列载体"),
                                  ("namedDocuments", "quantitative", "Documents named · 直接列举的文件")))


def finding_paper_risks(rows: list[dict]) -> dict:
    label = _both("riskLabel", "riskLabelZh", "yName")
    return _stacked_bars(rows, "Documents addressing each risk the paper names (with roll-up)",
                         "应对论文所列各风险的文件数（含汇总）", label, "Risk · 风险", "riskLabel",
                         _tooltip(("paperSections", "nominal", "Paper sections · 论文章节")))


def finding_standards_per_layer(rows: list[dict]) -> dict:
    """Published standardization deliverables per layer, stacked by jurisdiction, with finding (a)'s threshold drawn
    from the same rows: half the mean of the security and compliance layers."""
    spec = _base(rows, "Published standardization deliverables per layer", "各层级已发布标准化文件数",
                 [JURISDICTION_LABEL, _both("layerLabel", "layerLabelZh", "layerName")])
    x = {"field": "layerName", "type": "nominal", "title": "Layer · 层级", "sort": {"field": "layerNotation", "op": "min"},
         "axis": {"labelAngle": 0, "labelExpr": TWO_LINES}}
    threshold = [{"filter": {"field": "layer", "oneOf": list(REFERENCE_LAYERS)}},
                 {"aggregate": [{"op": "sum", "field": "published", "as": "layerTotal"}], "groupby": ["layer"]},
                 {"aggregate": [{"op": "mean", "field": "layerTotal", "as": "reference"}]},
                 {"calculate": f"datum.reference * {CLEARLY_SHORT}", "as": "threshold"},
                 {"calculate": "'threshold · 阈值 ' + format(datum.threshold, '.2f')", "as": "thresholdText"}]
    spec |= {"width": 560, "height": 300, "layer": [
        {"mark": "bar",
         "encoding": {"x": x, "y": {"aggregate": "sum", "field": "published", "type": "quantitative",
                                    "title": "Standardization deliverables · 标准化文件"},
                      "color": {"field": "jurisdictionName", "type": "nominal", "title": JUR,
                                "scale": {"scheme": "tableau10"}},
                      "tooltip": _tooltip(("layerName", "nominal", "Layer · 层级"), ("jurisdictionName", "nominal", JUR),
                                          ("published", "quantitative", PUBLISHED),
                                          ("drafts", "quantitative", DRAFTS))}},
        {"transform": threshold, "mark": {"type": "rule", "color": "#b91c1c", "strokeDash": [6, 4], "strokeWidth": 2},
         "encoding": {"y": {"field": "threshold", "type": "quantitative"}}},
        {"transform": threshold,
         "mark": {"type": "text", "align": "right", "dy": -8, "color": "#b91c1c", "x": "width"},
         "encoding": {"y": {"field": "threshold", "type": "quantitative"},
                      "text": {"field": "thresholdText", "type": "nominal"}}},
    ]}
    return spec


CHARTS: dict[str, Callable[[list[dict]], dict]] = {
    "documents-per-layer": documents_per_layer,
    "documents-per-sub-area": documents_per_sub_area,
    "risk-coverage": risk_coverage,
    "timeline": timeline,
    "timeline-months": timeline_months,
    "gaps": gaps,
    "finding-standards-per-layer": finding_standards_per_layer,
    "finding-paper-risks": finding_paper_risks,
    "countermeasure-progress": countermeasure_progress,
}


def chart_spec(table) -> dict | None:
    """The Vega-Lite spec of ``table`` (a report Table), or None when the table has no chart."""
    build = CHARTS.get(table.name)
    return build(table.rows) if build else None
