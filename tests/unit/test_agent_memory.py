"""An agent's machine keeps what a late event may rewind to, and no more."""

from __future__ import annotations

from ccpulse.processors.engine import KpiEngine
from tests.support import EventFactory, at, feed


def test_an_agent_keeps_the_transitions_of_the_last_lateness_only() -> None:
    """Two hours of calls, one every 2 minutes: the machine keeps its states from before each
    transition of the last ``lateness_ms`` (10 min) and forgets the older ones."""
    ev = EventFactory()
    engine = KpiEngine()
    events = [ev("agent.login", "08:00:00", agent_id="a1", team_id="t1"),
              ev("agent.available", "08:00:00", agent_id="a1")]
    for n in range(60):
        start = at("08:00:00") + n * 120_000
        events += [
            ev("interaction.answered", start + 1_000, interaction_id=f"i{n}", agent_id="a1",
               queue_id="q1", channel="voice"),
            ev("interaction.ended", start + 60_000, interaction_id=f"i{n}", agent_id="a1"),
            ev("interaction.wrapped", start + 90_000, interaction_id=f"i{n}", agent_id="a1")]
    feed(engine, events)
    machine = engine.agents["a1"]
    newest = at("08:00:00") + 59 * 120_000 + 90_000
    assert machine.last_ts == newest
    kept = [when for when, *_ in machine.recent]
    assert kept == sorted(kept) and kept[-1] == newest
    assert min(kept) >= newest - engine.config.lateness_ms
    # 5 calls of the last 10 minutes, 3 transitions each, and a wrap right at its edge
    assert len(kept) == 16 and kept[0] == newest - engine.config.lateness_ms
