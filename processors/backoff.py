"""The one backoff policy for everything that waits for a server (Redis, Kafka, Alertmanager),
as pure arithmetic; the adapters apply it (:mod:`streams.retry`, :mod:`alerts.alertmanager`).

Half a second, doubling, at most ``CAP_S``: a blip costs half a second, an outage is retried
every ten seconds without hammering the server, and nothing gives up — a stream that waits
loses nothing, a stream that drops does.
"""

from __future__ import annotations

FIRST_S = 0.5
CAP_S = 10.0


def backoff_s(failures: int, cap_s: float = CAP_S) -> float:
    """The wait after ``failures`` consecutive failures (1, 2, …): 0.5, 1, 2, 4, 8, cap."""
    return min(FIRST_S * 2 ** (failures - 1), cap_s) if failures > 0 else 0.0
