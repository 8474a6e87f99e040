"""Admission in the query pool (``gaistd_kg/query/pool.py``), on a real pool of worker processes over the fixture
build: a heavy query keeps its worker when a heavy slot is free, one client never holds every heavy slot, a light
query always finds a worker, and past the queue bound a request is refused with a Retry-After."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from gaistd_kg import query
from gaistd_kg.query import pool as querypool

pytestmark = pytest.mark.alone  # timed: a light query within 2 s, a refusal within 1 s

# five-way cross product of the fixture build: runs far past any deadline here
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n ?o }"


def store_dir(build_dir: Path) -> str:
    return str((build_dir / "current").resolve() / "oxigraph")


def outcome(p: querypool.QueryPool, text: str, client: str, into: dict, name: str) -> threading.Thread:
    def run():
        start = time.monotonic()
        try:
            p.run(text, client=client)
            into[name] = ("ok", time.monotonic() - start)
        except query.QueryError as exc:
            into[name] = (type(exc).__name__, time.monotonic() - start, exc)

    t = threading.Thread(target=run)
    t.start()
    return t


def test_a_heavy_query_with_a_slot_free_keeps_its_worker(fixture_build_dir):
    """Past LIGHT_SECONDS with a heavy slot free, the query is promoted, not stopped and run again: the only worker
    replaced is the one killed at the deadline."""
    p = querypool.QueryPool(store_dir(fixture_build_dir), size=3, timeout=1).start()
    try:
        before = set(p.pids())
        with pytest.raises(query.QueryTimeout):
            p.run(HEAVY, client="a")
        time.sleep(0.2)
        assert len(before - set(p.pids())) == 1
    finally:
        p.close()


def test_one_client_never_holds_every_heavy_slot(fixture_build_dir):
    """Three workers, so two heavy slots, one per client (client_heavy = heavy_slots - 1): client a's second heavy
    query waits (and gives up at the deadline, QueryBusy), while client b's, sent after it, runs at once. A light
    query from c is answered meanwhile, within 2 s."""
    p = querypool.QueryPool(store_dir(fixture_build_dir), size=3, timeout=2).start()
    assert (p.heavy_slots, p.client_heavy) == (2, 1)
    got: dict = {}
    try:
        threads = [outcome(p, HEAVY + " # a1", "a", got, "a1"), outcome(p, HEAVY + " # a2", "a", got, "a2")]
        time.sleep(0.5)
        threads.append(outcome(p, HEAVY + " # b1", "b", got, "b1"))
        time.sleep(0.5)
        start = time.monotonic()
        assert json.loads(p.run("ASK { ?s ?p ?o }", client="c").body)["boolean"]
        light = time.monotonic() - start
        for t in threads:
            t.join()
    finally:
        p.close()
    statuses = sorted([got["a1"][0], got["a2"][0]])
    assert statuses == ["QueryBusy", "QueryTimeout"], got
    assert got["b1"][0] == "QueryTimeout", got
    assert light < 2.0  # the criterion of issue 15; a worker restarting after a stopped query can take a second


def test_past_the_queue_bound_the_newcomer_is_refused_with_a_retry_after(fixture_build_dir):
    """Two workers (one heavy slot) and a queue of one: a runs, b waits, c is refused at once (QueryBusy, with the
    deadline as Retry-After) instead of waiting. One query text throughout: once seen to be heavy, each copy waits
    for a heavy slot at once."""
    p = querypool.QueryPool(store_dir(fixture_build_dir), size=2, timeout=4, queue_limit=1).start()
    got: dict = {}
    try:
        threads = [outcome(p, HEAVY, "a", got, "a")]
        time.sleep(0.5)
        threads.append(outcome(p, HEAVY, "b", got, "b"))
        time.sleep(0.3)
        threads.append(outcome(p, HEAVY, "c", got, "c"))
        for t in threads:
            t.join()
    finally:
        p.close()
    assert got["a"][0] == "QueryTimeout" and "waiting already" not in str(got["b"][-1]), got
    kind, elapsed, exc = got["c"]
    assert kind == "QueryBusy" and elapsed < 1 and exc.retry_after == 4 and "waiting already" in str(exc), got


def test_a_full_queue_drops_the_newest_request_of_the_client_with_the_most_waiting(fixture_build_dir):
    """One heavy slot, a queue of two: a runs, then a sends two more that wait; b's request makes room by dropping
    a's newest (QueryBusy at once), not by being refused itself."""
    p = querypool.QueryPool(store_dir(fixture_build_dir), size=2, timeout=3, queue_limit=2).start()
    got: dict = {}
    try:
        threads = [outcome(p, HEAVY, "a", got, "a1")]
        time.sleep(0.5)
        threads.append(outcome(p, HEAVY, "a", got, "a2"))
        time.sleep(0.2)
        threads.append(outcome(p, HEAVY, "a", got, "a3"))
        time.sleep(0.2)
        threads.append(outcome(p, HEAVY, "b", got, "b"))
        for t in threads:
            t.join()
    finally:
        p.close()
    assert got["a3"][0] == "QueryBusy" and "has the most queries waiting" in str(got["a3"][2]), got
    assert got["a3"][1] < 1, got
    assert "waiting already" not in str(got["b"][-1]) and got["b"][1] > 1, got  # b was queued, not refused


def test_client_slots_hold_at_most_cap_across_processes(tmp_path):
    """A client's slots (MAX_CONCURRENT_PER_CLIENT) are lock files shared by every worker process: two ClientSlots on
    one folder (two open file descriptions, as two processes have) together never hold more than ``cap`` for one
    client; a released slot is found again wherever the search starts; another client has its own ``cap``."""
    import os

    from gaistd_kg.web.security import ClientSlots

    one, two = ClientSlots(tmp_path), ClientSlots(tmp_path)
    held = [one.acquire("10.0.0.1", 3), one.acquire("10.0.0.1", 3), two.acquire("10.0.0.1", 3)]
    assert all(fd is not None for fd in held)
    assert len({os.fstat(fd).st_ino for fd in held if fd is not None}) == 3  # three different slot files
    assert one.acquire("10.0.0.1", 3) is None and two.acquire("10.0.0.1", 3) is None
    other = two.acquire("10.0.0.2", 3)
    assert other is not None
    for k in range(3):  # free each slot in turn: both processes find it, whatever slot they took last
        fd = held[k]
        assert fd is not None
        ClientSlots.release(fd)
        again = (one if k % 2 else two).acquire("10.0.0.1", 3)
        assert again is not None and one.acquire("10.0.0.1", 3) is None
        held[k] = again
    for fd in [*held, other]:
        assert fd is not None
        ClientSlots.release(fd)
