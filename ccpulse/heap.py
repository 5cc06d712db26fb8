"""Handing the heap's free pages back to the operating system.

A long-running engine frees its oldest history every few minutes (``Monitor``'s expiry).
CPython gives large blocks — the prefix-sum arrays, big dicts and lists — to the C
allocator, and glibc's keeps what was freed for reuse, returning to the system only what
sits at the top of its heap: resident memory stays at the high-water mark of the
fragmentation. ``malloc_trim(0)`` also releases the free pages in the middle (``madvise``).
Called after each expiry, a replica at steady state held 101 instead of 109 KiB per agent
(``python -m bench memory``, BENCHMARKS.md, issue 19, ninth round); a call took ~0.2 ms at
500 agents and 4 ms at 5,000 (timed by a throw-away script, once every 5 minutes). The
serving process's floor snapshots and renderings free hundreds of MB every 15 s at 50,000
agents, on several threads: ``Monitor`` now calls it every 15 s as well (~22 ms a call
there), and the demo of 50,000 agents held 0.91 of the memory (twentieth round).
Elsewhere than glibc (musl, macOS) there is no such call and nothing is done.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

# The symbols already loaded into this process, the C library's among them: no search for
# the library (ctypes.util.find_library runs ldconfig, and its import alone cost ~10 ms of
# every command's start). CDLL releases the GIL during a call: other threads run while the
# heap is walked.
_TRIM: Callable[[int], int] | None = getattr(ctypes.CDLL(None), "malloc_trim", None)


def release_free_heap() -> bool:
    """Return the C heap's free pages to the system; False where the C library cannot."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
