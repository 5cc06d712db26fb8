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


def test_what_an_agent_keeps_to_rewind_to_is_shared_where_it_is_equal() -> None:
    """The interactions an agent is on are a tuple its snapshots share (one per change,
    not per transition), the interaction ids in them and in its transitions are the
    records' own, and an agent that no logout cut short holds no set of its own."""
    ev = EventFactory()
    engine = KpiEngine()
    feed(engine, [
        ev("agent.login", "08:00:00", agent_id="a1", team_id="t1"),
        ev("agent.login", "08:00:00", agent_id="a2", team_id="t1"),
        ev("agent.available", "08:00:01", agent_id="a1"),
        ev("interaction.answered", "08:01:00", interaction_id="i1", agent_id="a1",
           queue_id="q1", channel="voice"),
        ev("agent.not_ready", "08:01:30", agent_id="a1", reason="break"),  # presence only
        ev("interaction.ended", "08:02:00", interaction_id="i1", agent_id="a1"),
        ev("interaction.wrapped", "08:02:30", interaction_id="i1", agent_id="a1")])
    machine = engine.agents["a1"]
    states = [state for _, _, state, _ in machine.recent]
    assert all(type(state.active) is tuple for state in states)
    on_call = [state.active for state in states if state.active]
    assert len(on_call) == 3 and on_call[0] is on_call[1]  # before not_ready and before end
    assert on_call[0] == (("i1", 0, 1.0),) and on_call[2] == (("i1", 1, 1.0),)
    key = next(iid for iid in engine.interactions)
    assert all(tr.interaction_id is key for _, tr, _, _ in machine.recent if tr.interaction_id)
    assert machine.cut is engine.agents["a2"].cut and not machine.cut
