"""Alertmanager v2 notifier: ``POST /api/v2/alerts``, never in the way of the stream.

``notify`` only enqueues. A background thread posts, retries with exponential backoff while
Alertmanager is down or slow (keeping the newest state of each alert, so a long outage does
not grow a backlog of stale transitions), and re-sends every firing alert periodically:
Alertmanager resolves an alert it has not heard about for its ``resolve_timeout``, so a
firing alert must be repeated (Prometheus does the same). Resolved alerts carry ``endsAt``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import msgspec

from ccpulse.alerts.engine import Alert
from ccpulse.processors.backoff import backoff_s

log = logging.getLogger("ccpulse.alertmanager")

RESEND_EVERY_S = 60.0
# Longer than the other servers' cap: firing alerts are re-sent every minute anyway, and a
# down Alertmanager gains nothing from being asked more often than that.
MAX_BACKOFF_S = RESEND_EVERY_S


def postable(alerts: list[Alert]) -> bytes:
    """The v2 API body: the alert objects without our ``status`` field."""
    return msgspec.json.encode([
        {k: v for k, v in msgspec.structs.asdict(a).items() if k != "status" and v is not None}
        for a in alerts
    ])


class AlertmanagerNotifier:
    def __init__(self, base_url: str, firing: Callable[[], list[Alert]] | None = None,
                 resend_every_s: float = RESEND_EVERY_S, timeout_s: float = 5.0) -> None:
        self._url = base_url.rstrip("/") + "/api/v2/alerts"
        self._firing = firing
        self._resend_every_s = resend_every_s
        self._timeout_s = timeout_s
        self._queue: queue.Queue[list[Alert]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alertmanager", daemon=True)
        self.sent = 0
        self.failures = 0

    def start(self) -> AlertmanagerNotifier:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Returns once the thread has made its last delivery attempt of what is pending (at
        most ``timeout_s``)."""
        self._stop.set()
        # the thread may be waiting up to a minute for alerts (the resend) or its backoff:
        # an empty batch wakes it, so a worker's shutdown does not wait that out
        self._queue.put([])
        self._thread.join(timeout=self._timeout_s + 1)

    def notify(self, alerts: list[Alert]) -> None:
        """Non-blocking: the evaluation that found these transitions goes on at once."""
        if alerts:
            self._queue.put(list(alerts))

    def _run(self) -> None:
        pending: dict[str, Alert] = {}  # fingerprint -> newest state not yet delivered
        failures = 0
        next_resend = time.monotonic() + self._resend_every_s
        while not self._stop.is_set():
            wait = (backoff_s(failures, MAX_BACKOFF_S) if pending
                    else max(next_resend - time.monotonic(), 0.05))
            try:
                batch = self._queue.get(timeout=wait)
                for alert in batch:
                    pending[alert.fingerprint] = alert
                while not self._queue.empty():
                    for alert in self._queue.get_nowait():
                        pending[alert.fingerprint] = alert
            except queue.Empty:
                pass
            if time.monotonic() >= next_resend and self._firing is not None:
                for alert in self._firing():
                    pending.setdefault(alert.fingerprint, alert)
                next_resend = time.monotonic() + self._resend_every_s
            if not pending:
                continue
            if self._post(list(pending.values())):
                self.sent += len(pending)
                pending.clear()
                failures = 0
            else:
                self.failures += 1
                failures += 1

    def _post(self, alerts: list[Alert]) -> bool:
        request = urllib.request.Request(self._url, data=postable(alerts), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                return 200 <= response.status < 300
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            log.warning("alertmanager_unavailable", extra={"fields": {
                "url": self._url, "error": type(exc).__name__, "alerts": len(alerts),
                "hint": "alerts are kept and retried; check CCPULSE_ALERTMANAGER_URL"}})
            return False
