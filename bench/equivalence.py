"""The two equivalences the test suite proves on small graphs, here at 10× the shipped data (minutes, not seconds).

    .venv/bin/python bench/equivalence.py [--factor 10] [--only reasoners|builds] [--work DIR]

* **reasoners**: the fast reasoner infers owlrl's graph triple for triple on ``--factor`` copies of the catalogue
  (tests/test_fastreason.py, at 2× in the suite; owlrl alone takes 4–8 minutes at 10×);
* **builds**: the streaming build gives the in-memory build's store on bench/generate.py's ``--factor`` graph
  (tests/test_streambuild.py, at 2× in the suite).

Each runs the test module's own assertion (imported from tests/, not copied), so the suite and this script cannot
drift apart. Exit 0 when both hold, 1 with the assertion's message when one does not. Writes nothing under
bench/results/: it proves, it does not measure (the time of each part is printed).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))


def reasoners(factor: int, work: Path) -> None:
    from gaistd_kg.pipeline.load import find_inputs, load
    from test_fastreason import fast_equals_owlrl_on_a_replicated_graph

    shipped = load(find_inputs())
    fast_equals_owlrl_on_a_replicated_graph(shipped.ontology, shipped.data, factor)


def builds(factor: int, work: Path) -> None:
    from test_streambuild import assert_same_builds

    out = work / f"x{factor}"
    gen = subprocess.run([sys.executable, str(REPO / "bench" / "generate.py"), "--factor", str(factor), "--out",
                          str(out)], capture_output=True, text=True)
    assert gen.returncode == 0, gen.stderr
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same_builds(out, work, monkeypatch)


CHECKS = {"reasoners": reasoners, "builds": builds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factor", type=int, default=10, help="N: the graphs hold N× the shipped data (default 10)")
    parser.add_argument("--only", choices=sorted(CHECKS), help="run one of the two (default: both)")
    parser.add_argument("--work", type=Path, help="folder for the generated project and both builds (default: a "
                        "temporary folder, removed afterwards)")
    args = parser.parse_args(argv)
    failed = []
    with tempfile.TemporaryDirectory(prefix="gaistd-equivalence-") as tmp:
        work = args.work or Path(tmp)
        for name, check in CHECKS.items():
            if args.only and name != args.only:
                continue
            start = time.perf_counter()
            try:
                check(args.factor, work / name)
            except (AssertionError, pytest.fail.Exception) as exc:
                failed.append(name)
                print(f"{name} at {args.factor}×: FAILED after {time.perf_counter() - start:.0f} s\n{exc}",
                      file=sys.stderr)
            else:
                print(f"{name} at {args.factor}×: equal ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
