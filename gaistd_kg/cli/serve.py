"""``gaistd serve``: the app under gunicorn, in this process, with production settings.

The same server as the README's production command (``gunicorn -c python:gaistd_kg.web.gunicorn_conf server:app``),
started from the command line, with the same settings (``gaistd_kg.web.serving``): a master process and ``workers``
forked workers of the ``gthread`` class, each building its own app (no app in the master, so no store or query
worker is shared across a fork), read deadlines on every connection, access log on stderr. Flask's development
server is only behind ``gaistd serve --dev``.
"""

from __future__ import annotations

from typing import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication

from gaistd_kg.web.serving import THREADS, default_workers, settings

__all__ = ["THREADS", "Server", "default_workers", "options", "serve"]


class Server(BaseApplication):
    def __init__(self, factory: Callable[[], Flask], options: dict):
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.factory()


def options(host: str, port: int, workers: int | None = None, threads: int | None = None) -> dict:
    """gunicorn's settings for serving: what ``gaistd serve`` runs with (``serving.settings`` and the address)."""
    return {"bind": f"{host}:{port}", **settings(workers, threads)}


def serve(factory: Callable[[], Flask], host: str, port: int, workers: int | None = None,
          threads: int | None = None) -> int:
    Server(factory, options(host, port, workers, threads)).run()
    return 0
