"""Helpers shared by the test tiers: building events at readable times and feeding them."""

from __future__ import annotations

import itertools
from typing import Any

import orjson

from ccpulse.history import PROGRESS, STAFFING, STAFFING_COLUMNS, TABLES, HistoryStore
from ccpulse.processors.decode import Decoded, decode
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.snapshot import Snapshot, snapshot
from ccpulse.processors.timefmt import format_ms, parse_ms
from ccpulse.streams.pipeline import Pipeline

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


def one_call_morning(ev: EventFactory) -> list[dict[str, Any]]:
    """a1 (team t1) logs in and is available at 09:00, answers queue q1's voice call at
    09:00:10 after 10 s of wait, talks to 09:05, wraps at 09:06 (resolved, a sale of 20, the
    request not captured) and gets CSAT 4 at 09:10."""
    return [
        ev("agent.login", "09:00:00", agent_id="a1", team_id="t1"),
        ev("agent.available", "09:00:00", agent_id="a1"),
        ev("interaction.queued", "09:00:00", interaction_id="i1", queue_id="q1",
           channel="voice"),
        ev("interaction.answered", "09:00:10", interaction_id="i1", agent_id="a1",
           queue_id="q1", channel="voice"),
        ev("interaction.ended", "09:05:00", interaction_id="i1", agent_id="a1"),
        ev("interaction.wrapped", "09:06:00", interaction_id="i1", agent_id="a1",
           resolved=True, sale=True, revenue=20.0, request_captured=False),
        ev("interaction.survey", "09:10:00", interaction_id="i1", agent_id="a1", csat=4),
    ]


def morning_pipeline(ev: EventFactory, *extra: dict[str, Any],
                     now: str = "09:20:00") -> Pipeline:
    """A pipeline fed :func:`one_call_morning` and then ``extra``, judged at ``now``."""
    pipeline = Pipeline()
    for event in [*one_call_morning(ev), *extra]:
        pipeline.feed(orjson.dumps(event), None, now_ms=at(now))
    return pipeline


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


def _handled(ev: EventFactory, agent: str, iid: str, *, queue: str, channel: str,
             answered: int, handle_s: int, queued: bool = True) -> list[dict]:
    out = []
    if queued:
        out.append(ev("interaction.queued", answered, interaction_id=iid, queue_id=queue,
                      channel=channel))
    end = answered + (handle_s - 30) * 1000
    return [*out,
            ev("interaction.answered", answered, interaction_id=iid, agent_id=agent,
               queue_id=queue, channel=channel),
            ev("interaction.ended", end, interaction_id=iid, agent_id=agent),
            ev("interaction.wrapped", answered + handle_s * 1000, interaction_id=iid,
               agent_id=agent)]


def staffing_floor() -> list[dict]:
    """At 10:00: billing/voice had 25 arrivals in the last 15 minutes (09:45:30, then every
    30 s), all 180 s calls answered at once by a0…a6 in turn — 5 Erlangs. a7 answered two
    billing calls directly and one sales chat; a8 answered billing and went to lunch."""
    ev = EventFactory()
    events = []
    for i in range(9):
        events += [ev("agent.login", "09:00:00", agent_id=f"a{i}", team_id="t1"),
                   ev("agent.available", "09:00:00", agent_id=f"a{i}")]
    for k in range(25):
        events += _handled(ev, f"a{k % 7}", f"b{k}", queue="billing", channel="voice",
                           answered=at("09:45:30") + k * 30_000, handle_s=180)
    for agent, iid, queue, channel, clock, handle_s, queued in (
        ("a7", "d1", "billing", "voice", "09:20:00", 180, False),
        ("a7", "d2", "billing", "voice", "09:30:00", 180, False),
        ("a7", "s1", "sales", "chat", "09:50:00", 600, True),
        ("a8", "d3", "billing", "voice", "09:10:00", 180, False),
    ):
        events += _handled(ev, agent, iid, queue=queue, channel=channel, answered=at(clock),
                           handle_s=handle_s, queued=queued)
    events.append(ev("agent.not_ready", "09:40:00", agent_id="a8", reason="lunch"))
    events.sort(key=lambda e: e["ts"])
    return events


def copy_intervals(store: HistoryStore, back_ms: int, since: int, until: int) -> None:
    """Copy the history's intervals starting in ``[since, until)`` to ``back_ms`` earlier
    (a week earlier for the week-on-week panels, the days before for a month of reports):
    every interval table, the staffing and the record of what is written."""
    tables = [(t.name, (*t.keys, *t.values)) for t in TABLES] + [
        (PROGRESS, ("written_at",)), (STAFFING, ("queue", "channel", *STAFFING_COLUMNS))]
    with store.transaction() as db:
        for name, columns in tables:
            listed = ", ".join(columns)
            db.execute(f"INSERT INTO {name} (interval_start, {listed}) SELECT "
                       f"interval_start - {back_ms}, {listed} FROM {name} "
                       f"WHERE interval_start >= {since} AND interval_start < {until}")
