"""The query UI: YASGUI from our own static files (no CDN), pointed at /sparql, preloaded with the competency questions.

``/`` serves it, and so does ``/sparql`` for a browser (the sparql blueprint calls the view ``ui.index``). The page has
no inline script (the CSP forbids it): ``static/js/ui.js`` reads the endpoint and the config URL from data-attributes
and fetches ``/ui/config.json`` for the examples: every ``queries/*.rq`` (folder from ``QUERIES_DIR``), named by the
file's first comment line (in Chinese under ``?lang=zh``, from ``templates/examples/names-zh.json``); when the folder
has none, the examples shipped in ``templates/examples/``. Examples are a menu beside the editor, each opened into one
tab on request (not preloaded as tabs). Results are drawn by ``static/js/ui.js``'s own table: labels, plain values
with the datatype or language on hover, and links to this server's pages for IRIs of ours.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request

from gaistd_kg.iris import PREFIXES, ROOT
from .pages import chosen_lang
from .security import csp

bp = Blueprint("ui", __name__)

BUILTIN_EXAMPLES = Path(__file__).resolve().parent / "templates" / "examples"
NAMES_ZH = BUILTIN_EXAMPLES / "names-zh.json"
# The page's own words (the site chrome is translated in pages.py).
TEXT = {"en": {"examples": "Examples", "choose": "Open an example in the editor", "endpoint": "Endpoint",
               "licence": "YASGUI licence", "table": "Results"},
        "zh": {"examples": "示例查询", "choose": "在编辑器中打开示例", "endpoint": "端点", "licence": "YASGUI 许可",
               "table": "结果"}}


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


def translated(found: list[Example], lang: str) -> list[Example]:
    """The examples named in ``lang`` where a name is known for their file (English otherwise)."""
    if lang != "zh" or not NAMES_ZH.exists():
        return found
    names = json.loads(NAMES_ZH.read_text(encoding="utf-8"))
    return [Example(name=names.get(e.file, e.name), query=e.query, file=e.file) for e in found]


def examples(lang: str = "en") -> list[Example]:
    folder = Path(current_app.config["QUERIES_DIR"])
    found = read_examples(folder) if folder.is_dir() else []
    return translated(found or read_examples(BUILTIN_EXAMPLES), lang)


def endpoint_url() -> str:
    return request.url_root + "sparql"


@bp.get("/")
def index() -> Response:
    lang = chosen_lang()
    config_url = request.script_root + "/ui/config.json" + ("?lang=zh" if lang == "zh" else "")
    html = render_template("ui.html", endpoint=endpoint_url(), config_url=config_url, examples=examples(lang),
                           t=TEXT.get(lang, TEXT["en"]), lang=lang, base_iri=current_app.config["BASE_IRI"],
                           local_root=request.script_root + "/")
    resp = Response(html, mimetype="text/html")
    resp.vary.add("Accept")
    resp.headers["Content-Security-Policy"] = csp(inline_styles=True)
    return resp


@bp.get("/ui/config.json")
def config() -> Response:
    lang = "zh" if request.args.get("lang") == "zh" else "en"
    return jsonify({"endpoint": endpoint_url(), "prefixes": PREFIXES,
                    "examples": [{"name": e.name, "query": e.query, "file": e.file} for e in examples(lang)]})
