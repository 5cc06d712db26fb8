"""Event-time alignment across partitions, so catch-up reads history in time order.

One agent's events arrive on two topics. When a worker catches up on a backlog, Kafka hands it
large chunks of each partition in turn, so ``cc.interactions`` can run an hour ahead of
``cc.agent-states`` in event time; applied in that order, an agent would answer calls before
logging in, and lateness would be judged on consumption order, not on time.

The aligner holds events and releases them in timestamp order up to a low watermark: the
smallest "newest event time" among partitions that still have a backlog. A partition that is
caught up holds nothing back (its next events can only be newer), so in steady state events
pass straight through. Offsets to commit stop before the first event still held, so a crash
re-reads exactly what was not released.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Held events beyond this are released oldest first, whatever the watermark: memory is bounded
# and a stuck partition cannot stall the others forever.
MAX_HELD = 200_000


@dataclass
class _Partition:
    newest_ts: int | None = None
    next_offset: int = 0
    held: set[int] = field(default_factory=set)  # offsets of events not yet released


class Aligner:
    """Orders items by event time across partitions; items are opaque to it."""

    def __init__(self, has_backlog: Callable[[str], bool], max_held: int = MAX_HELD) -> None:
        self.has_backlog = has_backlog  # set by the Kafka adapter once its consumer exists
        self._max_held = max_held
        self._heap: list[tuple[int, int, str, int, Any]] = []
        self._seq = itertools.count()
        self._partitions: dict[str, _Partition] = {}

    def __len__(self) -> int:
        return len(self._heap)

    def track(self, partitions: list[str]) -> None:
        """Partitions assigned to us: until one shows an event, it may hold older ones."""
        for key in partitions:
            self._partitions.setdefault(key, _Partition())

    def forget(self, partitions: list[str]) -> None:
        """Partitions taken away in a rebalance: their held events are the new owner's now
        (never acknowledged, so Kafka redelivers them there)."""
        gone = set(partitions)
        for key in gone:
            self._partitions.pop(key, None)
        self._heap = [entry for entry in self._heap if entry[2] not in gone]
        heapq.heapify(self._heap)

    def add(self, partition: str, offset: int, ts: int, item: Any) -> None:
        state = self._partitions.setdefault(partition, _Partition())
        state.newest_ts = ts if state.newest_ts is None else max(state.newest_ts, ts)
        state.next_offset = max(state.next_offset, offset + 1)
        state.held.add(offset)
        heapq.heappush(self._heap, (ts, next(self._seq), partition, offset, item))

    def passed(self, partition: str, offset: int) -> None:
        """An offset that needs no ordering (a bad message) still moves the commit point."""
        state = self._partitions.setdefault(partition, _Partition())
        state.next_offset = max(state.next_offset, offset + 1)

    def next_offset(self, partition: str) -> int | None:
        """The offset after the newest one seen in ``partition`` (None: nothing seen yet)."""
        state = self._partitions.get(partition)
        return state.next_offset if state is not None else None

    def watermark(self) -> float:
        lagging = [p.newest_ts for key, p in self._partitions.items()
                   if self.has_backlog(key)]
        if not lagging:
            return float("inf")
        if any(ts is None for ts in lagging):
            return float("-inf")
        return min(ts for ts in lagging if ts is not None)

    def release(self) -> list[Any]:
        """Items due now, in event-time order (ties in arrival order)."""
        limit = self.watermark()
        out = []
        while self._heap and (self._heap[0][0] <= limit or len(self._heap) > self._max_held):
            _, _, partition, offset, item = heapq.heappop(self._heap)
            self._partitions[partition].held.discard(offset)
            out.append(item)
        return out

    def commit_offsets(self) -> dict[str, int]:
        """Per partition, the offset a restart must read from: before the first held event."""
        return {key: (min(p.held) if p.held else p.next_offset)
                for key, p in self._partitions.items() if p.held or p.next_offset}
