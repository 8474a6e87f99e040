"""Which blueprints make up the app, in one list."""

from __future__ import annotations

import importlib

from flask import Flask

# module name under gaistd_kg.web -> it exposes ``bp`` (a Blueprint) and optionally ``init_app(app)``
MODULES = ("security", "sparql", "update", "pages", "dumps", "ui", "report", "openapi", "browse")


def register(app: Flask) -> None:
    for name in MODULES:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.{name}":
                continue  # that part of the app is not written yet
            raise
        if hasattr(module, "init_app"):
            module.init_app(app)
        app.register_blueprint(module.bp)
