"""Which blueprints make up the app, in one list, imported explicitly (an import error is an error)."""

from __future__ import annotations

from flask import Flask

from . import browse, catalogue, dumps, linked, openapi, pages, report, security, sparql, ui, update

# each exposes ``bp`` (a Blueprint) and optionally ``init_app(app)``; security first: its hooks wrap every response
MODULES = (security, sparql, update, pages, dumps, linked, ui, report, openapi, browse, catalogue)


def register(app: Flask) -> None:
    for module in MODULES:
        if hasattr(module, "init_app"):
            module.init_app(app)
        app.register_blueprint(module.bp)
