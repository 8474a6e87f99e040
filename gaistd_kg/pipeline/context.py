"""The terms context (``gaistd_kg/views/terms.jsonld``) made from the ontology and the datatypes the data uses.

``python -m gaistd_kg.pipeline.context`` rewrites the file after the ontology changes; ``tests/test_context.py``
fails while the file is not what this makes from the shipped ontology and data.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rdflib import Literal

from gaistd_kg.iris import ROOT
from gaistd_kg.views import jsonld
from . import load


def generate(root: Path = ROOT) -> dict:
    inputs = load.find_inputs(root)
    ontology = load.parse_files(inputs.ontology)
    data = load.parse_files(inputs.data)
    datatypes: dict[str, set[str]] = {}
    for _, p, o in data:
        if isinstance(o, Literal):
            dt = o.datatype or (jsonld.LANG_STRING if o.language else jsonld.XSD_NS + "string")
            datatypes.setdefault(str(p), set()).add(str(dt))
    return jsonld.make_terms_context(ontology, datatypes)


def render(ctx: dict) -> str:
    return json.dumps(ctx, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else ROOT
    jsonld.TERMS_FILE.write_text(render(generate(root)), encoding="utf-8")
    print(f"wrote {jsonld.TERMS_FILE.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
