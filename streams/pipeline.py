"""The in-process pipeline: raw message values in, KPI engine state and pipeline health out.

Shared by ``ccpulse demo``, ``ccpulse replay`` and the worker's replica: decode →
dedup/lateness → engine, with every refusal counted by reason (the caller reports it: a
replay prints the line number; the worker dead-letters before its log, so its replica only
sees valid events). The engine is guarded by a lock because ``/metrics`` is scraped from
another thread while events are applied; a snapshot holds it only while it reads the engine
(:func:`~processors.snapshot.read`), not while it computes the ratios and plans from what it
read, so an event committed during a scrape waits for the reading alone.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from ccpulse.processors.config import EngineConfig
from ccpulse.processors.decode import Decoded, Rejection, decode
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.snapshot import (
    AgentFilter,
    FloorNow,
    PeriodSums,
    Reading,
    Snapshot,
    finish,
    floor_now,
    period_sums,
    read,
    teammates,
)
from ccpulse.processors.timeline import STATE_NAMES

AGENT_TOPIC = "cc.agent-states"
INTERACTION_TOPIC = "cc.interactions"
SCHEDULE_TOPIC = "cc.schedules"
DEADLETTER_TOPIC = "cc.deadletter"
ALERTS_TOPIC = "cc.alerts"


def topic_for_type(event_type: str, agent_topic: str = AGENT_TOPIC,
                   interaction_topic: str = INTERACTION_TOPIC,
                   schedule_topic: str = SCHEDULE_TOPIC) -> str:
    """Contract §5 and §7.1: the topic of an event follows from its ``type`` prefix."""
    if event_type.startswith("agent."):
        return agent_topic
    return schedule_topic if event_type.startswith("schedule.") else interaction_topic


@dataclass(frozen=True)
class DeadLetter:
    """Where a refused message came from and why; the payload travels unchanged beside it."""

    topic: str
    partition: int
    offset: int
    reason: str
    detail: str


@dataclass(frozen=True)
class SnapshotCost:
    """What one snapshot cost: the operator's measure of how many agents a worker can serve
    (a scrape is mostly its snapshot; BENCHMARKS.md)."""

    # "floor": every agent, team and queue; "share": a sharded worker's own agents; "drill":
    # one agent, or one agent's team, for /api/v1 and an agent's page (Pipeline.drill)
    kind: str
    agents: int  # agents in it
    engine_held_s: float  # reading the engine, while the replica waits (in pieces: LetIn)
    total_s: float  # reading and computing the ratios, scores and staffing plan


@dataclass(frozen=True)
class PendingSnapshot:
    """A snapshot read from the engine and not yet finished (:meth:`Pipeline.floor_reading`)."""

    kind: str
    reading: Reading
    started: float  # time.perf_counter() when the reading began
    held_s: float  # the engine held for the reading, its pieces summed (LetIn)
    # set once it is finished (or failed): readers waiting for it (Pipeline.recent_floor)
    done: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)


@dataclass
class PipelineStats:
    processed: Counter[tuple[str, str]] = field(default_factory=Counter)  # (topic, type)
    dead_lettered: Counter[str] = field(default_factory=Counter)  # reason
    duplicates: int = 0
    last_event_ms: int | None = None  # event time of the last applied event
    first_event_ms: int | None = None  # event time of the first applied event


# the longest a reading holds the engine at once while others wait for it (the replica to
# apply an event, a scrape to read the floor's states), and how long it then lets go: a
# reading of a 50,000-agent floor held it for 3–5 s at once, so a replica applied nothing
# and a scrape's states waited, or were up to 15 s old, every alert evaluation
# (BENCHMARKS.md, issue 19, twenty-seventh round)
HOLD_S = 0.02
LET_IN_S = 0.001


class LetIn:
    """A reading's ``pause`` (:func:`ccpulse.processors.snapshot.read`): once the reading
    has held ``lock`` (acquired when this is made) for :data:`HOLD_S`, lets it go for
    :data:`LET_IN_S` — a thread waiting for it takes it then — and waits to have it back;
    ``away_s`` is how long the reading was without it."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._since = time.perf_counter()
        self.away_s = 0.0

    def __call__(self) -> None:
        now = time.perf_counter()
        if now - self._since < HOLD_S:
            return
        self._lock.release()
        try:
            time.sleep(LET_IN_S)
        finally:
            self._lock.acquire()
            self._since = time.perf_counter()
            self.away_s += self._since - now


