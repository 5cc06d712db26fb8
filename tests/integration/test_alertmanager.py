"""Alerts delivered to a real Alertmanager (Debian's prometheus-alertmanager on loopback)."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from ccpulse.alerts.alertmanager import AlertmanagerNotifier
from ccpulse.alerts.engine import Alert, AlertEvaluator
from ccpulse.processors.snapshot import AgentNow, Snapshot, WindowKpis
from tests.live import wait_for_alerts
from tests.servers import Server, free_port, start_alertmanager

STEP = 15_000


def now_ms() -> int:
    return int(time.time() * 1000)


def team_snapshot(at: int, occupancy: float) -> Snapshot:
    w15, w1h, w8h = WindowKpis(), WindowKpis(), WindowKpis()
    w1h.team["t-am"] = {"occupancy": occupancy}
    return Snapshot(at, {"15m": w15, "1h": w1h, "8h": w8h}, {"a1": AgentNow("t-am", "idle")},
                    {"t-am": Counter({"idle": 5})}, {})


def hot_then_cool(evaluator: AlertEvaluator) -> tuple[list[Alert], list[Alert]]:
    """Drive TeamOccupancyHigh through firing and resolved, ending at the present."""
    start = now_ms() - 45 * STEP
    fired: list[Alert] = []
    for i in range(42):
        fired += evaluator.evaluate(team_snapshot(start + i * STEP, 0.9))
    resolved = evaluator.evaluate(team_snapshot(start + 42 * STEP, 0.5))
    return fired, resolved


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Server]:
    server = start_alertmanager(tmp_path)
    yield server
    server.stop()


def mine(alerts: list[dict]) -> list[dict]:
    return [a for a in alerts if a["labels"].get("team") == "t-am"]


def test_firing_then_resolved_reach_alertmanager(alertmanager: Server) -> None:
    evaluator = AlertEvaluator()
    notifier = AlertmanagerNotifier(f"http://127.0.0.1:{alertmanager.port}",
                                    firing=evaluator.firing).start()
    try:
        fired, resolved = hot_then_cool(evaluator)
        notifier.notify(fired)
        shown = wait_for_alerts(alertmanager.port, lambda a: len(mine(a)) == 1)
        alert = mine(shown)[0]
        assert alert["labels"] == {"alertname": "TeamOccupancyHigh", "severity": "warning",
                                   "audience": "supervisor,wfm", "team": "t-am"}
        assert alert["annotations"]["runbook_url"].endswith("#teamoccupancyhigh")
        assert "team occupancy 1h 0.90" in alert["annotations"]["description"]
        assert alert["status"]["state"] == "active"
        assert [a.status for a in resolved] == ["resolved"]
        notifier.notify(resolved)
        wait_for_alerts(alertmanager.port, lambda a: not mine(a))
    finally:
        notifier.stop()


def test_alerts_wait_for_an_alertmanager_that_is_down(tmp_path: Path) -> None:
    port = free_port()
    evaluator = AlertEvaluator()
    notifier = AlertmanagerNotifier(f"http://127.0.0.1:{port}", firing=evaluator.firing).start()
    try:
        fired, _ = hot_then_cool(AlertEvaluator())
        notifier.notify(fired)  # nobody listens yet: kept and retried
        time.sleep(1.5)
        assert notifier.sent == 0 and notifier.failures >= 1
        server = start_alertmanager(tmp_path, port)
        try:
            wait_for_alerts(port, lambda a: len(mine(a)) == 1, timeout_s=90)
            assert notifier.sent >= 1
        finally:
            server.stop()
    finally:
        notifier.stop()


def test_a_hung_alertmanager_never_blocks_notify() -> None:
    received, release = threading.Event(), threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def hang() -> None:
        connection, _ = listener.accept()
        received.set()
        release.wait(30)  # read nothing, answer nothing
        connection.close()

    threading.Thread(target=hang, daemon=True).start()
    notifier = AlertmanagerNotifier(f"http://127.0.0.1:{listener.getsockname()[1]}",
                                    timeout_s=20).start()
    try:
        fired, resolved = hot_then_cool(AlertEvaluator())
        notifier.notify(fired)
        assert received.wait(10)  # the notifier's thread is now stuck in its POST
        for _ in range(1000):  # ... while the stream keeps notifying without waiting
            notifier.notify(resolved)
        assert notifier.sent == 0
    finally:
        release.set()
        listener.close()
        notifier.stop()


def test_stop_wakes_the_notifier_at_once() -> None:
    """Its thread waits up to a minute for alerts (the resend), or for its backoff while
    nothing answers: a worker's shutdown must not wait that out (it waited out the 6 s join
    before)."""
    notifier = AlertmanagerNotifier(f"http://127.0.0.1:{free_port()}").start()
    time.sleep(0.2)  # the thread is in its wait for alerts
    asked = time.monotonic()
    notifier.stop()
    assert not notifier._thread.is_alive()
    assert time.monotonic() - asked < 3
