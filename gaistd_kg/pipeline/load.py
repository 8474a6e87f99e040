"""Input files → rdflib graphs. The only module that reads the project's input files.

A malformed file raises :class:`LoadError` naming the file and the line, so a contributor can go straight there.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from rdflib import Graph, URIRef
from rdflib.exceptions import ParserError

from gaistd_kg.formats import INPUT_SUFFIXES
from gaistd_kg.iris import ROOT, bind_prefixes

FORMATS = {suffix: f.rdflib for suffix, f in INPUT_SUFFIXES.items()}  # rdflib's parser by suffix, from the one table
# Code whose change alters what a build produces: a change to it invalidates the cache like a data change does.
PIPELINE_MODULES = ("pipeline/load.py", "pipeline/validate.py", "pipeline/checks.py", "pipeline/sparqlshapes.py",
                    "pipeline/reason.py", "pipeline/fastreason.py", "pipeline/build.py", "store.py", "iris.py",
                    "pipeline/chunkshacl.py", "pipeline/streambuild.py", "pipeline/run.py", "pipeline/steps.py")


class LoadError(ValueError):
    """An input file could not be read or parsed; ``str()`` is ``<file>:<line>: <what is wrong>``."""

    def __init__(self, path: Path, line: int | None, message: str):
        self.path, self.line, self.message = path, line, message
        where = f"{display(path)}:{line}" if line else display(path)
        super().__init__(f"{where}: {message}")


@dataclass
class Inputs:
    """The files a build reads, by role, each list sorted so the build does not depend on directory order."""

    root: Path
    ontology: list[Path] = field(default_factory=list)
    shapes: list[Path] = field(default_factory=list)
    data: list[Path] = field(default_factory=list)
    checks: list[Path] = field(default_factory=list)
    checks_at: Path | None = None  # the checks' folder when it is not <root>/queries/checks (a server's CHECKS_DIR)

    def all(self) -> list[Path]:
        return [*self.ontology, *self.shapes, *self.data, *self.checks]

    @property
    def checks_dir(self) -> Path:
        """The folder of the query-based checks (``queries/checks``)."""
        return self.checks_at if self.checks_at is not None else checks_folder(self.root)


def display(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _rdf_files(folder: Path) -> list[Path]:
    if not folder.exists():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in FORMATS)


def checks_folder(root: Path) -> Path:
    return Path(root) / "queries" / "checks"


def shape_files(folder: Path) -> list[Path]:
    """The SHACL shape files of a folder, in every RDF format the build reads (the build and writes alike)."""
    return _rdf_files(Path(folder))


def find_inputs(root: Path = ROOT) -> Inputs:
    """The one way every path through the pipeline finds its input files under ``root``; a root without ontology/ or
    shapes/ is refused (an installed package has no data root next to it: GAISTD_ROOT or --root names one)."""
    root = Path(root)
    for part in ("ontology", "shapes"):
        if not (root / part).is_dir():
            raise LoadError(root / part, None, "not found: the data root must hold ontology/, shapes/, data/ and "
                                               "queries/; set GAISTD_ROOT (or --root) to the project folder")
    return Inputs(
        root=root,
        ontology=_rdf_files(root / "ontology"),
        shapes=shape_files(root / "shapes"),
        data=_rdf_files(root / "data"),
        checks=sorted(checks_folder(root).glob("*-violation.rq")),
    )


def write_inputs(shapes_dir: Path, checks_dir: Path) -> Inputs:
    """What a write is validated against: the shapes and the checks of these folders (a server's SHAPES_DIR and
    CHECKS_DIR, by default the data root's ``shapes/`` and ``queries/checks/``), found as a build finds them. A
    missing shapes folder is refused: a write is never accepted without the shapes it was meant to meet."""
    shapes_dir, checks_dir = Path(shapes_dir), Path(checks_dir)
    if not shapes_dir.is_dir():
        raise FileNotFoundError(f"SHAPES_DIR {shapes_dir} is not a folder: writes are validated against its shapes "
                                "(set GAISTD_SHAPES_DIR or GAISTD_ROOT)")
    return Inputs(root=shapes_dir.parent, shapes=shape_files(shapes_dir),
                  checks=sorted(checks_dir.glob("*-violation.rq")), checks_at=checks_dir)


def digest(paths: Iterable[Path], root: Path, extra: Iterable[Path] = ()) -> str:
    """A content digest of the inputs (and the pipeline code): equal digests mean an equal build."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(Path(p).resolve().relative_to(Path(root).resolve())).encode())
        h.update(b"\0")
        h.update(Path(p).read_bytes())
        h.update(b"\0")
    code = Path(__file__).resolve().parent.parent
    for name in PIPELINE_MODULES:
        h.update(name.encode())
        h.update((code / name).read_bytes())
    for p in sorted(extra):
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:20]


_LINE = re.compile(r"(?:at )?line (\d+)", re.I)


def parse_file(path: Path, into: Graph | None = None) -> Graph:
    """Parse one RDF file; on a syntax error raise LoadError with its file and line."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix)
    if fmt is None:
        raise LoadError(path, None, f"unknown RDF file type {path.suffix!r} (expected one of {', '.join(FORMATS)})")
    g = into if into is not None else Graph()
    try:
        text = path.read_bytes()
        text.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = text[: exc.start].count(b"\n") + 1
        raise LoadError(path, line, f"not valid UTF-8 ({exc.reason})") from None
    except OSError as exc:
        raise LoadError(path, None, f"cannot read: {exc.strerror}") from None
    try:
        g.parse(data=text, format=fmt, publicID=path.resolve().as_uri())
    except (SyntaxError, ParserError, ValueError, Exception) as exc:  # rdflib's parsers raise many types
        raise _syntax_error(path, exc) from None
    return g


def _syntax_error(path: Path, exc: Exception) -> LoadError:
    lines = getattr(exc, "lines", None)
    message = getattr(exc, "_why", None) or str(exc)
    line: int | None
    if isinstance(lines, int):
        line = lines + 1
    else:
        m = _LINE.search(str(exc))
        line = int(m.group(1)) if m else None
    message = " ".join(str(message).split())
    if len(message) > 300:
        message = message[:300] + "…"
    return LoadError(path, line, f"syntax error: {message}")


def parse_files(paths: Iterable[Path]) -> Graph:
    g = bind_prefixes(Graph())
    for p in paths:
        parse_file(p, into=g)
    return g


@dataclass
class Loaded:
    ontology: Graph
    shapes: Graph
    data: Graph
    subject_files: dict[URIRef, list[Path]]


def load(inputs: Inputs) -> Loaded:
    """Parse every input. Data files are parsed one by one so each subject can be traced to its file(s)."""
    data = bind_prefixes(Graph())
    where: dict[URIRef, list[Path]] = {}
    for p in inputs.data:
        part = parse_file(p)
        for s in set(part.subjects()):
            if isinstance(s, URIRef):
                where.setdefault(s, []).append(p)
        data += part
    return Loaded(
        ontology=parse_files(inputs.ontology),
        shapes=parse_files(inputs.shapes),
        data=data,
        subject_files=where,
    )


def locate(subject: URIRef, files: Iterable[Path], prefixes: dict[str, str]) -> tuple[Path, int] | None:
    """The file and line where a subject's block starts, for error messages."""
    needles = [f"<{subject}>"]
    for prefix, ns in prefixes.items():
        if str(subject).startswith(ns):
            needles.append(f"{prefix}:{str(subject)[len(ns):]}")
    for path in files:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.strip()
            if any(stripped == n or stripped.startswith(n + " ") or stripped.startswith(n + "\t") for n in needles):
                return Path(path), number
    return None
