"""The query worker process: opens the store read-only and answers what its parent (``QueryPool``) sends over a pipe.

Started as ``python -c "from gaistd_kg.query.worker import main; main()" <store> <read fd> <write fd> <parent pid>``.
Before it reads a request it limits its data memory (``limit_memory``), forbids itself the network when no SERVICE
endpoint is allowed (``deny_network``), names itself ``gaistd-query`` and watches its parent (it exits when the parent
dies). It answers on a thread with a large stack (``ENGINE_STACK_MB``): Oxigraph recurses per nesting level and per
chained operator. Each answer is a pickled tuple: ``("ok", Result | change.Changed)``, ``("syntax", message)``,
``("refused", feature, message)``, ``("memory",)``, ``("error", message)``. pyoxigraph only, no rdflib.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Mapping

import pyoxigraph as ox

from gaistd_kg.limits import limit_memory

from . import textsearch
from .engine import CustomFunctions, QueryError, QueryRefused, QuerySyntaxError, execute

DEFAULT_MEMORY_LIMIT_MB = 1024
ENGINE_STACK_MB = 256  # the engine's thread stack: Oxigraph recurses per nesting level and per chained operator


def main() -> None:
    try:
        _serve()
    except (EOFError, OSError):  # the parent went away (closed pipe): nothing left to answer
        pass


def _set_process_name(name: bytes) -> None:
    """Name the process (Linux: /proc/<pid>/comm, what ps/top show) so an operator can tell query workers apart."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME
    except Exception:  # noqa: BLE001 - best effort, not on every platform
        pass


def _watch_parent(ppid: int) -> None:
    # pyoxigraph releases the GIL while it evaluates, so this thread runs even mid-query: a worker whose parent died
    # (its pipe may be inherited by nobody) stops instead of burning CPU on an answer no one will read.
    while True:
        if os.getppid() != ppid:
            os._exit(0)
        time.sleep(0.5)


def deny_network() -> bool:
    """Forbid this process to open IPv4/IPv6 sockets (Linux seccomp filter); True if the filter is in place.

    The kernel then refuses what ``check_query`` might miss: a query worker with no SERVICE allowed cannot reach any
    host, whatever the query text. Other sockets (pipes, AF_UNIX) keep working. Threads started later inherit it.
    """
    import ctypes
    import platform
    import struct

    arches = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}  # AUDIT_ARCH_*, __NR_socket
    if sys.platform != "linux" or platform.machine() not in arches:
        return False
    audit_arch, nr_socket = arches[platform.machine()]
    ld, jeq, ret = 0x20, 0x15, 0x06  # BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K
    allow, deny = 0x7FFF0000, 0x00050000 | 13  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EACCES
    program = [
        (ld, 0, 0, 4), (jeq, 0, 6, audit_arch),      # another syscall ABI: deny
        (ld, 0, 0, 0), (jeq, 0, 3, nr_socket),       # not socket(): allow
        (ld, 0, 0, 16), (jeq, 2, 0, 2), (jeq, 1, 0, 10),  # socket(AF_INET | AF_INET6, …): deny
        (ret, 0, 0, allow), (ret, 0, 0, deny),
    ]
    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *ins) for ins in program))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(program), ctypes.cast(code, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, required to install a filter unprivileged
        return False
    return libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER


def _serve() -> None:
    store_path, rfd, wfd, ppid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    _set_process_name(b"gaistd-query")
    rx, tx = Connection(rfd, writable=False), Connection(wfd, readable=False)
    try:
        setup = pickle.loads(rx.recv_bytes())
    except (EOFError, OSError):
        return
    limit_mb = setup.get("memory_limit_mb")
    limit_memory(limit_mb)
    sandboxed = deny_network() if setup.get("deny_network") else False  # before any thread exists
    threading.Thread(target=_watch_parent, args=(ppid,), daemon=True).start()
    try:
        store = ox.Store.read_only(store_path)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which reports it to the client
        print(f"gaistd-query: cannot open the store {store_path}: {exc}", file=sys.stderr)
        tx.send_bytes(pickle.dumps(("unavailable", "the query worker cannot open the store (see the server log)")))
        return
    # The engine runs on a thread with a large stack (counted in the memory limit, so a quarter of it at most): a
    # deeply nested or long-chained query then ends at the deadline instead of overflowing the stack.
    stack_mb = min(ENGINE_STACK_MB, int(limit_mb) // 4) if limit_mb else ENGINE_STACK_MB
    threading.stack_size(max(stack_mb, 8) << 20)
    functions = textsearch.functions_for(store_path)  # the build's search index, callable from SPARQL
    engine = threading.Thread(target=_answer_loop, args=(store, rx, tx, setup, sandboxed, functions), daemon=True)
    engine.start()
    engine.join()


def _answer_loop(store: ox.Store, rx: Connection, tx: Connection, setup: dict, sandboxed: bool,
                 functions: CustomFunctions | None = None) -> None:
    try:
        tx.send_bytes(pickle.dumps(("ready", sandboxed)))
        _answer_all(store, rx, tx, setup.get("prefixes") or {}, functions)
    except (EOFError, OSError):
        pass  # the parent went away


def _answer_all(store: ox.Store, rx: Connection, tx: Connection, prefixes: Mapping[str, str],
                functions: CustomFunctions | None = None) -> None:
    while True:
        try:
            req = pickle.loads(rx.recv_bytes())
        except (EOFError, OSError):
            return
        res: object  # a change.Changed or an engine.Result, pickled as it is
        reply: tuple
        try:
            if req.get("kind") == "write":
                from .change import transform  # pyoxigraph only: the worker stays free of rdflib

                res = transform(store, req["change"])
            else:
                res = execute(store, req["query"], req["format"], req["dataset"], req["union"], req["limit"],
                              req["base_iri"], prefixes, req["form"], functions)
            reply = ("ok", res)
        except QuerySyntaxError as exc:
            reply = ("syntax", str(exc))
        except QueryRefused as exc:
            reply = ("refused", exc.feature, str(exc))
        except MemoryError:
            reply = ("memory",)
        except QueryError as exc:
            reply = ("error", str(exc))
        except Exception as exc:  # noqa: BLE001 - any engine error becomes an answer, never a dead worker
            reply = ("error", f"query failed: {type(exc).__name__}: {exc}")
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            data = pickle.dumps(("memory",))
        tx.send_bytes(data)
