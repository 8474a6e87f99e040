"""Search: ``/search?q=`` over identifiers, titles and labels in every language, organisation names and
descriptions, answered from the build's search index (``gaistd_kg.search``), as HTML or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from gaistd_kg.views import search as search_mod
from . import pages

bp = Blueprint("browse", __name__)

PAGE_SIZE = 20
FILTERS = ("kind", "jurisdiction", "status")


def index_file() -> Path:
    """The search index of the served build: written by the build beside the store; for a store built before the
    index existed, made once per build in the cache (from the store, never from the input files)."""
    opened = pages.current_store()
    built = search_mod.index_path(opened.path)
    if built.is_file():
        return built
    if current_app.config.get("STORE_URL"):
        abort(503, description="search needs the embedded store's index; it is not available with STORE_URL")
    cached = pages.cache_dir(opened) / search_mod.INDEX_FILE
    if not cached.is_file():
        tmp = cached.with_name(f".{cached.name}.tmp")
        search_mod.build_index(opened.store, tmp)
        tmp.replace(cached)
    return cached


def wants_json() -> bool:
    if request.args.get("format") == "json":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@bp.get("/search")
def search() -> Response:
    """Search results (HTML or JSON by ``Accept`` or ``format=json``), kept per process and build (``pages.kept``)."""
    return pages.kept("gaistd.search_answers", compute=_search)


def _search() -> Response:
    q = request.args.get("q", "").strip()
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    filters = {k: request.args.get(k, "") for k in FILTERS if request.args.get(k)}
    answer = search_mod.search(index_file(), q, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                               filters=filters) if q else search_mod.Answer(query="", hits=[], total=0)
    lang = pages.chosen_lang()
    if wants_json():
        resp = jsonify({
            "query": q, "total": answer.total, "page": page, "pageSize": PAGE_SIZE, "fuzzy": answer.fuzzy,
            "filters": filters,
            "results": [{**h.as_json(), "page": pages.href_for(h.iri)} for h in answer.hits],
            "facets": {k: [{"value": v, "label": lab, "count": n} for v, lab, n in rows]
                       for k, rows in answer.facets.items()},
        })
        resp.vary.add("Accept")
        return resp
    hits = [{**h.as_json(), "href": pages.href_for(h.iri, lang)} for h in answer.hits]
    facets = []
    for key in FILTERS:
        values = []
        for value, label, n in answer.facets.get(key, []):
            args: dict[str, Any] = {"q": q, **filters, key: value}
            if filters.get(key) == value:
                args.pop(key)
            values.append({"label": label or value, "count": n, "href": "?" + urlencode(args),
                           "active": filters.get(key) == value})
        facets.append({"key": key, "values": values})
    pages_total = (answer.total + PAGE_SIZE - 1) // PAGE_SIZE
    nav = {"prev": "?" + urlencode({"q": q, **filters, "page": page - 1}) if page > 1 else None,
           "next": "?" + urlencode({"q": q, **filters, "page": page + 1}) if page < pages_total else None}
    resp = Response(render_template("search.html", q=q, answer=answer, hits=hits, facets=facets, page=page,
                                    pages_total=pages_total, nav=nav, filters=filters),
                    mimetype="text/html")
    resp.vary.add("Accept")
    return resp
