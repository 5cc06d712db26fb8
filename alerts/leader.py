"""One evaluator and sender of alerts among N workers, with the alert state kept in Redis.

Only the holder of a short Redis lease evaluates the rules and sends the transitions; it saves
the evaluator's state after each evaluation, once the transitions are delivered. The others
compute nothing for alerts: they mirror the saved state (so every worker's ``/metrics`` and
pages show the alerts firing), which frees them of a whole floor's snapshot every 15 s —
at 50,000 agents, seconds of a core each time (BENCHMARKS.md). When the sender dies its lease
expires and another worker takes over: it loads the state the last sender delivered and
evaluates every instant due since, one by one (those within ``CCPULSE_ALERTS_MAX_LATE_S``,
two minutes, of now: more than a lease; ccpulse.runtime.Monitor). Its replica computes any
past instant exactly,
so it sends exactly the transitions, with the same ``startsAt`` and ``endsAt``, that the old
sender would have sent: nothing repeated, nothing missed, nothing shifted to the hand-over.
A single worker that restarts does the same: holds continue and firing alerts keep their
``startsAt`` instead of firing again.

Live, though, an instant is evaluated on the events read by then, and a sender that dies
after sending and before saving leaves transitions its successor may not repeat: it
re-evaluates that instant on a fuller log. So the sender also writes, before each send, the
last transition per alert that receivers may have (``…:sent``, resolved ones dropped once
delivered), and a new holder's first evaluation sends what brings them to its state
(:meth:`AlertEvaluator.reconcile`): a firing alert its state does not hold is resolved, one it
holds that receivers may lack fires. Without that, ``cc.alerts`` could show an alert firing
for ever (the reliability suite's kill -9 runs found it).

The lease and the state belong to a consumer group, as the partitions do: two groups sharing
one Redis (a second deployment reading the same log, a reference worker in the tests) each
have a holder, and so each exports its teams, queues and channels — a group whose lease went
to a worker of another group exported none of them.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from ccpulse.alerts.engine import Alert, AlertEvaluator
from ccpulse.alerts.notify import Notifier

log = logging.getLogger("ccpulse.alerts")

LEASE_MS = 45_000  # three evaluation intervals: one missed evaluation does not hand over

# KEYS[1] lease; ARGV[1] holder id, ARGV[2] lease ms. Extend it if ours; never take it.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
# The same keys and arguments. Take it if free, renew it if ours.
_ACQUIRE = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end" + _RENEW


class LeaderNotifier:
    """Decides, before each round of evaluations, whether this worker evaluates (:meth:`lead`),
    and forwards the transitions of its evaluations to ``notifiers``."""

    def __init__(self, client: Any, evaluator: AlertEvaluator, notifiers: Sequence[Notifier],
                 prefix: str = "{ccpulse}", group: str = "ccpulse", *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._clock = clock
        self._held_until: float | None = None  # when the last renewal runs out, by our clock
        self._evaluator = evaluator
        self._notifiers = notifiers
        self.lease_key = f"{prefix}:alerts:{group}:leader"
        self._state_key = f"{prefix}:alerts:{group}:state"
        self._sent_key = f"{prefix}:alerts:{group}:sent"  # fingerprint -> last Alert sent
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self.holder = uuid.uuid4().hex
        self.leading = False
        self._pending: list[Alert] = []
        self._reconcile = False  # the first evaluation after taking over brings receivers in

    def restore(self) -> bool:
        """Load the state the last sender saved; False if there is none."""
        raw = self._client.get(self._state_key)
        if raw:
            self._evaluator.load(raw)
        return bool(raw)

    def lead(self) -> bool:
        """Take or renew the lease. True: evaluate what is due and pass the transitions to
        :meth:`notify`. False: another worker does; the evaluator now mirrors its state."""
        asked = self._clock()
        leading = bool(self._acquire(keys=[self.lease_key], args=[self.holder, LEASE_MS]))
        # counted from before the request: never later than Redis lets the lease go
        self._held_until = asked + LEASE_MS / 1000 if leading else None
        if leading != self.leading:
            self.leading = leading
            self._pending = []
            self._reconcile = leading
            # Leading now: start from what the last sender delivered, not from this worker's
            # mirror, which may be an evaluation older; the instants since are evaluated next.
            restored = self.restore() if leading else False
            log.info("alert_leadership", extra={"fields": {
                "leading": leading, "alerts": len(self._evaluator.tracks),
                "state_restored": restored}})
        elif not leading:
            self.restore()
        return leading

    def renew(self) -> bool:
        """Extend the lease if this worker holds it, and change nothing else: safe from a
        thread of its own (``ccpulse.runtime.LeaseKeeper``) while the evaluations run on
        theirs. It never takes a free lease and never switches this worker to following;
        :meth:`lead`, asked before each evaluation, does both."""
        asked = self._clock()
        if not self._renew(keys=[self.lease_key], args=[self.holder, LEASE_MS]):
            return False
        self._held_until = asked + LEASE_MS / 1000
        return True

    def holds(self) -> bool:
        """Leading, and the last renewal has not run out. ``leading`` alone stays true while a
        busy holder has not asked again, and by then another worker may hold the lease: two
        workers exported the teams, queues and channels at once in a 50,000-agent run
        (BENCHMARKS.md, issue 19, eighth round). What only the holder may do at any instant —
        export the floor — asks this."""
        return self._held_until is not None and self._clock() < self._held_until

    def notify(self, alerts: list[Alert]) -> None:
        """Send one evaluation's transitions, then save the state (call only while leading)."""
        if self._reconcile:
            alerts = [*alerts, *self._reconciling(alerts)]
            self._reconcile = False
        # Send first, save after: a crash in between repeats these transitions on restart
        # (at least once; receivers dedupe by fingerprint) instead of losing them, and what
        # was sent is written before, for a successor to reconcile. A failed delivery (Kafka
        # away) keeps them for the next evaluation, 15 s later.
        pending, self._pending = [*self._pending, *alerts], []
        latest = {alert.fingerprint: alert for alert in pending}
        if latest:
            self._client.hset(self._sent_key, mapping={
                fp: msgspec.json.encode(alert) for fp, alert in latest.items()})
        try:
            for notifier in self._notifiers:
                notifier.notify(pending)
        except Exception as exc:  # any sender's failure: keep the transitions, retry
            self._pending = pending
            log.warning("alert_delivery_failed", extra={"fields": {
                "error": type(exc).__name__, "pending": len(pending)}})
            return
        saving = self._client.pipeline(transaction=True)
        saving.set(self._state_key, self._evaluator.dump())
        resolved = [fp for fp, alert in latest.items() if alert.status == "resolved"]
        if resolved:  # delivered: receivers hold them resolved, nothing left to reconcile
            saving.hdel(self._sent_key, *resolved)
        saving.execute()

    def _reconciling(self, alerts: list[Alert]) -> list[Alert]:
        delivered = {fp.decode(): msgspec.json.decode(raw, type=Alert)
                     for fp, raw in self._client.hgetall(self._sent_key).items()}
        extra = self._evaluator.reconcile(delivered, {alert.fingerprint for alert in alerts})
        if extra:
            log.info("alerts_reconciled", extra={"fields": {
                "firing": sum(a.status == "firing" for a in extra),
                "resolved": sum(a.status == "resolved" for a in extra)}})
        return extra
