"""Staging folders (``stores/.<build>.<pid>.tmp``) left by a build or a write killed before its rename are removed
at server start-up and before each write, unless a live process holds the build lock (its folder is in use); the
served store is untouched (issue 15, finding 6: 54 SIGKILLs during writes left 14 of them).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import fixture_graphs, http_call, make_build
from gaistd_kg.pipeline.steps import lock
from gaistd_kg.store import open_store
from gaistd_kg.web import create_app

TOKEN = "tok-staging-5e4d3c2b1a09"


def plant(build_dir: Path, names=(".fixture-0002.4242.tmp", ".a1b2c3d4e5f6a7b8c9d0.99999.tmp")) -> list[Path]:
    """Staging folders as a killed build or write leaves them: a half-written Oxigraph folder, no manifest."""
    planted = []
    for name in names:
        folder = build_dir / "stores" / name / "oxigraph"
        folder.mkdir(parents=True)
        (folder / "000001.log").write_bytes(b"\0" * 4096)
        planted.append(folder.parent)
    return planted


def served(build_dir: Path) -> tuple[str, dict, int]:
    """The current build's id, its triple counts, and the quads its store holds."""
    opened = open_store(build_dir)
    manifest = json.loads((build_dir / "current" / "manifest.json").read_text())
    return manifest["build_id"], manifest["triples"], len(opened.store)


@pytest.fixture
def build_dir(tmp_path) -> Path:
    return make_build(tmp_path / "build", fixture_graphs())


def test_app_start_removes_stale_staging(build_dir):
    """create_app (each gunicorn worker's start) removes what killed processes left; the served store is as it was."""
    before = served(build_dir)
    planted = plant(build_dir)
    create_app({"BUILD_DIR": str(build_dir)})
    assert not any(p.exists() for p in planted)
    assert served(build_dir) == before and (build_dir / "current").resolve().is_dir()


def test_staging_of_a_live_lock_holder_is_kept(build_dir):
    """While a build or a write holds the lock, its staging folder is in use: start-up leaves every one alone."""
    planted = plant(build_dir)
    with lock(build_dir):
        create_app({"BUILD_DIR": str(build_dir)})
        assert all(p.is_dir() for p in planted)
    create_app({"BUILD_DIR": str(build_dir)})
    assert not any(p.exists() for p in planted)


def test_app_start_creates_no_build_folder(tmp_path):
    """An app on a build folder that does not exist yet leaves it so (the cleaning takes no lock there)."""
    create_app({"BUILD_DIR": str(tmp_path / "nothing-here")})
    assert not (tmp_path / "nothing-here").exists()


@pytest.mark.server
def test_server_start_and_each_write_remove_stale_staging(build_dir, tmp_path, live_server_factory):
    """The real server: folders planted before it starts are gone once it answers; folders planted while it runs
    are gone after the next accepted write; the write is served, and nothing else of the store changed."""
    planted = plant(build_dir)
    empty = tmp_path / "no-shapes"
    empty.mkdir()
    server = live_server_factory(build_dir, config={"UPDATES_ENABLED": "true", "UPDATE_TOKENS": {"t": TOKEN},
                                                    "SHAPES_DIR": str(empty), "CHECKS_DIR": str(empty)})
    assert not any(p.exists() for p in planted)
    _, counts, _ = served(build_dir)
    planted = plant(build_dir, names=(".fixture-0003.31337.tmp",))
    status, _, body = http_call(server.url, "POST", "/sparql/update",
                                'INSERT DATA { <http://example.org/a> <http://example.org/b> "staging" }',
                                {"Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"})
    assert status == 200, body
    assert not any(p.exists() for p in planted)
    _, after, _ = served(build_dir)
    assert after["data"] == counts["data"] + 1 and after["ontology"] == counts["ontology"]
    assert not list((build_dir / "stores").glob(".*.tmp"))
