"""Worker processes that run queries under a deadline: the part of the safety rules a thread cannot enforce.

A pyoxigraph query cannot be interrupted from its own thread, so ``QueryPool`` keeps ``size`` worker processes, each
holding the store open read-only, and sends each query to an idle one over a pipe. Past the deadline the parent kills
that worker (SIGKILL: its CPU is freed at once), starts a replacement and raises ``QueryTimeout``. Workers are plain
``python -c`` subprocesses (fork+exec, safe from threaded servers; ``gaistd_kg.query.worker``), named ``gaistd-query``,
exit when their parent dies, and, when no SERVICE endpoint is allowed, run without network access (``deny_network``).

Bounded work, beyond the deadline: each worker has a data-memory limit (``limit_memory``; past it the query is
stopped with ``QueryMemoryExceeded``), runs the engine on a thread with a large stack (deep queries end at the deadline
instead of overflowing it), and a query still running after ``LONG_QUERY_SECONDS`` is reniced so that short queries
keep their CPU. A killed worker's replacement is handed to others only once it has the store open: the request whose
query was stopped waits for it, so a client sending pathological queries pays for the restarts it causes.

Admission (``admission`` below): light work and heavy work have separate slots, fair across clients. Every query
starts light; one still running after ``LIGHT_SECONDS`` is heavy and needs one of ``heavy_slots`` (``size - 1``: one
worker is always left to light queries); a client holds at most ``client_heavy`` of them (``heavy_slots - 1``: one
client never holds them all) and runs at most ``size - 1`` queries at once, and at least two (a worker being restarted
because of its query still counts as its), so that with three workers or more another client always finds a worker
within LIGHT_SECONDS. A query that finds no heavy
slot free at that point is stopped, waits in the queue, and runs again from the start on a heavy slot; the pool
remembers it (``KNOWN_HEAVY``), and the same request later waits for a heavy slot at once instead of taking a light
one. Waiting requests are served client by client (the fewest held first, then in order of arrival); at most
``queue_limit`` light and as many heavy requests wait, and past that the client with the most requests waiting loses
its newest one: ``QueryBusy`` (503 with Retry-After).
"""

from __future__ import annotations

import atexit
import math
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import weakref
import hashlib
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Mapping

from .engine import (DEFAULT_ROW_LIMIT, DEFAULT_TIMEOUT, Dataset, QueryError, QueryInfo, QueryMemoryExceeded,
                    QueryRefused, QuerySyntaxError, QueryTimeout, QueryUnavailable, Result, check_query)
from .worker import DEFAULT_MEMORY_LIMIT_MB, deny_network, limit_memory  # noqa: F401 - re-exported
from .worker import main as _worker_main  # noqa: F401 - the old entry point, for servers started before the split

LONG_QUERY_SECONDS = 0.1  # a query still running after this yields the CPU to short ones …
LONG_QUERY_NICE = 10      # … by running at this nice value until it ends
LIGHT_SECONDS = 0.25      # a query is light until it has used this much CPU; then it is heavy and needs a heavy slot
LIGHT_WALL_SECONDS = 1.0  # … or has run this long, whatever its CPU (the clock bounds what a light slot is held)
KNOWN_HEAVY = 1024        # requests remembered as heavy, per pool (most recent)


