"""The monitor: a pipeline, the alert evaluator and notifiers, driven by one notion of time.

``advance(now)`` runs every alert evaluation due up to ``now`` and forgets expired history.
The demo and the worker call it with their clock; a replay calls it before each event with
the event's time, so alerts follow event time exactly as contract §4 says.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Protocol

from ccpulse.alerts.engine import Alert, AlertEvaluator
from ccpulse.alerts.notify import Notifier
from ccpulse.alerts.rules import AGENT_WINDOWS
from ccpulse.history import INTERVAL_MS, IntervalWriter
from ccpulse.processors.snapshot import AgentKpis, Snapshot
from ccpulse.settings import Settings
from ccpulse.streams.pipeline import PendingSnapshot, Pipeline
from ccpulse.streams.throttle import Throttle

# Expiry walks every cell; every 5 min of event time keeps it off the per-event path.
EXPIRE_EVERY_MS = 5 * 60_000
# A scrape interval, an alert evaluation's: one malloc_trim took ~22 ms at 50,000 agents.
HEAP_RELEASE_EVERY_MS = 15_000
# CPython collects young objects every 700 allocations; see tune_gc.
GC_THRESHOLDS = (100_000, 50, 1000)
# A monitor not advanced for this long, or with an evaluation still being finished after it,
# is stuck, not slow (a floor of 50,000 agents takes under a minute even on a shared
# machine): its lease is no longer renewed, so another worker takes over.
STUCK_EVALUATION_MS = 5 * 60_000
# how often the lease keeper renews: a third of the lease (ccpulse.alerts.leader.LEASE_MS)
RENEW_EVERY_S = 15.0
# one log line at most this often about evaluations skipped (their count is on /metrics)
SKIPPED_LOG_EVERY_MS = 5 * 60_000

log = logging.getLogger("ccpulse.alerts")


def tune_gc() -> None:
    """Collect garbage less often. The engine holds millions of long-lived objects and makes
    few reference cycles, so CPython's default thresholds spend the time walking live state:
    with these, applying events ran 5-45 % faster (five paired runs, 1,000 agents x 8 h) and a
    scrape of 1,000 agents 0.69 -> 0.53 s. Freed objects still go at once (reference counts);
    only cyclic garbage waits longer."""
    gc.set_threshold(*GC_THRESHOLDS)


def alert_evaluator(settings: Settings) -> AlertEvaluator:
    """The rules with the configured thresholds, linking back to this process's /metrics."""
    return AlertEvaluator(settings.thresholds,
                          generator_url=f"http://localhost:{settings.metrics_port}/metrics")


class Lease(Protocol):
    """Whether this process evaluates the alerts (one of N workers does)."""

    def lead(self) -> bool: ...


class RenewableLease(Protocol):
    """A lease that can be extended from another thread without changing who leads
    (:meth:`ccpulse.alerts.leader.LeaderNotifier.renew`)."""

    leading: bool

    def renew(self) -> bool: ...


