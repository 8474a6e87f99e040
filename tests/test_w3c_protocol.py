"""The W3C SPARQL 1.1 Protocol test suite, replayed against the real server process (gunicorn on loopback).

One pytest test per manifest entry. Every query test must pass as the manifest says. Update tests: updates are
disabled here, so a test that expects an update to succeed passes when the server refuses it with 403 (reported as
"refused: updates disabled"); the bad_update_* tests expect 4XX and get it. A later issue runs them against an
update-enabled server. The summary table is printed at the end of the run (conftest.py, pytest_terminal_summary).
"""

from __future__ import annotations

import pytest

import w3c_runner
from conftest import W3C_DIR, make_build, require_w3c

PROTOCOL = W3C_DIR / "protocol"
MANIFEST = require_w3c(PROTOCOL / "manifest.ttl", module_level=True)

TESTS = w3c_runner.load_manifest(MANIFEST)

pytestmark = pytest.mark.server

# The status /sparql gives each bad_update_* request while updates are disabled: the protocol error where there is one
# (400 method or encoding, 415 media type), else the refusal (403: the update text is not even parsed).
BAD_UPDATE_STATUS = {
    "bad_update_get": 400, "bad_multiple_updates": 400, "bad_update_wrong_media_type": 415,
    "bad_update_missing_form_type": 415, "bad_update_non_utf8": 400, "bad_update_syntax": 403,
    "bad_update_dataset_conflict": 403,
}


@pytest.fixture(scope="module")
def w3c_server(tmp_path_factory, live_server_factory):
    build = make_build(tmp_path_factory.mktemp("w3c-build"), w3c_runner.graph_files(TESTS, PROTOCOL),
                       build_id="w3c-protocol")
    return live_server_factory(build, config={"QUERY_WORKERS": 2, "QUERY_TIMEOUT": 10})


def test_manifest_holds_the_34_protocol_tests():
    """The runner reads every entry of the manifest (a reader that skips entries would pass vacuously)."""
    assert len(TESTS) == 34
    assert sum(t.is_update for t in TESTS) == 14 and set(BAD_UPDATE_STATUS) <= {t.id for t in TESTS}
    assert all(t.requests and all(r.statuses for r in t.requests) for t in TESTS)


@pytest.mark.parametrize("test", TESTS, ids=[t.id for t in TESTS])
def test_w3c_protocol(test, w3c_server):
    """Replay the entry's requests; status, result format and boolean must be as the manifest expects."""
    outcome = w3c_runner.run_test(test, w3c_server.url)
    w3c_runner.RESULTS.append(outcome)
    assert outcome.passed, "\n".join(outcome.details)
    if test.is_update and test.expects_success:  # updates disabled: our refusal, not the manifest's 2XX
        assert outcome.statuses == [w3c_runner.UPDATE_REFUSAL]
    elif test.is_update:
        assert outcome.statuses == [BAD_UPDATE_STATUS[test.id]]
