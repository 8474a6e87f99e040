"""The Flask app: SPARQL endpoint, linked-data pages, dumps, dataset description, report and query UI.

``create_app(config)`` takes its settings from the mapping it is given (tests pass fixture stores this way), then from
``GAISTD_*`` environment variables, then from the defaults below. Nothing here holds a module-level store.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from gaistd_kg.iris import ROOT
from gaistd_kg.store import DEFAULT_BUILD_DIR

DEFAULTS: dict[str, Any] = {
    "BUILD_DIR": str(DEFAULT_BUILD_DIR),   # the store served is <BUILD_DIR>/current
    "BASE_IRI": "https://w3id.org/gaistd/",  # mapped to this server's host, so our IRIs dereference here
    "QUERY_TIMEOUT": 10.0,                 # seconds; enforced by killing the worker that runs the query
    "ROW_LIMIT": 10000,                    # rows (or triples) per answer; a capped answer says so
    "QUERY_WORKERS": 3,                    # query processes per app process (one is kept for light queries)
    "QUERY_HEAVY_SLOTS": 0,                # queries past 0.25 s at once per app process; 0: QUERY_WORKERS - 1
    "QUERY_CLIENT_HEAVY": 0,               # heavy slots one client may hold per app process; 0: HEAVY_SLOTS - 1
    "QUERY_QUEUE": 0,                      # requests waiting per app process; 0: 2 * QUERY_WORKERS; 503 past it
    "QUERY_MEMORY_LIMIT": 1024,            # MiB of data memory per query process (RLIMIT_DATA); 0: no limit
    "MAX_CONTENT_LENGTH": 1 << 20,         # bytes in a request body; more is refused with 413
    "QUERY_MAX_BYTES": 256 << 10,          # bytes of query text; longer is refused (400) before it is read
    "UPDATES_ENABLED": False,              # SPARQL Update (/sparql/update) and Graph Store writes (/rdf-graph-store)
    "UPDATE_TOKENS": {},                   # name -> bearer token, when updates are enabled (env: "name=token …")
    "UPDATE_ADMINS": [],                   # token names that may empty graphs whole (DROP/CLEAR ALL, NAMED, DEFAULT)
    "WRITABLE_GRAPHS": [],                 # graphs writable besides graph/data; ["*"]: any graph not read-only
    "SHAPES_DIR": "",                      # SHACL shapes every write must satisfy; "": <repo>/shapes
    "CHECKS_DIR": "",                      # duplicate checks every write must pass; "": <repo>/queries/checks
    "WRITE_LOCK_WAIT": 30.0,               # seconds a write waits for another write or a build
    "WRITE_TIMEOUT": 50.0,                 # seconds for a write (change, validation, reasoning in its own process); 503
    "WRITE_MEMORY_LIMIT": 2048,            # MiB of data memory, validation and reasoning (RLIMIT_DATA); 503; 0: none
    "SERVICE_ALLOWLIST": [],               # SERVICE endpoints an operator allows; empty: SERVICE is refused
    "SERVICE_TIMEOUT": 5.0,                # seconds for a query that calls an allowed SERVICE endpoint
    "MAX_CONCURRENT_PER_CLIENT": 4,        # requests to /sparql and the write endpoints at once per client; 429 past
    "TRUSTED_PROXIES": [],                 # addresses/networks whose X-Forwarded-For is believed; empty: none
    "RUN_DIR": "",                         # per-client request slots (lock files); "": <BUILD_DIR>/run
    "STORE_URL": "",                       # answer /sparql from this remote SPARQL endpoint (see `gaistd push`)
    "STORE_USER": "",                      # HTTP credentials for STORE_URL, if it needs them
    "STORE_PASSWORD": "",
    "RESULT_CACHE_BYTES": 64 << 20,        # answers kept per process for the served build; 0: no result cache
    "CACHE_DIR": "",                       # generated dumps and ontology docs; "": <BUILD_DIR>/cache
    "QUERIES_DIR": str(ROOT / "queries"),  # examples offered in the UI (the data root's queries/)
}


def _from_env() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        raw = os.environ.get(f"GAISTD_{key}")
        if raw is None:
            continue
        if isinstance(default, bool):
            out[key] = raw.lower() in ("1", "true", "yes", "on")
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            out[key] = type(default)(raw)
        elif isinstance(default, list):
            out[key] = [x for x in raw.split() if x]
        elif isinstance(default, dict):
            out[key] = dict(item.split("=", 1) for item in raw.split() if "=" in item)
        else:
            out[key] = raw
    return out


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(_from_env())
    if config:
        app.config.update(config)
    app.config["BUILD_DIR"] = str(Path(app.config["BUILD_DIR"]))
    from gaistd_kg.pipeline.steps import remove_stale_staging

    remove_stale_staging(Path(app.config["BUILD_DIR"]))  # what a killed write or build left beside the stores

    from . import blueprints

    blueprints.register(app)
    app.extensions["gaistd.warm"] = partial(_warm, app)  # serving.install runs it in each worker before it serves
    return app


def _warm(app: Flask) -> None:
    from . import pages

    with app.app_context():
        pages.warm()
