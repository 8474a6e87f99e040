"""The one pipeline: load → validate → reason → validate the closure → publish, under the build folder's lock.

Every path composes it: the in-memory build (``build.MemoryBuild``), the streaming build (``streambuild.StreamBuild``)
and accepted writes (``writes.Write``) are each a *work* object whose methods are the steps, on their own
representation of the data (rdflib graphs, a staging store on disk, the N-Triples of a changed store). :func:`run`
takes the lock, sequences the steps, times them, stops at the first failure and lets the work discard what it
staged. What a path may not decide for itself lives here or in ``steps``: the lock, the order of the steps, what
stops a build (a violation of the asserted data *or* of the closure), the reasoner choice (``steps.run_reasoner``)
and the meta graph (``steps.meta_graph``).

The closure is validated because the shapes must see what reasoning makes: a resource typed only by inference (a
property's domain or range) is checked by the shapes of its inferred class (``validate.validate_closure``). When
the asserted data already fails because a resource has facts but no declared class (the untyped-resource check),
the closure is still validated if reasoning gets that far, so the report names both the check and what the shape
of the inferred class finds; other failures stop at once, as fast as before.

A write runs its middle steps (validate, reason, validate the closure) in a bounded process (``bounded.call``): the
work object goes there and comes back with what the steps made.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

from .findings import ValidationResult
from .steps import BuildBusy, Progress, ValidationFailed, lock
from .validate import merged

UNTYPED_CHECK = "untyped-resource-violation.rq"  # the check that finds resources reasoning alone would type


class Work(Protocol):
    """The steps of one path through the pipeline. ``timings`` collects seconds per step."""

    build_dir: Path
    timings: dict[str, float]
    result: ValidationResult | None                       # set by ``run`` once the data conforms

    def prepare(self, say: Progress) -> Any: ...          # under the lock; a value other than None ends the run
    def load(self, say: Progress) -> Any: ...             # likewise (a write that changes nothing)
    def validate(self, say: Progress) -> ValidationResult: ...
    def reason(self, say: Progress) -> None: ...          # raises reason.InconsistencyError
    def validate_closure(self, say: Progress) -> ValidationResult: ...
    def publish(self, say: Progress) -> Any: ...          # the run's result
    def discard(self) -> None: ...                        # after a failure: remove what was staged


W = TypeVar("W", bound=Work)


def timed(work: Work, name: str, step: Callable[[Progress], Any], say: Progress) -> Any:
    t = time.perf_counter()
    try:
        return step(say)
    finally:
        work.timings[name] = work.timings.get(name, 0.0) + time.perf_counter() - t


def check(work: Work, say: Progress = lambda _m: None) -> ValidationResult:
    """validate → reason → validate the closure; the merged result (see the module docstring). Raises what the
    reasoner raises when the asserted data conforms."""
    result = timed(work, "validate", work.validate, say)
    if result.conforms:
        timed(work, "reason", work.reason, say)
        return merged(result, timed(work, "closure", work.validate_closure, say))
    if not any(f.shape and f.shape.endswith(UNTYPED_CHECK) for f in result.findings):
        return result
    try:  # a resource no record declares: say too what the shapes of the class reasoning gives it find
        work.reason(say)
        return merged(result, work.validate_closure(say))
    except Exception:  # noqa: BLE001 - inconsistent or unsupported data: the asserted report stands on its own
        return result


def run(work: W, say: Progress = lambda _m: None, *, wait: float | None = None,
        busy: type[BuildBusy] = BuildBusy, checker: Callable[[W, Progress], tuple[ValidationResult, W]] | None
        = None) -> Any:
    """Run ``work``'s steps under the lock of its build folder (``wait``/``busy`` as ``steps.lock``). ``checker``
    replaces the in-process :func:`check` (a write runs it in a bounded process); it returns the result and the work
    as the steps left it. Raises ValidationFailed, what the steps raise, BuildBusy."""
    with lock(Path(work.build_dir), wait, busy):
        t0 = time.perf_counter()
        done = work.prepare(say)
        if done is not None:
            return done
        try:
            done = timed(work, "parse", work.load, say)
            if done is not None:
                return done
            if checker is None:
                result = check(work, say)
            else:
                result, work = checker(work, say)
            if not result.conforms:
                raise ValidationFailed(result)
            work.result = result
            out = timed(work, "store", work.publish, say)
        except BaseException:
            work.discard()
            raise
        work.timings["total"] = time.perf_counter() - t0
        return out
