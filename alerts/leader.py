"""One sender of alerts among N workers, with the alert state kept in Redis.

Every worker evaluates the rules on the same replicated history, so each knows the same
transitions; only the holder of a short Redis lease sends them, and it saves the evaluator's
state after each evaluation, once the transitions are delivered. When it dies the lease
expires and another worker, whose state is the same, takes over. A single worker that
restarts reloads the state: holds continue and firing alerts keep their ``startsAt`` instead of
firing again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from ccpulse.alerts.engine import Alert, AlertEvaluator
from ccpulse.alerts.notify import Notifier

log = logging.getLogger("ccpulse.alerts")

LEASE_MS = 45_000  # three evaluation intervals: one missed evaluation does not hand over

# KEYS[1] lease; ARGV[1] holder id, ARGV[2] lease ms. Take it if free, renew it if ours.
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


class LeaderNotifier:
    """Forwards transitions to ``notifiers`` only while this worker holds the lease."""

    def __init__(self, client: Any, evaluator: AlertEvaluator, notifiers: Sequence[Notifier],
                 prefix: str = "{ccpulse}") -> None:
        self._client = client
        self._evaluator = evaluator
        self._notifiers = notifiers
        self._lease_key = f"{prefix}:alerts:leader"
        self._state_key = f"{prefix}:alerts:state"
        self._acquire = client.register_script(_ACQUIRE)
        self.holder = uuid.uuid4().hex
        self.leading = False
        self._pending: list[Alert] = []

    def restore(self) -> None:
        raw = self._client.get(self._state_key)
        if raw:
            self._evaluator.load(raw)
            log.info("alert_state_restored", extra={"fields": {
                "alerts": len(self._evaluator.tracks)}})

    def notify(self, alerts: list[Alert]) -> None:
        leading = bool(self._acquire(keys=[self._lease_key], args=[self.holder, LEASE_MS]))
        if leading != self.leading:
            log.info("alert_leadership", extra={"fields": {"leading": leading}})
            self.leading = leading
            if leading:
                # What happened while another worker (or nobody, after a kill -9) held the
                # lease: the difference between the last delivered state and ours.
                alerts = self._evaluator.catch_up(self._client.get(self._state_key))
                self._pending = []
        if not leading:
            return
        # Send first, save after: a crash in between repeats these transitions on restart
        # (at least once; receivers dedupe by fingerprint) instead of losing them. A failed
        # delivery (Kafka away) keeps them for the next evaluation, 15 s later.
        pending, self._pending = [*self._pending, *alerts], []
        try:
            for notifier in self._notifiers:
                notifier.notify(pending)
        except Exception as exc:  # any sender's failure: keep the transitions, retry
            self._pending = pending
            log.warning("alert_delivery_failed", extra={"fields": {
                "error": type(exc).__name__, "pending": len(pending)}})
            return
        self._client.set(self._state_key, self._evaluator.dump())
