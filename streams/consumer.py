"""What a worker does with batches of Kafka messages, independent of the Kafka library.

Validate every message; refuse bad ones with a reason (they go to the dead-letter topic
unchanged); skip messages below the offsets already committed to Redis (a redelivery after a
crash); hold valid events in an :class:`~streams.align.Aligner` and release them in event-time
order; refuse released events older than their key's newest event by more than the lateness
limit (``too_late``); hand the rest, with the offsets a restart must resume from, to the
event-log commit. Each message's ``handle`` (the Kafka library's event) comes back once it may
be acknowledged: done with (released, refused or skipped) *and* below the offset the commit
stores for its partition. Acknowledging in offset order matters: events are released in time
order, not offset order, and faust commits the first run of consecutive acknowledged offsets
even when it starts past a hole (an event still held). Kafka's committed offset then passed
Redis's, and a partition that moved in a rebalance resumed past events nobody had applied
(found by the reliability suite's rebalance runs: the log stopped short).

Known ids come before lateness, as in the engine: an event refused as too late is only a
candidate (``Prepared.late``) until the caller has asked the event log whether its id is
already there (:meth:`BatchProcessor.settle_late`); a re-sent event that arrives after the
lateness limit is a duplicate, not a loss, and does not belong on the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ccpulse.processors.decode import Decoded, Rejection, decode, too_late
from ccpulse.streams.align import Aligner
from ccpulse.streams.pipeline import DeadLetter, PipelineStats
from ccpulse.streams.redis_log import Accepted, partition_key


class RawMessage(NamedTuple):
    """One Kafka message as read: a named tuple, built for every message (a frozen
    dataclass' ``__init__`` is several times slower; ``python -m bench consumer``)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    handle: Any = None  # acknowledged once the message is done with


@dataclass
class Prepared:
    accepted: list[Accepted] = field(default_factory=list)
    dead: list[tuple[DeadLetter, RawMessage]] = field(default_factory=list)
    offsets: dict[str, int] = field(default_factory=dict)  # partition key -> resume offset
    done: list[Any] = field(default_factory=list)  # handles that may be acknowledged
    skipped: int = 0  # below the committed offsets: applied before a restart
    # too late unless the log knows their ids already (then duplicates): settle_late decides
    late: list[tuple[DeadLetter, RawMessage, Accepted]] = field(default_factory=list)
    late_duplicates: int = 0


class BatchProcessor:
    """Per-worker state: committed offsets, the aligner and per-key watermarks."""

    def __init__(self, stats: PipelineStats, lateness_ms: int, clock_ms: Callable[[], int],
                 has_backlog: Callable[[str], bool] = lambda _: False) -> None:
        self.stats = stats
        self.lateness_ms = lateness_ms
        self.clock_ms = clock_ms
        self.offsets: dict[str, int] = {}
        self.aligner = Aligner(has_backlog)
        # newest released event time per agent or queue
        self.watermarks: dict[str, int] = {}
        # per partition: (offset, handle) done with but not yet below the commit offset
        self._unacked: dict[str, list[tuple[int, Any]]] = {}

    def prepare(self, messages: Sequence[RawMessage]) -> Prepared:
        out = Prepared()
        now = self.clock_ms()
        for m in messages:
            key = partition_key(m.topic, m.partition)
            if m.offset < self.offsets.get(key, 0):
                out.skipped += 1
                self._finished(key, m)
                self.aligner.passed(key, m.offset)
                continue
            result = decode(m.value, now)
            if isinstance(result, Rejection):
                self._refuse(out, key, m, result)
                self.aligner.passed(key, m.offset)
            else:
                self.aligner.add(key, m.offset, result.ts_ms, (key, m, result))
        for key, m, decoded in self.aligner.release():
            checked = self._check_lateness(decoded)
            if isinstance(checked, Rejection):
                letter = DeadLetter(m.topic, m.partition, m.offset, checked.reason,
                                    checked.detail)
                out.late.append((letter, m, Accepted(decoded.event.event_id, decoded.ts_ms,
                                                     m.value)))
                self._finished(key, m)
                continue
            event = decoded.event
            out.accepted.append(Accepted(event.event_id, decoded.ts_ms, m.value))
            self._finished(key, m)
            tag = type(event).__struct_config__.tag  # type: ignore[attr-defined]
            self.stats.processed[(m.topic, str(tag))] += 1
        out.offsets = self.aligner.commit_offsets()
        out.done = self._acknowledgeable(out.offsets)
        return out

    def next_to_read(self, key: str) -> int:
        """The offset after what this worker has read of a partition or found committed in
        Redis: Kafka's highwater minus this is what is left to read."""
        return max(self.aligner.next_offset(key) or 0, self.offsets.get(key, 0))

    def forget(self, partitions: list[str]) -> None:
        """Partitions revoked in a rebalance: what we held or had not acknowledged is read
        again by their next owner."""
        self.aligner.forget(partitions)
        for key in partitions:
            self._unacked.pop(key, None)

    def _finished(self, key: str, m: RawMessage) -> None:
        """``m`` (of partition ``key``) is done with: acknowledged once below the commit."""
        self._unacked.setdefault(key, []).append((m.offset, m.handle))

    def _acknowledgeable(self, offsets: dict[str, int]) -> list[Any]:
        """Handles below their partition's commit offset, taken out of the waiting lists."""
        out: list[Any] = []
        for key, waiting in self._unacked.items():
            limit = offsets.get(key)
            if limit is None or not waiting:
                continue
            out += [handle for offset, handle in waiting if offset < limit]
            waiting[:] = [(offset, handle) for offset, handle in waiting if offset >= limit]
        return out

    def settle_late(self, prepared: Prepared, known: Sequence[bool]) -> None:
        """``known[i]``: the event log has the id of ``prepared.late[i]`` already. Those are
        duplicates; the rest are dead-lettered as too late."""
        for (letter, message, _), is_known in zip(prepared.late, known, strict=True):
            if is_known:
                prepared.late_duplicates += 1
            else:
                prepared.dead.append((letter, message))
        prepared.late = []

    def _refuse(self, out: Prepared, key: str, m: RawMessage, rejection: Rejection) -> None:
        letter = DeadLetter(m.topic, m.partition, m.offset, rejection.reason, rejection.detail)
        out.dead.append((letter, m))
        self._finished(key, m)

    def _check_lateness(self, decoded: Decoded) -> Decoded | Rejection:
        event, ts = decoded
        entity = getattr(event, "agent_id", None) or f"queue:{event.queue_id}"  # type: ignore[attr-defined]
        newest = self.watermarks.get(entity)
        late = too_late(ts, newest, self.lateness_ms)
        if late is not None:
            return late
        if newest is None or ts > newest:
            self.watermarks[entity] = ts
        return decoded

    def committed(self, prepared: Prepared, added: int) -> None:
        """Record a successful commit: offsets, duplicates and dead letters counted."""
        self.offsets.update(prepared.offsets)
        self.stats.duplicates += len(prepared.accepted) - added + prepared.late_duplicates
        for letter, _ in prepared.dead:
            self.stats.dead_lettered[letter.reason] += 1