@dataclass
class Monitor:
    pipeline: Pipeline
    evaluator: AlertEvaluator | None = None
    notifiers: Sequence[Notifier] = ()
    history: IntervalWriter | None = None  # writes closed intervals (contract §7.5)
    lease: Lease | None = None  # None: this process always evaluates (demo, replay)
    # A long-running process hands the freed heap back (ccpulse.heap) after each expiry and
    # at most every HEAP_RELEASE_EVERY_MS of its clock between them: at 50,000 agents each
    # floor snapshot and each rendering free hundreds of MB every 15 s, which glibc kept
    # (BENCHMARKS.md, issue 19, twentieth round). A replay, over in minutes, does not need to.
    release_heap: Callable[[], object] | None = None
    # where an evaluation's snapshot is finished: None, in advance() itself; a worker gives
    # a thread of its own, so that its replica applies events meanwhile (BENCHMARKS.md)
    finisher: Executor | None = None
    # with how late each evaluation ran after its instant, in ms (the worker's
    # ccpulse_alert_evaluation_delay_seconds): alerts wait as long as that
    on_evaluated: Callable[[int], object] | None = None
    # A live worker's rule for instants it is late for. Taking the lease (a hand-over, a
    # start), it catches up every instant due at most this long ago, one by one: its
    # alerts then equal an uninterrupted run's. Once caught up, instants that fall due
    # while an evaluation runs are missed: only the newest is evaluated, as Prometheus'
    # rule groups skip the iterations they missed. Evaluating every one in order, a holder
    # whose evaluation outlasts the interval fell further behind with each one, without end
    # (BENCHMARKS.md, issue 19, eighteenth round). None (replay, demo): every instant.
    max_late_ms: int | None = None
    on_skipped: Callable[[int], object] | None = None  # with how many were skipped at once
    transitions: int = 0
    _next_expiry_ms: int | None = field(default=None, repr=False)
    _next_release_ms: int = field(default=0, repr=False)
    _next_edge_ms: int | None = field(default=None, repr=False)
    _ask_lease_ms: int | None = field(default=None, repr=False)
    _pending: Future[Snapshot] | None = field(default=None, repr=False)
    _pending_since_ms: int = field(default=0, repr=False)  # when it was submitted
    _renew_at_ms: int = field(default=0, repr=False)  # the lease, while one is finished
    _advanced_ms: int | None = field(default=None, repr=False)  # the last advance() call
    _queued: list[int] = field(default_factory=list, repr=False)  # due after the pending one
    # caught up: evaluated every instant due, holding the lease since (max_late_ms)
    _on_time: bool = field(default=False, repr=False)
    _skipped_log: Throttle = field(default_factory=lambda: Throttle(SKIPPED_LOG_EVERY_MS),
                                   repr=False)

    def __post_init__(self) -> None:
        if self.history is not None:
            self.pipeline.on_applied = self.history.observe

    def advance(self, now_ms: int, inclusive: bool = True) -> list[Alert]:
        """Evaluate alerts due up to ``now_ms`` (``inclusive=False``: strictly before it).

        With a ``finisher``, an evaluation's snapshot is read here and finished there, and
        this returns at once: the caller (the worker's replica) applies events meanwhile
        instead of waiting for the whole snapshot. The next call after it is finished
        evaluates it and goes on; history and expiry wait for it, so everything happens in
        the order a call without a finisher keeps."""
        self._advanced_ms = now_ms
        sent: list[Alert] = []
        dues: list[int] = []
        evaluating = renew_first = False  # this call evaluates; renew the lease first
        if self._pending is not None:
            if not self._pending.done():
                self._keep_lease(now_ms)
                return sent
            sent += self._evaluated(self._pending.result(), now_ms)
            self._pending, dues = None, self._queued
            if self.max_late_ms is not None and self.evaluator is not None:
                dues = [*dues, *self.evaluator.due_times(now_ms, inclusive)]  # due since
            evaluating = renew_first = True
        if not dues and self.evaluator is not None and self._evaluating(now_ms, inclusive):
            dues = self.evaluator.due_times(now_ms, inclusive)
            evaluating, renew_first = True, False
        if evaluating:
            dues = self._within_reach(dues, now_ms)
            self._next_edge_ms = None  # evaluations note the interval ends while leading
            self._queued = []
            for index, due in enumerate(dues):
                # Catching up many instants (after a restart, a hand-over) can outlast the
                # lease at 50,000 agents (a snapshot each, seconds apiece): renew it before
                # each one after the first, and stop where it went to another worker, which
                # goes on from the state saved after the last one sent here.
                if ((index or renew_first) and self.lease is not None
                        and not self.lease.lead()):
                    self._on_time = False
                    break
                self._on_time = index == len(dues) - 1  # the last of them: caught up
                if self.finisher is None:
                    sent += self._evaluated(self.pipeline.snapshot(due), now_ms)
                    continue
                self._pending = self.finisher.submit(self._finished,
                                                     self.pipeline.floor_reading(due))
                self._pending_since_ms = now_ms
                self._renew_at_ms = now_ms + self.evaluator.interval_ms  # just asked
                self._queued = dues[index + 1:]
                break
        elif self.evaluator is not None and self.history is not None:
            self._note_edges(now_ms, inclusive)  # another worker evaluates
        self.transitions += len(sent)
        if self._pending is not None:
            return sent  # history and expiry wait for the evaluation under way
        if self.history is not None:  # before expiry: it reads the intervals just closed
            self.history.advance(self.pipeline, now_ms)
        expired = self._next_expiry_ms is None or now_ms >= self._next_expiry_ms
        if expired:
            self.pipeline.expire(now_ms)
            self._next_expiry_ms = now_ms + EXPIRE_EVERY_MS
        if self.release_heap is not None and (expired or now_ms >= self._next_release_ms):
            self.release_heap()
            self._next_release_ms = now_ms + HEAP_RELEASE_EVERY_MS
        return sent

    def _within_reach(self, dues: list[int], now_ms: int) -> list[int]:
        """Of ``dues``, under :attr:`max_late_ms`: caught up, the newest alone; catching up,
        those at most that long before ``now_ms`` (the newest whatever its age). The
        skipped ones counted and, at most every :data:`SKIPPED_LOG_EVERY_MS`, logged."""
        if self.max_late_ms is None or not dues:
            return dues
        kept = dues[-1:] if self._on_time else (
            [due for due in dues if now_ms - due <= self.max_late_ms] or dues[-1:])
        skipped = len(dues) - len(kept)
        if not skipped:
            return kept
        if self.on_skipped is not None:
            self.on_skipped(skipped)
        if (since_logged := self._skipped_log.count(now_ms, skipped)) is not None:
            log.warning("alert_evaluations_skipped", extra={"fields": {
                "skipped": since_logged, "late_seconds": round((now_ms - dues[0]) / 1000, 1),
                "hint": "evaluations take longer than their interval here: the alert "
                        "lease holder is overloaded; see README 'How fast'"}})
        return kept

    def stuck(self, now_ms: int) -> bool:
        """Not advanced for :data:`STUCK_EVALUATION_MS`, or an evaluation being finished
        that long (read from another thread: :class:`LeaseKeeper`)."""
        advanced, pending = self._advanced_ms, self._pending
        return (advanced is None or now_ms - advanced > STUCK_EVALUATION_MS
                or (pending is not None
                    and now_ms - self._pending_since_ms > STUCK_EVALUATION_MS))

    def _keep_lease(self, now_ms: int) -> None:
        """While an evaluation is being finished, ask for the lease once per evaluation
        interval (renewing it): a floor whose snapshot outlasts the lease (50,000 agents on
        a busy machine) would otherwise hand it to another worker in the middle, which then
        computes the floor too (BENCHMARKS.md, sixteenth round; :class:`LeaseKeeper` renews
        it while this thread has no idle moment to call here). Refused (Redis gave it
        away), the evaluation under way is dropped: its successor evaluates that instant.
        Not asked once the evaluation looks stuck, so that another worker takes over."""
        assert self.evaluator is not None
        if self.lease is None or now_ms < self._renew_at_ms or self.stuck(now_ms):
            return
        if self.lease.lead():
            self._renew_at_ms = now_ms + self.evaluator.interval_ms
            return
        self._pending, self._queued, self._on_time = None, [], False
        self._ask_lease_ms = now_ms + self.evaluator.interval_ms

    def close(self) -> None:
        """Stop finishing snapshots (a process that stops does not wait for one)."""
        if self.finisher is not None:
            self.finisher.shutdown(wait=False, cancel_futures=True)

    def _finished(self, pending: PendingSnapshot) -> Snapshot:
        """The evaluation's snapshot, finished on the finisher's thread with every agent's
        KPIs the rules read computed there too (:data:`~ccpulse.alerts.rules.AGENT_WINDOWS`):
        computed as read, they would otherwise be computed by the rules, on the replica's
        thread, which applies no event meanwhile (1.2 s an evaluation at 50,000 agents:
        event → /metrics 43 → 69 s, BENCHMARKS.md, issue 19, seventeenth round)."""
        snap = self.pipeline.floor_finished(pending)
        for window in AGENT_WINDOWS:
            kpis = snap.windows.get(window)
            if kpis is not None and isinstance(kpis.agent, AgentKpis):
                kpis.agent.compute_all()
        return snap

    def _evaluated(self, snap: Snapshot, now_ms: int) -> list[Alert]:
        """One evaluation of ``snap``, at ``now_ms``: its transitions, noted and sent."""
        assert self.evaluator is not None
        alerts = self.evaluator.evaluate(snap)
        if self.on_evaluated is not None:
            self.on_evaluated(now_ms - snap.now)
        if self.history is not None:
            self.history.note(snap)  # the staffing plan at an interval's end
        # Called after every evaluation, even without transitions: a notifier may have
        # per-evaluation work (the leader lease and saved state).
        for notifier in self.notifiers:
            notifier.notify(alerts)
        return alerts

    def _evaluating(self, now_ms: int, inclusive: bool) -> bool:
        """An evaluation is due and this process runs it: it holds the lease, asked for when
        one is due (a worker calls ``advance`` whenever its replica is idle, many times a
        second) and, once refused, not again before an evaluation interval has passed."""
        assert self.evaluator is not None
        if not self.evaluator.due(now_ms, inclusive):
            return False
        if self.lease is None:
            return True
        if self._ask_lease_ms is not None and now_ms < self._ask_lease_ms:
            return False
        if self.lease.lead():
            self._ask_lease_ms = None
            return True
        self._ask_lease_ms = now_ms + self.evaluator.interval_ms
        self._on_time = False  # another worker evaluates: taken back, it catches up again
        return False

    def _note_edges(self, now_ms: int, inclusive: bool) -> None:
        """Without evaluations of its own (another worker leads), a worker that writes history
        still takes the staffing plan at each interval's end, as an evaluation would have."""
        assert self.history is not None
        edge = self._next_edge_ms
        if edge is None:
            edge = -(-now_ms // INTERVAL_MS) * INTERVAL_MS
        while edge < now_ms or (inclusive and edge == now_ms):
            self.history.note(self.pipeline.snapshot(edge))
            edge += INTERVAL_MS
        self._next_edge_ms = edge

    def before_event(self, ts_ms: int) -> None:
        """Hook for a replay: evaluations due strictly before this event's time run first."""
        self.advance(ts_ms, inclusive=False)


class LeaseKeeper:
    """Renews the alert lease every :data:`RENEW_EVERY_S` while this process leads and its
    monitor is not stuck, on a thread of its own.

    The monitor asks for the lease before each evaluation, and its caller (the worker's
    replica) runs it only when idle. On a floor of 50,000 agents sharing a busy machine that
    thread can go longer than the lease without an idle moment: reading an evaluation's
    snapshot, waiting for the engine while a scrape's snapshot reads it, applying what came
    meanwhile. The lease then ran out under a working holder; another worker took it and
    computed the whole floor too, and the team series moved with it (BENCHMARKS.md, issue
    19, sixteenth round). A holder that hangs still hands over: a stuck monitor
    (:meth:`Monitor.stuck`) is not renewed for."""

    def __init__(self, lease: RenewableLease, monitor: Monitor,
                 clock_ms: Callable[[], int], every_s: float = RENEW_EVERY_S) -> None:
        self._lease = lease
        self._monitor = monitor
        self._clock_ms = clock_ms
        self._every_s = every_s

    def start(self) -> LeaseKeeper:
        """Renew from now on, on a daemon thread: it ends with the process."""
        threading.Thread(target=self._run, name="lease-keeper", daemon=True).start()
        return self

    def tick(self) -> bool:
        """Renew now if leading and not stuck; True if renewed."""
        if not self._lease.leading or self._monitor.stuck(self._clock_ms()):
            return False
        return self._lease.renew()

    def _run(self) -> None:
        while True:
            time.sleep(self._every_s)
            try:
                self.tick()
            except Exception as exc:  # Redis away: the next evaluation's lead() says so too
                log.warning("alert_lease_renewal_failed", extra={"fields": {
                    "error": type(exc).__name__, "hint": "check CCPULSE_REDIS_URL"}})
