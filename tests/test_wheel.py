"""The package installs as a wheel and works outside the checkout: built, installed into a fresh virtual environment in
a temporary folder, it builds the graph from an explicit data root and answers a query; without a data root it fails
saying which setting to give, instead of running without the ontology, shapes or checks.

Nothing is downloaded: the wheel is built without build isolation and installed with ``--no-index --no-deps``; its
dependencies are the ones this test run already has (the fresh environment sees them through a ``.pth`` file).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("wheel")
    dist = work / "dist"
    out = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                "-w", str(dist), str(REPO)], cwd=work)
    assert out.returncode == 0, out.stderr
    wheel = next(dist.glob("gaistd_kg-*.whl"))
    venv = work / "venv"
    out = _run([sys.executable, "-m", "venv", str(venv)], cwd=work)
    assert out.returncode == 0, out.stderr
    py = venv / "bin" / "python"
    out = _run([str(py), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)], cwd=work)
    assert out.returncode == 0, out.stderr
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=work)
                .stdout.strip())
    (site / "zz-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAISTD_") and k != "PYTHONPATH"}
    return {"work": work, "py": py, "gaistd": venv / "bin" / "gaistd", "site": site, "env": env}


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    """``import gaistd_kg`` in the fresh environment loads the installed copy."""
    out = _run([str(installed["py"]), "-c", "import gaistd_kg.web, gaistd_kg; print(gaistd_kg.__file__)"],
               cwd=installed["work"], env=installed["env"])
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(installed["site"])


def test_the_installed_command_builds_and_queries_from_an_explicit_data_root(installed):
    """``GAISTD_ROOT`` names the folder with ontology/, shapes/, data/, queries/: the wheel builds and queries."""
    env = {**installed["env"], "GAISTD_ROOT": str(REPO)}
    build_dir = installed["work"] / "build"
    out = _run([str(installed["gaistd"]), "--build-dir", str(build_dir), "build"], cwd=installed["work"], env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    out = _run([str(installed["gaistd"]), "--build-dir", str(build_dir), "query", "-f", "json",
                "SELECT (COUNT(*) AS ?n) WHERE { ?d a gaistd:NormativeDocument }"], cwd=installed["work"], env=env)
    assert out.returncode == 0, out.stderr
    n = int(json.loads(out.stdout)["results"]["bindings"][0]["n"]["value"])
    assert n > 50


def test_without_a_data_root_the_installed_command_fails_naming_the_setting(installed):
    """Installed, with no GAISTD_ROOT and no --root, ``gaistd validate`` stops with exit 2 naming GAISTD_ROOT; it
    never validates without the shapes and checks."""
    out = _run([str(installed["gaistd"]), "--build-dir", str(installed["work"] / "b2"), "validate"],
               cwd=installed["work"], env=installed["env"])
    assert out.returncode == 2, out.stdout + out.stderr
    assert "GAISTD_ROOT" in out.stderr
