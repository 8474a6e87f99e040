"""Bounds on a process the server starts for one piece of work (a query worker, a write's validation): its data
memory. Standard library only, so the query worker stays free of rdflib and the pipeline of the query package."""

from __future__ import annotations


def limit_memory(limit_mb: int | None) -> bool:
    """Cap this process's data memory (heap and anonymous mappings) at ``limit_mb`` MiB; True if the cap is set.

    RLIMIT_DATA rather than RLIMIT_AS: the address space of a worker holds ~0.5 GB of reservations (thread stacks,
    allocator arenas, shared libraries) that are never touched, so RLIMIT_AS would measure those instead of what the
    work uses. When the work then asks for more, its allocation fails: Rust aborts the process (the parent sees
    SIGABRT), Python raises MemoryError; either way the parent reports that the memory limit was reached.
    """
    if not limit_mb:
        return False
    try:
        import resource

        kind = getattr(resource, "RLIMIT_DATA", resource.RLIMIT_AS)
        limit = int(limit_mb) << 20
        resource.setrlimit(kind, (limit, limit))
        return True
    except (ImportError, ValueError, OSError):
        return False
