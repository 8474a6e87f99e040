"""``/documents``: the faceted catalogue, rendered on the server (it works without JavaScript), every state a
shareable URL (``?jurisdiction=cn&risk=privacy&sort=-issued``), every filtered list downloadable as CSV, JSON-LD,
Turtle, BibTeX, RIS and CSL-JSON (``&format=…``). The logic is in :mod:`gaistd_kg.catalogue`; this module only
translates between HTTP and it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import quote_plus, urlencode

import pyoxigraph as ox
from flask import Blueprint, Response, render_template, request

from gaistd_kg.views import catalogue as cat
from . import pages

bp = Blueprint("catalogue", __name__)

PAGE_SIZE = 50
DOWNLOADS = {  # format= -> (media type, file extension, label)
    "csv": ("text/csv; charset=utf-8", "csv", "CSV"),
    "jsonld": ("application/ld+json", "jsonld", "JSON-LD"),
    "ttl": ("text/turtle; charset=utf-8", "ttl", "Turtle"),
    "bibtex": ("application/x-bibtex; charset=utf-8", "bib", "BibTeX"),
    "ris": ("application/x-research-info-systems; charset=utf-8", "ris", "RIS"),
    "csljson": ("application/vnd.citationstyles.csl+json", "json", "CSL-JSON"),
}


def table() -> tuple[cat.Table, Any]:
    """The catalogue table of the served build (one per build and process) and the open store."""
    return pages.catalogue_table(), pages.current_store()


def short(key: str, value: str) -> str:
    return value if key in ("kind", "issued", "effective") else cat.local(value)


def parse_filters(t: cat.Table) -> dict[str, list[str]]:
    """Facet arguments (short names, as in shareable URLs) to the values of the table; unknown names match nothing."""
    known = pages.per_build_memo("gaistd.catalogue_short_names", pages.current_store())
    if not known:
        names = {key: {short(key, v): v for v in values} for key, values in t.index.masks.items()}
        known.update(names)  # whole, in one step: another thread sees all of it or none
    out: dict[str, list[str]] = {}
    for key in cat.FACETS:
        wanted = [w for w in request.args.getlist(key) if w]
        if wanted:
            out[key] = [known[key].get(w, "\x00" + w) for w in wanted]
    return out


def state_args(filters: dict[str, list[str]], **extra: Any) -> dict[str, Any]:
    args: dict[str, Any] = {k: [short(k, v) for v in vs] for k, vs in filters.items()}
    if request.args.get("sort"):
        args["sort"] = request.args["sort"]
    if request.args.get("lang"):
        args["lang"] = request.args["lang"]
    opened = sorted({k for k in request.args.getlist("more") if k in cat.FACETS})
    if opened:
        args["more"] = opened
    args.update({k: v for k, v in extra.items() if v is not None})
    return args


def href(args: dict[str, Any]) -> str:
    return "?" + urlencode(args, doseq=True)


@bp.get("/documents")
def documents() -> Response:
    """The catalogue page or a download. Each answer is a function of the build, the arguments, the language chosen,
    the host (downloads carry absolute links) and the day (citations carry the access date): kept per process
    (``pages.kept``), emptied by a new build."""
    return pages.kept("gaistd.catalogue_pages", datetime.now(timezone.utc).date().isoformat(), compute=_documents)


def _documents() -> Response:
    t, opened = table()
    filters = parse_filters(t)
    how = request.args.get("sort", "-issued")
    how = how if how in cat.SORTS else "-issued"
    fmt = request.args.get("format", "")
    if fmt in DOWNLOADS:
        return download(fmt, t, cat.select(t, filters, how), opened)
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    lang = pages.chosen_lang()
    counts = cat.facet_counts(t, filters)
    opened_facets = set(request.args.getlist("more"))
    facets = []
    for key, (_path, title) in cat.FACETS.items():
        chosen = filters.get(key, [])
        add = adding_href(filters, key)
        values = []
        every = counts[key]
        shown_values = every if key in opened_facets else [
            c for i, c in enumerate(every) if i < FACET_VALUES_SHOWN or c[0] in chosen]
        for value, label, n in shown_values:
            s = short(key, value)
            if value in chosen:
                args = state_args(filters)
                args[key] = [x for x in args.get(key, []) if x != s]
                link = href(args)
            else:
                link = add(s)
            values.append({"label": label, "count": n, "href": link, "active": value in chosen, "value": s})
        more = None
        if len(shown_values) < len(every):
            more = {"href": href(state_args(filters, more=sorted({*opened_facets, key} & set(cat.FACETS)))),
                    "count": len(every)}
        facets.append({"key": key, "title": title, "values": values, "active": bool(chosen), "more": more})
    total = cat.count(t, filters)
    shown = cat.select(t, filters, how, limit=page * PAGE_SIZE)[(page - 1) * PAGE_SIZE:]
    pages_total = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    view = [{"iri": r.iri, "href": pages.href_for(r.iri, lang), "identifier": r.identifier,
             "title": r.title or r.title_original, "title_original": r.title_original,
             "kind": cat.label(t, "kind", r.kind),
             "jurisdiction": ", ".join(sorted(cat.label(t, "jurisdiction", j) for j in r.values.get("jurisdiction", ()))),
             "status": ", ".join(sorted(cat.label(t, "status", s) for s in r.values.get("status", ()))),
             "issued": r.issued} for r in shown]
    sorts = [{"key": s, "href": href(state_args(filters, sort=s)), "active": s == how} for s in cat.SORTS]
    downloads = [{"label": lab, "href": href(state_args(filters, format=f))} for f, (_m, _e, lab) in DOWNLOADS.items()]
    nav = {"prev": href(state_args(filters, page=page - 1)) if page > 1 else None,
           "next": href(state_args(filters, page=page + 1)) if page < pages_total else None}
    clear = href({k: v for k, v in state_args({}).items()})
    html = render_template("documents.html", rows=view, total=total, all_total=len(t.rows), facets=facets,
                           sorts=sorts, downloads=downloads, nav=nav, page=page, pages_total=pages_total,
                           clear=clear, filtered=bool(filters))
    return Response(html, mimetype="text/html")


FACET_VALUES_SHOWN = 30  # per facet, the most frequent first (chosen ones always); "all N" opens the rest (?more=key)


def adding_href(filters: dict[str, list[str]], key: str) -> Callable[[str], str]:
    """A function giving, for a value of facet ``key``, the link that adds it to the current state: the same URL as
    ``href`` of the state with the value appended, with the rest of the query string encoded once per facet rather
    than once per value (a facet of a large catalogue has thousands)."""
    args = state_args(filters)
    pairs = [(k, v) for k, vs in args.items() for v in (vs if isinstance(vs, list) else [vs])]
    last = max((i for i, (k, _v) in enumerate(pairs) if k == key), default=len(pairs) - 1)
    head = urlencode(pairs[:last + 1])
    tail = urlencode(pairs[last + 1:])
    name = quote_plus(key)

    def add(value: str) -> str:
        one = f"{name}={quote_plus(value)}"
        return "?" + "&".join(p for p in (head, one, tail) if p)

    return add


def download(fmt: str, t: cat.Table, rows: list[cat.Row], opened: Any) -> Response:
    media, ext, _label = DOWNLOADS[fmt]
    base = request.host_url.rstrip("/") + request.script_root

    def url_for(iri: str) -> str:
        path = pages.local_path(iri)
        return request.host_url.rstrip("/") + path if path else iri

    version = opened.build_id
    accessed = datetime.now(timezone.utc).date()
    if fmt == "csv":
        body: str | bytes = cat.to_csv(t, rows)
    elif fmt in ("jsonld", "ttl"):
        triples = cat.asserted_triples(opened.store, rows)
        rdf_format = ox.RdfFormat.JSON_LD if fmt == "jsonld" else ox.RdfFormat.TURTLE
        written = ox.serialize(triples, format=rdf_format, prefixes=None if fmt == "jsonld" else pages_prefixes())
        assert written is not None  # no output given: the bytes come back
        body = written
    elif fmt == "bibtex":
        body = cat.to_bibtex(t, rows, url_for, version, accessed)
    elif fmt == "ris":
        body = cat.to_ris(t, rows, url_for, version, accessed)
    else:
        body = cat.to_csl_json(t, rows, url_for, version, accessed)
    resp = Response(body, content_type=media)
    resp.headers["Content-Disposition"] = f'attachment; filename="gaistd-documents.{ext}"'
    resp.headers["Link"] = f'<{base}/documents>; rel="collection"'
    return resp


def pages_prefixes() -> dict[str, str]:
    from gaistd_kg.iris import PREFIXES

    wanted = ("gaistd", "gdoc", "gorg", "gjur", "grisk", "gfw", "gstatus", "gsrc", "gevc", "gscope", "dcterms",
              "dcat", "skos", "rdfs", "xsd")
    return {p: PREFIXES[p] for p in wanted if p in PREFIXES}


@bp.get("/changes")
def changes_page() -> Response:
    """What is new, in three lists: documents by date issued, by date taking effect (upcoming ones first), and by
    the day they entered the catalogue; each newest first, at most ``PER_SECTION`` rows."""
    t, _opened = table()
    today = datetime.now(timezone.utc).date().isoformat()
    lang = pages.chosen_lang()
    everything = cat.changes(t, 10 ** 6, today)
    sections: list[dict[str, Any]] = []
    for event, _what in cat.EVENTS:
        rows = [{**e, "href": pages.href_for(e["row"].iri, lang), "identifier": e["row"].identifier,
                 "title": e["row"].title or e["row"].title_original}
                for e in everything if e["event"] == event][:PER_SECTION]
        sections.append({"event": event, "events": rows})
    order = {"issued": 0, "effective": 1, "added": 2}
    sections.sort(key=lambda sec: order[sec["event"]])
    html = render_template("changes.html", sections=sections)
    resp = Response(html, mimetype="text/html")
    resp.headers["Link"] = f'<{request.script_root}/changes.atom>; rel="alternate"; type="application/atom+xml"'
    return resp


PER_SECTION = 60


@bp.get("/changes.atom")
def changes_feed() -> Response:
    from xml.sax.saxutils import escape

    t, opened = table()
    base = request.host_url.rstrip("/") + request.script_root
    today = datetime.now(timezone.utc).date().isoformat()
    events = cat.changes(t, 100, today)
    updated = datetime.fromtimestamp(opened.built_at, timezone.utc).isoformat().replace("+00:00", "Z")
    entries = []
    for e in events:
        r = e["row"]
        link = base + (pages.local_path(r.iri) or "")[len(request.script_root):] if pages.local_path(r.iri) else r.iri
        title = f"{r.identifier + ' ' if r.identifier else ''}{r.title or r.title_original} — {e['what']} {e['date']}"
        date = (e["date"] + "-01-01")[:10] if len(e["date"]) == 4 else (e["date"] + "-01")[:10]  # a year or month: its first day
        entries.append(
            "<entry>"
            f"<id>{escape(r.iri)}#{e['event']}-{escape(e['date'])}</id>"
            f"<title>{escape(title)}</title>"
            f"<link href=\"{escape(link)}\"/>"
            f"<updated>{escape(date)}T00:00:00Z</updated>"
            f"<category term=\"{e['event']}\"/>"
            f"<summary>{escape(r.kind)}{' · ' + escape(e['date']) if e['date'] else ''}</summary>"
            "</entry>")
    feed = ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"
            f"<id>{escape(base)}/changes</id><title>GAISTD-KG: what is new</title>"
            f"<link rel=\"self\" href=\"{escape(base)}/changes.atom\"/><link href=\"{escape(base)}/changes\"/>"
            f"<updated>{updated}</updated><author><name>GAISTD-KG</name></author>" + "".join(entries) + "</feed>\n")
    return Response(feed, content_type="application/atom+xml; charset=utf-8")