class QueryBusy(QueryUnavailable):
    """No slot for this query now (the queue is full, or stayed full until the deadline): 503 with Retry-After."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(eq=False)
class _Waiter:
    client: str
    heavy: bool
    seq: int           # order of arrival of the request (kept when a light query comes back as a heavy one)
    key: bytes = b""   # digest of the request, to recognise one known to be heavy
    evicted: bool = False


# --- the pool -----------------------------------------------------------------------------------------------------

@dataclass(eq=False)
class _Worker:
    proc: subprocess.Popen
    tx: Connection
    rx: Connection
    ready: bool = False
    sandboxed: bool = False
    failure: str | None = None  # why it could not start, kept for the query that gets this worker

    @property
    def pid(self) -> int:
        return self.proc.pid

    def close_handles(self) -> None:
        for conn in (self.tx, self.rx):
            try:
                conn.close()
            except OSError:
                pass

    def kill(self) -> None:
        self.close_handles()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self, grace: float = 1.0) -> None:
        self.close_handles()  # EOF on its pipe: an idle worker exits by itself
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_POOLS: "weakref.WeakSet[QueryPool]" = weakref.WeakSet()


@dataclass(eq=False)
class QueryPool:
    """``size`` worker processes holding the store at ``store_path`` open read-only; ``run`` is thread-safe.

    Workers start lazily, in the process that uses the pool: a pool inherited through fork (gunicorn ``--preload``)
    forgets its parent's workers and starts its own. ``close()`` stops them; it also runs at interpreter exit.
    """

    store_path: str
    size: int = 2
    timeout: float = DEFAULT_TIMEOUT
    row_limit: int = DEFAULT_ROW_LIMIT
    service_allowlist: tuple[str, ...] = ()
    prefixes: Mapping[str, str] = field(default_factory=dict)
    startup_timeout: float = 30.0
    memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB  # per worker (RLIMIT_DATA); 0: no limit
    heavy_slots: int = 0     # queries past LIGHT_SECONDS running at once; 0: size - 1 (at least 1)
    client_heavy: int = 0    # heavy slots one client may hold; 0: heavy_slots - 1 (at least 1)
    queue_limit: int = 0     # requests waiting for a worker or a heavy slot; 0: 2 * size
    _waiting: list = field(default_factory=list, init=False, repr=False)
    _running: Counter = field(default_factory=Counter, init=False, repr=False)   # client -> queries on a worker
    _heavy: Counter = field(default_factory=Counter, init=False, repr=False)     # client -> heavy slots held
    _seq: int = field(default=0, init=False, repr=False)
    _known_heavy: OrderedDict = field(default_factory=OrderedDict, init=False, repr=False)
    _idle: list = field(default_factory=list, init=False, repr=False)
    _all: list = field(default_factory=list, init=False, repr=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)
    _pid: int = field(default_factory=os.getpid, init=False, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError("a query pool needs at least one worker")
        self.store_path = str(self.store_path)
        self.service_allowlist = tuple(self.service_allowlist)
        self.heavy_slots = self.heavy_slots or max(1, self.size - 1)
        self.client_heavy = self.client_heavy or max(1, self.heavy_slots - 1)
        self.queue_limit = self.queue_limit or 2 * self.size
        _POOLS.add(self)

    # lifecycle

    def _forget_after_fork(self) -> None:
        self._cond = threading.Condition()
        for w in self._all:
            w.close_handles()  # the parent's workers are the parent's to stop
        self._idle, self._all, self._pid = [], [], os.getpid()
        self._waiting, self._running, self._heavy = [], Counter(), Counter()

    def _spawn(self) -> _Worker:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from gaistd_kg.query.worker import main; main()",
                 self.store_path, str(to_child_r), str(from_child_w), str(os.getpid())],
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, close_fds=True)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        w = _Worker(proc=proc, tx=Connection(to_child_w, readable=False), rx=Connection(from_child_r, writable=False))
        w.tx.send_bytes(pickle.dumps({"prefixes": dict(self.prefixes), "deny_network": not self.service_allowlist,
                                      "memory_limit_mb": self.memory_limit_mb}))
        self._all.append(w)
        return w

    def start(self) -> "QueryPool":
        """Start all workers now and wait until each has the store open (otherwise they start on first use)."""
        with self._cond:
            self._ensure_same_process()
            while len(self._all) < self.size:
                self._idle.append(self._spawn())
            waiting = [w for w in self._idle if not w.ready]
        for w in waiting:
            try:
                self._await_ready(w)
            except (QueryUnavailable, EOFError, OSError):
                pass  # reported, with its reason, to the first query that gets this worker
        return self

    def _ensure_same_process(self) -> None:
        if os.getpid() != self._pid:
            self._forget_after_fork()

    def close(self) -> None:
        with self._cond:
            if os.getpid() != self._pid:
                self._forget_after_fork()
            self._closed = True
            workers, self._all, self._idle = self._all, [], []
            self._cond.notify_all()
        for w in workers:
            w.stop()

    def retire(self) -> None:
        """Stop taking work: idle workers stop now, busy ones as soon as their answer is in (never mid-query).

        Used when a new build is published: the pool on the new store takes new requests at once, while queries
        already running on the old one finish undisturbed.
        """
        with self._cond:
            if os.getpid() != self._pid:
                self._forget_after_fork()
            self._closed = True
            idle, self._idle = self._idle, []
            for w in idle:
                self._all.remove(w)
            self._cond.notify_all()
        for w in idle:
            w.stop()

    def size_now(self) -> int:
        """Live workers of this pool (started or starting)."""
        with self._cond:
            return sum(1 for w in self._all if w.proc.poll() is None)

    def sandboxed(self) -> bool:
        """True when every started worker runs without network access (no SERVICE allowed, Linux seccomp)."""
        with self._cond:
            started = [w for w in self._all if w.ready]
        return bool(started) and all(w.sandboxed for w in started)

    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        with self._cond:
            return [w.pid for w in self._all if w.proc.poll() is None]

    # admission

    def _busy(self, message: str) -> QueryBusy:
        return QueryBusy(message, max(1, math.ceil(self.timeout)))

    def _bound(self, waiter: _Waiter) -> None:
        """``waiter`` (in the queue) must wait: past ``queue_limit`` waiting, refuse it (QueryBusy), or make room by
        dropping the newest request of the client with the most waiting when that client has more waiting than
        ``waiter``'s: one client cannot fill the queue for the others. Called under the lock."""
        kind = [w for w in self._waiting if w.heavy == waiter.heavy]
        if len(kind) <= self.queue_limit:
            return
        queued = Counter(w.client for w in kind)
        top, most = queued.most_common(1)[0]
        if top == waiter.client or most <= queued[waiter.client]:
            self._waiting.remove(waiter)
            raise self._busy(f"{len(kind) - 1} {'heavy' if waiter.heavy else 'light'} queries are waiting already "
                             "(QUERY_QUEUE); try again later")
        victim = max((w for w in kind if w.client == top), key=lambda w: w.seq)
        victim.evicted = True
        self._waiting.remove(victim)
        self._cond.notify_all()

    def _can_hold_heavy(self, client: str) -> bool:
        return sum(self._heavy.values()) < self.heavy_slots and self._heavy[client] < self.client_heavy

    def _eligible(self, waiter: _Waiter) -> bool:
        """Whether ``waiter``'s client may take one more worker (and for a heavy request, a heavy slot) now. Calls
        without a client (the library's own, not a request's) have no per-client limit on workers."""
        return ((not waiter.client or self._running[waiter.client] < max(2, self.size - 1))
                and (not waiter.heavy or self._can_hold_heavy(waiter.client)))

    def _remember_heavy(self, key: bytes) -> None:
        with self._cond:
            self._known_heavy[key] = None
            self._known_heavy.move_to_end(key)
            while len(self._known_heavy) > KNOWN_HEAVY:
                self._known_heavy.popitem(last=False)

    def _key(self, waiter: _Waiter) -> tuple[int, int]:
        """Fair order: the client holding the fewest (heavy slots for a heavy request, workers for a light one)
        first, then the earliest request."""
        return ((self._heavy if waiter.heavy else self._running)[waiter.client], waiter.seq)

    def _first(self, waiter: _Waiter) -> bool:
        """Whether no waiter of the same kind that could go now comes before ``waiter``."""
        mine = self._key(waiter)
        return not any(w.heavy == waiter.heavy and self._key(w) < mine and self._eligible(w)
                       for w in self._waiting if w is not waiter)

    def _acquire(self, deadline: float, waiter: _Waiter, budget: float, setting: str) -> _Worker:
        """A worker for ``waiter`` (and for a heavy one, a heavy slot), in fair order; QueryBusy at the deadline."""
        with self._cond:
            self._ensure_same_process()
            self._waiting.append(waiter)
            bounded = False
            try:
                while True:
                    if self._closed:
                        raise QueryUnavailable("the query pool is closed")
                    if waiter.evicted:
                        raise self._busy("the queue is full and this client has the most queries waiting; try "
                                         "again later")
                    if not waiter.heavy and waiter.key in self._known_heavy:
                        waiter.heavy = True  # another copy of this request outgrew its light slot meanwhile
                        bounded = False
                    free = bool(self._idle) or len(self._all) < self.size
                    if free and self._eligible(waiter) and self._first(waiter):
                        self._waiting.remove(waiter)
                        self._running[waiter.client] += 1
                        if waiter.heavy:
                            self._heavy[waiter.client] += 1
                        if not self._idle:
                            return self._spawn()
                        # a worker that has the store open first: a fresh replacement may still be starting
                        ready = next((w for w in reversed(self._idle) if self._started(w)), self._idle[-1])
                        self._idle.remove(ready)
                        return ready
                    if not bounded:
                        self._bound(waiter)  # it has to wait: is there room in the queue?
                        bounded = True
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise self._busy(f"no query worker was free within the time limit of {budget:g} s "
                                         f"({setting}); try again later")
                    self._cond.wait(remaining)
            finally:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
                    self._cond.notify_all()

    def _promote(self, client: str, seq: int) -> bool:
        """A light query past LIGHT_SECONDS takes a heavy slot if one is free for its client and no heavy request
        waiting comes before it (``_first``); False: it must give its worker back and wait."""
        with self._cond:
            me = _Waiter(client, True, seq)
            self._running[client] -= 1  # its own worker: not one more
            allowed = self._eligible(me) and self._first(me)
            self._running[client] += 1
            if allowed:
                self._heavy[client] += 1
            return allowed

    def _done(self, client: str, heavy: bool) -> None:
        with self._cond:
            for counter, held in ((self._running, True), (self._heavy, heavy)):
                if held:
                    counter[client] -= 1
                    if counter[client] <= 0:
                        del counter[client]
            self._cond.notify_all()

    def _release(self, w: _Worker) -> None:
        with self._cond:
            if not self._closed and w in self._all:
                self._idle.append(w)
                self._cond.notify_all()
            else:
                w.stop()

    # running

    def _replace(self, w: _Worker) -> None:
        """Kill ``w`` and start its replacement at once, so the pool stays at its size.

        The replacement is offered to others only once it has the store open: the request whose query was stopped
        waits for that (a fraction of a second), not the next client, so a client whose queries keep running past the
        deadline pays for the restarts it causes.
        """
        w.kill()
        with self._cond:
            if w in self._all:
                self._all.remove(w)
            fresh = None
            if not self._closed and os.getpid() == self._pid and len(self._all) < self.size:
                fresh = self._spawn()
        if fresh is None:
            return
        try:
            self._await_ready(fresh)
        except (QueryUnavailable, EOFError, OSError):
            pass  # kept, with its reason, for the query that gets it
        with self._cond:
            if not self._closed and fresh in self._all:
                self._idle.append(fresh)
                self._cond.notify_all()
                return
        fresh.stop()

    def _started(self, w: _Worker) -> bool:
        """Whether ``w`` has said it is ready, without waiting for it."""
        if w.ready:
            return True
        if w.failure is None and w.rx.poll(0):
            try:
                self._await_ready(w)
            except (QueryUnavailable, EOFError, OSError):
                return False
        return w.ready

    def _await_ready(self, w: _Worker) -> None:
        if w.ready:
            return
        if w.failure is not None:
            raise QueryUnavailable(w.failure)
        if not w.rx.poll(self.startup_timeout):
            raise QueryUnavailable(f"a query worker did not start within {self.startup_timeout:g} s")
        try:
            status, detail = pickle.loads(w.rx.recv_bytes())
        except (EOFError, OSError):
            w.failure = "a query worker exited while starting"
            raise QueryUnavailable(w.failure) from None
        if status != "ready":
            w.failure = detail
            raise QueryUnavailable(detail)
        w.ready, w.sandboxed = True, bool(detail)

    def run(self, text: str, fmt: str | None = None, dataset: Dataset | None = None, base_iri: str | None = None,
            row_limit: int | None = None, timeout: float | None = None, info: QueryInfo | None = None,
            timeout_setting: str = "QUERY_TIMEOUT", client: str = "") -> Result:
        """Check the query (``check_query``), run it in a worker within the deadline, return the serialised answer.

        ``client`` (the remote address) is whom admission is fair to. Raises QueryRefused, QuerySyntaxError,
        QueryTimeout (the worker was killed and replaced), QueryMemoryExceeded, QueryBusy (no slot: try later),
        QueryUnavailable or QueryError (the engine failed).
        """
        info = info or check_query(text, self.service_allowlist)
        limit = self.row_limit if row_limit is None else row_limit
        return self._call({"query": text, "format": fmt, "dataset": dataset or None, "form": info.form,
                           "union": not info.dataset_clause, "limit": limit, "base_iri": base_iri}, timeout,
                          timeout_setting, client)

    def change(self, change: Mapping, timeout: float | None = None, client: str = ""):
        """Compute a write (``gaistd_kg.query.change.transform``) in a worker: the same deadline, memory limit and network
        sandbox as a query, on a heavy slot from the start (a write is never stopped to be run again). Returns its
        ``change.Changed``; raises what ``run`` raises."""
        return self._call({"kind": "write", "change": dict(change)}, timeout, client=client, heavy=True)

    def _call(self, req: dict, timeout: float | None, setting: str = "QUERY_TIMEOUT", client: str = "",
              heavy: bool = False):
        budget = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        request = pickle.dumps(req, protocol=pickle.HIGHEST_PROTOCOL)
        key = hashlib.blake2b(request, digest_size=16).digest()
        with self._cond:
            self._seq += 1
            seq = self._seq
            heavy = heavy or key in self._known_heavy
        while True:
            w = self._acquire(deadline, _Waiter(client, heavy, seq, key), budget, setting)
            reply = self._run_on(w, request, deadline, budget, setting, client, heavy, seq, key)
            if reply is not None:
                break
            heavy = True  # it outgrew its light slot with no heavy slot free: wait for one, then run it again
        status = reply[0]
        if status == "ok":
            return reply[1]
        if status == "syntax":
            raise QuerySyntaxError(reply[1])
        if status == "refused":
            raise QueryRefused(reply[1], reply[2])
        if status == "memory":
            raise QueryMemoryExceeded(self.memory_limit_mb)
        raise QueryError(reply[1])

    def _stays_light(self, w: _Worker, deadline: float, cpu0: float) -> bool:
        """Wait while the query on ``w`` is light; True when it answered. Light means: it has used less than
        LIGHT_SECONDS of CPU, for at most LIGHT_WALL_SECONDS. Counting CPU, not the clock, keeps ordinary queries
        light on a busy machine (where a 5 ms query can wait a quarter second for a CPU), so they are never stopped
        and run again; the wall-clock bound keeps a query the CPU meter cannot see from holding a light slot."""
        start = time.monotonic() - LONG_QUERY_SECONDS  # it was sent about LONG_QUERY_SECONDS ago
        wait = LIGHT_SECONDS - LONG_QUERY_SECONDS
        while True:
            end = min(deadline, time.monotonic() + wait, start + LIGHT_WALL_SECONDS)
            if w.rx.poll(max(end - time.monotonic(), 0)):
                return True
            now = time.monotonic()
            if now >= deadline or now >= start + LIGHT_WALL_SECONDS:
                return False
            used = _cpu_seconds(w.pid) - cpu0
            if not math.isfinite(used) or used >= LIGHT_SECONDS:
                return False  # unknown CPU: the clock alone says (it ran LIGHT_SECONDS)
            wait = max(LIGHT_SECONDS - used, 0.01)

    def _run_on(self, w: _Worker, request: bytes, deadline: float, budget: float, setting: str, client: str,
                heavy: bool, seq: int, key: bytes):
        """Run one request on ``w`` (admitted for ``client``, on a heavy slot if ``heavy``): the worker's reply, or
        None when the query outgrew its light slot and no heavy slot was free (the worker was stopped)."""
        healthy = died = niced = demoted = False
        reply = None
        try:
            self._await_ready(w)
            cpu0 = _cpu_seconds(w.pid)  # what the worker had used before this query (light/heavy counts CPU)
            w.tx.send_bytes(request)
            if heavy:
                niced = _renice(w.pid, LONG_QUERY_NICE)
            elif not w.rx.poll(min(LONG_QUERY_SECONDS, max(deadline - time.monotonic(), 0))):
                niced = _renice(w.pid, LONG_QUERY_NICE)  # short queries first: a long one gets what CPU is left
                if not self._stays_light(w, deadline, cpu0) and time.monotonic() < deadline:
                    self._remember_heavy(key)
                    heavy = self._promote(client, seq)
                    demoted = not heavy
            if not demoted:
                if not w.rx.poll(max(deadline - time.monotonic(), 0)):
                    raise QueryTimeout(budget, setting)
                reply = pickle.loads(w.rx.recv_bytes())
                healthy = not niced or _renice(w.pid, 0)  # back to normal; without the privilege to, a fresh worker
        except (EOFError, OSError):
            died = True
        finally:
            # A worker that did not answer in time (or at all) may still be computing: it is killed, never reused.
            # Until its replacement is ready the client still holds it (``_done`` after): one client's stopped
            # queries cannot leave the others without a worker.
            try:
                if healthy:
                    self._release(w)
                else:
                    self._replace(w)
            finally:
                self._done(client, heavy)
        if died:
            if w.proc.returncode == -signal.SIGABRT and self.memory_limit_mb:
                raise QueryMemoryExceeded(self.memory_limit_mb)  # the engine's allocation failed: Rust aborts
            raise QueryUnavailable("the query worker died while answering; try again")
        return reply


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used (Linux /proc); +inf when unknown, so a query whose CPU
    cannot be read is treated by the clock alone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("inf")


def _renice(pid: int, nice: int) -> bool:
    """Set a worker's nice value; False when not allowed (lowering it needs CAP_SYS_NICE) or the worker is gone."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
        return True
    except OSError:
        return False


def _reset_pools_after_fork() -> None:
    for pool in list(_POOLS):
        pool._forget_after_fork()


def _close_pools_at_exit() -> None:
    for pool in list(_POOLS):
        pool.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pools_after_fork)
atexit.register(_close_pools_at_exit)


def pool_for_build(build_dir: str | os.PathLike, **options) -> QueryPool:
    """A pool on the build currently published in ``build_dir`` (resolved once, now). Raises store.StoreMissing."""
    from gaistd_kg.store import StoreMissing, current_path  # rdflib-importing module: parent side only

    path = current_path(Path(build_dir))
    if path is None:
        raise StoreMissing(f"no built store in {build_dir}: run `gaistd build` first")
    return QueryPool(str(path / "oxigraph"), **options)
