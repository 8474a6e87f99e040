"""One step of the pipeline in a process of its own, under a deadline and a data-memory limit.

A write's validation and reasoning run here (``writes.commit``), as a query runs in a query worker: the web process
sends the work (pickled) to a fresh interpreter (``python -c "from gaistd_kg.pipeline.bounded import main; main()"``)
that caps its data memory (``limits.limit_memory``) before it reads it, and waits at most ``timeout`` seconds for the
answer. Past the deadline the process is killed; past the memory limit its allocation fails (MemoryError, or SIGABRT
from Rust). Either way :class:`LimitExceeded` names the limit and the setting, and nothing the step made is kept.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from multiprocessing.connection import Connection
from typing import Any, Callable


class LimitExceeded(RuntimeError):
    """The step ran past its deadline or its memory limit; ``limit`` is ``"deadline"`` or ``"memory"``."""

    def __init__(self, limit: str, message: str):
        super().__init__(message)
        self.limit = limit


def call(fn: Callable[[Any], Any], arg: Any, *, timeout: float, memory_mb: int, what: str = "the step",
         settings: tuple[str, str] = ("WRITE_TIMEOUT", "WRITE_MEMORY_LIMIT"), budget: float | None = None) -> Any:
    """``fn(arg)`` in a bounded process; its return value. ``fn`` is a module-level function (pickled by name);
    an exception it raises comes back as a RuntimeError with its text (``fn`` should return refusals as values).
    ``budget``: the deadline as the setting states it, when ``timeout`` is what is left of it."""
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-c", "from gaistd_kg.pipeline.bounded import main; main()",
                                 str(to_child_r), str(from_child_w)],
                                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, close_fds=True)
    finally:
        os.close(to_child_r)
        os.close(from_child_w)
    tx, rx = Connection(to_child_w, readable=False), Connection(from_child_r, writable=False)
    timed_out = False
    try:
        tx.send_bytes(pickle.dumps(int(memory_mb or 0)))
        tx.send_bytes(pickle.dumps((fn, arg), protocol=pickle.HIGHEST_PROTOCOL))
        if not rx.poll(timeout):
            timed_out = True
            raise LimitExceeded("deadline", f"{what} stopped at the deadline: it took longer than "
                                            f"{budget if budget is not None else timeout:g} s ({settings[0]})")
        try:
            reply = pickle.loads(rx.recv_bytes())
        except (EOFError, OSError):
            reply = None
    except (BrokenPipeError, EOFError) as exc:
        reply = None if proc.poll() is not None or isinstance(exc, EOFError) else ("error", str(exc))
    finally:
        if proc.poll() is None and not timed_out:
            try:  # the pipe closed first: let a dying process (a failed allocation aborts it) end on its own
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        tx.close()
        rx.close()
    if reply is None or reply[0] == "memory":
        if reply is not None or (memory_mb and proc.returncode in (-signal.SIGABRT, -signal.SIGSEGV, 1)):
            raise LimitExceeded("memory", f"{what} stopped at the memory limit: it needed more than {memory_mb} MiB "
                                          f"({settings[1]})")
        raise RuntimeError(f"{what} failed: its process exited with status {proc.returncode}")
    if reply[0] == "ok":
        return reply[1]
    raise RuntimeError(f"{what} failed: {reply[1]}")


def main() -> None:
    from gaistd_kg.limits import limit_memory

    rx = Connection(int(sys.argv[1]), writable=False)
    tx = Connection(int(sys.argv[2]), readable=False)
    try:
        limit_memory(pickle.loads(rx.recv_bytes()))  # before the work is unpickled: its graphs count too
        try:
            fn, arg = pickle.loads(rx.recv_bytes())
            reply: tuple = ("ok", fn(arg))
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            data = pickle.dumps(("memory",))
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which reports it to the client
            data = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
        tx.send_bytes(data)
    except (EOFError, OSError):
        pass  # the parent went away
