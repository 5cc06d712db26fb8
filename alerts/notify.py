"""Alert notifiers: where firing and resolved transitions go.

Every notifier takes the same :class:`~alerts.engine.Alert` objects. Console and JSON lines
live here; Alertmanager and the ``cc.alerts`` Kafka topic are adapters of the live pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import IO, Protocol

import msgspec
from rich.console import Console

from ccpulse.alerts.engine import Alert


class Notifier(Protocol):
    def notify(self, alerts: list[Alert]) -> None: ...


class ConsoleNotifier:
    """One line per transition, colored by status and severity, for people at a terminal."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def notify(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            labels = alert.labels
            scope = " ".join(f"{k}={labels[k]}" for k in ("queue", "team", "agent") if k in labels)
            if alert.status == "firing":
                color = "bold red" if labels["severity"] == "critical" else "yellow"
                when = alert.startsAt
            else:
                color = "green"
                when = alert.endsAt or ""
            self._console.print(
                f"[{color}]{alert.status.upper():8}[/] {when} [bold]{labels['alertname']}[/] "
                f"{scope} [dim]({labels['audience']})[/] — {alert.annotations['description']}",
                highlight=False,
            )


class LogNotifier:
    """Transitions as structured log lines: the worker's console notifier."""

    def __init__(self) -> None:
        self._log = logging.getLogger("ccpulse.alerts")

    def notify(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self._log.warning("alert_" + alert.status, extra={"fields": {
                **alert.labels, "description": alert.annotations["description"]}})


class Delivery(Protocol):
    """A producer's receipt for one message (kafka-python's ``FutureRecordMetadata``)."""

    def get(self, timeout: float | None = None) -> object: ...


class TopicNotifier:
    """Each transition as the JSON of contract §4 on a topic (``cc.alerts``), keyed by the
    alert's label fingerprint so one alert's history stays in order on one partition.
    ``send(key, value)`` is the producer's (asynchronous) send; ``flush()`` waits until the
    broker has them, so the caller saves its state only after delivery (a kill -9 right after
    an unflushed send lost transitions in the reliability suite). A message the broker
    refused raises here, as an unflushed one does: the caller keeps it for the next round."""

    def __init__(self, send: Callable[[bytes, bytes], Delivery],
                 flush: Callable[[], object] = lambda: None) -> None:
        self._send = send
        self._flush = flush

    def notify(self, alerts: list[Alert]) -> None:
        receipts = [self._send(alert.fingerprint.encode(), msgspec.json.encode(alert))
                    for alert in alerts]
        if receipts:
            self._flush()
        for receipt in receipts:  # done after the flush: raises what the broker refused
            receipt.get(timeout=0)


class JsonLinesNotifier:
    """Each transition as one JSON object a line (``ccpulse replay --alerts-out``)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def notify(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self._stream.write(msgspec.json.encode(alert) + b"\n")
