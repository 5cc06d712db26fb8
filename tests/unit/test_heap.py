"""Freed heap goes back to the system after expiry and every 15 s (glibc's malloc_trim)."""

from __future__ import annotations

import os

from bench.procfs import rss_kib
from ccpulse.heap import release_free_heap
from ccpulse.runtime import EXPIRE_EVERY_MS, HEAP_RELEASE_EVERY_MS, Monitor
from ccpulse.streams.pipeline import Pipeline


def test_freed_blocks_between_live_ones_go_back_to_the_system() -> None:
    """What expiry leaves: most of a history freed, a few blocks still held all through the
    heap, so none of it is at the top where glibc would give it back by itself."""
    assert os.uname().sysname == "Linux"  # glibc: this machine's and the image's
    blocks = [bytes(4096) for _ in range(60_000)]  # ~240 MiB of the C heap, not mmap'd
    kept = blocks[::16]
    del blocks
    freed = rss_kib() / 1024
    assert release_free_heap()
    assert freed - rss_kib() / 1024 > 100  # of ~225 MiB freed
    assert len(kept) == 3750


def test_the_monitor_hands_the_heap_back_after_each_expiry_and_every_15_s() -> None:
    """Expiry frees history every 5 minutes; a floor snapshot and a rendering free hundreds
    of MB every 15 s at 50,000 agents: handed back at most that often, and at each expiry."""
    calls: list[int] = []
    monitor = Monitor(Pipeline(), release_heap=lambda: calls.append(1))
    start = 1_795_420_800_000
    monitor.advance(start)  # the first advance expires
    monitor.advance(start + HEAP_RELEASE_EVERY_MS - 1)
    assert len(calls) == 1
    monitor.advance(start + HEAP_RELEASE_EVERY_MS)
    monitor.advance(start + HEAP_RELEASE_EVERY_MS + 1)
    assert len(calls) == 2
    monitor.advance(start + EXPIRE_EVERY_MS - 1)  # 15 s after the last: handed back
    assert len(calls) == 3
    monitor.advance(start + EXPIRE_EVERY_MS)  # expired, 1 ms after the last: handed back
    assert len(calls) == 4
