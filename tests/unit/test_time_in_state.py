"""Contract §7.2: seconds since the agent's current activity began, hand-worked.

The activity is §2's precedence (handling › acw › idle › not_ready › logged_out); for
not_ready, a change of reason is a new activity and the reason is labelled (configured
reasons, else "other"). The answer is exact at any instant asked, after a rewind and after
the engine has trimmed the history the activity started in.
"""

from __future__ import annotations

import pytest

from ccpulse.processors.config import EngineConfig
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.snapshot import snapshot
from tests.support import EventFactory, at, feed

ev = EventFactory()


def state(engine: KpiEngine, clock: str) -> tuple[str, str, float | None]:
    now = snapshot(engine, at(clock)).agents["a1"]
    return now.state, now.reason, now.state_seconds


@pytest.fixture
def engine() -> KpiEngine:
    engine = KpiEngine()
    feed(engine, [
        ev("agent.login", "09:00:00", agent_id="a1", team_id="t1"),
        ev("agent.available", "09:02:00", agent_id="a1"),
        ev("interaction.answered", "09:05:00", interaction_id="c1", agent_id="a1",
           queue_id="q", channel="chat"),
        # a second chat: another load, the same activity
        ev("interaction.answered", "09:05:30", interaction_id="c2", agent_id="a1",
           queue_id="q", channel="chat"),
        ev("interaction.ended", "09:07:00", interaction_id="c1", agent_id="a1"),
        ev("interaction.ended", "09:08:00", interaction_id="c2", agent_id="a1"),
        ev("interaction.wrapped", "09:09:00", interaction_id="c1", agent_id="a1"),
        ev("interaction.wrapped", "09:09:30", interaction_id="c2", agent_id="a1"),
        ev("agent.not_ready", "09:10:00", agent_id="a1", reason="break"),
        ev("agent.not_ready", "09:15:00", agent_id="a1", reason="lunch"),
        ev("agent.not_ready", "09:20:00", agent_id="a1", reason="smoke break"),
        ev("agent.not_ready", "09:21:00", agent_id="a1", reason="doctor"),
        ev("agent.logout", "09:30:00", agent_id="a1"),
    ])
    return engine


@pytest.mark.parametrize(("clock", "expected"), [
    ("09:01:00", ("not_ready", "login", 60.0)),  # contract §2: login starts not_ready/login
    ("09:04:00", ("idle", "", 120.0)),
    ("09:05:00", ("handling", "", 0.0)),  # at the answer's millisecond
    ("09:07:30", ("handling", "", 150.0)),  # c2 still talking: since c1's answer
    ("09:08:30", ("acw", "", 30.0)),  # both ended: after-call work since the last end
    ("09:09:15", ("acw", "", 75.0)),  # one wrapped, one still in ACW
    ("09:09:45", ("idle", "", 15.0)),
    ("09:12:00", ("not_ready", "break", 120.0)),
    ("09:16:00", ("not_ready", "lunch", 60.0)),  # a new reason is a new activity
    ("09:20:30", ("not_ready", "other", 30.0)),  # free text is "other"
    ("09:25:00", ("not_ready", "other", 300.0)),  # "other" to "other": still the same label
    ("09:45:00", ("logged_out", "", 900.0)),
])
def test_time_in_state_at_any_instant(engine: KpiEngine, clock: str,
                                      expected: tuple[str, str, float]) -> None:
    assert state(engine, clock) == expected


def test_before_the_first_event_nothing_is_claimed() -> None:
    engine = KpiEngine()
    feed(engine, [ev("agent.login", "09:00:00", agent_id="a1", team_id="t1")])
    assert state(engine, "08:59:59") == ("logged_out", "", None)


def test_a_late_event_moves_the_start() -> None:
    """A break reported late (within the lateness limit) ends the idle time it interrupts."""
    engine = KpiEngine()
    feed(engine, [
        ev("agent.login", "09:00:00", agent_id="a1", team_id="t1"),
        ev("agent.available", "09:01:00", agent_id="a1"),
        ev("agent.available", "09:20:00", agent_id="a1"),  # no change: idle since 09:01
    ])
    assert state(engine, "09:21:00") == ("idle", "", 1200.0)
    feed(engine, [ev("agent.not_ready", "09:18:00", agent_id="a1", reason="break")])
    assert state(engine, "09:21:00") == ("idle", "", 60.0)
    assert state(engine, "09:19:00") == ("not_ready", "break", 60.0)


def test_configured_and_productive_reasons_keep_their_names() -> None:
    engine = KpiEngine(EngineConfig(state_reasons=frozenset({"huddle"})))
    feed(engine, [
        ev("agent.login", "09:00:00", agent_id="a1", team_id="t1"),
        ev("agent.not_ready", "09:01:00", agent_id="a1", reason="huddle"),
        ev("agent.not_ready", "09:02:00", agent_id="a1", reason="training"),  # productive
        ev("agent.not_ready", "09:03:00", agent_id="a1", reason="break"),  # not configured
    ])
    assert state(engine, "09:00:30") == ("not_ready", "other", 30.0)  # login not configured
    assert state(engine, "09:01:30") == ("not_ready", "huddle", 30.0)
    assert state(engine, "09:02:30") == ("not_ready", "training", 30.0)
    assert state(engine, "09:03:30") == ("not_ready", "other", 30.0)


def test_an_activity_older_than_the_kept_history_keeps_its_start() -> None:
    """Nine hours of chat work with the load changing every ten minutes: the engine trims
    segments older than its longest window, the start of the activity stays."""
    engine = KpiEngine()
    events = [ev("agent.login", "08:00:00", agent_id="a1", team_id="t1"),
              ev("agent.available", "08:00:00", agent_id="a1"),
              ev("interaction.answered", "08:00:00", interaction_id="c0", agent_id="a1",
                 queue_id="q", channel="chat")]
    for n in range(1, 55):
        t = at("08:00:00") + n * 600_000
        events += [
            ev("interaction.answered", t, interaction_id=f"c{n}", agent_id="a1",
               queue_id="q", channel="chat"),
            ev("interaction.ended", t + 1_000, interaction_id=f"c{n - 1}", agent_id="a1"),
            ev("interaction.wrapped", t + 2_000, interaction_id=f"c{n - 1}", agent_id="a1"),
        ]
    feed(engine, events)
    engine.expire(at("17:30:00"))
    assert engine.agents["a1"].timeline.dropped > 0  # history before ~09:20 is gone
    assert state(engine, "17:30:00") == ("handling", "", 9.5 * 3600)
