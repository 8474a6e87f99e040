"""How long reading a query's text takes (``gaistd_kg.query.sparqltext.inspect``), for the texts that once made it
backtrack, at growing sizes: CPU seconds (least of ``--repeat``) and the ratio to the size a quarter as long.

    .venv/bin/python bench/textread.py [--sizes 16384,65536,262144] [--reference OLD_sparqltext.py]

``--reference`` times another version of the module as well (for example the one before the linear reading:
``git show 92567c9:gaistd_kg/query/sparqltext.py > /tmp/old.py``), on sizes up to ``--reference-max`` only:
a quadratic reading of 256 KiB takes minutes. A linear reading shows a ratio near 4 between sizes 4 apart.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from record import md_table, say, write_results  # noqa: E402

ATTACKS = {
    "unterminated string of escaped quotes": lambda n: 'SELECT * WHERE { BIND("' + '\\"' * (n // 2),
    "unterminated long string": lambda n: "SELECT * WHERE { BIND(" + '\\"""' * (n // 4),
    "name run without a colon": lambda n: "SELECT * WHERE { FILTER(" + "a-" * (n // 2) + ") }",
    "IRI openings": lambda n: "SELECT * WHERE { FILTER(?a" + "<a\\" * (n // 3) + ") }",
    "ordinary triple patterns": lambda n: "PREFIX ex: <http://e/> SELECT * WHERE { "
                                          + '?s ex:p "x" . ' * (n // 16) + "}",
}


def load(path: Path | None):
    if path is None:
        from gaistd_kg.query import sparqltext

        return sparqltext
    spec = importlib.util.spec_from_file_location("reference_sparqltext", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def cpu(module, text: str, repeat: int) -> float:
    best = float("inf")
    for i in range(repeat):
        variant = f"{text} #{i}"  # a text of its own each time: never answered from the cache of readings
        t = time.process_time()
        module.inspect(variant)
        best = min(best, time.process_time() - t)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="16384,65536,262144", help="text sizes in characters, comma-separated")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reference", type=Path, help="another sparqltext.py to time beside this one")
    ap.add_argument("--reference-max", type=int, default=32768, help="largest size the reference reads")
    ap.add_argument("--results-dir", type=Path)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    versions = {"current": load(None)}
    if args.reference:
        versions["reference"] = load(args.reference)
    rows, data = [], []
    for name, make in ATTACKS.items():
        for version, module in versions.items():
            previous = None
            for n in sizes:
                if version == "reference" and n > args.reference_max:
                    continue
                seconds = cpu(module, make(n), args.repeat)
                ratio = seconds / previous[1] if previous and previous[1] > 0 else None
                ratio = ratio if previous and n == 4 * previous[0] else None
                say(f"{name}, {version}, {n}: {seconds:.4f} s")
                rows.append((name, version, n, seconds, ratio))
                data.append({"text": name, "version": version, "chars": n, "cpu_seconds": seconds,
                             "ratio_to_quarter_size": ratio})
                previous = (n, seconds)
    markdown = ("CPU seconds to read each text once (least of %d), and the ratio to the text a quarter as long "
                "(4 for a linear reading, 16 for a quadratic one).\n\n" % args.repeat
                + md_table(["text", "version", "characters", "CPU s", "ratio to n/4"], rows))
    write_results("textread", {"rows": data}, markdown, results_dir=args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