class Pipeline:
    """Applies message values to a :class:`KpiEngine` and keeps pipeline health counters."""

    def __init__(self, config: EngineConfig | None = None, *, dedup: bool = True) -> None:
        self.engine = KpiEngine(config, dedup=dedup)
        self.stats = PipelineStats()
        self.lock = threading.Lock()  # the engine's: held to apply an event or read it
        # Held for the whole of a long reading (a snapshot, a history interval), which lets
        # the engine's lock go between its chunks (LetIn) for the replica's events and the
        # scrapes' states, not for another long reading: two floor readings taking turns
        # both finished late (a scrape's and the alert evaluation's, 50,000 agents), where
        # one after the other the first finishes in its own time.
        self._reading = threading.Lock()
        # Guards latest and _under_way only, never held while the engine is read: a reader
        # asking for a recent floor snapshot (a scrape, one agent's answer) does not wait for
        # a floor reading that holds the engine for seconds at 50,000 agents.
        self._floors = threading.Lock()
        self.latest: Snapshot | None = None
        self._under_way: PendingSnapshot | None = None  # the newest floor reading unfinished
        self.floor_ms = 0  # what the last floor snapshot took, reading and finish (wall clock)
        # called with each applied event, after the engine (the history's interaction records)
        self.on_applied: Callable[[Decoded], None] | None = None
        # called with what each snapshot cost (ccpulse.snapshot_cost: /metrics and the log)
        self.on_snapshot: Callable[[SnapshotCost], None] | None = None

    def feed(
        self,
        raw: bytes,
        topic: str | None,
        now_ms: int | None,
        *,
        before_apply: Callable[[int], None] | None = None,
    ) -> Decoded | Rejection | None:
        """Apply one message. Returns the decoded event, the rejection, or None for a duplicate.

        ``topic`` None derives it from the event type (a replayed file); ``now_ms`` judges
        future timestamps, None skips that check (a replay without --now);
        ``before_apply(ts_ms)`` runs just before a valid event is applied.
        """
        result = decode(raw, now_ms)
        if isinstance(result, Decoded):
            event_type = type(result.event).__struct_config__.tag  # type: ignore[attr-defined]
            topic = topic or topic_for_type(str(event_type))
            if before_apply is not None:
                before_apply(result.ts_ms)
            with self.lock:
                applied = self.engine.apply(result)
            if applied == "duplicate":
                self.stats.duplicates += 1
                return None
            if isinstance(applied, Rejection):
                result = applied
            else:
                if self.on_applied is not None:
                    self.on_applied(result)
                self.stats.processed[(topic, event_type)] += 1
                self.stats.last_event_ms = result.ts_ms
                if self.stats.first_event_ms is None:
                    self.stats.first_event_ms = result.ts_ms
                return result
        self.stats.dead_lettered[result.reason] += 1
        return result

    def snapshot(self, now_ms: int) -> Snapshot:
        """Every KPI at ``now_ms``; kept as ``latest`` for readers that accept a recent one
        (``ccpulse.api.RecentSnapshot``)."""
        return self.floor_finished(self.floor_reading(now_ms))

    def floor_reading(self, now_ms: int) -> PendingSnapshot:
        """:meth:`snapshot`'s reading of the engine alone, under the lock: what the events
        applied so far say at ``now_ms``. :meth:`floor_finished` completes it, in any thread:
        it touches nothing but the reading."""
        pending = self._read("floor", now_ms, None, None)
        with self._floors:
            if self._under_way is None or now_ms >= self._under_way.reading.now:
                self._under_way = pending
        return pending

    def floor_finished(self, pending: PendingSnapshot) -> Snapshot:
        try:
            latest = self._finish(pending)
            with self._floors:  # two readers may finish out of order: keep the newer instant
                if self.latest is None or latest.now >= self.latest.now:
                    self.latest = latest
        finally:  # a failed finish wakes its waiters too: they compute one of their own
            with self._floors:
                if self._under_way is pending:
                    self._under_way = None
            pending.done.set()
        return latest

    def recent_floor(self, since_ms: int, wait_s: float) -> Snapshot | None:
        """The newest floor snapshot of an instant at or after ``since_ms``: the last one
        finished, or the one being finished now (another thread's, e.g. the alert
        evaluation's), waited for up to ``wait_s``; None when there is none that recent."""
        with self._floors:
            under_way = self._under_way
        if under_way is not None and under_way.reading.now >= since_ms:
            under_way.done.wait(wait_s)
        with self._floors:
            latest = self.latest
        return latest if latest is not None and latest.now >= since_ms else None

    def share(self, now_ms: int, agents: AgentFilter,
              windows: Collection[str] | None = None) -> Snapshot:
        """The snapshot of the ``agents`` it accepts only, of ``windows`` only where given (a
        sharded worker's /metrics)."""
        return self._finish(self._read("share", now_ms, agents, windows))

    def floor_now(self, now_ms: int, agents: AgentFilter | None = None,
                  wait_s: float | None = None, *, detail: AgentFilter | None = None,
                  ) -> FloorNow | None:
        """The floor's states, counts and waits at ``now_ms`` (of the ``agents`` it accepts
        only, where given; each agent's state only of those ``detail`` accepts, where given):
        one lookup per agent under the engine's lock, in one piece (0.2 s at 50,000 agents; a
        long reading lets the lock go for it between its chunks), read for every scrape
        (``KpiCollector``'s ``floor_now``). None if the lock is not had within ``wait_s``
        (None: waits as long as it takes)."""
        if not self.lock.acquire(timeout=-1 if wait_s is None else wait_s):
            return None
        try:
            return floor_now(self.engine, now_ms, agents, detail=detail)
        finally:
            self.lock.release()

    def drill(self, now_ms: int, agent: str, team: bool = False) -> Snapshot:
        """The snapshot of one agent, or of it and its teammates (``team``: what its page
        compares it with), exactly as the floor's at ``now_ms`` for them: one agent's answer
        without the whole floor's snapshot (ccpulse.api.AgentSnapshots)."""
        if team:
            return self._finish(self._read("drill", now_ms, None, None, team_of=agent))
        return self._finish(self._read("drill", now_ms, frozenset((agent,)).__contains__, None))

    def _read(self, kind: str, now_ms: int, agents: AgentFilter | None,
              windows: Collection[str] | None, *, team_of: str | None = None,
              ) -> PendingSnapshot:
        started = time.perf_counter()  # the snapshot's time counts its wait for the locks
        with self._reading, self.lock:
            got = time.perf_counter()  # ... the engine's hold does not: another held it
            held = LetIn(self.lock)
            if team_of is not None:  # the team as it stands at the reading's instant
                agents = teammates(self.engine, team_of, now_ms).__contains__
            reading = read(self.engine, now_ms, agents, windows, pause=held)
        held_s = time.perf_counter() - got - held.away_s
        return PendingSnapshot(kind, reading, started, held_s)

    def _finish(self, pending: PendingSnapshot) -> Snapshot:
        out = finish(pending.reading)  # the ratios and plans: the replica applies on meanwhile
        total_s = time.perf_counter() - pending.started
        if pending.kind == "floor":
            self.floor_ms = round(total_s * 1000)
        if self.on_snapshot is not None:
            self.on_snapshot(SnapshotCost(pending.kind, len(out.agents), pending.held_s, total_s))
        return out

    def period_sums(self, start_ms: int, end_ms: int) -> PeriodSums:
        """Every cell's components over ``(start_ms, end_ms]``: a history interval."""
        with self._reading, self.lock:
            return period_sums(self.engine, start_ms, end_ms, pause=LetIn(self.lock))

    def agent_day(self, agent: str, start_ms: int, end_ms: int,
                  ) -> tuple[list[tuple[int, int, str]], list[tuple[int, int, str]]]:
        """An agent's schedule and activity over ``(start_ms, end_ms]``, piece by piece:
        what an agent's page draws as "schedule against what happened"."""
        with self.lock:
            schedule = self.engine.schedules.get(agent)
            machine = self.engine.agents.get(agent)
            planned = [] if schedule is None else [
                (a, b, activity) for a, b, activity, _ in schedule.pieces(start_ms, end_ms)]
            actual = [] if machine is None else [
                (a, b, STATE_NAMES[category])
                for a, b, category, _ in machine.timeline.pieces(start_ms, end_ms)]
        return planned, actual

    def expire(self, now_ms: int) -> None:
        with self.lock:
            self.engine.expire(now_ms)
