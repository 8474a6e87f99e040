"""The README says what is true: .ci/run runs exactly the README's test command."""

from __future__ import annotations

import re

from conftest import REPO


def test_ci_runs_the_readmes_test_command():
    """The command under "Run the linter and the whole test suite" is the last command of .ci/run, verbatim."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    command = re.search(r"Run the linter and the whole test suite:\n\n```sh\n(.+)\n```", readme).group(1)
    ci = [line for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
          if line.strip() and not line.startswith("#")]
    assert ci[-1] == command
