"""The query UI: YASGUI from our own static files (no CDN), pointed at /sparql, preloaded with the competency questions.

``/`` serves it, and so does ``/sparql`` for a browser (the sparql blueprint calls the view ``ui.index``). The page has
no inline script (the CSP forbids it): ``static/js/ui.js`` reads the endpoint and the config URL from data-attributes
and fetches ``/ui/config.json`` for the examples: every ``queries/*.rq`` (folder from ``QUERIES_DIR``), named by the
file's first comment line; when the folder has none, the examples shipped in ``templates/examples/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request

from gaistd_kg.iris import ROOT
from .security import csp

bp = Blueprint("ui", __name__)

BUILTIN_EXAMPLES = Path(__file__).resolve().parent / "templates" / "examples"


@dataclass(frozen=True)
class Example:
    name: str
    query: str
    file: str


def read_examples(folder: Path) -> list[Example]:
    """The ``*.rq`` files of ``folder`` in name order; each is named by its first comment line."""
    out = []
    for path in sorted(Path(folder).glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        name = path.stem
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                name = stripped.lstrip("#").strip() or name
            break
        out.append(Example(name=name, query=text, file=path.name))
    return out


def init_app(app: Flask) -> None:
    app.config.setdefault("QUERIES_DIR", os.environ.get("GAISTD_QUERIES_DIR") or str(ROOT / "queries"))


def examples() -> list[Example]:
    folder = Path(current_app.config["QUERIES_DIR"])
    found = read_examples(folder) if folder.is_dir() else []
    return found or read_examples(BUILTIN_EXAMPLES)


def endpoint_url() -> str:
    return request.url_root + "sparql"


@bp.get("/")
def index() -> Response:
    html = render_template("ui.html", endpoint=endpoint_url(), config_url=request.script_root + "/ui/config.json",
                           examples=examples())
    resp = Response(html, mimetype="text/html")
    resp.vary.add("Accept")
    resp.headers["Content-Security-Policy"] = csp(inline_styles=True)
    return resp


@bp.get("/ui/config.json")
def config() -> Response:
    return jsonify({"endpoint": endpoint_url(),
                    "examples": [{"name": e.name, "query": e.query, "file": e.file} for e in examples()]})
