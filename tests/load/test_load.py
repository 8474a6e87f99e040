"""Under load: the competency questions keep being answered while other clients send pathological queries.

The real server (gunicorn, one HTTP worker process with threads, a pool of query processes) serves a real build of the
shipped data (the session's ``real_build_dir``, copied). It trusts 127.0.0.1 as a proxy, so each simulated client is its own
address (X-Forwarded-For) for the per-client cap. The competency questions (``queries/cq*.rq``) run on the idle
server before and after the attack: the slower of the two p99 latencies is the idle value (the machine may be busy
with something else for a while). For a fixed time, three attackers loop over pathological queries (a cross
product, a deep property path ``(a|^a)*``, an ORDER BY over millions of rows, a regex over a cross product), each from
its own address, while two clients loop over the competency questions. Every competency question must be answered
(200), none held back until a deadline (each in under the query deadline plus 1 s; they take milliseconds); the
attackers get their queries stopped (503 naming the deadline or the memory limit) and never crash a worker;
afterwards the pool is back at its configured size, with no query process left over or still burning CPU. Loopback
only, bounded loops. The latencies (idle and under attack, p99 and their ratio) are printed, not asserted: how fast is
for bench/, on a quiet machine (a tight ratio here failed 1 CI run in 5 on a busy one).
"""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from urllib.parse import urlencode, urlsplit

import pytest

from conftest import copy_build
from gaistd_kg.iris import ROOT
from test_clients import proc_table, query_workers

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.alone]  # timed: each answer within the deadline

QUERY_WORKERS = 6
QUERY_TIMEOUT = 2
ATTACK_SECONDS = 8.0
CQS = sorted((ROOT / "queries").glob("cq*.rq"))
SKOS, DCT, G = "http://www.w3.org/2004/02/skos/core#", "http://purl.org/dc/terms/", "https://w3id.org/gaistd/ontology#"
PATHOLOGICAL = {
    "cross-product": "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",
    "deep-path": f"SELECT (COUNT(*) AS ?n) WHERE {{ ?x (<{SKOS}broader>|^<{SKOS}broader>|<{DCT}source>|^<{DCT}source>"
                 f"|<{G}addressesRisk>|^<{G}addressesRisk>|<{G}developedBy>|^<{G}developedBy>)* ?y }}",
    "huge-order-by": "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY DESC(?c) ?f LIMIT 5",
    "regex-bomb": 'SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?x . ?t ?q ?y '
                  'FILTER (REGEX(CONCAT(STR(?x), STR(?y)), "(a+)+$")) }',
}


class Client:
    """One keep-alive HTTP connection from one simulated address."""

    def __init__(self, base: str, address: str):
        url = urlsplit(base)
        self.host, self.port, self.address = url.hostname, url.port, address
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def query(self, text: str) -> tuple[int, bytes, float]:
        path = "/sparql?" + urlencode({"query": text})
        headers = {"Accept": "application/sparql-results+json", "X-Forwarded-For": self.address}
        start = time.monotonic()
        for attempt in range(2):
            try:
                self.conn.request("GET", path, headers=headers)
                resp = self.conn.getresponse()
                body = resp.read()
                return resp.status, body, time.monotonic() - start
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        self.conn.close()


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def pool_state(master: int) -> dict[int, list[int]]:
    return query_workers(master)


@pytest.fixture(scope="module")
def server(tmp_path_factory, live_server_factory, real_build_dir):
    build_dir = copy_build(real_build_dir, tmp_path_factory.mktemp("load-build") / "build")
    return live_server_factory(build_dir, workers=1, extra_args=("--threads", "12"), config={
        "QUERY_WORKERS": QUERY_WORKERS, "QUERY_TIMEOUT": QUERY_TIMEOUT, "QUERY_MEMORY_LIMIT": 512,
        "TRUSTED_PROXIES": ["127.0.0.1"], "MAX_CONCURRENT_PER_CLIENT": 2})


def test_competency_questions_stay_fast_while_pathological_queries_run(server):
    assert len(CQS) >= 10
    texts = [p.read_text(encoding="utf-8") for p in CQS]

    def idle_round() -> list[float]:
        client = Client(server.url, "10.1.0.1")
        times = []
        for _ in range(4):
            for text in texts:
                status, body, elapsed = client.query(text)
                assert status == 200, body[:200]
                times.append(elapsed)
        client.close()
        return times

    idle_round()  # warm-up: workers started, pages of the store cached
    idle = idle_round()

    stop = threading.Event()
    attacks: list[tuple[str, int, bytes]] = []
    answers: list[tuple[int, float]] = []

    def attacker(n: int):
        client = Client(server.url, f"10.2.0.{n}")
        names = list(PATHOLOGICAL)
        i = n
        while not stop.is_set():
            name = names[i % len(names)]
            status, body, _ = client.query(PATHOLOGICAL[name])
            attacks.append((name, status, body[:200]))
            i += 1
        client.close()

    def asker(n: int):
        client = Client(server.url, f"10.3.0.{n}")
        i = n
        while not stop.is_set():
            status, _, elapsed = client.query(texts[i % len(texts)])
            answers.append((status, elapsed))
            i += 1
        client.close()

    threads = [threading.Thread(target=attacker, args=(n,)) for n in range(3)]
    threads += [threading.Thread(target=asker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    time.sleep(ATTACK_SECONDS)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)

    # idle is measured before and after the attack, and the slower of the two counts: the machine may be busy with
    # something else for a while (a CI neighbour), which is not what this test measures
    after = idle_round()
    idle_p99 = max(p99(idle), p99(after))
    loaded = [elapsed for status, elapsed in answers]
    report = (f"idle p99 {idle_p99 * 1000:.1f} ms over {len(idle)}; under attack p99 {p99(loaded) * 1000:.1f} ms over "
              f"{len(loaded)} ({p99(loaded) / idle_p99:.1f}x idle), max {max(loaded) * 1000:.1f} ms; attacks: "
              + ", ".join(f"{name} {status}" for name, status in sorted({(a, s) for a, s, _ in attacks})))
    print(report)
    assert [s for s, _ in answers if s != 200] == [], report
    assert len(answers) >= 50, report
    assert max(loaded) < QUERY_TIMEOUT + 1, report  # no competency question waited behind an attack to its deadline
    assert max(after) < QUERY_TIMEOUT + 1, f"the server did not recover: idle max {max(after)} s after the attack"
    stopped = [(name, body) for name, status, body in attacks if status == 503]
    assert stopped and all(b"QUERY_TIMEOUT" in body or b"QUERY_MEMORY_LIMIT" in body for _, body in stopped), stopped
    assert not [a for a in attacks if a[1] not in (200, 429, 503) or b"died" in a[2]], attacks

    # afterwards: one HTTP worker, its pool at the configured size, nothing left over, nothing burning CPU
    deadline = time.monotonic() + 10
    while True:
        pools = pool_state(server.pid)
        if [len(v) for v in pools.values()] == [QUERY_WORKERS] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [len(v) for v in pools.values()] == [QUERY_WORKERS], pools
    workers = [p for v in pools.values() for p in v]
    first = proc_table()
    time.sleep(0.5)
    second = proc_table()
    busy = {p: second[p][3] - first[p][3] for p in workers if p in first and p in second}
    assert all(ticks < 10 for ticks in busy.values()), busy
    orphans = [pid for pid, (ppid, comm, state, _) in second.items() if comm == "gaistd-query" and ppid == 1]
    assert orphans == []
    assert "overflowed its stack" not in server.log_text()
