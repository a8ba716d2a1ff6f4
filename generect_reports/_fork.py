"""When this process may fork a child that keeps working: shared by the report's render child
(``deliver.parallel``) and the roll-up's report workers (``reports.rollup_pool``)."""

from __future__ import annotations

import os
import sys
import threading

__all__ = ["can_fork", "FORK_SAFE_THREADS"]

#: Threads that may run beside a fork: tqdm's progress-bar monitor only ever takes tqdm's own
#: lock, which the child never uses.
FORK_SAFE_THREADS = frozenset({"tqdm_monitor"})


def can_fork() -> bool:
    """True on Linux and FreeBSD from the main thread of a process with no other thread (but
    the known-safe ones), unless ``GENERECT_REPORTS_NO_FORK`` is set."""
    # macOS may crash in a forked child that touches system frameworks; a lock another thread
    # holds at the fork stays locked in the child, as in a notebook kernel. The variable keeps
    # one process (profiling).
    if not (hasattr(os, "fork") and sys.platform.startswith(("linux", "freebsd"))):
        return False
    current = threading.current_thread()
    others = [t for t in threading.enumerate() if t is not current]
    return (
        current is threading.main_thread()
        and all(t.daemon and t.name in FORK_SAFE_THREADS for t in others)
        and not os.environ.get("GENERECT_REPORTS_NO_FORK")
    )
