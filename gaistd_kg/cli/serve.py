"""``gaistd serve``: the app under gunicorn, in this process, with production settings.

The same server as ``gunicorn server:app`` (the README's production command), started from the command line: a
master process and ``workers`` forked workers of the ``gthread`` class, each building its own app (no app in the
master, so no store or query worker is shared across a fork), access log on stderr. Flask's development server is
only behind ``gaistd serve --dev``.
"""

from __future__ import annotations

import os
from typing import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication


def default_workers() -> int:
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


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


def options(host: str, port: int, workers: int | None = None, threads: int = 4) -> dict:
    """gunicorn's settings for serving: what ``gaistd serve`` runs with."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers or default_workers(),
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 60,            # a worker silent this long is restarted (queries have their own 10 s deadline)
        "graceful_timeout": 20,
        "keepalive": 5,
        # SPARQL clients send long queries by GET (a 9 kB query is a 12 kB request line). gunicorn caps any value
        # above 8190 at 8190; only 0 (no limit) admits more: the reverse proxy in front bounds the line instead.
        "limit_request_line": 0,
        "accesslog": "-",
        "errorlog": "-",
        "preload_app": False,
        "proc_name": "gaistd-serve",
    }


def serve(factory: Callable[[], Flask], host: str, port: int, workers: int | None = None, threads: int = 4) -> int:
    Server(factory, options(host, port, workers, threads)).run()
    return 0
