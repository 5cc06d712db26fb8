"""Helpers shared by the test tiers: building events at readable times and feeding them."""

from __future__ import annotations

import itertools
from typing import Any

import orjson

from processors.decode import Decoded, decode
from processors.engine import KpiEngine
from processors.snapshot import Snapshot, snapshot
from processors.timefmt import format_ms, parse_ms

DAY = "2026-11-22"


def at(clock: str) -> int:
    """``"09:15:03.250"`` on the test day, in epoch ms."""
    return parse_ms(f"{DAY}T{clock}Z")


class EventFactory:
    """Builds contract §1 events with unique ids; ``ts`` given as a clock time or ms."""

    def __init__(self, prefix: str = "e") -> None:
        self._ids = itertools.count(1)
        self._prefix = prefix

    def __call__(self, kind: str, ts: str | int, **fields: Any) -> dict[str, Any]:
        when = ts if isinstance(ts, int) else at(ts)
        return {"event_id": f"{self._prefix}{next(self._ids)}", "type": kind,
                "ts": format_ms(when), **fields}


def feed(engine: KpiEngine, events: list[dict[str, Any]]) -> list[object]:
    """Apply events as raw bytes through the real decoder; returns each outcome."""
    results = []
    for event in events:
        decoded = decode(orjson.dumps(event))
        assert isinstance(decoded, Decoded), decoded
        results.append(engine.apply(decoded))
    return results


def run(events: list[dict[str, Any]], now: str | int, engine: KpiEngine | None = None,
        ) -> Snapshot:
    engine = engine or KpiEngine()
    feed(engine, events)
    return snapshot(engine, now if isinstance(now, int) else at(now))
