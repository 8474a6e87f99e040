"""The folder tree is the architecture: every module's imports (inside functions too) are held to the package order
declared in the README's layout section, with no cycle and no import of another module's private names.

The checker reads source with ``ast`` (nothing is imported), so an import hidden inside a function counts as much as
one at the top. ``test_the_checker_finds_a_planted_cycle`` and ``..._a_planted_upward_import`` prove it can fail.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "gaistd_kg"


def declared_layers(readme: Path = REPO / "README.md") -> list[str]:
    """The packages of the README's layout table, top (may use everything below) to bottom; the top-level modules
    of the package come last, as the package name itself."""
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("## Layout"):]
    section = section[section.index("| package | job |"):]
    section = section[:section.index("\n\n")]
    layers = []
    for row in re.finditer(r"^\| `(gaistd_kg/[\w/]*)`(?: \(top-level modules\))? \|", section, re.M):
        path = row.group(1).rstrip("/")
        layers.append(path.replace("/", "."))
    assert layers and layers[-1] == PACKAGE, "the layout table ends with the top-level modules (`gaistd_kg/`)"
    return layers


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(root: Path, package: str = PACKAGE) -> dict[str, dict[str, list[tuple[int, list[str]]]]]:
    """module -> {imported module of ``package`` -> [(line, names imported from it)]}, every import in the file."""
    modules = {module_name(p, root): p for p in (root / package).rglob("*.py")}
    found: dict[str, dict[str, list[tuple[int, list[str]]]]] = {}
    for mod, path in sorted(modules.items()):
        is_pkg = path.name == "__init__.py"
        edges: dict[str, list[tuple[int, list[str]]]] = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == package:
                        edges.setdefault(alias.name, []).append((node.lineno, []))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] != package:
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in modules:  # `from package import module`: an import of that module
                        edges.setdefault(sub, []).append((node.lineno, []))
                    else:
                        edges.setdefault(target, []).append((node.lineno, [alias.name]))
        found[mod] = edges
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first == last), or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {n: WHITE for n in graph}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        colour[n] = GREY
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if colour.get(m, BLACK) == GREY:
                return stack[stack.index(m):] + [m]
            if colour.get(m) == WHITE:
                cycle = visit(m)
                if cycle:
                    return cycle
        stack.pop()
        colour[n] = BLACK
        return None

    for n in sorted(graph):
        if colour[n] == WHITE:
            cycle = visit(n)
            if cycle:
                return cycle
    return None


def layer_of(module: str, layers: list[str]) -> int:
    """Index in ``layers`` of the package a module belongs to (the longest declared prefix)."""
    best = -1
    for i, layer in enumerate(layers):
        if (module == layer or module.startswith(layer + ".")) and (best < 0 or len(layer) > len(layers[best])):
            best = i
    assert best >= 0, f"{module} belongs to no package of the README's layout table"
    return best


def violations(found, layers: list[str]) -> list[str]:
    """Imports against the declared order, and imports of another module's private names."""
    bad = []
    for mod, edges in found.items():
        for target, uses in edges.items():
            if target == mod:
                continue
            mine, theirs = layer_of(mod, layers), layer_of(target, layers)
            for line, names in uses:
                if theirs < mine:
                    bad.append(f"{mod} (line {line}) imports {target}: {layers[mine]} may not use {layers[theirs]}")
                private = [n for n in names if n.startswith("_") and not n.startswith("__")]
                if private:
                    bad.append(f"{mod} (line {line}) imports private {', '.join(private)} from {target}")
    return bad


def unknown_targets(found) -> list[str]:
    """Imports of modules of the package that do not exist (a relative import left behind by a move)."""
    return [f"{mod} (line {line}) imports {target}, which does not exist"
            for mod, edges in found.items() for target, uses in edges.items() if target not in found
            for line, _ in uses]


def graph_of(found) -> dict[str, set[str]]:
    return {mod: {t for t in edges if t != mod and t in found} for mod, edges in found.items()}


def test_no_import_cycle():
    """No module imports itself through others, counting imports inside functions."""
    cycle = find_cycle(graph_of(imports(REPO)))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_imports_follow_the_declared_package_order():
    """A package uses only those listed after it in the README's layout table; no private names cross modules."""
    bad = violations(imports(REPO), declared_layers())
    assert not bad, "\n".join(bad)


def test_every_import_of_the_package_names_a_module_that_exists():
    """No import (inside a function or not) names a module of gaistd_kg that is not there."""
    bad = unknown_targets(imports(REPO))
    assert not bad, "\n".join(bad)


def test_every_package_is_declared():
    """Every sub-package of gaistd_kg has a row in the layout table (a new package must say where it sits)."""
    layers = declared_layers()
    packages = {module_name(p.parent / "__init__.py", REPO) for p in (REPO / PACKAGE).rglob("__init__.py")}
    assert packages <= set(layers), sorted(packages - set(layers))


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_checker_finds_a_planted_cycle(tmp_path):
    """Two modules that import each other, one of them inside a function, are reported as a cycle."""
    root = _plant(tmp_path, {
        "__init__.py": "",
        "pipeline/__init__.py": "",
        "pipeline/a.py": "from .b import thing\n",
        "pipeline/b.py": "def thing():\n    from gaistd_kg.pipeline import a\n    return a\n",
    })
    cycle = find_cycle(graph_of(imports(root)))
    assert cycle is not None and set(cycle) == {"gaistd_kg.pipeline.a", "gaistd_kg.pipeline.b"}


def test_the_checker_finds_a_planted_upward_import_and_private_name(tmp_path):
    """The pipeline importing the web app, and a module importing another's private name, are both reported."""
    root = _plant(tmp_path, {
        "__init__.py": "",
        "web/__init__.py": "",
        "web/app.py": "X = 1\n",
        "pipeline/__init__.py": "",
        "pipeline/a.py": "def f():\n    from gaistd_kg.web.app import X\n    return X\n",
        "pipeline/b.py": "from .a import _hidden\n",
    })
    bad = violations(imports(root), declared_layers())
    assert any("gaistd_kg.pipeline.a" in b and "may not use gaistd_kg.web" in b for b in bad), bad
    assert any("private _hidden" in b for b in bad), bad


@pytest.mark.parametrize("layer", declared_layers())
def test_each_declared_package_exists(layer):
    """Every row of the layout table names a package that exists."""
    assert (REPO / layer.replace(".", "/") / "__init__.py").exists(), layer
